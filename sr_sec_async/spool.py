"""A bounded, append-only, on-disk spool for messages that could not be
delivered now (both regions down past the retry budget, queue overflow under
the ``spool`` policy, shutdown timeout), replayed once SNS is reachable again.

Files in the spool directory (one spool per directory):

``spool.log``
    A 16-byte header (``SRSPOOL1`` + an 8-byte random generation), then
    records: ``b"SRec"``, payload length (u32, big-endian), CRC-32 of the
    payload (u32), payload (msgpack ``[event_uuid, event_type, part,
    total_parts, body]``). A record is only appended, never rewritten.
``spool.acks``
    The same header with ``SRACKS01`` and the log's generation, then one
    12-byte entry per delivered record: its offset in the log (u64) and the
    CRC-32 of those 8 bytes. Acks of another generation are ignored, so a
    crash during compaction can resend but never skip a record.

Crash safety: a record is appended with one ``write`` and, by default,
``fsync``-ed before the append is reported done (``fsync=False`` trades that
for speed: the OS decides when it reaches the disk). On open, records are
checked one by one; a torn tail (a crash mid-write) is cut off, and a corrupt
record in the middle is skipped up to the next record that checks out, so
earlier (and later) records survive. When every record has been acked, both
files are removed and the next append starts a new generation.

Replay is at-least-once with a window of one ``PublishBatch``: a record is
acked right after SNS accepted it, so only a crash between those two steps
resends it (FIFO topics drop that resend: the deduplication id is kept).

All file work runs on one dedicated thread (``Spool.run``), so the event loop
never waits for the disk; the ``*_sync`` methods are for that thread (and the
atexit hook), serialised by a lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import msgspec

__all__ = ["Spool", "SpoolRecord", "SpoolStats"]

log = logging.getLogger("sr_sec_async")

T = TypeVar("T")

LOG_NAME = "spool.log"
ACKS_NAME = "spool.acks"
_LOG_MAGIC = b"SRSPOOL1"
_ACKS_MAGIC = b"SRACKS01"
_HEADER_SIZE = 16
_RECORD = struct.Struct(">4sII")
_RECORD_MAGIC = b"SRec"
_ACK = struct.Struct(">QI")
#: No record is larger than one SNS message plus its ids; anything claiming
#: more is corruption, not data.
MAX_RECORD_BYTES = 1 << 20

_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(tuple[str, str, int, int, bytes]).decode


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One spooled SNS message, as read back for replay."""

    offset: int
    event_uuid: str
    event_type: str
    part: int
    total_parts: int
    body: bytes


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """What the spool holds and what it could not take."""

    pending: int  # records written and not yet delivered
    bytes: int  # size of the log file
    written: int  # records appended by this process
    acked: int  # records delivered (or given up) by this process
    rejected: int  # records refused because the spool was full
    corrupt_bytes: int  # bytes skipped as corrupt or torn when opened


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


