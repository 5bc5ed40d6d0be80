"""``cloudwatch_metrics=True``: failed, dropped and rejected events put
``log_failure`` into moto's CloudWatch (a real server on 127.0.0.1), batched;
a CloudWatch outage is logged and never loops back into the library."""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket
import uuid
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async.cloudwatch import CloudWatchFailureMetrics
from sr_sec_async.local_sns import LocalAws

from ..samples import ENV, call_kwargs

pytestmark = pytest.mark.anyio

MISSING_TOPIC = "arn:aws:sns:us-west-2:123456789012:does-not-exist"


def failing_settings(aws: LocalAws, service: str, **extra: Any) -> dict[str, Any]:
    """SNS answers NotFound (a permanent failure: no retries) for every event."""
    return {
        **ENV,
        "service_name": service,
        "topic_arn": MISSING_TOPIC,
        "endpoint_url": aws.endpoint_url,
        "cloudwatch_metrics": True,
        "cloudwatch_endpoint_url": aws.endpoint_url,
        **extra,
    }


async def log_failure_sums(aws: LocalAws, service: str) -> dict[tuple[tuple[str, str], ...], Any]:
    """``{dimensions: (Sum, SampleCount)}`` of every log_failure datum for ``service``."""
    now = datetime.datetime.now(datetime.UTC)
    found = {}
    async with aws.client("cloudwatch", "us-west-2") as cw:
        metrics = await cw.list_metrics(Namespace="SecurityLogging", MetricName="log_failure")
        for metric in metrics["Metrics"]:
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            if dims.get("ServiceName") != service:
                continue
            stats = await cw.get_metric_statistics(
                Namespace="SecurityLogging",
                MetricName="log_failure",
                Dimensions=metric["Dimensions"],
                StartTime=now - datetime.timedelta(minutes=10),
                EndTime=now + datetime.timedelta(minutes=10),
                Period=3600,
                Statistics=["Sum", "SampleCount"],
            )
            points = stats["Datapoints"]
            found[tuple(sorted(dims.items()))] = (
                sum(p["Sum"] for p in points),
                sum(p["SampleCount"] for p in points),
            )
    return found


def dims(service: str, event_type: str) -> tuple[tuple[str, str], ...]:
    return (("Environment", "dev"), ("EventType", event_type), ("ServiceName", service))


async def test_failed_deliveries_put_batched_log_failure_metrics(
    aws: LocalAws, errors: list[tuple[BaseException, str | None]]
) -> None:
    service = f"cw-{uuid.uuid4().hex[:8]}"
    logger = s.SecurityLogger(**failing_settings(aws, service))
    for _ in range(3):
        assert (await logger.log_user_login(**call_kwargs("log_user_login"))).ok
    assert (await logger.log_record_access(**call_kwargs("log_record_access"))).ok
    summary = await logger.shutdown(timeout=30)
    assert summary == s.DeliverySummary(0, 4, 0)
    assert len(errors) == 4  # the SNS failures, each reported once
    sums = await log_failure_sums(aws, service)
    # One datum per event type: the counts were batched, not put one by one.
    assert sums == {
        dims(service, "login_attempt"): (3.0, 1.0),
        dims(service, "record_access"): (1.0, 1.0),
    }


async def test_dropped_and_rejected_events_are_counted_too(aws: LocalAws) -> None:
    service = f"cw-{uuid.uuid4().hex[:8]}"
    logger = s.SecurityLogger(
        **failing_settings(aws, service, max_queue_size=1), queue_wait_timeout=0
    )
    first = await logger.log_user_logout(**call_kwargs("log_user_logout"))
    dropped = await logger.log_user_logout(**call_kwargs("log_user_logout"))
    assert first.ok and not dropped.ok and "Queue full" in dropped.message
    rejected = await logger.log_mfa_challenge(**call_kwargs("log_mfa_challenge", mfa_type="sms!"))
    assert not rejected.ok
    await logger.shutdown(timeout=30)
    assert await log_failure_sums(aws, service) == {
        dims(service, "user_logout"): (2.0, 1.0),  # the dropped one and the undeliverable one
        dims(service, "mfa_challenge"): (1.0, 1.0),
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_cloudwatch_down_is_logged_never_recursive(
    aws: LocalAws,
    errors: list[tuple[BaseException, str | None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = f"cw-{uuid.uuid4().hex[:8]}"
    down = f"http://127.0.0.1:{closed_port()}"
    logger = s.SecurityLogger(**failing_settings(aws, service, cloudwatch_endpoint_url=down))
    reporter = logger._cloudwatch
    assert isinstance(reporter, CloudWatchFailureMetrics)
    heard: list[tuple[str, str]] = []
    logger.add_failure_listener(lambda t, r: heard.append((t, r)))
    with caplog.at_level(logging.WARNING, logger="sr_sec_async"):
        for _ in range(2):
            assert (await logger.log_user_login(**call_kwargs("log_user_login"))).ok
        summary = await logger.shutdown(timeout=30)
    assert summary.failed == 2
    # Only the two SNS failures reached the error handler and the listeners:
    # CloudWatch's own failure did not come back as another failure.
    assert len(errors) == 2 and all(isinstance(e, s.DeliveryError) for e, _ in errors)
    assert [t for t, _ in heard] == ["login_attempt", "login_attempt"]
    assert reporter.reported == 0 and reporter.lost == 2 and reporter.pending == 0
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot put 2 log_failure metric(s) to CloudWatch" in m for m in messages)
    assert any("could not be put to CloudWatch" in m for m in messages)
    assert await log_failure_sums(aws, service) == {}


def test_counts_survive_the_loop_that_recorded_them(aws: LocalAws) -> None:
    """The client is opened lazily in the running loop and closed with it;
    what that loop did not send goes out from the next one (warm Lambda)."""
    service = f"cw-{uuid.uuid4().hex[:8]}"
    logger = s.SecurityLogger(**failing_settings(aws, service))
    reporter = logger._cloudwatch
    assert reporter is not None and reporter._task is None  # nothing opened yet

    async def first_invocation() -> None:
        assert (await logger.log_user_login(**call_kwargs("log_user_login"))).ok
        await logger.flush(timeout=30)
        assert reporter.pending == 1 and reporter._task is not None  # waiting to batch

    asyncio.run(first_invocation())  # ends the loop: the sender is cancelled, client closed
    assert reporter.pending == 1 and reporter.reported == 0

    async def second_invocation() -> None:
        await logger.shutdown(timeout=30)

    asyncio.run(second_invocation())
    assert reporter.reported == 1 and reporter.pending == 0
    sums = asyncio.run(log_failure_sums(aws, service))
    assert sums == {dims(service, "login_attempt"): (1.0, 1.0)}


async def test_disabled_by_default_and_in_test_mode() -> None:
    assert s.SecurityLogger(**ENV)._cloudwatch is None
    assert s.SecurityLogger(test_mode=True, cloudwatch_metrics=True, **ENV)._cloudwatch is None


async def test_failure_listener_that_raises_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = s.SecurityLogger(test_mode=True, **ENV)

    def broken(event_type: str, reason: str) -> None:
        raise RuntimeError("listener bug")

    logger.add_failure_listener(broken)
    with caplog.at_level(logging.ERROR, logger="sr_sec_async"):
        result = await logger.log_user_login(**call_kwargs("log_user_login", user_role="boss"))
    assert not result.ok
    assert any("failure listener raised" in r.getMessage() for r in caplog.records)
    logger.remove_failure_listener(broken)
