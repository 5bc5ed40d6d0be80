"""The on-disk spool: records survive a crash mid-write (a torn tail is cut,
a corrupt record in the middle is skipped), delivered records are never
handed out again (not even after a restart), the size bound is kept and
accounted, and the writes run on the spool's own thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sr_sec_async.spool import ACKS_NAME, LOG_NAME, Spool, SpoolRecord


def item(i: int, size: int = 40) -> tuple[str, str, int, int, bytes]:
    body = f'{{"n":{i},"pad":"{"x" * size}"}}'.encode()
    return (f"00000000-0000-4000-8000-{i:012d}", "login_attempt", 1, 1, body)


def opened(path: Path, max_bytes: int = 1 << 20) -> Spool:
    spool = Spool(str(path), max_bytes=max_bytes)
    spool.open_sync()
    return spool


def numbers(records: list[SpoolRecord]) -> list[int]:
    return [int(r.event_uuid[-12:]) for r in records]


def test_records_round_trip_in_order(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    assert spool.append_sync([item(i) for i in range(5)]) == 5
    records = spool.read_sync(10)
    assert numbers(records) == [0, 1, 2, 3, 4]
    assert records[2].body == item(2)[4] and records[2].event_type == "login_attempt"
    spool.close()
    again = opened(tmp_path)
    assert numbers(again.read_sync(10)) == [0, 1, 2, 3, 4]
    again.close()


def test_acked_records_are_not_handed_out_again_even_after_a_restart(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    spool.append_sync([item(i) for i in range(6)])
    records = spool.read_sync(10)
    spool.ack_sync([records[1].offset, records[4].offset])
    assert numbers(spool.read_sync(10)) == [0, 2, 3, 5]
    spool.close()
    again = opened(tmp_path)
    assert numbers(again.read_sync(10)) == [0, 2, 3, 5]
    assert again.stats().pending == 4
    again.close()


def test_everything_acked_compacts_to_an_empty_new_generation(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    spool.append_sync([item(i) for i in range(3)])
    spool.ack_sync([r.offset for r in spool.read_sync(10)])
    assert spool.stats().pending == 0 and spool.stats().bytes == 16
    assert os.path.getsize(tmp_path / LOG_NAME) == 16
    # A new record written at an offset an old ack named is not taken as acked.
    spool.append_sync([item(7)])
    spool.close()
    again = opened(tmp_path)
    assert numbers(again.read_sync(10)) == [7]
    again.close()


def test_acks_of_another_generation_are_ignored(tmp_path: Path) -> None:
    """A crash between the two steps of compaction resends, never skips."""
    spool = opened(tmp_path)
    spool.append_sync([item(i) for i in range(2)])
    spool.ack_sync([spool.read_sync(1)[0].offset])
    spool.close()
    acks = (tmp_path / ACKS_NAME).read_bytes()
    (tmp_path / ACKS_NAME).write_bytes(acks[:8] + b"\0" * 8 + acks[16:])  # other generation
    again = opened(tmp_path)
    assert numbers(again.read_sync(10)) == [0, 1]
    again.close()


@pytest.mark.parametrize("cut", [1, 5, 12, 30, -1])
def test_a_torn_last_record_is_cut_and_earlier_ones_stay_intact(tmp_path: Path, cut: int) -> None:
    spool = opened(tmp_path)
    spool.append_sync([item(i) for i in range(4)])
    last = spool.read_sync(10)[-1].offset
    spool.close()
    path = tmp_path / LOG_NAME
    size = path.stat().st_size
    os.truncate(path, last + cut if cut > 0 else size + cut)
    again = opened(tmp_path)
    assert numbers(again.read_sync(10)) == [0, 1, 2]
    assert again.stats().corrupt_bytes > 0
    assert os.path.getsize(path) == last  # the torn bytes are gone
    again.append_sync([item(9)])  # and new records follow the intact ones
    again.close()
    assert numbers(opened(tmp_path).read_sync(10)) == [0, 1, 2, 9]


def test_a_corrupt_record_in_the_middle_is_skipped_not_the_rest(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    spool.append_sync([item(i) for i in range(5)])
    victim = spool.read_sync(10)[2].offset
    spool.close()
    path = tmp_path / LOG_NAME
    data = bytearray(path.read_bytes())
    data[victim + 20] ^= 0xFF  # a flipped byte inside record 2's payload
    path.write_bytes(bytes(data))
    again = opened(tmp_path)
    assert numbers(again.read_sync(10)) == [0, 1, 3, 4]
    assert again.stats().corrupt_bytes > 0
    again.close()


def test_a_file_that_is_not_a_spool_is_kept_aside(tmp_path: Path) -> None:
    (tmp_path / LOG_NAME).write_bytes(b"something else entirely, not ours")
    spool = opened(tmp_path)
    assert spool.read_sync(10) == []
    spool.close()
    assert [p.name for p in tmp_path.glob(f"{LOG_NAME}.corrupt-*")]


def test_the_size_bound_is_kept_and_refusals_counted(tmp_path: Path) -> None:
    spool = opened(tmp_path, max_bytes=4096)
    written = spool.append_sync([item(i, size=200) for i in range(30)])
    assert 0 < written < 30
    stats = spool.stats()
    assert stats.rejected == 30 - written and stats.bytes <= 4096
    assert os.path.getsize(tmp_path / LOG_NAME) <= 4096
    spool.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from sr_sec_async.spool import Spool
    spool = Spool(sys.argv[1], max_bytes=1 << 30)
    spool.open_sync()
    i = 0
    while True:
        body = b'{"n":%d,"pad":"%s"}' % (i, b"y" * (i % 5000))
        spool.append_sync([("00000000-0000-4000-8000-%012d" % i, "login_attempt", 1, 1, body)])
        print(i, flush=True)
        i += 1
    """
)


