"""``sr_sec_async.testing`` used the way an application's own tests use it."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

import sr_sec_async as s
from examples import fastapi_app
from sr_sec_async import api
from sr_sec_async.testing import CapturedEvents, capture_security_events

from ..samples import ENV, call_kwargs

pytestmark = pytest.mark.anyio


async def test_fixture_captures_an_example_app_request(
    security_events: CapturedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name.upper(), value)
    app = fastapi_app.create_app()  # configured from the environment, as in production
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post(
                "/login",
                json={"email": "bob@example.com", "password": "battery staple"},
                headers={"user-agent": "pytest", "x-forwarded-for": "203.0.113.1"},
            )
            assert r.status_code == 200
            await s.flush_security_logging()  # the middleware logs in the background
    assert api._default is not None and api._default.settings.test_mode  # no AWS
    login = security_events.assert_logged_once(
        event_type=s.EventType.LOGIN_ATTEMPT, status=s.Status.SUCCESS
    )
    assert login["actor_identifier"] == "bob@example.com"
    assert login["source_ip_address"] == "203.0.113.1"
    assert login["session_id"].startswith("jwt_")
    request = security_events.assert_logged(event_type="api_request_processed")
    assert request["endpoint_path"] == "/login"
    security_events.assert_not_logged(status=s.Status.FAILURE)
    assert security_events.event_types == ["login_attempt", "api_request_processed"]


async def test_module_functions_and_an_explicit_logger(capsys: pytest.CaptureFixture[str]) -> None:
    own = s.SecurityLogger(test_mode=True, **ENV)
    with capture_security_events(**ENV) as events:
        assert (await s.log_user_login(**call_kwargs("log_user_login"))).ok
        assert (await own.log_user_logout(**call_kwargs("log_user_logout"))).ok
        bad = await s.log_user_login(**call_kwargs("log_user_login", user_role="boss"))
    assert not bad.ok  # rejected events are not captured: nothing was logged
    assert [e["event_type"] for e in events] == ["login_attempt", "user_logout"]
    assert len(events) == 2 and events[1]["caller_function"] == (
        "test_module_functions_and_an_explicit_logger"
    )
    assert capsys.readouterr().out == ""  # captured instead of printed
    assert (await own.log_user_logout(**call_kwargs("log_user_logout"))).ok
    assert capsys.readouterr().out.count("user_logout") == 1  # printed again afterwards
    assert len(events) == 2


async def test_fire_and_forget_events_after_flush() -> None:
    with capture_security_events(**ENV) as events:
        s.fire_and_forget(s.log_user_logout(**call_kwargs("log_user_logout")), "user_logout")
        await s.flush_security_logging()
    events.assert_logged_once(event_type="user_logout")


async def test_assertion_messages_show_what_was_captured() -> None:
    with capture_security_events(**ENV) as events:
        await s.log_user_login(**call_kwargs("log_user_login"))
    with pytest.raises(AssertionError, match=r"no security event matches .*status") as info:
        events.assert_logged(event_type="login_attempt", status=s.Status.FAILURE)
    assert "differs in {'status': 'status.general.success'}" in str(info.value)
    with pytest.raises(AssertionError, match="expected none"):
        events.assert_not_logged(event_type="login_attempt")
    with pytest.raises(AssertionError, match="found 0"):
        events.assert_logged_once(event_type="user_logout")
    events.clear()
    with pytest.raises(AssertionError, match=r"\(nothing\)"):
        events.assert_logged(event_type="login_attempt")


async def test_restores_state_and_nests() -> None:
    before = os.environ.get("SECURITY_LOGS_TEST_MODE")
    assert api._default is None
    with capture_security_events(**ENV) as outer:
        assert os.environ["SECURITY_LOGS_TEST_MODE"] == "true"
        with capture_security_events() as inner:  # reuses the default logger
            await s.log_user_logout(**call_kwargs("log_user_logout"))
        await s.log_user_logout(**call_kwargs("log_user_logout", session_id="outer"))
    assert len(inner) == 1 and len(outer) == 1 and outer[0]["session_id"] == "outer"
    assert api._default is None
    assert os.environ.get("SECURITY_LOGS_TEST_MODE") == before


async def test_split_events_are_captured_part_by_part() -> None:
    ids = [f"cust_{i:07d}" for i in range(30_000)]
    with capture_security_events(**ENV) as events:
        result = await s.log_record_access(**call_kwargs("log_record_access", id_list=ids))
    assert result.parts > 1 and len(events) == result.parts
    assert [i for e in events for i in e["id_list"]] == ids
    await asyncio.sleep(0)
