"""FIFO topics: a valid MessageGroupId and a MessageDeduplicationId that is
stable across retries and distinct per part, so a retried batch (the first
attempt reached SNS, its answer was lost) is delivered exactly once."""

from __future__ import annotations

import re
import uuid
from typing import Any

import aiohttp
import pytest

import sr_sec_async as s
from sr_sec_async.local_sns import LocalAws
from sr_sec_async.publisher import fifo_group_id
from sr_sec_async.sinks.sns import SnsSink

from ..conftest import sns_settings
from ..network import drain_exactly
from ..samples import call_kwargs

pytestmark = pytest.mark.anyio

GROUP_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")


def test_group_ids_are_valid_for_any_event_type_text() -> None:
    for text in ("login_attempt", "", "x" * 500, "sp ace/é\n\ud800", "😀"):
        assert GROUP_ID.match(fifo_group_id(text)), text


async def test_a_retried_fifo_batch_is_delivered_exactly_once(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch, strict_aws_rules: list[dict[str, Any]]
) -> None:
    topic = await aws.topic_with_queue(f"fifo-{uuid.uuid4().hex[:8]}", fifo=True)
    real = SnsSink.publish_batch
    lost_answers = 0

    async def answer_lost_once(sink: SnsSink, target: Any, entries: list[dict[str, Any]]) -> Any:
        nonlocal lost_answers
        response = await real(sink, target, entries)
        if lost_answers == 0:
            lost_answers += 1  # SNS took the batch; the client never hears back
            raise aiohttp.ServerDisconnectedError()
        return response

    monkeypatch.setattr(SnsSink, "publish_batch", answer_lost_once)
    s.init_security_logging(**sns_settings(aws, topic, max_in_flight=1, enable_failover=False))
    results = [
        await s.log_user_login(**call_kwargs("log_user_login", session_id=f"f{i}"))
        for i in range(4)
    ]
    ids = [f"cust_{i:07d}" for i in range(30_000)]
    split = await s.log_record_access(**call_kwargs("log_record_access", id_list=ids))
    assert split.ok and split.parts > 1
    summary = await s.shutdown_security_logging(timeout=30)
    assert summary == s.DeliverySummary(5, 0, 0)
    assert lost_answers == 1 and s.get_failover_metrics()["primary_failure"] > 0

    total = len(results) + split.parts
    received = await drain_exactly(aws, topic, total)
    assert sorted(m["event_uuid"] for m in received if "part" not in m) == sorted(
        r.event_uuid for r in results
    )
    assert sorted(m["part"] for m in received if "part" in m) == list(range(1, split.parts + 1))

    first, retry = strict_aws_rules[0]["entries"], strict_aws_rules[1]["entries"]
    assert [e["MessageDeduplicationId"] for e in first] == [
        e["MessageDeduplicationId"] for e in retry
    ]
    dedup = [e["MessageDeduplicationId"] for r in strict_aws_rules[1:] for e in r["entries"]]
    assert len(dedup) == len(set(dedup)) == total  # distinct per message and per part
    assert {e["MessageGroupId"] for r in strict_aws_rules for e in r["entries"]} == {
        "login_attempt",
        "record_access",
    }