class Spool:
    """A spool directory, opened once, written and read on one thread."""

    def __init__(self, directory: str, *, max_bytes: int, fsync: bool = True) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._log: int | None = None  # file descriptors
        self._acks: int | None = None
        self._acks_size = 0
        self._generation = b""
        self._size = 0
        self._unacked: dict[int, int] = {}  # offset -> record length, in file order
        self._written = 0
        self._acked = 0
        self._rejected = 0
        self._corrupt = 0
        self._opened = False

    # -- the loop's side: never blocks -------------------------------------------

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the spool's own thread and await its result."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sr_sec_async-spool")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    @property
    def pending(self) -> int:
        """Records waiting for replay (known once the spool was opened)."""
        return len(self._unacked)

    def stats(self) -> SpoolStats:
        return SpoolStats(
            len(self._unacked),
            self._size,
            self._written,
            self._acked,
            self._rejected,
            self._corrupt,
        )

    def close(self) -> None:
        """Close the files and let the spool's thread end (no waiting)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
        with self._lock:
            self._close_files()

    # -- the spool thread's side ---------------------------------------------------

    def open_sync(self) -> None:
        """Open (or create) the files, check every record, cut a torn tail."""
        with self._lock:
            self._open()

    def _open(self) -> None:
        if self._opened:
            return
        self._unacked.clear()
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, LOG_NAME)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        header = os.pread(fd, _HEADER_SIZE, 0)
        if len(header) < _HEADER_SIZE or not header.startswith(_LOG_MAGIC):
            # Shorter than a header: a crash while creating it, nothing to keep.
            if len(header) == _HEADER_SIZE:
                os.close(fd)  # not ours, or damaged at its start: keep it aside
                aside = f"{path}.corrupt-{os.getpid()}"
                os.replace(path, aside)
                log.error("security log spool %s has no valid header; moved to %s", path, aside)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            header = _LOG_MAGIC + os.urandom(8)
            os.ftruncate(fd, 0)
            _write_at(fd, header, 0)
            self._sync(fd)
            self._sync_dir()
        self._log = fd
        self._generation = header[8:_HEADER_SIZE]
        self._size = self._scan(fd)
        self._open_acks()
        self._opened = True

    def _scan(self, fd: int) -> int:
        """Index every valid record; returns where the next append goes."""
        size = os.fstat(fd).st_size
        data = os.pread(fd, size - _HEADER_SIZE, _HEADER_SIZE) if size > _HEADER_SIZE else b""
        pos = 0
        good_end = 0
        while pos < len(data):
            length = _valid_record_at(data, pos)
            if length is not None:
                self._unacked[_HEADER_SIZE + pos] = length
                pos += length
                good_end = pos
                continue
            resync = _next_valid_record(data, pos + 1)
            if resync is None:
                break  # a torn tail: everything from here is an unfinished write
            self._corrupt += resync - pos
            log.error(
                "security log spool: skipped %d corrupt bytes at offset %d",
                resync - pos,
                _HEADER_SIZE + pos,
            )
            pos = resync
        end = _HEADER_SIZE + good_end
        if end < size:
            self._corrupt += size - end
            log.warning(
                "security log spool: cut %d bytes of an unfinished write at offset %d",
                size - end,
                end,
            )
            os.ftruncate(fd, end)
            self._sync(fd)
        return end

    def _open_acks(self) -> None:
        path = os.path.join(self.directory, ACKS_NAME)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0)
        if data[:8] != _ACKS_MAGIC or data[8:_HEADER_SIZE] != self._generation:
            os.ftruncate(fd, 0)  # another generation's acks (or none): none apply
            _write_at(fd, _ACKS_MAGIC + self._generation, 0)
            self._sync(fd)
            data = b""
            size = _HEADER_SIZE
        usable = _HEADER_SIZE
        for pos in range(_HEADER_SIZE, len(data) - _ACK.size + 1, _ACK.size):
            offset, crc = _ACK.unpack_from(data, pos)
            usable = pos + _ACK.size
            if crc == _crc(data[pos : pos + 8]):
                self._unacked.pop(offset, None)
        if usable < size:
            os.ftruncate(fd, usable)  # a torn ack: its record is simply resent
        self._acks = fd
        self._acks_size = usable
        if not self._unacked:
            self._reset()

    def append_sync(self, items: Iterable[tuple[str, str, int, int, bytes]]) -> int:
        """Append messages ``(event_uuid, event_type, part, total_parts, body)``
        in order; returns how many fit (the rest were refused: spool full)."""
        with self._lock:
            self._open()
            assert self._log is not None
            chunks: list[bytes] = []
            offsets: list[tuple[int, int]] = []
            end = self._size
            refused = 0
            for item in items:
                payload = _pack(item)
                record = _RECORD.pack(_RECORD_MAGIC, len(payload), _crc(payload)) + payload
                if refused or end + len(record) > self.max_bytes or len(payload) > MAX_RECORD_BYTES:
                    refused += 1
                    continue
                offsets.append((end, len(record)))
                chunks.append(record)
                end += len(record)
            if chunks:
                try:
                    _write_at(self._log, b"".join(chunks), self._size)
                    self._sync(self._log)
                except OSError:
                    os.ftruncate(self._log, self._size)  # no torn record left behind
                    raise
                self._size = end
                self._unacked.update(offsets)
                self._written += len(offsets)
            self._rejected += refused
            return len(offsets)

    def read_sync(self, limit: int, skip: frozenset[int] = frozenset()) -> list[SpoolRecord]:
        """Up to ``limit`` records not yet acked (oldest first), except ``skip``."""
        with self._lock:
            self._open()
            assert self._log is not None
            records = []
            for offset, length in self._unacked.items():
                if offset in skip:
                    continue
                raw = os.pread(self._log, length, offset)
                uuid, event_type, part, total, body = _unpack(raw[_RECORD.size :])
                records.append(SpoolRecord(offset, uuid, event_type, part, total, body))
                if len(records) >= limit:
                    break
            return records

    def ack_sync(self, offsets: Iterable[int]) -> None:
        """Mark records delivered (or given up); compacts when none is left."""
        with self._lock:
            assert self._acks is not None
            done = [o for o in offsets if o in self._unacked]
            if not done:
                return
            entries = b"".join(_ACK.pack(o, _crc(o.to_bytes(8, "big"))) for o in done)
            _write_at(self._acks, entries, self._acks_size)
            self._acks_size += len(entries)
            self._sync(self._acks)
            for o in done:
                del self._unacked[o]
            self._acked += len(done)
            if not self._unacked:
                self._reset()

    def _reset(self) -> None:
        """Everything was delivered: start a new, empty generation. The acks
        are truncated first, so a crash in between resends, never skips."""
        assert self._log is not None and self._acks is not None
        generation = os.urandom(8)
        os.ftruncate(self._acks, 0)
        _write_at(self._acks, _ACKS_MAGIC + generation, 0)
        self._sync(self._acks)
        os.ftruncate(self._log, 0)
        _write_at(self._log, _LOG_MAGIC + generation, 0)
        self._sync(self._log)
        self._generation = generation
        self._size = self._acks_size = _HEADER_SIZE

    def _sync(self, fd: int) -> None:
        if self.fsync:
            os.fsync(fd)

    def _sync_dir(self) -> None:
        if not self.fsync:
            return
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _close_files(self) -> None:
        for fd in (self._log, self._acks):
            if fd is not None:
                os.close(fd)
        self._log = self._acks = None
        self._opened = False  # (what is pending stays known until reopened)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    """``pwrite`` all of ``data`` (a short write continues where it stopped)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _valid_record_at(data: bytes, pos: int) -> int | None:
    """The full length of the record at ``pos`` if it checks out, else None."""
    if pos + _RECORD.size > len(data):
        return None
    magic, length, crc = _RECORD.unpack_from(data, pos)
    length = int(length)
    if magic != _RECORD_MAGIC or length > MAX_RECORD_BYTES:
        return None
    start = pos + _RECORD.size
    payload = data[start : start + length]
    if len(payload) != length or _crc(payload) != crc:
        return None
    try:
        _unpack(payload)
    except msgspec.DecodeError:
        return None
    return _RECORD.size + length


def _next_valid_record(data: bytes, start: int) -> int | None:
    pos = data.find(_RECORD_MAGIC, start)
    while pos != -1:
        if _valid_record_at(data, pos) is not None:
            return pos
        pos = data.find(_RECORD_MAGIC, pos + 1)
    return None
