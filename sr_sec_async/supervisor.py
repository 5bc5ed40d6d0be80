"""Retry and failover decisions, both regions' circuit breakers and the
delivery metrics, in one owner.

The publisher hands every batch to ``Supervisor.deliver``. A batch goes
through rounds until every message in it is delivered or has failed:

* in each round the primary region gets a window of ``primary_timeout``
  seconds, then the failover region one of ``failover_timeout`` seconds, for
  what is still pending; inside a window, transient failures (connection
  refused or reset, timeouts, 5xx, throttling) are retried with jittered
  exponential backoff, up to ``max_attempts`` requests, while the region's
  breaker admits them. A region whose breaker is open is skipped;
* permanent failures (invalid parameter, not found, authorization) are
  neither retried nor failed over: those messages fail with the reason;
* when no region took the batch, the round is retried after a backoff (or
  when the next breaker probe is due) until ``retry_budget`` seconds have
  passed since the batch arrived; then what is left fails with
  "retry budget exhausted" (``exhausted`` below is that single outcome).

The clock, the sleep and the jitter are injectable so tests drive breakers
and backoff with a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from .breaker import BreakerState, CircuitBreaker, Ticket
from .config import RegionTarget, Settings
from .results import Receipt

__all__ = [
    "EXHAUSTED",
    "METRIC_KEYS",
    "FailoverMetrics",
    "Outcome",
    "Supervisor",
    "classify_error",
]

log = logging.getLogger("sr_sec_async")

METRIC_KEYS = (
    "primary_success",
    "primary_failure",
    "failover_attempts",
    "failover_success",
    "failover_failure",
    "total_failures",
)

#: The reason prefix of messages no region took within the retry budget.
EXHAUSTED = "retry budget exhausted"


class FailoverMetrics(TypedDict):
    """Delivery counts per SNS message, and each region's breaker state.

    ``primary_success``, ``failover_success`` and ``total_failures`` count
    final outcomes (they add up to the messages finished); ``primary_failure``,
    ``failover_attempts`` and ``failover_failure`` count requests' messages,
    so a message tried three times counts three. Breaker states are
    ``"closed"``, ``"open"``, ``"half_open"``, or ``"disabled"`` for a region
    that is not configured.
    """

    primary_success: int
    primary_failure: int
    failover_attempts: int
    failover_success: int
    failover_failure: int
    total_failures: int
    primary_breaker: str
    failover_breaker: str


THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "KMSThrottling",
        "KMSThrottlingException",
        "SlowDown",
    }
)
TRANSIENT_CODES = THROTTLING_CODES | {
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "KMSInternal",
}


class Sink(Protocol):
    async def publish_batch(self, target: RegionTarget, entries: list[dict[str, Any]]) -> Any: ...


class Entry(Protocol):
    """What the supervisor needs of a queued message."""

    part: int

    def request_entry(self, entry_id: str, fifo: bool) -> dict[str, Any]: ...


#: ``(entry, receipt, error)``: exactly one of receipt and error is set.
Outcome = tuple[Any, Receipt | None, str | None]


#: Client-side problems no retry or other region can fix (the failover client
#: shares the credentials): reported at once as permanent.
_CONFIGURATION_ERRORS: tuple[type[BaseException], ...] = (
    NoCredentialsError,
    PartialCredentialsError,
    NoRegionError,
    ParamValidationError,
)


def classify_error(exc: BaseException) -> tuple[bool, str]:
    """``(transient, reason)`` for an exception raised by a request.

    Throttling is transient although SNS marks it as a sender fault; any
    error that is not an AWS error response (connection refused or reset,
    timeouts) is transient too."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        transient = code in TRANSIENT_CODES or status >= 500 or status == 429
        return transient, f"{code}: {err.get('Message', '')}".strip()
    if isinstance(exc, TimeoutError):
        return True, "timeout"
    if isinstance(exc, _CONFIGURATION_ERRORS):
        return False, f"configuration: {type(exc).__name__}: {exc}"
    return True, f"{type(exc).__name__}: {exc}"


def _entry_failure_transient(failed: dict[str, Any]) -> bool:
    code = str(failed.get("Code", ""))
    if code in TRANSIENT_CODES:
        return True  # SNS marks throttling as a sender fault; it is still transient
    return not failed.get("SenderFault", False)


@dataclass(frozen=True, slots=True)
class _Region:
    target: RegionTarget
    breaker: CircuitBreaker
    window: float  # seconds this region gets per batch and round

    @property
    def primary(self) -> bool:
        return self.target.name == "primary"


class _Batch:
    """One batch's progress through the rounds."""

    __slots__ = ("deadline", "last_error", "outcomes", "pending", "retries")

    def __init__(self, entries: Sequence[Any], deadline: float) -> None:
        self.pending = list(entries)
        self.outcomes: list[Outcome] = []
        self.deadline = deadline
        self.retries = 0  # exponent of the next backoff
        self.last_error = "no region configured"

    def fail(self, entries: Sequence[Any], reason: str) -> None:
        self.outcomes.extend((e, None, reason) for e in entries)


