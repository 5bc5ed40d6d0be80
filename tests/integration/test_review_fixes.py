"""Fixes from a fresh user's hostile review: each case as the user hit it."""

from __future__ import annotations

import asyncio
import time

import pytest

import sr_sec_async as s
from sr_sec_async.local_sns import LocalAws, TopicWithQueue

from ..conftest import sns_settings
from ..network import closed_port_url
from ..samples import ENV, call_kwargs

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("given", "expected"),
    [("false", False), ("0", False), ("", False), ("true", True), ("1", True), (True, True)],
)
def test_test_mode_given_as_a_string_is_parsed(given: object, expected: bool) -> None:
    assert s.SecurityLogger(test_mode=given, **ENV).settings.test_mode is expected


async def test_unknown_field_names_are_quoted_not_echoed_raw(
    test_mode_logger: s.SecurityLogger,
) -> None:
    hostile = {"x\r\nERROR fake \x1b[2J": 1, "a\ud800": 2, "usr_agent": 3}
    result = await s.log_user_login(**call_kwargs("log_user_login"), **hostile)
    assert result.status == "failure"
    assert "\r" not in result.message and "\x1b" not in result.message
    result.message.encode()  # valid UTF-8
    assert "'x\\r\\nERROR fake \\x1b[2J'" in result.message
    assert "usr_agent" in result.message


async def test_missing_credentials_fail_fast_as_permanent(
    aws: LocalAws,
    topic: TopicWithQueue,
    monkeypatch: pytest.MonkeyPatch,
    errors: list[tuple[BaseException, str | None]],
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask the network
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    s.init_security_logging(**sns_settings(aws, topic))
    result = await s.log_user_login(**call_kwargs("log_user_login"))
    delivery = await result.delivery(timeout=20)
    assert not delivery.delivered
    assert delivery.error is not None and "NoCredentialsError" in delivery.error
    assert delivery.error.startswith("permanent:")
    summary = await s.shutdown_security_logging(timeout=10)
    assert summary.failed == 1
    metrics = s.get_failover_metrics()
    assert metrics["primary_breaker"] == "closed"  # not mistaken for an outage


async def test_leaving_async_with_is_bounded_during_an_outage() -> None:
    logger = s.SecurityLogger(
        topic_arn="arn:aws:sns:us-west-2:123456789012:t",
        endpoint_url=closed_port_url(),
        exit_timeout=1.0,
        **ENV,
    )
    started = time.monotonic()
    async with logger:
        result = await logger.log_user_login(**call_kwargs("log_user_login"))
        assert result.ok
    assert time.monotonic() - started < 10  # the retry budget is 600 s by default
    delivery = await result.delivery(timeout=1)
    assert not delivery.delivered and delivery.error is not None
    assert delivery.error.startswith("shutdown_timeout")
    assert logger.summary().pending == 0


async def test_cancelled_shutdown_leaves_no_client_or_task_behind() -> None:
    logger = s.SecurityLogger(
        topic_arn="arn:aws:sns:us-west-2:123456789012:t",
        endpoint_url=closed_port_url(),
        **ENV,
    )
    result = await logger.log_user_login(**call_kwargs("log_user_login"))
    await asyncio.sleep(0.1)  # the publisher is now retrying against the dead endpoint
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(logger.shutdown(), 0.3)
    delivery = await result.delivery(timeout=1)
    assert delivery.error is not None and delivery.error.startswith("shutdown_cancelled")
    assert logger.summary().pending == 0
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not [t.get_name() for t in leftovers if "sr_sec_async" in t.get_name()]
    # ResourceWarning for an unclosed client session would fail this test (hygiene).


async def test_async_error_handler_is_awaited() -> None:
    s.init_security_logging(test_mode=True, **ENV)
    seen: list[str] = []

    async def handler(error: BaseException, event_type: str | None) -> None:
        await asyncio.sleep(0)
        seen.append(f"{event_type}: {error}")

    s.set_security_logging_error_handler(handler)
    s.fire_and_forget(s.log_user_login(), "login_attempt")
    await s.flush_security_logging()
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(seen) == 1 and seen[0].startswith("login_attempt: Missing required fields")


def test_non_callable_error_handler_is_refused() -> None:
    with pytest.raises(TypeError, match="must be callable"):
        s.set_security_logging_error_handler(5)  # type: ignore[arg-type]


def test_unset_environment_fields_are_announced_at_init(caplog: pytest.LogCaptureFixture) -> None:
    s.SecurityLogger(test_mode=True, service_name="orders")
    [record] = [r for r in caplog.records if "has no value for" in r.getMessage()]
    message = record.getMessage()
    assert "cloud_env_type (CLOUD_ENV_TYPE" in message and "service_name" not in message
    caplog.clear()
    s.SecurityLogger(test_mode=True, **ENV)
    assert not [r for r in caplog.records if "has no value for" in r.getMessage()]


@pytest.mark.parametrize("bad", [0, -1, "fast", None])
def test_unusable_timeouts_are_reported_and_replaced(
    bad: object, errors: list[tuple[BaseException, str | None]]
) -> None:
    logger = s.SecurityLogger(test_mode=True, primary_timeout=bad, **ENV)
    assert logger.settings.primary_timeout == 2.0
    [(error, _)] = errors
    assert isinstance(error, s.ConfigurationError)
    assert str(error).startswith("primary_timeout must be a positive number of seconds")


async def test_test_mode_line_escapes_del_and_c1_controls(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = "a\x7fb\x9b[2Jc\u2028d\x85e"
    assert (await s.log_user_login(**call_kwargs("log_user_login", user_agent=hostile))).ok
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert not any(0x7F <= ord(c) <= 0x9F for c in out)
    import json

    assert json.loads(out)["user_agent"] == hostile  # the same JSON value
