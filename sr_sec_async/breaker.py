"""A circuit breaker for one region, driven by an injectable clock.

Every request asks the breaker first (``admit``) and reports how it ended
through the ``Ticket`` it was given. The rules a caller can rely on:

* closed: every request is admitted; ``threshold`` consecutive transient
  failures open the breaker;
* open: nothing is admitted until ``cooldown`` seconds after it opened;
  failures reported while open (by requests that started earlier) do not
  extend the cooldown;
* then exactly one request is admitted as the probe (half-open), however many
  callers are waiting; a failed probe re-opens the breaker with a fresh
  cooldown, a successful one closes it and resets its counts, and a probe that
  ends without an outcome (cancelled) puts the breaker back to open with the
  cooldown already spent, so the next caller probes at once;
* an outcome from a request admitted before the breaker last changed state is
  ignored: a late success from before the breaker opened does not close it.

All transitions are synchronous and run under a lock, so the breaker is safe
to share between coroutines (nothing awaits between a check and its update)
and between threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker", "Ticket"]

log = logging.getLogger("sr_sec_async")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Ticket:
    """One admitted request. Exactly one of ``success``, ``failure`` or
    ``abandon`` takes effect; later calls are ignored, so ``abandon`` can sit
    in a ``finally``."""

    __slots__ = ("_breaker", "_done", "epoch", "probe")

    def __init__(self, breaker: CircuitBreaker, epoch: int, probe: bool) -> None:
        self._breaker = breaker
        self.epoch = epoch
        self.probe = probe
        self._done = False

    def success(self) -> None:
        if not self._done:
            self._done = True
            self._breaker._record(self, ok=True, reason="")

    def failure(self, reason: str) -> None:
        """A transient failure (permanent ones say the region is reachable:
        report them as ``success``)."""
        if not self._done:
            self._done = True
            self._breaker._record(self, ok=False, reason=reason)

    def abandon(self) -> None:
        """The request ended without an outcome (cancelled)."""
        if not self._done:
            self._done = True
            self._breaker._abandon(self)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        threshold: int = 5,
        cooldown: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0  # consecutive transient failures while closed
        self._opened_at = 0.0
        # Bumped on every state change; a ticket from an older epoch cannot
        # change the state any more.
        self._epoch = 0
        self.opens = 0
        self.probes = 0

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def probe_at(self) -> float | None:
        """When an open breaker will admit its probe; ``None`` unless open."""
        if self._state is BreakerState.OPEN:
            return self._opened_at + self.cooldown
        return None

    def admit(self) -> Ticket | None:
        """A ticket for one request, or ``None`` if the region must be skipped."""
        with self._lock:
            state = self._state
            if state is BreakerState.CLOSED:
                return Ticket(self, self._epoch, probe=False)
            if state is BreakerState.OPEN and self._clock() >= self._opened_at + self.cooldown:
                self._state = BreakerState.HALF_OPEN
                self._epoch += 1
                self.probes += 1
                log.info("%s circuit breaker half-open: probing", self.name)
                return Ticket(self, self._epoch, probe=True)
            return None

    def _open(self, reason: str) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._epoch += 1
        self.opens += 1
        log.warning(
            "%s circuit breaker open for %.3gs: %s", self.name, self.cooldown, reason or "failure"
        )

    def _record(self, ticket: Ticket, *, ok: bool, reason: str) -> None:
        with self._lock:
            if ticket.epoch != self._epoch:
                return  # admitted before the last change of state: too late to count
            if ticket.probe:
                if ok:
                    self._state = BreakerState.CLOSED
                    self._failures = 0
                    self._epoch += 1
                    log.warning("%s circuit breaker closed: region answers again", self.name)
                else:
                    self._open(f"probe failed: {reason}")
                return
            if ok:
                self._failures = 0
                return
            self._failures += 1
            if self._failures >= self.threshold:
                self._failures = 0
                self._open(f"{self.threshold} consecutive failures, last: {reason}")

    def _abandon(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.probe and ticket.epoch == self._epoch:
                # Back to open with the cooldown already spent: the next caller probes.
                self._state = BreakerState.OPEN
                self._epoch += 1
