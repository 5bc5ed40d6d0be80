"""A full queue in front of a blocked publisher (every PublishBatch held at a
gate): nothing accepted is lost, and what is refused or spooled above the
capacity is counted exactly, by reason and event type, and reported without
a flood. Delivery checked through moto."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async.local_sns import LocalAws, TopicWithQueue
from sr_sec_async.spool import Spool

from ..conftest import sns_settings
from ..network import PublishGate, drain_exactly
from ..samples import call_kwargs

pytestmark = pytest.mark.anyio

CAPACITY = 20


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def blocked_queue(
    aws: LocalAws, topic: TopicWithQueue, policy: str, **extra: Any
) -> dict[str, Any]:
    """Settings for a queue of CAPACITY behind one sending slot."""
    return sns_settings(
        aws, topic, max_queue_size=CAPACITY, max_in_flight=1, overflow_policy=policy, **extra
    )


async def fill_queue(gate: PublishGate) -> list[str]:
    """One event in flight at the gate, then exactly CAPACITY queued."""
    first = await s.log_user_login(**call_kwargs("log_user_login", session_id="q-0"))
    assert first.ok
    await gate.arrived.wait()
    accepted = ["q-0"]
    for i in range(1, CAPACITY + 1):
        result = await s.log_user_login(**call_kwargs("log_user_login", session_id=f"q-{i}"))
        assert result.ok, result.message
        accepted.append(f"q-{i}")
    return accepted


async def test_drop_policy_counts_every_refused_event_and_loses_nothing_accepted(
    aws: LocalAws,
    topic: TopicWithQueue,
    monkeypatch: pytest.MonkeyPatch,
    errors: list[tuple[BaseException, str | None]],
) -> None:
    gate = PublishGate(monkeypatch)
    clock = FakeClock()
    logger = s.init_security_logging(
        **sns_settings(
            aws,
            topic,
            max_queue_size=CAPACITY,
            max_in_flight=1,
            overflow_policy="drop",
            warning_interval=10,
            warning_burst=1,
        ),
        clock=clock,
    )
    accepted = await fill_queue(gate)
    refused = []
    for i in range(5):
        refused.append(await s.log_user_login(**call_kwargs("log_user_login", session_id=f"x{i}")))
    for i in range(2):
        refused.append(
            await s.log_user_logout(**call_kwargs("log_user_logout", session_id=f"y{i}"))
        )
    assert all(not r.ok and r.message.startswith("Queue full (20 messages)") for r in refused)
    assert logger.undelivered == {
        ("queue_full", "login_attempt"): 5,
        ("queue_full", "user_logout"): 2,
    }
    # One report at once; the other six are held back, then summed up.
    assert len(errors) == 1
    clock.now = 11.0
    assert not (await s.log_user_login(**call_kwargs("log_user_login"))).ok
    assert len(errors) == 2
    assert "and 6 more" in str(errors[1][0]) and "login_attempt x4, user_logout x2" in str(
        errors[1][0]
    )
    assert all(isinstance(e, s.DeliveryError) and e.reason == "queue_full" for e, _ in errors)

    gate.open()
    assert await s.flush_security_logging(timeout=30) == s.DeliverySummary(21, 0, 0)
    received = await drain_exactly(aws, topic, 21)
    assert sorted(m["session_id"] for m in received) == sorted(accepted)
    assert await s.shutdown_security_logging(timeout=10) == s.DeliverySummary(21, 0, 0)
    assert len(errors) == 2  # nothing left held back


async def test_wait_policy_waits_for_room_and_fire_and_forget_never_blocks(
    aws: LocalAws, topic: TopicWithQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = PublishGate(monkeypatch)
    s.init_security_logging(
        **sns_settings(aws, topic, max_queue_size=CAPACITY, max_in_flight=1, queue_wait_timeout=60)
    )
    accepted = await fill_queue(gate)
    waiting = asyncio.create_task(
        s.log_user_login(**call_kwargs("log_user_login", session_id="waited"))
    )
    background = s.fire_and_forget(
        s.log_user_login(**call_kwargs("log_user_login", session_id="forgotten")), "login_attempt"
    )
    assert background is not None  # returned at once, with the queue full
    for _ in range(20):
        await asyncio.sleep(0)
    assert not waiting.done() and not background.done()  # waiting for room, not refused
    await asyncio.sleep(0.05)
    opened_at = datetime.now(UTC)
    gate.open()
    assert (await waiting).ok
    assert (await background).ok
    summary = await s.shutdown_security_logging(timeout=30)
    assert summary == s.DeliverySummary(23, 0, 0)
    received = await drain_exactly(aws, topic, 23)
    assert sorted(m["session_id"] for m in received) == sorted([*accepted, "waited", "forgotten"])
    # The event is stamped when it was logged, not when room appeared.
    [waited] = [m for m in received if m["session_id"] == "waited"]
    assert datetime.fromisoformat(waited["timestamp"]) < opened_at


async def test_wait_policy_refuses_after_the_wait_timeout(
    aws: LocalAws, topic: TopicWithQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = PublishGate(monkeypatch)
    logger = s.init_security_logging(
        **sns_settings(
            aws, topic, max_queue_size=CAPACITY, max_in_flight=1, queue_wait_timeout=0.01
        )
    )
    await fill_queue(gate)
    result = await s.log_user_login(**call_kwargs("log_user_login"))
    assert not result.ok and result.reason == "queue_full"
    assert logger.undelivered == {("queue_full", "login_attempt"): 1}
    gate.open()
    assert (await s.shutdown_security_logging(timeout=30)).delivered == 21


async def test_spool_policy_spools_the_overflow_and_replays_each_event_once(
    aws: LocalAws, topic: TopicWithQueue, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gate = PublishGate(monkeypatch)
    threads: list[str] = []
    real_append = Spool.append_sync

    def append_sync(self: Spool, items: Any) -> int:
        threads.append(threading.current_thread().name)
        return real_append(self, items)

    monkeypatch.setattr(Spool, "append_sync", append_sync)
    logger = s.init_security_logging(**blocked_queue(aws, topic, "spool", spool_dir=tmp_path))
    accepted = await fill_queue(gate)
    overflow: list[s.LogResult] = []
    for i in range(7):
        kwargs = call_kwargs("log_user_login", session_id=f"over-{i}")
        overflow.append(await s.log_user_login(**kwargs))
    assert all(r.ok for r in overflow)  # accepted: written to disk, not refused
    for r in overflow:
        delivery = await r.delivery(timeout=10)
        assert not delivery.delivered and delivery.error == "spooled: queue_full"
    stats = logger.spool_stats()
    assert stats is not None and stats.pending == 7 and stats.written == 7
    assert not logger.undelivered
    # The disk is written on the spool's own thread, never the event loop's.
    assert threads and all(t.startswith("sr_sec_async-spool") for t in threads)

    gate.open()
    assert await logger.replay_spool(timeout=30) == 0
    summary = await s.shutdown_security_logging(timeout=30)
    assert summary == s.DeliverySummary(21, 0, 0, spooled=7)
    assert logger.replayed == {"delivered": 7}
    received = await drain_exactly(aws, topic, 28)
    expected: list[Any] = [*accepted, *(f"over-{i}" for i in range(7))]
    assert sorted(m["session_id"] for m in received) == sorted(expected)
    assert len({m["event_uuid"] for m in received}) == 28


async def test_a_full_spool_fails_the_rest_with_reason_spool_full_counted_exactly(
    aws: LocalAws, topic: TopicWithQueue, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gate = PublishGate(monkeypatch)
    logger = s.init_security_logging(
        **blocked_queue(aws, topic, "spool", spool_dir=tmp_path, spool_max_bytes=8192)
    )
    await fill_queue(gate)
    for i in range(30):
        assert (await s.log_user_login(**call_kwargs("log_user_login", session_id=f"o{i}"))).ok
    summary = await s.flush_security_logging(timeout=0.5)  # the gate holds the live ones
    stats = logger.spool_stats()
    assert stats is not None and 0 < stats.written < 30 and stats.bytes <= 8192
    full = logger.undelivered[("spool_full", "login_attempt")]
    assert summary.spooled == stats.written and full == 30 - stats.written == stats.rejected
    assert summary.failed == full and logger.failures_by_reason == {"spool_full": full}
    gate.open()
    assert await logger.replay_spool(timeout=30) == 0
    await s.shutdown_security_logging(timeout=30)
    await drain_exactly(aws, topic, 21 + stats.written)


def test_spool_policy_without_a_spool_is_reported_and_waits_instead(
    errors: list[tuple[BaseException, str | None]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    logger = s.SecurityLogger(overflow_policy="spool", test_mode=True)
    assert logger.settings.overflow_policy == "wait"
    assert any(
        isinstance(e, s.ConfigurationError) and "needs spool_dir" in str(e) for e, _ in errors
    )
    monkeypatch.setenv("SECURITY_LOGS_SPOOL_DIR", str(tmp_path))
    monkeypatch.setenv("SECURITY_LOGS_OVERFLOW_POLICY", "spool")
    from_env = s.SecurityLogger(test_mode=True)
    assert from_env.settings.spool_dir == str(tmp_path)
    assert from_env.settings.overflow_policy == "spool"
    assert s.SecurityLogger(test_mode=True).spool_stats() is None  # test mode: no spool
