"""The example FastAPI and aiohttp apps run for real — FastAPI through httpx's
ASGI transport, aiohttp on its test server on 127.0.0.1 — with proxy headers,
sessions and JWTs; every event is read back from an SQS queue subscribed to
a moto SNS topic and checked field by field."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer

import sr_sec_async as s
from examples import aiohttp_app, fastapi_app
from examples.auth import MFA_CODE
from sr_sec_async import api
from sr_sec_async.local_sns import LocalAws, TopicWithQueue

from ..conftest import sns_settings

pytestmark = pytest.mark.anyio

UA = "Mozilla/5.0 (scenario)"
Running = Callable[[dict[str, Any]], AbstractAsyncContextManager[tuple[httpx.AsyncClient, str]]]


@asynccontextmanager
async def running_fastapi(settings: dict[str, Any]) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    app = fastapi_app.create_app(**settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, "198.51.100.7"


@asynccontextmanager
async def running_aiohttp(settings: dict[str, Any]) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    server = TestServer(aiohttp_app.create_app(**settings), host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
            yield client, "127.0.0.1"
    finally:
        await server.close()  # runs the app's cleanup_ctx: flush and shut down


async def scenario(client: httpx.AsyncClient) -> tuple[str, str]:
    """Every instrumented endpoint once (MFA and logout twice); returns the
    access token and the API key id."""
    assert (await client.get("/health")).status_code == 200
    bad = {"email": "alice@example.com", "password": "wrong"}
    proxied = {"user-agent": UA, "x-forwarded-for": "203.0.113.9, 10.1.1.1"}
    assert (await client.post("/login", json=bad, headers=proxied)).status_code == 401
    good = {"email": "alice@example.com", "password": "correct horse"}
    r = await client.post(
        "/login", json=good, headers={"user-agent": UA, "x-real-ip": "192.0.2.44"}
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    auth = {"authorization": f"Bearer {token}", "user-agent": UA, "cf-connecting-ip": "192.0.2.55"}
    assert (
        await client.post("/mfa/verify", json={"code": "000000"}, headers=auth)
    ).status_code == 401
    assert (
        await client.post("/mfa/verify", json={"code": MFA_CODE}, headers=auth)
    ).status_code == 200
    r = await client.post("/admin/users/bob@example.com/role", json={"role": "admin"}, headers=auth)
    assert r.status_code == 200, r.text
    assert (await client.get("/customers/export?ids=c1,c2,c3", headers=auth)).status_code == 200
    r = await client.post("/api-keys", headers=auth)
    key_id = r.json()["key_id"]
    assert (await client.delete(f"/api-keys/{key_id}", headers=auth)).status_code == 200
    assert (await client.post("/logout", headers=auth)).status_code == 200
    assert (await client.post("/logout", headers=auth)).status_code == 401  # token revoked
    return token, key_id


def jwt_session_id(token: str) -> str:
    payload = token.split(".")[1]
    jti = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
    return "jwt_" + hashlib.sha256(jti.encode()).hexdigest()[:16]


FAILURE, SUCCESS = s.Status.FAILURE.value, s.Status.SUCCESS.value
EXPECTED_REQUESTS = Counter(
    {
        # (method, route template, status, authorization_status, sensitivity, caller)
        ("POST", "/login", FAILURE, FAILURE, "public", "login"): 1,
        ("POST", "/login", SUCCESS, SUCCESS, "public", "login"): 1,
        ("POST", "/mfa/verify", FAILURE, FAILURE, "non_public", "verify_mfa"): 1,
        ("POST", "/mfa/verify", SUCCESS, SUCCESS, "non_public", "verify_mfa"): 1,
        ("POST", "/admin/users/{email}/role", SUCCESS, SUCCESS, "restricted", "change_role"): 1,
        ("GET", "/customers/export", SUCCESS, SUCCESS, "confidential", "export_customers"): 1,
        ("POST", "/api-keys", SUCCESS, SUCCESS, "non_public", "create_api_key"): 1,
        ("DELETE", "/api-keys/{key_id}", SUCCESS, SUCCESS, "non_public", "revoke_api_key"): 1,
        ("POST", "/logout", SUCCESS, SUCCESS, "non_public", "logout"): 1,
        ("POST", "/logout", FAILURE, FAILURE, "non_public", "logout"): 1,
    }
)


@pytest.mark.parametrize(
    ("running", "app_file"),
    [(running_fastapi, "fastapi_app.py"), (running_aiohttp, "aiohttp_app.py")],
    ids=["fastapi", "aiohttp"],
)
async def test_example_app_events_arrive_with_request_and_session_fields(
    aws: LocalAws, topic: TopicWithQueue, running: Running, app_file: str
) -> None:
    async with running(sns_settings(aws, topic)) as (client, _peer):
        token, key_id = await scenario(client)
    logger = api._default
    assert logger is not None
    assert logger.summary() == s.DeliverySummary(19, 0, 0)  # 9 app events + 10 requests
    events = await aws.drain(topic, 19, readers=2)
    assert len(events) == 19
    sid = jwt_session_id(token)
    assert token.split(".")[2] not in json.dumps(events)  # never the raw token
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_type.setdefault(e["event_type"], []).append(e)
        assert e["service_name"] == "tests" and e["cloud_env_type"] == "dev"

    # The application's own events, with what the context helper extracted.
    logins = sorted(by_type["login_attempt"], key=lambda e: e["status"])
    failed, ok = logins[0], logins[1]
    assert failed["status"] == FAILURE and failed["session_id"] == "none"
    assert failed["source_ip_address"] == "203.0.113.9"  # x-forwarded-for, first hop
    assert failed["detail"] == s.Detail.INVALID_CREDENTIALS
    assert ok["session_id"] == sid and ok["actor_identifier"] == "alice@example.com"
    assert ok["source_ip_address"] == "192.0.2.44"  # x-real-ip
    assert (failed["caller_function"], ok["caller_function"]) == ("login_failed", "login_succeeded")
    for e in logins:
        assert e["user_agent"] == UA
        assert e["caller_file"] == "audit.py"  # the example's events live there
    mfa = by_type["mfa_challenge"]
    assert sorted(e["status"] for e in mfa) == [FAILURE, SUCCESS]
    session_events = [
        *mfa,
        *by_type["role_assign"],
        *by_type["record_access"],
        *by_type["api_key_lifecycle"],
        *by_type["user_logout"],
    ]
    assert len(session_events) == 7
    for e in session_events:
        assert e["session_id"] == sid, e["event_type"]
        assert e["actor_identifier"] == "alice@example.com"
        assert e["source_ip_address"] == "192.0.2.55"  # cf-connecting-ip
        assert e["caller_file"] == "audit.py"
    (role,) = by_type["role_assign"]
    assert (role["target_user_identifier"], role["previous_value"], role["new_value"]) == (
        "bob@example.com",
        "standard",
        "admin",
    )
    (export,) = by_type["record_access"]
    assert export["id_list"] == ["c1", "c2", "c3"] and export["record_count"] == 3
    assert export["endpoint_path"] == "/customers/export"
    assert sorted(e["detail"] for e in by_type["api_key_lifecycle"]) == [
        s.Detail.API_KEY_CREATED,
        s.Detail.API_KEY_REVOKED,
    ]
    assert {e["target_object"] for e in by_type["api_key_lifecycle"]} == {key_id}

    # One api_request_processed per request; /health excluded.
    requests = by_type["api_request_processed"]
    seen = Counter(
        (
            e["http_method"].removeprefix("http.method."),
            e["endpoint_path"],
            e["status"],
            e["authorization_status"],
            e["endpoint_sensitivity"].removeprefix("sensitivity.level."),
            e["caller_function"],
        )
        for e in requests
    )
    assert seen == EXPECTED_REQUESTS
    assert all(e["caller_file"] == app_file for e in requests)
    assert not [e for e in events if e.get("endpoint_path") == "/health"]
    for e in requests:
        bearer = e["endpoint_path"] != "/login"
        anonymous = e["actor_identifier"] == "anonymous"
        assert e["auth_protocol"] == (s.AuthProtocol.OAUTH2_JWT if bearer else s.AuthProtocol.NONE)
        # Signed-in requests name the session; the failed login and the
        # revoked token's logout are anonymous.
        if anonymous:
            assert e["session_id"] == "anonymous"
            assert e["actor_type"] == s.ActorType.HUMAN_EXTERNAL
            assert e["status"] == FAILURE and e["endpoint_path"] in ("/login", "/logout")
        else:
            assert e["session_id"] == sid and e["actor_type"] == s.ActorType.HUMAN_INTERNAL
        expected_ip = {
            "/login": "203.0.113.9" if anonymous else "192.0.2.44",
        }.get(e["endpoint_path"], "192.0.2.55")
        assert e["source_ip_address"] == expected_ip
    assert sum(e["actor_identifier"] == "anonymous" for e in requests) == 2


@pytest.mark.parametrize("running", [running_fastapi, running_aiohttp], ids=["fastapi", "aiohttp"])
async def test_peer_address_when_no_proxy_header_is_trusted(
    aws: LocalAws, topic: TopicWithQueue, running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURITY_LOGS_TRUSTED_PROXY_HEADERS", "")
    async with running(sns_settings(aws, topic)) as (client, peer):
        r = await client.post(
            "/login",
            json={"email": "bob@example.com", "password": "battery staple"},
            headers={"x-forwarded-for": "203.0.113.9", "user-agent": UA},
        )
        assert r.status_code == 200
    events = await aws.drain(topic, 2)
    assert [e["source_ip_address"] for e in events] == [peer, peer]
