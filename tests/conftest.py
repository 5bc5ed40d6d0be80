"""Test hygiene and shared fixtures.

Every test fails on ResourceWarning (pytest turns unraisable exceptions and
warnings into errors, see pyproject), and on asyncio's "Task exception was
never retrieved" / "Task was destroyed but it is pending" reports, which the
loop logs rather than raises: they are caught here from the asyncio logger.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async import api
from sr_sec_async.local_sns import LocalAws, TopicWithQueue, test_credentials

from .hygiene import asyncio_hygiene  # noqa: F401  (autouse fixture)
from .samples import ENV

# The fixture users enable the same way (``security_events``).
pytest_plugins = ["sr_sec_async.pytest_plugin"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


_AWS_VARS = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SNS",
    "AWS_PROFILE",
    "AWS_REGION",
    "SECURITY_LOGS_TOPIC_ARN",
    "SECURITY_LOGS_FAILOVER_TOPIC_ARN",
    "SECURITY_LOGS_FAILOVER_REGION",
    "SECURITY_LOGS_TEST_MODE",
    "SECURITY_LOGS_SPOOL_DIR",
    "SECURITY_LOGS_OVERFLOW_POLICY",
    "CLOUD_ENV_TYPE",
    "CLOUD_ENV_UNIQUE_ID",
    "CLOUD_ENV_NAME",
    "SERVICE_ACCOUNT_ID",
    "SERVICE_NAME",
    "NEXT_PUBLIC_ENVIRONMENT_NAME",
    "NEXT_PUBLIC_APP_NAME",
    "NODE_ENV",
    "VERCEL_ENV",
    "AWS_ACCOUNT_ID",
    "AWS_EXECUTION_ROLE_ARN",
    "AWS_LAMBDA_FUNCTION_ARN",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_ROLE_ARN",
    "ROLE_ARN",
    "npm_package_name",
    "OTEL_SERVICE_NAME",
    "COPILOT_ENVIRONMENT_NAME",
    "COPILOT_SERVICE_NAME",
    "AWS_ENDPOINT_URL_CLOUDWATCH",
    "SECURITY_LOGS_TRUSTED_PROXY_HEADERS",
)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No AWS or environment-field variable leaks in from the machine, and the
    module-level default logger and error handler are fresh for each test."""
    for name in _AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setattr(api, "_default", None)
    monkeypatch.setattr(api, "_retired", [])
    yield
    s.set_security_logging_error_handler(None)


@pytest.fixture
def errors() -> Iterator[list[tuple[BaseException, str | None]]]:
    """Everything reported to the error handler during the test."""
    seen: list[tuple[BaseException, str | None]] = []
    s.set_security_logging_error_handler(lambda e, t: seen.append((e, t)))
    yield seen
    s.set_security_logging_error_handler(None)


@pytest.fixture
def test_mode_logger() -> s.SecurityLogger:
    return s.init_security_logging(test_mode=True, **ENV)


@pytest.fixture(scope="session")
def aws() -> Iterator[LocalAws]:
    """One moto server on 127.0.0.1 for the whole run."""
    with test_credentials():
        local = LocalAws()
        local.start()
        os.environ.pop("AWS_DEFAULT_REGION", None)
        try:
            yield local
        finally:
            local.stop()


@pytest.fixture
async def topic(aws: LocalAws) -> TopicWithQueue:
    """A fresh topic in us-west-2 with a subscribed queue (kept small per test)."""
    return await aws.topic_with_queue(f"sec-{uuid.uuid4().hex[:12]}", "us-west-2")


def sns_settings(aws: LocalAws, topic: TopicWithQueue, **extra: Any) -> dict[str, Any]:
    return {
        "topic_arn": topic.topic_arn,
        "endpoint_url": aws.endpoint_url,
        **ENV,
        **extra,
    }


# -- AWS's PublishBatch rules, checked strictly (moto is more lenient) ---------

_ENTRY_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_GROUP_ID_CHARS = _ENTRY_ID_CHARS | set("!\"#$%&'()*+,./:;<=>?@[\\]^`{|}~")
AWS_MAX_BYTES = 262_144


def aws_publish_batch_violations(topic_arn: str, entries: list[dict[str, Any]]) -> list[str]:
    """Every way ``entries`` break the rules AWS enforces on PublishBatch."""
    problems = []
    if not 1 <= len(entries) <= 10:
        problems.append(f"{len(entries)} entries in one request (AWS allows 1 to 10)")
    ids = [e.get("Id", "") for e in entries]
    if len(set(ids)) != len(ids):
        problems.append(f"duplicate batch entry ids {ids}")
    total = 0
    for e in entries:
        entry_id = e.get("Id", "")
        if not (1 <= len(entry_id) <= 80 and set(entry_id) <= _ENTRY_ID_CHARS):
            problems.append(f"invalid batch entry id {entry_id!r}")
        try:
            size = len(e["Message"].encode("utf-8"))
        except UnicodeEncodeError:
            problems.append(f"entry {entry_id}: message is not valid UTF-8")
            continue
        for name, attr in e.get("MessageAttributes", {}).items():
            size += len(name.encode()) + len(attr["DataType"].encode())
            size += len(attr.get("StringValue", "").encode())
        if size > AWS_MAX_BYTES:
            problems.append(f"entry {entry_id}: {size} bytes (AWS limit {AWS_MAX_BYTES})")
        total += size
        if topic_arn.endswith(".fifo"):
            group = e.get("MessageGroupId", "")
            dedup = e.get("MessageDeduplicationId", "")
            if not (1 <= len(group) <= 128 and set(group) <= _GROUP_ID_CHARS):
                problems.append(f"entry {entry_id}: invalid MessageGroupId {group!r}")
            if not (1 <= len(dedup) <= 128 and set(dedup) <= _GROUP_ID_CHARS):
                problems.append(f"entry {entry_id}: invalid MessageDeduplicationId {dedup!r}")
    if total > AWS_MAX_BYTES:
        problems.append(f"request of {total} bytes (AWS limit {AWS_MAX_BYTES})")
    return problems


@pytest.fixture(autouse=True)
def strict_aws_rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Check every PublishBatch the library sends against AWS's own rules, in
    addition to moto; a violation fails the test at teardown."""
    from sr_sec_async.sinks.sns import SnsSink

    original = SnsSink.publish_batch
    violations: list[str] = []
    requests: list[dict[str, Any]] = []

    async def checked(self: SnsSink, target: Any, entries: list[dict[str, Any]]) -> Any:
        requests.append({"region": target.region, "entries": entries})
        violations.extend(aws_publish_batch_violations(target.topic_arn, entries))
        return await original(self, target, entries)

    monkeypatch.setattr(SnsSink, "publish_batch", checked)
    yield requests
    assert not violations, violations
