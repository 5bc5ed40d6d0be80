"""Failover between two regions of a real local SNS (moto server), with faults
injected in the network path (tests/faults.py): each region's endpoint is a
TCP proxy in front of an HTTP front in front of moto, and each region's topic
has a subscribed SQS queue that is read back.

Every test accounts for every accepted event: delivered (the region in its
receipt matches the queue it arrived in) or failed with a reported reason.
Cooldowns are short real ones; no assertion depends on wall-clock timing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async.local_sns import LocalAws, TopicWithQueue

from ..faults import FaultyRegion, HttpFault, Mode
from ..samples import ENV, call_kwargs

pytestmark = pytest.mark.anyio

PRIMARY, FAILOVER = "us-west-2", "us-east-2"


@dataclass
class TwoRegions:
    aws: LocalAws
    primary: FaultyRegion
    failover: FaultyRegion
    topics: dict[str, TopicWithQueue]

    def logger(self, **extra: Any) -> s.SecurityLogger:
        settings: dict[str, Any] = {
            "topic_arn": self.topics[PRIMARY].topic_arn,
            "failover_topic_arn": self.topics[FAILOVER].topic_arn,
            "endpoint_url": self.primary.url,
            "failover_endpoint_url": self.failover.url,
            "primary_timeout": 0.5,
            "failover_timeout": 2.0,
            "breaker_cooldown": 0.2,
            **ENV,
        }
        settings.update(extra)
        return s.SecurityLogger(**settings)


@pytest.fixture
async def regions(aws: LocalAws) -> AsyncIterator[TwoRegions]:
    name = f"fo-{uuid.uuid4().hex[:10]}"
    topics = {
        PRIMARY: await aws.topic_with_queue(name, PRIMARY),
        FAILOVER: await aws.topic_with_queue(name + "-failover", FAILOVER),
    }
    primary, failover = FaultyRegion(aws.endpoint_url), FaultyRegion(aws.endpoint_url)
    await primary.start()
    await failover.start()
    try:
        yield TwoRegions(aws, primary, failover, topics)
    finally:
        await primary.aclose()
        await failover.aclose()


@dataclass
class Ledger:
    """Where every accepted event ended up."""

    by_region: dict[str, set[str]] = field(
        default_factory=lambda: {PRIMARY: set(), FAILOVER: set()}
    )
    failed: dict[str, str] = field(default_factory=dict)  # event_uuid -> error


async def log_events(
    logger: s.SecurityLogger, n: int, tag: str, sent: list[s.LogResult]
) -> list[s.LogResult]:
    """Log ``n`` events at once (no await in between: they form full batches)."""
    results = [
        await logger.log_user_login(**call_kwargs("log_user_login", session_id=f"{tag}-{i}"))
        for i in range(n)
    ]
    assert all(r.ok for r in results)
    sent.extend(results)
    return results


async def account(regions: TwoRegions, sent: list[s.LogResult], logger: s.SecurityLogger) -> Ledger:
    """Every accepted event is delivered (to the region its receipt names, and
    read back from that region's queue exactly there) or failed with a reason,
    and the metrics say the same."""
    ledger = Ledger()
    for result in sent:
        delivery = await result.delivery(timeout=30)
        if delivery.delivered:
            [receipt] = delivery.receipts
            ledger.by_region[receipt.region].add(delivery.event_uuid)
        else:
            assert delivery.error
            ledger.failed[delivery.event_uuid] = delivery.error
    for region, uuids in ledger.by_region.items():
        received = await regions.aws.drain(regions.topics[region], len(uuids), timeout=30)
        assert {m["event_uuid"] for m in received} == uuids, region
        assert len(received) == len(uuids), region
    accounted = set(ledger.failed).union(*ledger.by_region.values())
    assert accounted == {r.event_uuid for r in sent}
    assert sum(map(len, ledger.by_region.values())) + len(ledger.failed) == len(sent)
    m = logger.metrics()
    assert m["primary_success"] == len(ledger.by_region[PRIMARY])
    assert m["failover_success"] == len(ledger.by_region[FAILOVER])
    assert m["total_failures"] == len(ledger.failed)
    return ledger


async def assert_queue_empty(regions: TwoRegions, region: str) -> None:
    assert await regions.aws.drain(regions.topics[region], 1, timeout=0.3) == []


def supervisor_of(logger: s.SecurityLogger) -> Any:
    return logger._supervisor


@pytest.mark.parametrize("mode", [Mode.REFUSE, Mode.RESET])
async def test_primary_down_every_event_arrives_at_the_failover_queue(
    regions: TwoRegions, mode: Mode
) -> None:
    await regions.primary.set_mode(mode)
    logger = regions.logger()
    sent: list[s.LogResult] = []
    await log_events(logger, 30, "down", sent)
    assert await logger.flush(timeout=30) == s.DeliverySummary(30, 0, 0)
    ledger = await account(regions, sent, logger)
    assert len(ledger.by_region[FAILOVER]) == 30 and not ledger.failed
    await assert_queue_empty(regions, PRIMARY)
    metrics = logger.metrics()
    assert metrics["failover_success"] == metrics["failover_attempts"] == 30
    assert metrics["primary_success"] == 0 and metrics["total_failures"] == 0
    assert metrics["primary_failure"] >= 5  # at least the streak that opened the breaker
    assert metrics["primary_breaker"] == "open" and metrics["failover_breaker"] == "closed"
    assert regions.primary.proxy is not None
    if mode is Mode.RESET:
        assert regions.primary.proxy.accepted >= 1  # the fault was really in the path
    await logger.shutdown()


async def test_primary_black_hole_fails_over_after_the_primary_timeout(
    regions: TwoRegions, strict_aws_rules: list[dict[str, Any]]
) -> None:
    await regions.primary.set_mode(Mode.BLACKHOLE)
    logger = regions.logger(primary_timeout=0.3)
    sent: list[s.LogResult] = []
    await log_events(logger, 10, "hole", sent)  # one batch
    assert await logger.flush(timeout=30) == s.DeliverySummary(10, 0, 0)
    ledger = await account(regions, sent, logger)
    assert len(ledger.by_region[FAILOVER]) == 10
    # One request swallowed by the primary used up its whole window: no
    # second primary request for this batch, straight to failover.
    assert [r["region"] for r in strict_aws_rules] == [PRIMARY, FAILOVER]
    metrics = logger.metrics()
    assert (metrics["primary_failure"], metrics["failover_success"]) == (10, 10)
    await logger.shutdown()


@pytest.mark.parametrize("fault", [HttpFault.UNAVAILABLE, HttpFault.THROTTLING])
async def test_primary_5xx_or_throttling_is_retried_then_fails_over(
    regions: TwoRegions, fault: HttpFault
) -> None:
    regions.primary.set_fault(fault)
    logger = regions.logger(max_attempts=3)
    sent: list[s.LogResult] = []
    await log_events(logger, 5, "busy", sent)  # one batch
    assert await logger.flush(timeout=30) == s.DeliverySummary(5, 0, 0)
    ledger = await account(regions, sent, logger)
    assert len(ledger.by_region[FAILOVER]) == 5
    assert regions.primary.front.errors_sent == 3  # tried, retried twice, then failover
    metrics = logger.metrics()
    assert metrics["primary_failure"] == 15 and metrics["failover_success"] == 5
    assert metrics["primary_breaker"] == "closed"  # 3 < 5 consecutive failures
    await logger.shutdown()


async def test_primary_recovers_one_probe_then_traffic_returns_to_it(
    regions: TwoRegions,
) -> None:
    await regions.primary.set_mode(Mode.REFUSE)
    logger = regions.logger(breaker_threshold=2, max_attempts=2)
    breaker = supervisor_of(logger).breakers["primary"]
    sent: list[s.LogResult] = []
    await log_events(logger, 10, "outage", sent)
    await logger.flush(timeout=30)
    assert breaker.state == "open" and breaker.probes == 0
    await regions.primary.heal()
    # Keep logging until the cooldown has passed and a probe reached the primary.
    for i in range(200):
        [result] = await log_events(logger, 1, f"wait{i}", sent)
        if (await result.delivery(timeout=30)).receipts[0].region == PRIMARY:
            break
        await asyncio.sleep(0.02)
    assert breaker.probes == 1 and breaker.state == "closed"
    after = await log_events(logger, 20, "back", sent)
    await logger.flush(timeout=30)
    for result in after:
        assert (await result.delivery()).receipts[0].region == PRIMARY
    ledger = await account(regions, sent, logger)
    assert not ledger.failed and len(ledger.by_region[PRIMARY]) == 21
    assert breaker.probes == 1 and logger.metrics()["primary_breaker"] == "closed"
    await logger.shutdown()


async def test_both_regions_down_for_a_while_then_up_delivers_everything(
    regions: TwoRegions, errors: list[tuple[BaseException, str | None]]
) -> None:
    await regions.primary.set_mode(Mode.REFUSE)
    await regions.failover.set_mode(Mode.BLACKHOLE)
    logger = regions.logger(breaker_threshold=2, failover_timeout=0.3)
    sup = supervisor_of(logger)
    sent: list[s.LogResult] = []
    await log_events(logger, 25, "dark", sent)
    # Down long enough for each breaker to open, probe, fail and re-open.
    for _ in range(500):
        if min(b.opens for b in sup.breakers.values()) >= 2:
            break
        await asyncio.sleep(0.02)
    assert min(b.opens for b in sup.breakers.values()) >= 2
    assert logger.summary().pending == 25  # still queued, nothing dropped
    await regions.primary.heal()
    await regions.failover.heal()
    assert await logger.flush(timeout=30) == s.DeliverySummary(25, 0, 0)
    ledger = await account(regions, sent, logger)
    assert not ledger.failed and not errors
    assert logger.metrics()["total_failures"] == 0
    await logger.shutdown()


async def test_both_regions_down_past_the_retry_budget_fails_and_reports_every_event(
    regions: TwoRegions, errors: list[tuple[BaseException, str | None]]
) -> None:
    await regions.primary.set_mode(Mode.REFUSE)
    await regions.failover.set_mode(Mode.REFUSE)
    logger = regions.logger(retry_budget=0.5)
    sent: list[s.LogResult] = []
    await log_events(logger, 12, "lost", sent)
    assert await logger.flush(timeout=30) == s.DeliverySummary(0, 12, 0)
    ledger = await account(regions, sent, logger)
    assert len(ledger.failed) == 12
    assert all(e.startswith("retry budget exhausted: ") for e in ledger.failed.values())
    assert sorted(getattr(e, "event_uuid", "") for e, _ in errors) == sorted(ledger.failed)
    assert {getattr(e, "reason", "") for e, _ in errors} == {"retry budget exhausted"}
    assert logger.metrics()["total_failures"] == 12
    await logger.shutdown()


async def test_permanent_error_no_failover_reported_once_with_its_reason(
    regions: TwoRegions, errors: list[tuple[BaseException, str | None]]
) -> None:
    logger = regions.logger(topic_arn=f"arn:aws:sns:{PRIMARY}:123456789012:no-such-topic")
    sent: list[s.LogResult] = []
    await log_events(logger, 3, "perm", sent)
    assert await logger.flush(timeout=30) == s.DeliverySummary(0, 3, 0)
    ledger = await account(regions, sent, logger)
    assert len(ledger.failed) == 3
    assert all(
        e.startswith("permanent: primary (us-west-2): NotFound") for e in ledger.failed.values()
    )
    await assert_queue_empty(regions, FAILOVER)
    assert len(errors) == 3  # once per event
    assert {getattr(e, "reason", "") for e, _ in errors} == {"permanent"}
    metrics = logger.metrics()
    assert metrics["failover_attempts"] == 0 and metrics["total_failures"] == 3
    assert metrics["primary_breaker"] == "closed"
    await logger.shutdown()


async def test_slow_primary_within_its_timeout_keeps_the_traffic(regions: TwoRegions) -> None:
    await regions.primary.set_mode(Mode.DELAY, delay=0.05)
    logger = regions.logger(primary_timeout=2.0)
    sent: list[s.LogResult] = []
    await log_events(logger, 10, "slow", sent)
    assert await logger.flush(timeout=30) == s.DeliverySummary(10, 0, 0)
    ledger = await account(regions, sent, logger)
    assert len(ledger.by_region[PRIMARY]) == 10
    assert logger.metrics()["failover_attempts"] == 0
    await logger.shutdown()


async def test_region_mismatch_is_a_configuration_error_at_start_not_an_outage(
    regions: TwoRegions, errors: list[tuple[BaseException, str | None]]
) -> None:
    logger = regions.logger(failover_region="eu-west-1")
    assert [type(e) for e, _ in errors] == [s.ConfigurationError]
    assert "does not match" in str(errors[0][0])
    sent: list[s.LogResult] = []
    await log_events(logger, 3, "cfg", sent)
    assert await logger.flush(timeout=30) == s.DeliverySummary(3, 0, 0)
    ledger = await account(regions, sent, logger)
    assert len(ledger.by_region[PRIMARY]) == 3 and len(errors) == 1
    await logger.shutdown()
