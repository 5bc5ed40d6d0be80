"""Context helpers: each request kind, proxy-header precedence and trust, the
session-id chain, the environment-variable chains, diagnostics, and spreading
a context into every ``log_*`` function."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from starlette.requests import Request

import sr_sec_async as s
from sr_sec_async.context import session_id_of
from sr_sec_async.environment import environment_fields
from sr_sec_async.events import SPECS

from ..samples import ENV, VALID

pytestmark = pytest.mark.anyio


def h16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def scope(
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    path: str = "/login",
    client: tuple[str, int] | None = ("10.0.0.5", 51234),
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"a=1",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": client,
    }


# -- request kinds -------------------------------------------------------------------


def test_starlette_request() -> None:
    request = Request(scope({"User-Agent": "UA/1", "X-Forwarded-For": "203.0.113.9"}))
    ctx = s.create_security_context(request, include_environment=False)
    assert ctx == {
        "source_ip_address": "203.0.113.9",
        "user_agent": "UA/1",
        "endpoint_path": "/login",
        "http_method": s.HttpMethod.POST,
    }


def test_raw_asgi_scope_uses_the_peer_address_without_proxy_headers() -> None:
    ctx = s.create_security_context(
        scope({"user-agent": "curl/8"}, method="delete", path="/api-keys/k1"),
        include_environment=False,
    )
    assert ctx["source_ip_address"] == "10.0.0.5"
    assert ctx["http_method"] == s.HttpMethod.DELETE == "http.method.DELETE"
    assert ctx["endpoint_path"] == "/api-keys/k1"
    assert ctx["user_agent"] == "curl/8"


def test_aiohttp_request() -> None:
    request = make_mocked_request(
        "PATCH",
        "/users/7?x=1",
        headers={"User-Agent": "aiohttp-UA", "X-Real-IP": "198.51.100.23"},
    )
    ctx = s.create_security_context(request, include_environment=False)
    assert ctx == {
        "source_ip_address": "198.51.100.23",
        "user_agent": "aiohttp-UA",
        "endpoint_path": "/users/7",
        "http_method": s.HttpMethod.PATCH,
    }


def test_api_gateway_rest_v1_event() -> None:
    event = {
        "resource": "/orders/{id}",
        "path": "/orders/42",
        "httpMethod": "GET",
        "headers": {"User-Agent": "lambda-client", "X-Forwarded-For": "192.0.2.1, 70.0.0.1"},
        "multiValueHeaders": {"User-Agent": ["lambda-client"]},
        "requestContext": {"identity": {"sourceIp": "70.0.0.1"}},
    }
    ctx = s.create_security_context(event, include_environment=False)
    assert ctx == {
        "source_ip_address": "192.0.2.1",
        "user_agent": "lambda-client",
        "endpoint_path": "/orders/42",
        "http_method": s.HttpMethod.GET,
    }


def test_api_gateway_http_v2_event_falls_back_to_source_ip() -> None:
    event = {
        "version": "2.0",
        "rawPath": "/v2/items",
        "headers": {"user-agent": "v2-client"},
        "requestContext": {
            "http": {"method": "PUT", "path": "/v2/items", "sourceIp": "192.0.2.77"}
        },
    }
    ctx = s.create_security_context(event, include_environment=False)
    assert ctx["source_ip_address"] == "192.0.2.77"
    assert ctx["http_method"] == s.HttpMethod.PUT
    assert ctx["endpoint_path"] == "/v2/items"


def test_alb_event_multi_value_headers() -> None:
    event = {
        "httpMethod": "HEAD",
        "path": "/ping",
        "multiValueHeaders": {"x-forwarded-for": ["198.51.100.1"], "user-agent": ["ELB"]},
        "requestContext": {"elb": {"targetGroupArn": "arn:..."}},
    }
    ctx = s.create_security_context(event, include_environment=False)
    assert ctx["source_ip_address"] == "198.51.100.1"
    assert ctx["http_method"] == s.HttpMethod.HEAD
    assert ctx["user_agent"] == "ELB"


def test_unusual_inputs_yield_fewer_fields_never_an_exception() -> None:
    class Odd:
        @property
        def headers(self) -> Any:
            raise RuntimeError("boom")

    assert s.create_security_context(Odd(), include_environment=False) == {}
    assert s.create_security_context(None, None, include_environment=False) == {}
    ctx = s.create_security_context(scope(method="TRACE"), include_environment=False)
    assert "http_method" not in ctx  # not an HttpMethod value


# -- source IP precedence and trust ---------------------------------------------------

ALL_HEADERS = {
    "x-forwarded-for": " 203.0.113.9 , 10.1.1.1, 10.2.2.2",
    "x-real-ip": "198.51.100.2",
    "cf-connecting-ip": "192.0.2.3",
}


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (("x-forwarded-for", "x-real-ip", "cf-connecting-ip"), "203.0.113.9"),
        (("x-real-ip", "cf-connecting-ip"), "198.51.100.2"),
        (("cf-connecting-ip",), "192.0.2.3"),
        ((), "10.0.0.5"),
    ],
)
def test_header_precedence(present: tuple[str, ...], expected: str) -> None:
    headers = {k: v for k, v in ALL_HEADERS.items() if k in present}
    ctx = s.create_security_context(scope(headers), include_environment=False)
    assert ctx["source_ip_address"] == expected


def test_only_trusted_headers_count() -> None:
    request = scope(ALL_HEADERS)
    only_cf = s.create_security_context(
        request, trusted_proxy_headers=["cf-connecting-ip"], include_environment=False
    )
    assert only_cf["source_ip_address"] == "192.0.2.3"
    none = s.create_security_context(request, trusted_proxy_headers=[], include_environment=False)
    assert none["source_ip_address"] == "10.0.0.5"


def test_trusted_headers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURITY_LOGS_TRUSTED_PROXY_HEADERS", "X-Real-IP")
    ctx = s.create_security_context(scope(ALL_HEADERS), include_environment=False)
    assert ctx["source_ip_address"] == "198.51.100.2"
    monkeypatch.setenv("SECURITY_LOGS_TRUSTED_PROXY_HEADERS", "")
    ctx = s.create_security_context(scope(ALL_HEADERS), include_environment=False)
    assert ctx["source_ip_address"] == "10.0.0.5"


def test_invalid_header_values_fall_through_and_ports_are_stripped() -> None:
    ctx = s.create_security_context(
        scope({"x-forwarded-for": "unknown", "x-real-ip": "[2001:db8::1]:443"}),
        include_environment=False,
    )
    assert ctx["source_ip_address"] == "2001:db8::1"
    ctx = s.create_security_context(
        scope({"x-forwarded-for": "not-an-ip"}, client=None), include_environment=False
    )
    assert "source_ip_address" not in ctx
    ctx = s.create_security_context(
        scope({"x-forwarded-for": "203.0.113.50:61000"}), include_environment=False
    )
    assert ctx["source_ip_address"] == "203.0.113.50"


# -- sessions -------------------------------------------------------------------------


@dataclass
class UserObj:
    email: str


@dataclass
class SessionObj:
    user: UserObj
    expires: str
    sessionToken: str | None = None


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        ({"id": "sess-123", "sessionToken": "tok"}, "sess-123"),
        ({"id": 42}, "42"),
        ({"sessionToken": "secret-token", "jti": "j"}, "sess_" + h16("secret-token")),
        ({"session_token": "secret-token"}, "sess_" + h16("secret-token")),
        ({"jti": "jwt-id-1", "user": {"email": "a@x.io"}}, "jwt_" + h16("jwt-id-1")),
        ({"token": {"jti": "jwt-id-2"}}, "jwt_" + h16("jwt-id-2")),
        (
            {"user": {"email": "a@x.io"}, "expires": "2030-01-01T00:00:00Z"},
            "sess_" + h16("a@x.io:2030-01-01T00:00:00Z"),
        ),
        (SessionObj(UserObj("b@x.io"), "2031"), "sess_" + h16("b@x.io:2031")),
        (SessionObj(UserObj("b@x.io"), "2031", "obj-token"), "sess_" + h16("obj-token")),
        ({"user": {"email": "a@x.io"}}, None),  # no expiry: nothing stable to hash
        ({"id": "  "}, None),
        ({}, None),
        (None, None),
    ],
)
def test_session_id_chain(session: Any, expected: str | None) -> None:
    assert session_id_of(session) == expected


def test_raw_tokens_never_appear_in_the_context() -> None:
    session = {"sessionToken": "very-secret", "user": {"email": "a@x.io"}, "expires": "t"}
    ctx = s.create_security_context(scope(), session, include_environment=False)
    assert ctx["session_id"] == "sess_" + h16("very-secret")
    assert ctx["actor_identifier"] == "a@x.io"
    assert "very-secret" not in repr(ctx)


def test_actor_from_top_level_email_or_object_user() -> None:
    assert s.create_security_context(None, {"email": "e@x.io"})["actor_identifier"] == "e@x.io"
    ctx = s.create_security_context(None, SessionObj(UserObj("o@x.io"), "t"))
    assert ctx["actor_identifier"] == "o@x.io"


# -- environment fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "field", "expected"),
    [
        ({"CLOUD_ENV_TYPE": "production", "NODE_ENV": "dev"}, "cloud_env_type", "prod"),
        ({"NEXT_PUBLIC_ENVIRONMENT_NAME": "staging"}, "cloud_env_type", "stage"),
        ({"NODE_ENV": "development", "VERCEL_ENV": "production"}, "cloud_env_type", "dev"),
        ({"VERCEL_ENV": "preview"}, "cloud_env_type", "stage"),
        ({"COPILOT_ENVIRONMENT_NAME": "test"}, "cloud_env_type", "test"),
        ({"AWS_LAMBDA_FUNCTION_NAME": "orders-prod-api"}, "cloud_env_type", "prod"),
        ({"CLOUD_ENV_NAME": "Blue", "VERCEL_ENV": "x"}, "cloud_env_name", "Blue"),
        ({"VERCEL_ENV": "preview", "NODE_ENV": "production"}, "cloud_env_name", "preview"),
        ({"COPILOT_ENVIRONMENT_NAME": "qa-east"}, "cloud_env_name", "qa-east"),
        ({"CLOUD_ENV_UNIQUE_ID": "proj-1", "AWS_ACCOUNT_ID": "1"}, "cloud_env_unique_id", "proj-1"),
        ({"AWS_ACCOUNT_ID": "111122223333"}, "cloud_env_unique_id", "111122223333"),
        (
            {"AWS_EXECUTION_ROLE_ARN": "arn:aws:iam::444455556666:role/app"},
            "cloud_env_unique_id",
            "444455556666",
        ),
        (
            {"AWS_LAMBDA_FUNCTION_ARN": "arn:aws:lambda:us-west-2:777788889999:function:f"},
            "cloud_env_unique_id",
            "777788889999",
        ),
        (
            {"AWS_ROLE_ARN": "arn:aws:iam::123123123123:role/irsa"},
            "cloud_env_unique_id",
            "123123123123",
        ),
        ({"SERVICE_NAME": "svc", "NEXT_PUBLIC_APP_NAME": "next"}, "service_name", "svc"),
        ({"NEXT_PUBLIC_APP_NAME": "next", "OTEL_SERVICE_NAME": "otel"}, "service_name", "next"),
        ({"OTEL_SERVICE_NAME": "otel", "AWS_LAMBDA_FUNCTION_NAME": "f"}, "service_name", "otel"),
        ({"AWS_LAMBDA_FUNCTION_NAME": "orders-prod-api"}, "service_name", "orders-api"),
        ({"AWS_LAMBDA_FUNCTION_NAME": "prod"}, "service_name", "prod"),
        ({"COPILOT_SERVICE_NAME": "web", "npm_package_name": "pkg"}, "service_name", "web"),
        ({"npm_package_name": "pkg"}, "service_name", "pkg"),
        ({"SERVICE_ACCOUNT_ID": "sa", "AWS_ROLE_ARN": "r"}, "service_account_id", "sa"),
        ({"AWS_EXECUTION_ROLE_ARN": "arn:x", "AWS_ROLE_ARN": "r"}, "service_account_id", "arn:x"),
        ({"AWS_ROLE_ARN": "arn:r", "ROLE_ARN": "arn:q"}, "service_account_id", "arn:r"),
        ({"ROLE_ARN": "arn:q"}, "service_account_id", "arn:q"),
        ({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, "service_account_id", None),
    ],
)
def test_environment_chains(variables: dict[str, str], field: str, expected: str | None) -> None:
    assert environment_fields(variables).get(field) == expected


def test_environment_fields_come_from_the_logger_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_NAME", "from-env")
    monkeypatch.setenv("CLOUD_ENV_TYPE", "dev")
    assert s.create_security_context()["service_name"] == "from-env"  # no logger yet
    s.init_security_logging(test_mode=True, service_name="from-init")
    ctx = s.create_security_context()
    assert ctx["service_name"] == "from-init"  # init beats the environment, as in events
    assert ctx["cloud_env_type"] == "dev"
    other = s.SecurityLogger(test_mode=True, **ENV)
    assert s.create_security_context(logger=other)["service_name"] == "tests"


# -- diagnostics ----------------------------------------------------------------------


def test_missing_fields_and_diagnosis() -> None:
    ctx = s.create_security_context(scope({"user-agent": "UA"}), include_environment=False)
    missing = s.get_missing_context_fields(ctx)
    assert missing == [
        "actor_identifier",
        "session_id",
        "cloud_env_type",
        "cloud_env_unique_id",
        "cloud_env_name",
        "service_account_id",
        "service_name",
    ]
    diagnosis = s.diagnose_security_context(ctx)
    assert diagnosis.has_missing and list(diagnosis.missing) == missing
    by_field = {sg.field: sg for sg in diagnosis.suggestions}
    assert by_field["service_name"].env_var == "SERVICE_NAME"
    assert by_field["cloud_env_type"].env_var == "CLOUD_ENV_TYPE or NEXT_PUBLIC_ENVIRONMENT_NAME"
    assert by_field["session_id"].env_var is None
    assert "sessionToken" in by_field["session_id"].description
    full = s.create_security_context(
        scope({"user-agent": "UA"}),
        {"id": "s1", "user": {"email": "a@x.io"}},
        logger=s.SecurityLogger(test_mode=True, **ENV),
    )
    assert s.get_missing_context_fields(full) == []
    assert not s.diagnose_security_context(full).has_missing


def test_warn_missing_context_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sr_sec_async"):
        missing = s.warn_missing_context_fields({"actor_identifier": "a", "session_id": "s"})
    assert "service_name" in missing
    (record,) = caplog.records
    assert "service_name: set SERVICE_NAME" in record.getMessage()
    caplog.clear()
    assert s.warn_missing_context_fields({f: "x" for f in s.SecurityContext.__annotations__}) == []
    assert not caplog.records


# -- spreading into every function ----------------------------------------------------


@pytest.mark.parametrize("function", sorted(VALID))
async def test_a_context_spreads_into_every_function(
    function: str, capsys: pytest.CaptureFixture[str]
) -> None:
    s.init_security_logging(test_mode=True, **ENV)
    request = scope({"user-agent": "UA/2", "x-forwarded-for": "203.0.113.70"}, path="/p")
    ctx = s.create_security_context(request, {"id": "sess-9", "user": {"email": "z@x.io"}})
    kwargs = {k: v for k, v in VALID[function].items() if k not in ctx}
    result = await getattr(s, function)(
        **ctx, **kwargs, actor_type=s.ActorType.HUMAN_INTERNAL, status=s.Status.SUCCESS
    )
    assert result.ok, result.message
    (line,) = capsys.readouterr().out.splitlines()
    event = json.loads(line)
    assert event["actor_identifier"] == "z@x.io"
    assert event["session_id"] == "sess-9"
    assert event["source_ip_address"] == "203.0.113.70"
    assert event["service_name"] == "tests"
    takes = SPECS[function].fields
    for name in ("user_agent", "endpoint_path", "http_method"):
        assert (name in event) == (name in takes), name


def test_the_core_works_without_any_web_framework() -> None:
    """Import the package with FastAPI, Starlette and httpx made unimportable
    (aiohttp cannot be: aiobotocore needs it): the core, the context helpers
    and the testing helpers work, and no integration module is loaded."""
    import subprocess
    import sys

    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"fastapi", "starlette", "httpx"}:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import asyncio
import sr_sec_async as s
from sr_sec_async.testing import capture_security_events
ctx = s.create_security_context({"type": "http", "method": "GET", "path": "/p",
                                 "headers": [(b"user-agent", b"UA")], "client": ("192.0.2.1", 1)},
                                {"id": "s1", "user": {"email": "a@x.io"}})
assert ctx["source_ip_address"] == "192.0.2.1" and ctx["session_id"] == "s1", ctx
async def main():
    with capture_security_events(cloud_env_type="dev", cloud_env_unique_id="1",
                                 cloud_env_name="d", service_account_id="sa",
                                 service_name="n") as events:
        r = await s.log_user_logout(**ctx, actor_type="actor.human.internal",
                                    status="status.general.success",
                                    user_role="role.classification.admin",
                                    detail="detail.trigger.user_initiated")
        assert r.ok, r.message
    assert events.assert_logged_once(actor_identifier="a@x.io")
asyncio.run(main())
assert not [m for m in sys.modules if m.startswith("sr_sec_async.integrations")]
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