def test_a_process_killed_mid_write_loses_no_record_it_reported_written(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    confirmed = -1
    try:
        for line in proc.stdout:
            confirmed = int(line)
            if confirmed >= 300:
                break
        proc.send_signal(signal.SIGKILL)  # no clean-up of any kind: mid-write, most likely
    finally:
        proc.wait()
        proc.stdout.close()
    assert confirmed >= 300
    spool = opened(tmp_path)
    got = numbers(spool.read_sync(1_000_000))
    # Every record reported written (fsync-ed) is there, intact and in order;
    # at most the ones written after the last report are also there.
    assert got[: confirmed + 1] == list(range(confirmed + 1))
    assert got == list(range(len(got)))
    for record in spool.read_sync(1_000_000):
        assert record.body.startswith(b'{"n":%d,' % int(record.event_uuid[-12:]))
    spool.close()


@pytest.mark.anyio
async def test_file_work_runs_on_the_spool_thread_not_the_loop(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=1 << 20)
    seen: list[str] = []

    def append() -> int:
        seen.append(threading.current_thread().name)
        return spool.append_sync([item(1)])

    assert await spool.run(spool.open_sync) is None
    assert await spool.run(append) == 1
    assert seen and seen[0].startswith("sr_sec_async-spool")
    assert seen[0] != threading.current_thread().name
    spool.close()


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, off: real(fd, bytes(data)[:7], off))
    spool = opened(tmp_path)
    spool.append_sync([item(i) for i in range(3)])
    spool.close()
    monkeypatch.setattr(os, "pwrite", real)
    assert numbers(opened(tmp_path).read_sync(10)) == [0, 1, 2]


def test_a_failed_write_leaves_no_torn_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = opened(tmp_path)
    spool.append_sync([item(0)])
    size = os.path.getsize(tmp_path / LOG_NAME)
    real = os.pwrite

    def disk_full(fd: int, data: bytes, offset: int) -> int:
        real(fd, bytes(data)[:10], offset)  # part of it reached the file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", disk_full)
    with pytest.raises(OSError):
        spool.append_sync([item(1)])
    monkeypatch.setattr(os, "pwrite", real)
    assert os.path.getsize(tmp_path / LOG_NAME) == size
    spool.append_sync([item(2)])
    spool.close()
    again = opened(tmp_path)
    assert numbers(again.read_sync(10)) == [0, 2] and again.stats().corrupt_bytes == 0
    again.close()
