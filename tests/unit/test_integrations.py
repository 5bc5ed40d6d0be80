"""The framework integrations in test mode: Starlette with its session
middleware, FastAPI dependencies, the middleware's options, and proof that
the response never waits for the security event.

No ``from __future__ import annotations`` here: FastAPI must see the real
annotations of the endpoints defined inside the tests."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

import sr_sec_async as s
from sr_sec_async import api
from sr_sec_async.integrations import aiohttp as sec_aiohttp
from sr_sec_async.integrations.fastapi import (
    SecurityLoggingMiddleware,
    get_security_context,
    security_context,
    security_context_dependency,
    security_lifespan,
)
from sr_sec_async.testing import CapturedEvents

from ..samples import ENV

pytestmark = pytest.mark.anyio


async def sign_in(request: Request) -> JSONResponse:
    request.session.update({"id": "sess-abc", "user": {"email": "carol@example.com"}})
    return JSONResponse({"ok": True})


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.path_params["item_id"])


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("handler bug")


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette_app(**middleware_options: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/signin", sign_in, methods=["POST"]),
            Route("/items/{item_id}", item),
            Route("/boom", boom),
            Route("/health", ok),
            Route("/internal/metrics", ok),
        ],
        middleware=[
            Middleware(SessionMiddleware, secret_key="test-secret"),
            Middleware(SecurityLoggingMiddleware, **middleware_options),
        ],
        lifespan=security_lifespan(test_mode=True, **ENV),
    )


@asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(
            app=app, client=("192.0.2.10", 1234), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
            await s.flush_security_logging()


async def test_starlette_session_middleware_and_route_templates(
    security_events: CapturedEvents,
) -> None:
    app = starlette_app(
        exclude=("/health", "/internal/*"),
        sensitivity={"/items/{item_id}": s.EndpointSensitivity.CONFIDENTIAL},
        actor_type=s.ActorType.HUMAN_PARTNER,
    )
    async with client_for(app) as client:
        assert (await client.post("/signin")).status_code == 200
        assert (await client.get("/items/42", headers={"x-real-ip": "198.51.100.4"})).text == "42"
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/internal/metrics")).status_code == 200
    assert api._default is not None and api._default._closed  # the lifespan shut it down
    signin, item_event, boom_event = security_events.events
    # Read after the response: the sign-in is attributed to the session it created.
    assert (signin["actor_identifier"], signin["session_id"]) == ("carol@example.com", "sess-abc")
    assert item_event["endpoint_path"] == "/items/{item_id}"
    assert item_event["session_id"] == "sess-abc"  # Starlette's session, by the chain
    assert item_event["actor_identifier"] == "carol@example.com"
    assert item_event["actor_type"] == s.ActorType.HUMAN_PARTNER
    assert item_event["auth_protocol"] == s.AuthProtocol.SESSION_COOKIE
    assert item_event["endpoint_sensitivity"] == s.EndpointSensitivity.CONFIDENTIAL
    assert item_event["source_ip_address"] == "198.51.100.4"
    assert item_event["caller_function"] == "item"
    assert item_event["caller_file"] == "test_integrations.py"
    assert boom_event["status"] == s.Status.FAILURE
    assert boom_event["detail"] == s.Detail.INTERNAL_ERROR
    assert boom_event["source_ip_address"] == "192.0.2.10"  # the peer
    assert signin["endpoint_sensitivity"] == s.EndpointSensitivity.NON_PUBLIC  # the default


async def test_unmatched_routes_are_logged_with_their_path(security_events: CapturedEvents) -> None:
    async with client_for(starlette_app()) as client:
        assert (await client.get("/nope", headers={"x-api-key": "k"})).status_code == 404
    (event,) = security_events.events
    assert event["endpoint_path"] == "/nope"
    assert event["detail"] == s.Detail.INVALID_REQUEST
    assert event["auth_protocol"] == s.AuthProtocol.API_KEY
    assert (event["caller_function"], event["caller_file"]) == ("unknown", "unknown")


async def test_the_response_never_waits_for_the_event(
    security_events: CapturedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logging is held until after the response arrives: if the middleware
    awaited it, the request below would hang and time out."""
    app = starlette_app()
    gate = asyncio.Event()
    async with client_for(app) as client:
        logger = api._default
        assert logger is not None
        original = logger._log

        async def held(function: str, fields: Any) -> s.LogResult:
            await gate.wait()
            return await original(function, fields)

        monkeypatch.setattr(logger, "_log", held)
        async with asyncio.timeout(5):
            assert (await client.get("/items/7")).status_code == 200
        assert security_events.events == []  # not logged yet, the response is here
        gate.set()
    security_events.assert_logged_once(endpoint_path="/items/{item_id}")


