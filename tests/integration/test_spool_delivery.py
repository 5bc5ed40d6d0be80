"""Both regions down → events spooled → regions back → every event delivered
exactly once; what one run spooled is delivered by the next; a process that
ends without shutdown says how many events it did not deliver and, with a
spool, saves them for the next start. Delivery checked through moto."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async.local_sns import LocalAws, TopicWithQueue

from ..network import closed_port_url, drain_exactly, region_switch
from ..samples import ENV, call_kwargs

pytestmark = pytest.mark.anyio


def outage_settings(
    primary: TopicWithQueue, failover: TopicWithQueue, url: str, spool: Path
) -> dict[str, Any]:
    return {
        "topic_arn": primary.topic_arn,
        "failover_topic_arn": failover.topic_arn,
        "endpoint_url": url,
        "failover_endpoint_url": url,
        "max_attempts": 1,
        "retry_budget": 0,  # one round through both regions, then spool
        "breaker_cooldown": 0.05,  # a region back is probed again at once
        "primary_timeout": 2,
        "spool_dir": spool,
        "spool_replay_interval": 0.05,
        **ENV,
    }


async def test_both_regions_down_then_back_delivers_every_event_exactly_once(
    aws: LocalAws, topic: TopicWithQueue, tmp_path: Path
) -> None:
    failover = await aws.topic_with_queue(f"fo-{tmp_path.name[-20:]}", "us-east-2")
    async with region_switch(aws.endpoint_url) as switch:
        logger = s.init_security_logging(**outage_settings(topic, failover, switch.url, tmp_path))
        results = []
        for i in range(25):
            function = ("log_user_login", "log_user_logout", "log_api_request")[i % 3]
            kwargs = call_kwargs(function, session_id=f"out-{i}")
            results.append(await getattr(s, function)(**kwargs))
        assert all(r.ok for r in results)
        summary = await s.flush_security_logging(timeout=30)
        assert summary == s.DeliverySummary(0, 0, 0, spooled=25)
        for r in results:
            delivery = await r.delivery(timeout=5)
            assert delivery.error is not None
            assert delivery.error.startswith("spooled: retry budget exhausted")
        stats = logger.spool_stats()
        assert stats is not None and stats.pending == 25
        assert switch.refused > 0
        metrics = s.get_failover_metrics()
        assert metrics["primary_success"] == 0 and metrics["failover_failure"] >= 25
        assert not logger.undelivered  # spooled is not lost

        switch.up = True  # both regions reachable again
        assert await logger.replay_spool(timeout=30) == 0
        assert logger.replayed == {"delivered": 25}
        # Replay goes through the supervisor: whichever region's breaker
        # admits it first takes a batch. Together, each event exactly once.
        received = await aws.drain(topic, 25, timeout=1) + await aws.drain(failover, 25, timeout=1)
        assert sorted(m["session_id"] for m in received) == sorted(f"out-{i}" for i in range(25))
        assert {m["event_uuid"] for m in received} == {r.event_uuid for r in results}
        summary = await s.shutdown_security_logging(timeout=10)
        assert summary == s.DeliverySummary(0, 0, 0, spooled=25)
        stats = logger.spool_stats()
        assert stats is not None and stats.pending == 0 and stats.bytes == 16


async def test_what_one_run_spooled_the_next_start_delivers_once(
    aws: LocalAws, topic: TopicWithQueue, tmp_path: Path
) -> None:
    dead = closed_port_url()
    first = s.SecurityLogger(**outage_settings(topic, topic, dead, tmp_path))
    for i in range(10):
        assert (await first.log_user_login(**call_kwargs("log_user_login", session_id=f"r{i}"))).ok
    assert await first.shutdown(timeout=20) == s.DeliverySummary(0, 0, 0, spooled=10)

    live = {"endpoint_url": aws.endpoint_url, "failover_endpoint_url": aws.endpoint_url}
    async with s.SecurityLogger(
        **{**outage_settings(topic, topic, dead, tmp_path), **live}
    ) as second:
        assert await second.replay_spool(timeout=30) == 0
        assert second.replayed == {"delivered": 10}
    received = await drain_exactly(aws, topic, 10)
    assert sorted(m["session_id"] for m in received) == sorted(f"r{i}" for i in range(10))

    async with s.SecurityLogger(
        **{**outage_settings(topic, topic, dead, tmp_path), **live}
    ) as third:
        assert await third.replay_spool(timeout=5) == 0
        assert not third.replayed  # nothing is sent twice
    assert len(await aws.drain(topic, 11, timeout=0.3)) == 10


_EXITS_WITHOUT_SHUTDOWN = textwrap.dedent(
    """
    import asyncio, sys
    import sr_sec_async as s
    from tests.samples import ENV, call_kwargs
    spool = sys.argv[2] or None
    s.init_security_logging(topic_arn=sys.argv[1], endpoint_url="http://127.0.0.1:9",
                            spool_dir=spool, **ENV)

    async def main():
        for i in range(5):
            r = await s.log_user_login(**call_kwargs("log_user_login", session_id=f"exit-{i}"))
            assert r.ok
        # returns at once: no flush, no shutdown

    asyncio.run(main())
    """
)


def run_exiting_child(topic_arn: str, spool: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-c", _EXITS_WITHOUT_SHUTDOWN, topic_arn, spool],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


async def test_exit_without_shutdown_warns_how_many_events_were_not_delivered(
    topic: TopicWithQueue,
) -> None:
    child = run_exiting_child(topic.topic_arn, "")
    assert child.returncode == 0, child.stderr
    assert "5 accepted security events were not delivered" in child.stderr


async def test_exit_without_shutdown_saves_the_queue_to_the_spool_for_the_next_start(
    aws: LocalAws, topic: TopicWithQueue, tmp_path: Path
) -> None:
    child = run_exiting_child(topic.topic_arn, str(tmp_path))
    assert child.returncode == 0, child.stderr
    assert "5 accepted security events were not delivered" in child.stderr
    assert "5 messages saved to the spool" in child.stderr
    async with s.SecurityLogger(
        topic_arn=topic.topic_arn, endpoint_url=aws.endpoint_url, spool_dir=tmp_path, **ENV
    ) as logger:
        assert await logger.replay_spool(timeout=30) == 0
    received = await drain_exactly(aws, topic, 5)
    assert sorted(m["session_id"] for m in received) == [f"exit-{i}" for i in range(5)]


async def test_a_spool_that_cannot_be_written_fails_events_with_a_reason_not_the_publisher(
    topic: TopicWithQueue, tmp_path: Path, errors: list[tuple[BaseException, str | None]]
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("in the way")
    dead = closed_port_url()
    logger = s.SecurityLogger(**outage_settings(topic, topic, dead, not_a_dir))
    for i in range(3):
        assert (await logger.log_user_login(**call_kwargs("log_user_login", session_id=f"e{i}"))).ok
    assert await logger.flush(timeout=20) == s.DeliverySummary(0, 3, 0)
    assert logger.undelivered == {("spool_error", "login_attempt"): 3}
    assert {getattr(e, "reason", None) for e, _ in errors} == {"spool_error"}
    assert (await logger.log_user_logout(**call_kwargs("log_user_logout"))).ok  # still running
    assert await logger.shutdown(timeout=20) == s.DeliverySummary(0, 4, 0)
