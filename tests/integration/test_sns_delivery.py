"""Delivery through a real local SNS (moto server on 127.0.0.1), read back
from an SQS queue subscribed to the topic, compared field by field."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async.local_sns import LocalAws, TopicWithQueue

from ..conftest import AWS_MAX_BYTES, sns_settings
from ..samples import VALID, call_kwargs, expected_wire

pytestmark = pytest.mark.anyio
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")


async def emit_all_thirteen() -> list[tuple[str, dict[str, Any], s.LogResult]]:
    sent = []
    for function in sorted(VALID):
        kwargs = call_kwargs(function, session_id=f"sess-{function}")
        result = await getattr(s, function)(**kwargs)
        assert result.ok, result.message
        sent.append((function, kwargs, result))
    return sent


async def test_each_of_the_thirteen_functions_arrives_intact(
    aws: LocalAws, topic: TopicWithQueue
) -> None:
    s.init_security_logging(**sns_settings(aws, topic))
    sent = await emit_all_thirteen()
    summary = await s.flush_security_logging(timeout=30)
    assert summary == s.DeliverySummary(13, 0, 0)
    received = await aws.drain(topic, 13)
    assert len(received) == 13
    by_uuid = {m["event_uuid"]: (m, a) for m, a in zip(received, topic.attributes, strict=True)}
    for function, kwargs, result in sent:
        msg, attrs = by_uuid[result.event_uuid]
        expected = expected_wire(function, kwargs)
        for key, value in expected.items():
            assert msg[key] == value, (function, key)
        generated = {"timestamp", "event_uuid", "caller_function", "caller_file"}
        assert set(msg) == set(expected) | generated, function
        assert TIMESTAMP.match(msg["timestamp"])
        assert msg["caller_function"] == "emit_all_thirteen"
        assert msg["caller_file"] == "test_sns_delivery.py"
        assert attrs == {"event_type": msg["event_type"], "log_category": msg["log_category"]}
        delivery = await result.delivery(timeout=5)
        assert delivery.delivered and delivery.receipts[0].region == "us-west-2"
    await s.shutdown_security_logging()


async def test_split_record_access_event_arrives_whole_and_in_order(
    aws: LocalAws, topic: TopicWithQueue
) -> None:
    s.init_security_logging(**sns_settings(aws, topic))
    ids = [f"cust_{i:07d}" for i in range(50_000)] + ["名前-😀-é"] * 100
    result = await s.log_record_access(**call_kwargs("log_record_access", id_list=ids))
    assert result.ok and result.parts > 1
    delivery = await result.delivery(timeout=30)
    assert delivery.delivered
    assert [r.part for r in delivery.receipts] == list(range(1, result.parts + 1))
    received = await aws.drain(topic, result.parts)
    parts = sorted(received, key=lambda m: m["part"])
    assert [p["part"] for p in parts] == list(range(1, result.parts + 1))
    assert [i for p in parts for i in p["id_list"]] == ids
    assert {p["event_uuid"] for p in parts} == {result.event_uuid}
    assert {p["total_record_count"] for p in parts} == {len(ids)}
    for body in topic.raw:
        assert (
            len(body.encode())
            + len("event_typeStringrecord_access")
            + len("log_categoryStringcustomer_data_actions")
            <= AWS_MAX_BYTES
        )
    await s.shutdown_security_logging()


async def test_thousand_fire_and_forget_events_then_flush(
    aws: LocalAws, topic: TopicWithQueue, strict_aws_rules: list[dict[str, Any]]
) -> None:
    s.init_security_logging(**sns_settings(aws, topic))
    reader = asyncio.create_task(aws.drain(topic, 1000, timeout=120, readers=6))

    def spawn(i: int) -> None:
        kwargs = call_kwargs("log_user_login", actor_identifier=f"user{i}@example.com")
        s.fire_and_forget(s.log_user_login(**kwargs), "login_attempt")

    for i in range(1000):
        spawn(i)
    summary = await s.flush_security_logging(timeout=120)
    assert summary == s.DeliverySummary(1000, 0, 0)
    received = await reader
    assert sorted(m["actor_identifier"] for m in received) == sorted(
        f"user{i}@example.com" for i in range(1000)
    )
    assert {m["caller_function"] for m in received} == {"spawn"}
    assert len({m["event_uuid"] for m in received}) == 1000
    # Batching really happened, within AWS's rules (checked by strict_aws_rules).
    sizes = [len(r["entries"]) for r in strict_aws_rules]
    assert sum(sizes) == 1000 and max(sizes) == 10
    metrics = s.get_failover_metrics()
    assert metrics["primary_success"] == 1000 and metrics["total_failures"] == 0
    await s.shutdown_security_logging()


@pytest.mark.parametrize(
    ("variable", "setting"),
    [("AWS_ENDPOINT_URL_SNS", "endpoint_url"), ("SECURITY_LOGS_TOPIC_ARN", "topic_arn")],
)
async def test_setting_from_environment_variable(
    variable: str,
    setting: str,
    aws: LocalAws,
    topic: TopicWithQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = sns_settings(aws, topic)
    monkeypatch.setenv(variable, settings.pop(setting))
    s.init_security_logging(**settings)
    result = await s.log_user_login(**call_kwargs("log_user_login"))
    assert (await result.delivery(timeout=10)).delivered
    assert len(await aws.drain(topic, 1)) == 1
    await s.shutdown_security_logging()


async def test_permanent_error_is_reported_not_retried(
    aws: LocalAws, errors: list[tuple[BaseException, str | None]]
) -> None:
    missing = "arn:aws:sns:us-west-2:123456789012:does-not-exist"
    s.init_security_logging(topic_arn=missing, endpoint_url=aws.endpoint_url, **_env())
    result = await s.log_user_login(**call_kwargs("log_user_login"))
    delivery = await result.delivery(timeout=10)
    assert not delivery.delivered and delivery.error is not None
    assert delivery.error.startswith("permanent: primary (us-west-2): NotFound")
    assert await s.shutdown_security_logging() == s.DeliverySummary(0, 1, 0)
    [(error, event_type)] = errors
    assert isinstance(error, s.DeliveryError) and error.reason == "permanent"
    assert event_type == "login_attempt"
    metrics = s.get_failover_metrics()
    assert metrics["primary_failure"] == 1 and metrics["total_failures"] == 1


def _env() -> dict[str, str]:
    from ..samples import ENV

    return dict(ENV)


def test_three_asyncio_runs_in_a_row_each_deliver(aws: LocalAws) -> None:
    async def make_topic() -> TopicWithQueue:
        return await aws.topic_with_queue("runs-topic")

    topic = asyncio.run(make_topic())
    s.init_security_logging(**sns_settings(aws, topic))

    async def one_run(i: int) -> None:
        result = await s.log_user_login(**call_kwargs("log_user_login", session_id=f"run-{i}"))
        assert (await result.delivery(timeout=10)).delivered

    for i in range(3):
        asyncio.run(one_run(i))

    async def finish() -> list[dict[str, Any]]:
        await s.shutdown_security_logging()
        return await aws.drain(topic, 3)

    received = asyncio.run(finish())
    assert sorted(m["session_id"] for m in received) == ["run-0", "run-1", "run-2"]


def test_events_left_queued_when_a_loop_ends_are_sent_by_the_next_loop(aws: LocalAws) -> None:
    async def make_topic() -> TopicWithQueue:
        return await aws.topic_with_queue("leftover-topic")

    topic = asyncio.run(make_topic())
    s.init_security_logging(**sns_settings(aws, topic))

    async def log_and_leave() -> None:
        for i in range(25):
            assert (await s.log_user_login(**call_kwargs("log_user_login", session_id=f"s{i}"))).ok
        # return at once: asyncio.run cancels the publisher mid-way

    asyncio.run(log_and_leave())

    async def next_run() -> tuple[s.DeliverySummary, list[dict[str, Any]]]:
        summary = await s.shutdown_security_logging(timeout=30)
        return summary, await aws.drain(topic, 25)

    summary, received = asyncio.run(next_run())
    assert summary.delivered == 25 and summary.pending == 0
    assert {m["session_id"] for m in received} == {f"s{i}" for i in range(25)}


async def test_replacing_the_default_logger_still_delivers_what_it_accepted(
    aws: LocalAws, topic: TopicWithQueue
) -> None:
    s.init_security_logging(**sns_settings(aws, topic))
    for i in range(5):
        assert (await s.log_user_login(**call_kwargs("log_user_login", session_id=f"a{i}"))).ok
    s.init_security_logging(**sns_settings(aws, topic))
    for i in range(5):
        assert (await s.log_user_login(**call_kwargs("log_user_login", session_id=f"b{i}"))).ok
    await s.shutdown_security_logging(timeout=30)
    received = await aws.drain(topic, 10)
    assert sorted(m["session_id"] for m in received) == sorted(
        [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]
    )