class Supervisor:
    """Owns both regions' breakers, the retry/failover decisions and the
    metrics for one logger. Safe to share between the publisher's concurrent
    sending tasks: breaker transitions are atomic and metrics are plain
    counters updated without awaiting."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        base_backoff: float = 0.05,
        max_backoff: float = 2.0,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self.metrics = dict.fromkeys(METRIC_KEYS, 0)
        self.breakers: dict[str, CircuitBreaker] = {}
        regions = []
        for target in (settings.primary, settings.failover):
            if target is None:
                continue
            breaker = CircuitBreaker(
                target.name,
                threshold=settings.breaker_threshold,
                cooldown=settings.breaker_cooldown,
                clock=clock,
            )
            self.breakers[target.name] = breaker
            primary = target.name == "primary"
            window = settings.primary_timeout if primary else settings.failover_timeout
            regions.append(_Region(target, breaker, window))
        self._regions = tuple(regions)

    # -- metrics ----------------------------------------------------------------

    def snapshot(self) -> FailoverMetrics:
        m = self.metrics
        b = self.breakers
        return FailoverMetrics(
            primary_success=m["primary_success"],
            primary_failure=m["primary_failure"],
            failover_attempts=m["failover_attempts"],
            failover_success=m["failover_success"],
            failover_failure=m["failover_failure"],
            total_failures=m["total_failures"],
            primary_breaker=b["primary"].state if "primary" in b else "disabled",
            failover_breaker=b["failover"].state if "failover" in b else "disabled",
        )

    def reset_metrics(self) -> None:
        """Zero the counters (breaker states are state, not counts: kept)."""
        self.metrics = dict.fromkeys(METRIC_KEYS, 0)

    @property
    def targets(self) -> tuple[RegionTarget, ...]:
        return tuple(r.target for r in self._regions)

    # -- delivery ---------------------------------------------------------------

    async def deliver(self, sink: Sink, entries: Sequence[Any]) -> list[Outcome]:
        """Deliver ``entries``; one outcome per entry, in no particular order."""
        batch = _Batch(entries, self._clock() + self._settings.retry_budget)
        first = True
        while batch.pending:
            if not first and self._clock() >= batch.deadline:
                self._exhausted(batch)
                break
            first = False
            for region in self._regions:
                await self._window(region, sink, batch)
                if not batch.pending:
                    break
            else:
                await self._pause(batch)
        return batch.outcomes

    def _exhausted(self, batch: _Batch) -> None:
        """The one place where messages give up for lack of a region."""
        self.metrics["total_failures"] += len(batch.pending)
        batch.fail(batch.pending, f"{EXHAUSTED}: {batch.last_error}")
        batch.pending = []

    def _backoff(self, batch: _Batch) -> float:
        delay = min(self._max_backoff, self._base_backoff * 2.0 ** min(batch.retries, 32))
        batch.retries += 1
        return delay * (0.5 + self._jitter() / 2)

    async def _pause(self, batch: _Batch) -> None:
        """Wait before the next round: a backoff, or until the first probe is
        due when every region's breaker is open; never past the deadline."""
        now = self._clock()
        delay = self._backoff(batch)
        due = [t for r in self._regions if (t := r.breaker.probe_at()) is not None]
        if due and len(due) == len(self._regions):  # every region open: wait for a probe
            delay = max(min(due) - now, 0.001)
        await self._sleep(max(0.0, min(delay, batch.deadline - now)))

    def _count_failure(self, region: _Region, messages: int) -> None:
        self.metrics["primary_failure" if region.primary else "failover_failure"] += messages

    async def _window(self, region: _Region, sink: Sink, batch: _Batch) -> None:
        """Up to ``max_attempts`` requests to one region within its window."""
        end = self._clock() + region.window
        for attempt in range(self._settings.max_attempts):
            remaining = end - self._clock()
            if remaining <= 0:
                return
            if attempt:
                await self._sleep(min(self._backoff(batch), remaining))
                remaining = end - self._clock()
                if remaining <= 0:
                    return
            ticket = region.breaker.admit()
            if ticket is None:
                return
            try:
                transient = await self._attempt(region, sink, batch, ticket, remaining)
            finally:
                ticket.abandon()  # no-op unless cancelled before an outcome
            if not (batch.pending and transient) or region.breaker.state is not BreakerState.CLOSED:
                return

    async def _attempt(
        self, region: _Region, sink: Sink, batch: _Batch, ticket: Ticket, timeout: float
    ) -> bool:
        """One request; ``True`` when what is still pending may be retried."""
        target = region.target
        pending = batch.pending
        m = self.metrics
        if not region.primary:
            m["failover_attempts"] += len(pending)
        request = [e.request_entry(str(i), target.fifo) for i, e in enumerate(pending)]
        where = f"{target.name} ({target.region})"
        try:
            async with asyncio.timeout(timeout):
                response = await sink.publish_batch(target, request)
        except Exception as exc:
            transient, reason = classify_error(exc)
            if isinstance(exc, TimeoutError):
                reason = f"timeout after {timeout:.3g}s"
            self._count_failure(region, len(pending))
            batch.last_error = f"{where}: {reason}"
            if transient:
                ticket.failure(reason)
                return True
            ticket.success()  # the region answered: it is up
            m["total_failures"] += len(pending)
            batch.fail(pending, f"permanent: {batch.last_error}")
            batch.pending = []
            return False
        retry: list[Any] = []
        by_id = {str(i): e for i, e in enumerate(pending)}
        delivered = 0
        for ok in response.get("Successful", ()):
            entry = by_id.pop(ok["Id"])
            batch.outcomes.append(
                (entry, Receipt(entry.part, ok["MessageId"], target.region), None)
            )
            delivered += 1
        m["primary_success" if region.primary else "failover_success"] += delivered
        for failed in response.get("Failed", ()):
            entry = by_id.pop(failed["Id"])
            self._count_failure(region, 1)
            reason = f"{where}: {failed.get('Code')}: {failed.get('Message', '')}"
            if _entry_failure_transient(failed):
                retry.append(entry)
                batch.last_error = reason
            else:
                m["total_failures"] += 1
                batch.fail((entry,), f"permanent: {reason}")
        # An entry the response does not mention was not published.
        retry.extend(by_id.values())
        if delivered or not retry:
            ticket.success()
        else:
            ticket.failure(batch.last_error)
        batch.pending = retry
        return True
