"""The bounded queue and the background task that drains it into
``PublishBatch`` requests.

The queue is a plain deque, not bound to any event loop, so what one loop
accepted is still delivered when the application later runs in a new loop
(repeated ``asyncio.run``): the publisher task is started lazily in whichever
loop is running and restarted in a new one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from .config import Settings
from .results import Envelope, Receipt
from .sinks.sns import SnsSink
from .supervisor import Supervisor
from .wire import MAX_BATCH_ENTRIES, MAX_REQUEST_BYTES, attributes_of, attributes_size

__all__ = ["Message", "Publisher"]

log = logging.getLogger("sr_sec_async")


class Message:
    """One SNS message: one event, or one part of a split event."""

    __slots__ = ("body", "envelope", "part", "size")

    def __init__(self, envelope: Envelope, part: int, body: bytes) -> None:
        self.envelope = envelope
        self.part = part
        self.body = body
        self.size = len(body) + attributes_size(envelope.event_type)

    def request_entry(self, entry_id: str, fifo: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Id": entry_id,
            "Message": self.body.decode(),
            "MessageAttributes": attributes_of(self.envelope.event_type),
        }
        if fifo:
            entry["MessageGroupId"] = self.envelope.event_type
            entry["MessageDeduplicationId"] = f"{self.envelope.event_uuid}-{self.part}"
        return entry


def take_batch(queue: deque[Message]) -> list[Message]:
    """Pop up to 10 messages whose sizes add up to at most the request limit."""
    batch: list[Message] = []
    total = 0
    while queue and len(batch) < MAX_BATCH_ENTRIES:
        size = queue[0].size
        if batch and total + size > MAX_REQUEST_BYTES:
            break
        batch.append(queue.popleft())
        total += size
    return batch


class Publisher:
    """Owns the queue, the publisher task and the SNS clients."""

    def __init__(
        self,
        settings: Settings,
        supervisor: Supervisor,
        on_finished: Callable[[Envelope], None],
        sink_factory: Callable[[Settings], SnsSink] = SnsSink,
    ) -> None:
        self._settings = settings
        self._supervisor = supervisor
        self._on_finished = on_finished
        self._sink_factory = sink_factory
        self._queue: deque[Message] = deque()
        self._capacity = settings.max_queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._progress: asyncio.Event | None = None
        self._space: asyncio.Event | None = None
        self._in_flight = 0
        self._closing = False

    # -- intake (caller's path: no awaiting) --------------------------------

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def submit(self, envelope: Envelope, bodies: list[bytes]) -> bool:
        """Queue an event's messages; ``False`` when the queue has no room."""
        queue = self._queue
        if queue and len(queue) + len(bodies) > self._capacity:
            return False
        for part, body in enumerate(bodies, start=1):
            queue.append(Message(envelope, part, body))
        self._ensure_running()
        wake = self._wake
        if wake is not None:
            wake.set()
        return True

    async def wait_for_space(self, timeout: float) -> None:
        self._ensure_running()
        assert self._space is not None
        self._space.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._space.wait()
        except TimeoutError:
            pass

    # -- lifecycle ------------------------------------------------------------

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._task is not None and not self._task.done():
            return
        if self._loop is not loop:
            self._loop = loop
            self._wake = asyncio.Event()
            self._progress = asyncio.Event()
            self._space = asyncio.Event()
        self._task = loop.create_task(self._run(), name="sr_sec_async-publisher")

    async def wait_progress(self) -> None:
        """Return after the next event completes (or the publisher stops)."""
        self._ensure_running()
        assert self._progress is not None
        self._progress.clear()
        await self._progress.wait()

    async def close(self) -> None:
        """Drain what is queued, then stop the task and close the clients."""
        self._closing = True
        if self._queue:
            self._ensure_running()  # e.g. left over from a loop that has ended
        if self._task is not None and not self._task.done():
            assert self._wake is not None
            self._wake.set()
            try:
                await asyncio.shield(self._task)
            except asyncio.CancelledError:
                self._task.cancel()
                raise

    async def abort(self) -> list[Message]:
        """Stop at once; returns the messages that were not delivered."""
        self._closing = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        left = list(self._queue)
        self._queue.clear()
        return left

    # -- the publisher task ---------------------------------------------------

    async def _run(self) -> None:
        sink = self._sink_factory(self._settings)
        # Batches handed to a sending task, until that task has recorded their
        # outcomes. Whatever is still here when the task is cancelled (even
        # before it started) goes back to the front of the queue.
        sending: dict[asyncio.Task[None], list[Message]] = {}
        slots = asyncio.Semaphore(self._settings.max_in_flight)
        assert self._wake is not None
        wake = self._wake
        try:
            try:
                await sink.open()
            except Exception as exc:
                log.error("cannot open SNS clients: %r", exc)
                self._fail_all(f"configuration: cannot open SNS clients: {exc!r}")
                return
            while True:
                if not self._queue:
                    if self._closing:
                        break
                    wake.clear()
                    await wake.wait()
                    continue
                await slots.acquire()
                batch = take_batch(self._queue)
                if not batch:
                    slots.release()
                    continue
                if self._space is not None:
                    self._space.set()
                self._in_flight += len(batch)
                task = asyncio.create_task(self._send(sink, batch, slots, sending))
                sending[task] = batch
                await asyncio.sleep(0)  # let the application run between batches
            if sending:
                await asyncio.gather(*sending)
        finally:
            for task in sending:
                task.cancel()
            if sending:
                await asyncio.gather(*sending, return_exceptions=True)
            for batch in reversed(list(sending.values())):
                self._in_flight -= len(batch)
                self._queue.extendleft(reversed(batch))  # the next loop sends them
            sending.clear()
            await sink.aclose()

    async def _send(
        self,
        sink: SnsSink,
        batch: list[Message],
        slots: asyncio.Semaphore,
        sending: dict[asyncio.Task[None], list[Message]],
    ) -> None:
        try:
            outcomes = await self._supervisor.deliver(sink, batch)
        except Exception as exc:  # a bug must not lose events silently
            log.exception("publisher failed on a batch")
            outcomes = [(m, None, f"internal error: {exc!r}") for m in batch]
        finally:
            slots.release()
        current = asyncio.current_task()
        if current is not None:
            sending.pop(current, None)
        self._in_flight -= len(batch)
        for message, receipt, error in outcomes:
            self._finish(message, receipt, error)

    def _finish(self, message: Message, receipt: Receipt | None, error: str | None) -> None:
        if message.envelope.part_finished(receipt, error):
            self._on_finished(message.envelope)
            if self._progress is not None:
                self._progress.set()

    def _fail_all(self, reason: str) -> None:
        while self._queue:
            self._finish(self._queue.popleft(), None, reason)
