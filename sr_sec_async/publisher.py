"""The bounded queue and the background task that drains it into
``PublishBatch`` requests, and the hand-off to the on-disk spool.

The queue is a plain deque, not bound to any event loop, so what one loop
accepted is still delivered when the application later runs in a new loop
(repeated ``asyncio.run``): the publisher task is started lazily in whichever
loop is running and restarted in a new one; batches in flight when a loop
ends go back to the front of the queue.

Where messages go when they cannot be delivered now (with a spool): a batch
whose outcome is "retry budget exhausted", an event arriving at a full queue
under the ``spool`` policy, and what is still queued when a shutdown times
out are appended to the spool by one writer task; a replay task sends spooled
messages again once SNS answers, and at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from .config import Settings
from .results import Envelope, Receipt
from .sinks.sns import SnsSink
from .spool import Spool, SpoolRecord
from .supervisor import Supervisor
from .wire import MAX_BATCH_ENTRIES, MAX_REQUEST_BYTES, attributes_of, attributes_size

__all__ = ["RETRY_EXHAUSTED", "Message", "Publisher", "fifo_group_id"]

log = logging.getLogger("sr_sec_async")

#: How the supervisor's outcome starts when every region stayed unavailable
#: past the retry budget: the one outcome that sends a message to the spool.
RETRY_EXHAUSTED = "retry budget exhausted"

_GROUP_ID_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)
_group_ids: dict[str, str] = {}


def fifo_group_id(event_type: str) -> str:
    """A FIFO ``MessageGroupId``: the event type (ordering is kept per type),
    reduced to the characters AWS allows and at most 128 of them."""
    group = _group_ids.get(event_type)
    if group is None:
        group = "".join(c if c in _GROUP_ID_CHARS else "_" for c in event_type)[:128] or "event"
        _group_ids[event_type] = group
    return group


class Message:
    """One SNS message: one event, or one part of a split event."""

    __slots__ = ("body", "envelope", "part", "size", "spool_offset")

    def __init__(
        self, envelope: Envelope, part: int, body: bytes, spool_offset: int | None = None
    ) -> None:
        self.envelope = envelope
        self.part = part
        self.body = body
        self.size = len(body) + attributes_size(envelope.event_type)
        self.spool_offset = spool_offset  # set when replayed from the spool

    @classmethod
    def from_record(cls, record: SpoolRecord) -> Message:
        envelope = Envelope(record.event_uuid, record.event_type, record.total_parts, 0)
        return cls(envelope, record.part, record.body, record.offset)

    def spool_item(self) -> tuple[str, str, int, int, bytes]:
        e = self.envelope
        return (e.event_uuid, e.event_type, self.part, e.total_parts, self.body)

    def request_entry(self, entry_id: str, fifo: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Id": entry_id,
            "Message": self.body.decode(),
            "MessageAttributes": attributes_of(self.envelope.event_type),
        }
        if fifo:
            # Stable across retries, replays and regions; distinct per part.
            entry["MessageGroupId"] = fifo_group_id(self.envelope.event_type)
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


#: ``(message, reason)`` waiting for the spool writer.
_Spill = tuple[Message, str]
_SPOOL_CHUNK = 256


class Publisher:
    """Owns the queue, the publisher task, the SNS clients and the spool."""

    def __init__(
        self,
        settings: Settings,
        supervisor: Supervisor,
        on_finished: Callable[[Envelope], None],
        sink_factory: Callable[[Settings], SnsSink] = SnsSink,
        on_replayed: Callable[[Message, str | None], None] | None = None,
    ) -> None:
        self._settings = settings
        self._supervisor = supervisor
        self._on_finished = on_finished
        self._on_replayed = on_replayed
        self._sink_factory = sink_factory
        self._queue: deque[Message] = deque()
        self._capacity = settings.max_queue_size
        self._spool: Spool | None = None
        if settings.spool_dir is not None:
            self._spool = Spool(
                settings.spool_dir, max_bytes=settings.spool_max_bytes, fsync=settings.spool_fsync
            )
        self._to_spool: deque[_Spill] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._progress: asyncio.Event | None = None
        self._space: asyncio.Event | None = None
        self._replay_kick: asyncio.Event | None = None
        self._spool_changed: asyncio.Event | None = None
        self._replay_failed = False  # the last replay attempt could not deliver
        self._in_flight = 0
        self._closing = False  # no more waiting for new work: drain, then stop
        self._stopping = False  # take no further batch (shutdown timed out)
        self._closed = False  # stopped for good: never restarted

    # -- intake (caller's path: no awaiting) --------------------------------

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def spool(self) -> Spool | None:
        return self._spool

    def submit(self, envelope: Envelope, bodies: list[bytes]) -> bool:
        """Queue an event's messages; ``False`` when there is no room for them
        (in the queue or, under the ``spool`` policy, in the spool writer's
        backlog). Under the ``spool`` policy a full queue sends the event to
        the spool instead; it is then reported "spooled", not lost."""
        queue = self._queue
        if self._closed:
            return False
        if queue and len(queue) + len(bodies) > self._capacity:
            if (
                self._settings.overflow_policy != "spool"
                or self._spool is None
                or len(self._to_spool) + len(bodies) > self._capacity
            ):
                return False
            self.spill(
                [Message(envelope, part, body) for part, body in enumerate(bodies, start=1)],
                "queue_full",
            )
            return True
        for part, body in enumerate(bodies, start=1):
            queue.append(Message(envelope, part, body))
        self._ensure_running()
        wake = self._wake
        if wake is not None:
            wake.set()
        return True

    async def wait_for_space(self, timeout: float) -> None:
        if self._closing:
            return
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
        if self._loop is not loop:
            self._loop = loop
            self._wake = asyncio.Event()
            self._progress = asyncio.Event()
            self._space = asyncio.Event()
            self._replay_kick = asyncio.Event()
            self._spool_changed = asyncio.Event()
        elif self._task is not None and not self._task.done():
            return
        if self._stopping or self._closed:
            return
        self._task = loop.create_task(self._run(), name="sr_sec_async-publisher")

    async def start(self) -> None:
        """Open the clients now (and replay the spool) rather than lazily."""
        if not self._closing:
            self._ensure_running()

    async def wait_progress(self) -> bool:
        """Return after the next event completes; ``False`` at once when
        nothing is left that could complete one (the publisher stopped)."""
        self._ensure_running()
        assert self._progress is not None
        running = self._task is not None and not self._task.done()
        writing = self._writer is not None and not self._writer.done()
        if not running and not writing:
            return False
        self._progress.clear()
        await self._progress.wait()
        return True

    async def close(self) -> None:
        """Drain what is queued, let in-flight batches finish, write what
        waits for the spool, then close the clients and the spool. Cancelling
        the caller does not cancel the publisher in the middle of a batch."""
        self._closing = True
        if self._closed:
            return
        if self._space is not None:
            self._space.set()  # wake callers waiting for room: intake is over
        if self._queue:
            self._ensure_running()  # e.g. left over from a loop that has ended
        task = self._task
        if task is not None and not task.done():
            if task.get_loop() is asyncio.get_running_loop():
                assert self._wake is not None and self._replay_kick is not None
                self._wake.set()
                self._replay_kick.set()
                await asyncio.shield(task)
        await self._drain_spool_writer()
        self._closed = True
        if self._spool is not None:
            self._spool.close()

    async def stop(self, grace: float) -> list[Message]:
        """Stop after the batches in flight (waiting up to ``grace`` seconds
        for them; only then are they cancelled) and return what is still
        queued, undelivered and no longer the publisher's."""
        self._closing = self._stopping = True
        task = self._task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            assert self._wake is not None and self._replay_kick is not None
            self._wake.set()
            self._replay_kick.set()
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                log.warning("a batch still in flight after the shutdown grace: cancelled")
                task.cancel()
                await asyncio.wait({task})
        left = list(self._queue)
        self._queue.clear()
        return left

    # -- the spool --------------------------------------------------------------

    def spill(self, messages: list[Message], reason: str) -> None:
        """Hand messages to the spool writer; each finishes "spooled" once on
        disk, or fails with reason ``spool_full`` / ``spool_error``."""
        self._to_spool.extend((m, reason) for m in messages)
        loop = asyncio.get_running_loop()
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_spool(), name="sr_sec_async-spool-writer")

    async def wait_spool_empty(self, timeout: float | None) -> int:
        """Wait until nothing is spooled (or about to be), or ``timeout``
        passes; returns how many messages are still spooled or waiting."""
        spool = self._spool
        if spool is None:
            return 0
        if self._closed:
            return spool.pending
        await spool.run(spool.open_sync)
        self._ensure_running()  # starts the replay (not once stopping)
        assert self._spool_changed is not None and self._replay_kick is not None
        changed = self._spool_changed
        self._replay_kick.set()
        try:
            async with asyncio.timeout(timeout):
                while (spool.pending or self._to_spool) and not self._closed:
                    changed.clear()
                    await changed.wait()
        except TimeoutError:
            pass
        return spool.pending + len(self._to_spool)

    async def _drain_spool_writer(self) -> None:
        if self._to_spool:
            self.spill([], "")
        writer = self._writer
        if writer is not None and not writer.done():
            await asyncio.shield(writer)

    async def _write_spool(self) -> None:
        spool = self._spool
        pending = self._to_spool
        while pending:
            chunk = [pending.popleft() for _ in range(min(_SPOOL_CHUNK, len(pending)))]
            if spool is None:  # pragma: no cover - spill() is only called with a spool
                written, error = 0, "spool_error: no spool configured"
            else:
                items = [m.spool_item() for m, _ in chunk]
                try:
                    written = await spool.run(partial(spool.append_sync, items))
                    error = "spool_full: the spool reached its size limit"
                except asyncio.CancelledError:
                    pending.extendleft(reversed(chunk))  # the next loop writes them
                    raise
                except Exception as exc:
                    log.exception("cannot write to the security log spool")
                    written, error = 0, f"spool_error: {exc!r}"
            for message, reason in chunk[:written]:
                self._finish(message, None, f"spooled: {reason}")
            for message, reason in chunk[written:]:
                self._finish(message, None, f"{error} ({reason})")
            if self._space is not None:
                self._space.set()  # room in the backlog for callers waiting
            if written and self._replay_kick is not None and not self._replay_failed:
                self._replay_kick.set()
            if self._spool_changed is not None:
                self._spool_changed.set()

    async def _replay(self, sink: SnsSink, spool: Spool) -> None:
        """Send spooled messages again, oldest first, acking each delivered
        one; after a failed attempt, wait ``spool_replay_interval`` (or a live
        batch's success) before the next. Stops between batches."""
        assert self._replay_kick is not None
        kick = self._replay_kick
        try:
            await spool.run(spool.open_sync)
        except Exception:
            log.exception("cannot open the security log spool")
            return
        interval = self._settings.spool_replay_interval
        while not self._closing:
            try:
                failed = await self._replay_once(sink, spool)
            except Exception:  # a disk or library error must not end the replay
                log.exception("security log spool replay failed; retrying later")
                failed = True
            if failed is None:  # nothing to replay: wait for a kick
                kick.clear()  # (a close() after this sets it again)
                if not self._closing:
                    await kick.wait()
                continue
            self._replay_failed = failed
            if self._spool_changed is not None:
                self._spool_changed.set()
            if failed and not self._closing:
                kick.clear()  # (a close() after this sets it again)
                try:
                    async with asyncio.timeout(interval):
                        await kick.wait()
                except TimeoutError:
                    pass

    async def _replay_once(self, sink: SnsSink, spool: Spool) -> bool | None:
        """Send the oldest spooled batch once and ack what is done with;
        ``True`` when no region took it, ``None`` when nothing is spooled."""
        records = await spool.run(partial(spool.read_sync, MAX_BATCH_ENTRIES))
        if not records:
            return None
        messages, done = _replayable(records)
        batch = take_batch(deque(messages))
        outcomes = await self._supervisor.deliver(sink, batch) if batch else []
        failed = False
        for message, _receipt, error in outcomes:
            if error is not None and error.startswith(RETRY_EXHAUSTED):
                failed = True  # stays spooled for the next attempt
                continue
            assert message.spool_offset is not None
            done.append(message.spool_offset)
            if self._on_replayed is not None:
                self._on_replayed(message, error)
        await spool.run(partial(spool.ack_sync, done))
        return failed

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
        replayer: asyncio.Task[None] | None = None
        try:
            try:
                await sink.open()
            except Exception as exc:
                log.error("cannot open SNS clients: %r", exc)
                self._fail_all(f"configuration: cannot open SNS clients: {exc!r}")
                return
            if self._spool is not None:
                replayer = asyncio.create_task(
                    self._replay(sink, self._spool), name="sr_sec_async-spool-replay"
                )
            while not self._stopping:
                if not self._queue:
                    if self._closing:
                        break
                    wake.clear()
                    await wake.wait()
                    continue
                await slots.acquire()
                batch = take_batch(self._queue) if not self._stopping else []
                if not batch:
                    slots.release()
                    continue
                if self._space is not None:
                    self._space.set()
                self._in_flight += len(batch)
                task = asyncio.create_task(
                    self._send(sink, batch, slots, sending), name="sr_sec_async-batch"
                )
                sending[task] = batch
                await asyncio.sleep(0)  # let the application run between batches
            if sending:  # never cancel a batch in the middle: let it finish
                await asyncio.gather(*sending)
            if replayer is not None:
                assert self._replay_kick is not None
                self._replay_kick.set()  # it stops between batches once closing
                await asyncio.gather(replayer, return_exceptions=True)
        finally:
            if replayer is not None and not replayer.done():
                replayer.cancel()
                await asyncio.gather(replayer, return_exceptions=True)
            for task in sending:
                task.cancel()
            if sending:
                await asyncio.gather(*sending, return_exceptions=True)
            for batch in reversed(list(sending.values())):
                self._in_flight -= len(batch)
                self._queue.extendleft(reversed(batch))  # the next loop sends them
            sending.clear()
            if self._progress is not None:
                self._progress.set()  # a flush waiting on this task looks again
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
        spill: list[Message] = []
        delivered_any = False
        for message, receipt, error in outcomes:
            if error is not None and self._spool is not None and error.startswith(RETRY_EXHAUSTED):
                spill.append(message)
                continue
            delivered_any = delivered_any or receipt is not None
            self._finish(message, receipt, error)
        if spill:
            self.spill(spill, RETRY_EXHAUSTED)
        elif delivered_any and self._replay_failed and self._replay_kick is not None:
            self._replay_failed = False
            self._replay_kick.set()  # SNS answers again: replay the spool now

    def _finish(self, message: Message, receipt: Receipt | None, error: str | None) -> None:
        if message.envelope.part_finished(receipt, error):
            self._on_finished(message.envelope)
            if self._progress is not None:
                self._progress.set()

    def fail(self, messages: list[Message], reason: str) -> None:
        """Record messages as not delivered, with ``reason``."""
        for message in messages:
            self._finish(message, None, reason)

    def save_at_exit(self) -> int:
        """At interpreter exit, without a loop: write what is still queued or
        waiting for the spool writer to the spool, synchronously. Returns how
        many messages were saved (0 without a spool)."""
        spool = self._spool
        if spool is None or self._closed:
            return 0
        messages = [m for m, _ in self._to_spool] + list(self._queue)
        if not messages:
            return 0
        try:
            saved = spool.append_sync(m.spool_item() for m in messages)
        except Exception:
            log.exception("cannot write to the security log spool at exit")
            return 0
        for message in messages[:saved]:
            self._finish(message, None, "spooled: process exit")
        self._to_spool.clear()
        self._queue.clear()
        return saved

    def _fail_all(self, reason: str) -> None:
        while self._queue:
            self._finish(self._queue.popleft(), None, reason)


def _replayable(records: list[SpoolRecord]) -> tuple[list[Message], list[int]]:
    """Messages to send again, and the offsets of records that never can be
    (an event type this version does not know): those are given up, logged."""
    messages, unusable = [], []
    for record in records:
        try:
            messages.append(Message.from_record(record))
        except KeyError:
            log.error(
                "security log spool: record at %d has unknown event type %r; dropped",
                record.offset,
                record.event_type,
            )
            unusable.append(record.offset)
    return messages, unusable
