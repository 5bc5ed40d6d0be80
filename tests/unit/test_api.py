"""Module-level API: init outside a loop, fire_and_forget, error handler,
caller detection, flush/shutdown summaries, repeated event loops."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async import api

from ..samples import ENV, call_kwargs

pytestmark = pytest.mark.anyio


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines()]


async def handle_login() -> s.LogResult:
    return await s.log_user_login(**call_kwargs("log_user_login"))


def spawn_logout() -> None:
    s.fire_and_forget(s.log_user_logout(**call_kwargs("log_user_logout")), "user_logout")


async def test_caller_is_the_application_function(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    await handle_login()
    msg = lines(capsys)[0]
    assert (msg["caller_function"], msg["caller_file"]) == ("handle_login", "test_api.py")


async def test_caller_through_fire_and_forget_is_the_spawning_function(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    spawn_logout()
    await s.flush_security_logging()
    msg = lines(capsys)[0]
    assert (msg["caller_function"], msg["caller_file"]) == ("spawn_logout", "test_api.py")


async def test_caller_through_a_logger_object(capsys: pytest.CaptureFixture[str]) -> None:
    async with s.SecurityLogger(test_mode=True, **ENV) as logger:

        async def view_customer() -> None:
            await logger.log_record_access(**call_kwargs("log_record_access"))

        await view_customer()
    msg = lines(capsys)[0]
    assert msg["caller_function"] == "view_customer"


async def test_task_created_directly_reports_unknown_caller(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    await asyncio.create_task(s.log_user_login(**call_kwargs("log_user_login")))
    msg = lines(capsys)[0]
    assert (msg["caller_function"], msg["caller_file"]) == ("unknown", "unknown")


def test_init_works_outside_any_event_loop(capsys: pytest.CaptureFixture[str]) -> None:
    s.init_security_logging(test_mode=True, **ENV)  # at import time, no loop

    async def main() -> s.LogResult:
        return await handle_login()

    assert asyncio.run(main()).ok
    assert len(lines(capsys)) == 1


async def test_fire_and_forget_holds_a_strong_reference(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> s.LogResult:
        started.set()
        await release.wait()
        return await handle_login()

    task = s.fire_and_forget(slow())
    assert task is not None
    del task
    await started.wait()
    gc.collect()
    assert len(api._background) == 1  # still referenced by the library
    release.set()
    await s.flush_security_logging()
    assert len(lines(capsys)) == 1
    assert not api._background


async def test_fire_and_forget_reports_exceptions_to_the_handler(
    test_mode_logger: s.SecurityLogger, errors: list[tuple[BaseException, str | None]]
) -> None:
    async def boom() -> None:
        raise RuntimeError("kaput")

    task = s.fire_and_forget(boom(), "login_attempt")
    assert task is not None
    await s.flush_security_logging()
    assert [(str(e), t) for e, t in errors] == [("kaput", "login_attempt")]
    assert task.done() and task.exception() is None  # observed: never "never retrieved"


async def test_fire_and_forget_reports_validation_failures(
    test_mode_logger: s.SecurityLogger, errors: list[tuple[BaseException, str | None]]
) -> None:
    s.fire_and_forget(s.log_user_login(actor_identifier="x"), "login_attempt")
    await s.flush_security_logging()
    [(error, event_type)] = errors
    assert isinstance(error, s.ValidationError)
    assert str(error).startswith("Missing required fields: status, actor_type, session_id")
    assert event_type == "login_attempt"


async def test_error_handler_that_raises_is_contained(
    test_mode_logger: s.SecurityLogger, caplog: pytest.LogCaptureFixture
) -> None:
    def bad_handler(error: BaseException, event_type: str | None) -> None:
        raise ValueError("handler bug")

    s.set_security_logging_error_handler(bad_handler)
    s.fire_and_forget(s.log_user_login(), "login_attempt")
    await s.flush_security_logging()
    assert "error handler raised" in caplog.text


async def test_default_error_output_goes_to_the_library_logger(
    test_mode_logger: s.SecurityLogger, caplog: pytest.LogCaptureFixture
) -> None:
    s.fire_and_forget(s.log_user_login(), "login_attempt")
    await s.flush_security_logging()
    [record] = [r for r in caplog.records if r.name == "sr_sec_async"]
    assert "security logging failed for login_attempt: Missing required fields" in (
        record.getMessage()
    )


def test_fire_and_forget_without_a_loop_reports_and_closes_the_coroutine(
    errors: list[tuple[BaseException, str | None]],
) -> None:
    s.init_security_logging(test_mode=True, **ENV)
    assert s.fire_and_forget(handle_login(), "login_attempt") is None
    assert "needs a running event loop" in str(errors[0][0])


async def test_flush_and_shutdown_summaries_in_test_mode(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        await handle_login()
    await s.log_user_login()  # rejected: not counted as accepted
    assert await s.flush_security_logging() == s.DeliverySummary(3, 0, 0)
    assert await s.shutdown_security_logging() == s.DeliverySummary(3, 0, 0)
    after = await handle_login()
    assert after.status == "failure" and "shut down" in after.message
    assert len(lines(capsys)) == 3


async def test_delivery_receipt_in_test_mode(test_mode_logger: s.SecurityLogger) -> None:
    result = await handle_login()
    delivery = await result.delivery(timeout=1)
    assert delivery.delivered and delivery.event_uuid == result.event_uuid
    assert delivery.receipts == (s.Receipt(1, "test-mode", "stdout"),)


async def test_failed_result_delivery_says_why(test_mode_logger: s.SecurityLogger) -> None:
    result = await s.log_user_login()
    delivery = await result.delivery()
    assert not delivery.delivered and delivery.error == result.message


def test_test_mode_writes_to_the_current_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    s.init_security_logging(test_mode=True, **ENV)
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stdout", buffer)
    asyncio.run(handle_login())
    assert json.loads(buffer.getvalue())["event_type"] == "login_attempt"


def test_test_mode_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SECURITY_LOGS_TEST_MODE", "true")
    s.init_security_logging(**ENV)
    assert asyncio.run(handle_login()).ok
    assert len(lines(capsys)) == 1


def test_repeated_asyncio_run_in_test_mode(capsys: pytest.CaptureFixture[str]) -> None:
    s.init_security_logging(test_mode=True, **ENV)
    for _ in range(3):
        assert asyncio.run(handle_login()).ok
    assert len(lines(capsys)) == 3


def test_metrics_start_at_zero_and_reset() -> None:
    s.init_security_logging(test_mode=True, **ENV)
    metrics = s.get_failover_metrics()
    assert set(metrics) >= {
        "primary_success",
        "primary_failure",
        "failover_attempts",
        "failover_success",
        "failover_failure",
        "total_failures",
    }
    assert all(v == 0 for k, v in metrics.items() if isinstance(v, int))
    s.reset_failover_metrics()
