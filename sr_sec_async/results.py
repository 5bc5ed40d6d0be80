"""What a ``log_*`` call returns, and the per-event delivery record behind it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

__all__ = ["Delivery", "DeliverySummary", "Envelope", "LogResult", "Receipt"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that one message (one part of an event) reached SNS."""

    part: int
    message_id: str
    region: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """The final outcome of one accepted event."""

    event_uuid: str
    delivered: bool
    receipts: tuple[Receipt, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    """Counts of accepted events: ``delivered`` and ``failed`` since the logger
    started, ``pending`` still queued or in flight when the summary was taken,
    and ``spooled``: written to the local spool, to be delivered on replay."""

    delivered: int
    failed: int
    pending: int
    spooled: int = 0


class Envelope:
    """One accepted event on its way: its parts, receipts and final outcome."""

    __slots__ = (
        "_future",
        "error",
        "event_type",
        "event_uuid",
        "outstanding",
        "receipts",
        "seq",
        "total_parts",
    )

    def __init__(self, event_uuid: str, event_type: str, total_parts: int, seq: int) -> None:
        self.event_uuid = event_uuid
        self.event_type = event_type
        self.total_parts = total_parts
        self.outstanding = total_parts
        self.seq = seq
        self.receipts: list[Receipt] = []
        self.error: str | None = None
        self._future: asyncio.Future[Delivery] | None = None

    @property
    def finished(self) -> bool:
        return self.outstanding == 0

    def outcome(self) -> Delivery:
        receipts = tuple(sorted(self.receipts, key=lambda r: r.part))
        return Delivery(self.event_uuid, self.error is None, receipts, self.error)

    def part_finished(self, receipt: Receipt | None, error: str | None) -> bool:
        """Record one part's outcome; ``True`` when this completes the event."""
        if receipt is not None:
            self.receipts.append(receipt)
        if error is not None and self.error is None:
            self.error = error
        self.outstanding -= 1
        if self.outstanding:
            return False
        future = self._future
        if future is not None and not future.done():
            try:
                future.set_result(self.outcome())
            except RuntimeError:  # its loop is gone; wait() rebuilds on demand
                self._future = None
        return True

    async def wait(self) -> Delivery:
        if self.finished:
            return self.outcome()
        loop = asyncio.get_running_loop()
        if self._future is None or self._future.get_loop() is not loop:
            self._future = loop.create_future()
        return await asyncio.shield(self._future)


class LogResult:
    """The answer to one ``log_*`` call.

    ``status == "success"`` means the event was validated and accepted for
    delivery; ``await result.delivery()`` waits for the SNS receipts (message id
    and region per part). ``status == "failure"`` carries a message naming every
    problem; nothing was queued.
    """

    __slots__ = ("_envelope", "event_uuid", "message", "reason", "status")

    def __init__(
        self,
        status: Literal["success", "failure"],
        message: str,
        event_uuid: str | None,
        envelope: Envelope | None = None,
        reason: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.event_uuid = event_uuid
        self._envelope = envelope
        #: Set when a valid event was refused at intake (``queue_full``,
        #: ``shut_down``); it was counted and reported already.
        self.reason = reason

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def parts(self) -> int:
        """How many SNS messages carry this event (more than one when split)."""
        return self._envelope.total_parts if self._envelope is not None else 0

    async def delivery(self, timeout: float | None = None) -> Delivery:
        """Wait until the event is delivered or has failed; raises
        ``TimeoutError`` if that takes longer than ``timeout`` seconds."""
        if self._envelope is None:
            return Delivery(self.event_uuid or "", False, (), self.message)
        async with asyncio.timeout(timeout):
            return await self._envelope.wait()

    def __repr__(self) -> str:
        return (
            f"LogResult(status={self.status!r}, message={self.message!r}, "
            f"event_uuid={self.event_uuid!r})"
        )
