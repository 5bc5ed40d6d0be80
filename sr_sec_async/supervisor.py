"""Retry and failover decisions and the delivery metrics, in one owner.

The publisher hands every batch to ``Supervisor.deliver``; it tries the
primary region first with a short timeout, retries transient failures with
jittered exponential backoff, moves to the failover region when the primary
cannot take the batch, and never retries permanent failures. Metrics are
counted per SNS message.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from botocore.exceptions import ClientError

from .config import RegionTarget, Settings
from .results import Receipt

__all__ = ["METRIC_KEYS", "Outcome", "Supervisor", "classify_error"]

METRIC_KEYS = (
    "primary_success",
    "primary_failure",
    "failover_attempts",
    "failover_success",
    "failover_failure",
    "total_failures",
)

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


def classify_error(exc: BaseException) -> tuple[bool, str]:
    """``(transient, reason)`` for an exception raised by a request."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        transient = code in TRANSIENT_CODES or status >= 500 or status == 429
        return transient, f"{code}: {err.get('Message', '')}".strip()
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return True, "timeout"
    return True, f"{type(exc).__name__}: {exc}"


def _entry_failure_transient(failed: dict[str, Any]) -> bool:
    code = str(failed.get("Code", ""))
    if code in TRANSIENT_CODES:
        return True  # SNS marks throttling as a sender fault; it is still transient
    return not failed.get("SenderFault", False)


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        base_backoff: float = 0.05,
        max_backoff: float = 2.0,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._jitter = jitter
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self.metrics = dict.fromkeys(METRIC_KEYS, 0)

    def reset_metrics(self) -> None:
        self.metrics = dict.fromkeys(METRIC_KEYS, 0)

    @property
    def targets(self) -> tuple[RegionTarget, ...]:
        s = self._settings
        return tuple(t for t in (s.primary, s.failover) if t is not None)

    def _timeout_for(self, target: RegionTarget) -> float | None:
        return self._settings.primary_timeout if target.name == "primary" else None

    async def deliver(self, sink: Sink, entries: Sequence[Any]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        pending = list(entries)
        last_error = "no region configured"
        m = self.metrics
        for attempt in range(self._settings.max_attempts):
            for target in self.targets:
                primary = target.name == "primary"
                if not primary:
                    m["failover_attempts"] += len(pending)
                request = [e.request_entry(str(i), target.fifo) for i, e in enumerate(pending)]
                try:
                    async with asyncio.timeout(self._timeout_for(target)):
                        response = await sink.publish_batch(target, request)
                except Exception as exc:
                    transient, reason = classify_error(exc)
                    m["primary_failure" if primary else "failover_failure"] += len(pending)
                    last_error = f"{target.name} ({target.region}): {reason}"
                    if not transient:
                        m["total_failures"] += len(pending)
                        outcomes.extend((e, None, f"permanent: {last_error}") for e in pending)
                        return outcomes
                    continue
                retry: list[Any] = []
                by_id = {str(i): e for i, e in enumerate(pending)}
                for ok in response.get("Successful", ()):
                    entry = by_id.pop(ok["Id"])
                    outcomes.append(
                        (entry, Receipt(entry.part, ok["MessageId"], target.region), None)
                    )
                    m["primary_success" if primary else "failover_success"] += 1
                for failed in response.get("Failed", ()):
                    entry = by_id.pop(failed["Id"])
                    m["primary_failure" if primary else "failover_failure"] += 1
                    reason = f"{target.name} ({target.region}): {failed.get('Code')}: {failed.get('Message', '')}"
                    if _entry_failure_transient(failed):
                        retry.append(entry)
                        last_error = reason
                    else:
                        m["total_failures"] += 1
                        outcomes.append((entry, None, f"permanent: {reason}"))
                # An entry the response does not mention was not published.
                retry.extend(by_id.values())
                pending = retry
                if not pending:
                    return outcomes
            if attempt + 1 < self._settings.max_attempts:
                delay = min(self._max_backoff, self._base_backoff * 2**attempt)
                await self._sleep(delay * (0.5 + self._jitter() / 2))
        m["total_failures"] += len(pending)
        outcomes.extend((e, None, f"retry budget exhausted: {last_error}") for e in pending)
        return outcomes
