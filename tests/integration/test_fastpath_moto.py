"""The library's own SNS clients run the botocore fast path, and moto accepts
what it sends: events with every awkward character arrive byte for byte."""

from __future__ import annotations

import json

import pytest

import sr_sec_async as s
from sr_sec_async.local_sns import LocalAws, TopicWithQueue
from sr_sec_async.sinks import fastpath

from ..conftest import sns_settings
from ..samples import call_kwargs

pytestmark = pytest.mark.anyio

AWKWARD = {
    "plus": "a+b c%20d&e=f;g",
    "unicode": "ünïcødé € 😀 \u2028",
    "punctuation": "~-._*'()!$,/:?@[]#\"\\",
    "percent": "%41%zz%",
}


@pytest.mark.parametrize("enabled", [True, False])
async def test_events_arrive_intact_with_and_without_the_fast_path(
    aws: LocalAws,
    topic: TopicWithQueue,
    monkeypatch: pytest.MonkeyPatch,
    enabled: bool,
) -> None:
    monkeypatch.setenv(fastpath.DISABLE_ENV, "1" if enabled else "0")
    encoded: list[str] = []
    original = fastpath._quote

    def counting(text: str) -> str:
        encoded.append(text)
        return original(text)

    monkeypatch.setattr(fastpath, "_quote", counting)
    s.init_security_logging(**sns_settings(aws, topic))
    results = []
    for i in range(12):  # more than one batch
        kwargs = call_kwargs("log_user_login", session_id=f"sess-{i}", context=AWKWARD)
        result = await s.log_user_login(**kwargs)
        assert result.ok, result.message
        results.append(result)
    summary = await s.flush_security_logging(timeout=30)
    assert summary == s.DeliverySummary(12, 0, 0)
    await aws.drain(topic, 12)
    assert len(topic.raw) == 12
    by_uuid = {json.loads(raw)["event_uuid"]: json.loads(raw) for raw in topic.raw}
    assert set(by_uuid) == {r.event_uuid for r in results}
    for message in by_uuid.values():
        assert message["context"] == AWKWARD
    assert bool(encoded) is enabled  # the fast path ran exactly when enabled
    await s.shutdown_security_logging()