async def test_fastapi_dependencies(security_events: CapturedEvents) -> None:
    def get_session() -> dict[str, Any]:
        return {"sessionToken": "tok", "user": {"email": "dan@example.com"}}

    app = FastAPI(lifespan=security_lifespan(test_mode=True, **ENV))
    app.add_middleware(SecurityLoggingMiddleware)
    Ctx = Annotated[s.SecurityContext, Depends(security_context_dependency(get_session))]

    @app.get("/with-session/{n}")
    async def with_session(n: int, ctx: Ctx) -> dict[str, Any]:
        return dict(ctx)

    @app.get("/plain")
    async def plain(ctx: Annotated[s.SecurityContext, Depends(security_context)]) -> Any:
        return dict(ctx)

    @app.get("/no-session")
    async def no_session(
        ctx: Annotated[s.SecurityContext, Depends(security_context_dependency())],
    ) -> Any:
        return dict(ctx)

    async with client_for(app) as client:
        body = (await client.get("/with-session/3", headers={"user-agent": "UA"})).json()
        assert body["actor_identifier"] == "dan@example.com"
        assert body["session_id"].startswith("sess_") and body["session_id"] != "tok"
        assert body["endpoint_path"] == "/with-session/3"
        assert body["service_name"] == "tests"
        for path in ("/plain", "/no-session"):
            body = (await client.get(path)).json()
            assert "session_id" not in body and body["source_ip_address"] == "192.0.2.10"
    event = security_events.assert_logged_once(endpoint_path="/with-session/{n}")
    assert event["actor_identifier"] == "dan@example.com"
    assert event["caller_function"] == "with_session"


async def test_lifespan_wraps_the_apps_own_lifespan_and_explicit_logger(
    security_events: CapturedEvents,
) -> None:
    order: list[str] = []

    @asynccontextmanager
    async def own(app: Any) -> AsyncIterator[dict[str, str]]:
        order.append("own start")
        yield {"db": "connected"}
        order.append("own stop")

    logger = s.SecurityLogger(test_mode=True, **ENV)
    app = FastAPI(lifespan=security_lifespan(logger=logger, lifespan=own))
    app.add_middleware(SecurityLoggingMiddleware, logger=logger)

    @app.get("/x")
    async def x(request: Request) -> Any:
        return {"ip": get_security_context(request)["source_ip_address"]}

    async with app.router.lifespan_context(app) as state:
        assert state == {"db": "connected"}  # the app's own state passes through
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/x")).json() == {"ip": "192.0.2.10"}
    assert order == ["own start", "own stop"]
    assert logger._closed and api._default is None  # the default logger was never used
    security_events.assert_logged_once(endpoint_path="/x")


async def test_aiohttp_helpers_in_test_mode(security_events: CapturedEvents) -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        ctx = sec_aiohttp.get_security_context(request, {"id": "s-9", "email": "e@x.io"})
        assert sec_aiohttp.get_security_context(request) is ctx  # kept on the request
        seen.append(request[sec_aiohttp.SECURITY_CONTEXT_KEY])
        raise web.HTTPForbidden()

    app = web.Application(
        middlewares=[sec_aiohttp.security_logging_middleware(auth_protocol=s.AuthProtocol.SAML)]
    )
    app.cleanup_ctx.append(sec_aiohttp.security_cleanup_ctx(test_mode=True, **ENV))
    app.router.add_get("/users/{uid}", handler)
    app.router.add_get("/healthz", handler)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/users/1")).status == 403
        assert (await client.get("/healthz")).status == 403
        await s.flush_security_logging()
    (event,) = security_events.events
    assert event["endpoint_path"] == "/users/{uid}"
    assert event["authorization_status"] == s.Status.FAILURE
    assert event["detail"] == s.Detail.UNAUTHORIZED_ACCESS
    assert event["auth_protocol"] == s.AuthProtocol.SAML
    assert (event["actor_identifier"], event["session_id"]) == ("e@x.io", "s-9")
    assert event["caller_function"] == "handler"
    assert seen[0]["session_id"] == "s-9"


async def test_middleware_bugs_never_fail_the_request(
    security_events: CapturedEvents,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sr_sec_async.integrations import _common

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("policy bug")

    monkeypatch.setattr(_common.ApiRequestLogging, "fields", broken)
    app = web.Application(middlewares=[sec_aiohttp.security_logging_middleware()])
    app.cleanup_ctx.append(sec_aiohttp.security_cleanup_ctx(test_mode=True, **ENV))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/missing")).status == 404
    async with client_for(starlette_app()) as client:
        assert (await client.get("/items/1")).status_code == 200
    failures = [r for r in caplog.records if "middleware failed" in r.getMessage()]
    assert len(failures) == 2
    assert security_events.events == []


async def test_aiohttp_unmatched_route(security_events: CapturedEvents) -> None:
    app = web.Application(middlewares=[sec_aiohttp.security_logging_middleware()])
    app.cleanup_ctx.append(sec_aiohttp.security_cleanup_ctx(test_mode=True, **ENV))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (
            await client.get("/missing", headers={"x-forwarded-for": "203.0.113.8"})
        ).status == 404
        await s.flush_security_logging()
    (event,) = security_events.events
    assert event["endpoint_path"] == "/missing"
    assert event["source_ip_address"] == "203.0.113.8"
    assert event["detail"] == s.Detail.INVALID_REQUEST
    assert (event["caller_function"], event["caller_file"]) == ("unknown", "unknown")
