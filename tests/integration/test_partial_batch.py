"""Entries that fail inside a 200 PublishBatch response are handled one by one:
a permanent failure fails only its own event, a transient one is retried."""

from __future__ import annotations

from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async.local_sns import LocalAws, TopicWithQueue
from sr_sec_async.sinks.sns import SnsSink

from ..conftest import sns_settings
from ..samples import call_kwargs

pytestmark = pytest.mark.anyio


async def _three_events() -> list[s.LogResult]:
    results = []
    for i in range(3):
        kwargs = call_kwargs("log_user_login", session_id=f"s{i}")
        results.append(await s.log_user_login(**kwargs))
    return results


async def test_permanent_entry_failure_fails_only_that_event(
    aws: LocalAws,
    topic: TopicWithQueue,
    monkeypatch: pytest.MonkeyPatch,
    errors: list[tuple[BaseException, str | None]],
) -> None:
    real = SnsSink.publish_batch

    async def corrupt_second_entry(
        self: SnsSink, target: Any, entries: list[dict[str, Any]]
    ) -> Any:
        if len(entries) == 3:
            entries = [dict(e) for e in entries]
            entries[1]["MessageStructure"] = "xml"  # moto rejects this entry alone
        return await real(self, target, entries)

    monkeypatch.setattr(SnsSink, "publish_batch", corrupt_second_entry)
    s.init_security_logging(**sns_settings(aws, topic, max_in_flight=1))
    first, second, third = await _three_events()
    deliveries = [await r.delivery(timeout=10) for r in (first, second, third)]
    assert [d.delivered for d in deliveries] == [True, False, True]
    assert deliveries[1].error is not None
    assert deliveries[1].error.startswith("permanent: primary (us-west-2): InvalidParameter")
    assert await s.shutdown_security_logging() == s.DeliverySummary(2, 1, 0)
    received = await aws.drain(topic, 2)
    assert sorted(m["session_id"] for m in received) == ["s0", "s2"]
    [(error, event_type)] = errors
    assert isinstance(error, s.DeliveryError) and error.event_uuid == second.event_uuid
    assert event_type == "login_attempt"
    metrics = s.get_failover_metrics()
    assert (metrics["primary_success"], metrics["primary_failure"]) == (2, 1)
    assert metrics["total_failures"] == 1


async def test_transient_entry_failure_is_retried_alone(
    aws: LocalAws,
    topic: TopicWithQueue,
    monkeypatch: pytest.MonkeyPatch,
    strict_aws_rules: list[dict[str, Any]],
) -> None:
    real = SnsSink.publish_batch
    calls: list[int] = []

    async def fail_middle_entry_once(
        self: SnsSink, target: Any, entries: list[dict[str, Any]]
    ) -> Any:
        calls.append(len(entries))
        if len(calls) > 1:
            return await real(self, target, entries)
        # As AWS does for an internal error on one entry: that entry is not
        # published, the others are, and the response is a 200.
        kept = [entries[0], entries[2]]
        response = await real(self, target, kept)
        response["Failed"] = [
            {
                "Id": entries[1]["Id"],
                "Code": "InternalError",
                "Message": "injected",
                "SenderFault": False,
            }
        ]
        return response

    monkeypatch.setattr(SnsSink, "publish_batch", fail_middle_entry_once)
    s.init_security_logging(**sns_settings(aws, topic, max_in_flight=1))
    results = await _three_events()
    for r in results:
        assert (await r.delivery(timeout=10)).delivered
    assert calls == [3, 1]  # only the failed entry was sent again
    assert await s.shutdown_security_logging() == s.DeliverySummary(3, 0, 0)
    received = await aws.drain(topic, 3)
    assert sorted(m["session_id"] for m in received) == ["s0", "s1", "s2"]
