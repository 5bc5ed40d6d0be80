"""Shutdown stops intake, lets fire_and_forget tasks finish, drains the queue,
lets a batch in flight finish (never cancelled in the middle), then closes the
clients; afterwards no library task runs and every use is refused without
network traffic. Repeated ``asyncio.run`` never looks like a region outage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async import api
from sr_sec_async.local_sns import LocalAws, TopicWithQueue
from sr_sec_async.publisher import Publisher

from ..conftest import sns_settings
from ..network import PublishGate, drain_exactly
from ..samples import call_kwargs

pytestmark = pytest.mark.anyio


def library_tasks() -> list[asyncio.Task[Any]]:
    return [
        t for t in asyncio.all_tasks() if t.get_name().startswith("sr_sec_async") and not t.done()
    ]


def spawn_login(i: int) -> None:
    kwargs = call_kwargs("log_user_login", session_id=f"w{i}")
    s.fire_and_forget(s.log_user_login(**kwargs), "login_attempt")


async def test_shutdown_with_work_still_arriving_accounts_for_every_event(
    aws: LocalAws,
    topic: TopicWithQueue,
    errors: list[tuple[BaseException, str | None]],
) -> None:
    logger = s.init_security_logging(**sns_settings(aws, topic, warning_burst=5))
    for i in range(40):
        spawn_login(i)
    stop = asyncio.Event()

    spawned_so_far = [40]

    async def keep_spawning() -> int:
        while not stop.is_set():
            spawn_login(spawned_so_far[0])
            spawned_so_far[0] += 1
            await asyncio.sleep(0.001)  # a steady stream, not a loop-saturating flood
        return spawned_so_far[0]

    producer = asyncio.create_task(keep_spawning())
    await asyncio.sleep(0.01)
    before = spawned_so_far[0]  # shutdown starts with no await in between
    summary = await s.shutdown_security_logging(timeout=30)
    stop.set()
    spawned = await producer
    await s.flush_security_logging(timeout=5)  # the spawns after shutdown finish, refused
    refused = logger.undelivered[("shut_down", "login_attempt")]
    # Everything spawned before shutdown was delivered; everything spawned
    # since was refused at once, counted, and reported without a flood.
    assert summary == s.DeliverySummary(before, 0, 0)
    assert refused == spawned - before > 0
    assert all(isinstance(e, s.DeliveryError) and e.reason == "shut_down" for e, _ in errors)
    assert 1 <= len(errors) <= 5 + 2 < refused  # a burst, then summaries
    received = await drain_exactly(aws, topic, summary.delivered)
    assert len({m["session_id"] for m in received}) == summary.delivered
    assert library_tasks() == [] and not api._background


async def test_after_shutdown_every_use_is_refused_without_network_traffic(
    aws: LocalAws,
    topic: TopicWithQueue,
    strict_aws_rules: list[dict[str, Any]],
) -> None:
    logger = s.init_security_logging(**sns_settings(aws, topic))
    assert (await s.log_user_login(**call_kwargs("log_user_login"))).ok
    assert await s.shutdown_security_logging(timeout=10) == s.DeliverySummary(1, 0, 0)
    requests = len(strict_aws_rules)
    result = await s.log_user_login(**call_kwargs("log_user_login"))
    assert not result.ok and result.reason == "shut_down"
    assert result.message == "Security logger is shut down; event not accepted"
    assert await s.flush_security_logging(timeout=1) == s.DeliverySummary(1, 0, 0)
    with pytest.raises(s.LoggerClosedError):
        await logger.start()
    assert await s.shutdown_security_logging(timeout=1) == s.DeliverySummary(1, 0, 0)
    assert len(strict_aws_rules) == requests
    assert library_tasks() == []


@pytest.mark.parametrize("spooled", [False, True])
async def test_shutdown_timeout_lets_the_batch_in_flight_finish_and_accounts_for_the_rest(
    aws: LocalAws,
    topic: TopicWithQueue,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    spooled: bool,
) -> None:
    gate = PublishGate(monkeypatch)
    real_stop = Publisher.stop

    async def stop_then_release(self: Publisher, grace: float) -> list[Any]:
        gate.open()  # the batch in flight answers only once the deadline has passed
        return await real_stop(self, grace)

    monkeypatch.setattr(Publisher, "stop", stop_then_release)
    extra = {"spool_dir": tmp_path} if spooled else {}
    logger = s.init_security_logging(
        **sns_settings(aws, topic, max_in_flight=1, shutdown_grace=5, **extra)
    )
    first = await s.log_user_login(**call_kwargs("log_user_login", session_id="in-flight"))
    await gate.arrived.wait()
    for i in range(29):
        assert (await s.log_user_login(**call_kwargs("log_user_login", session_id=f"q{i}"))).ok
    summary = await s.shutdown_security_logging(timeout=2)  # 1 s to drain, 1 s of grace
    assert (await first.delivery(timeout=1)).delivered  # finished, not cancelled
    assert gate.calls == 1  # and no batch was started after the deadline
    if spooled:
        assert summary == s.DeliverySummary(1, 0, 0, spooled=29)
        assert logger.spool_stats() is not None
        async with s.SecurityLogger(**sns_settings(aws, topic, spool_dir=tmp_path)) as later:
            assert await later.replay_spool(timeout=30) == 0
        received = await drain_exactly(aws, topic, 30)
    else:
        assert summary == s.DeliverySummary(1, 29, 0)
        assert logger.failures_by_reason == {"shutdown_timeout": 29}
        received = await drain_exactly(aws, topic, 1)
    assert "in-flight" in {m["session_id"] for m in received}
    assert library_tasks() == []


def test_three_asyncio_runs_never_count_a_closed_loop_as_an_outage(aws: LocalAws) -> None:
    topic = asyncio.run(aws.topic_with_queue("three-runs"))
    s.init_security_logging(**sns_settings(aws, topic))

    async def one_run(i: int) -> None:
        results = [
            await s.log_user_login(**call_kwargs("log_user_login", session_id=f"run{i}-{j}"))
            for j in range(5)
        ]
        for result in results:
            assert (await result.delivery(timeout=10)).delivered
        spawn_login(100 + i)  # left running when the loop ends: carried to the next

    for i in range(3):
        asyncio.run(one_run(i))

    async def finish() -> tuple[s.DeliverySummary, list[dict[str, Any]]]:
        summary = await s.shutdown_security_logging(timeout=30)
        assert library_tasks() == []
        return summary, await aws.drain(topic, summary.delivered)

    summary, received = asyncio.run(finish())
    ids = {m["session_id"] for m in received}
    assert {f"run{i}-{j}" for i in range(3) for j in range(5)} <= ids
    assert summary.failed == 0 and summary.pending == 0
    metrics = s.get_failover_metrics()
    assert metrics["primary_failure"] == 0
    assert metrics["failover_attempts"] == 0 and metrics["total_failures"] == 0
