"""FastAPI and Starlette: start the logger with the app, get each request's
security context, and (optionally) log every request.

::

    from fastapi import Depends, FastAPI
    from sr_sec_async.integrations.fastapi import (
        SecurityLoggingMiddleware, security_context_dependency, security_lifespan,
    )

    app = FastAPI(lifespan=security_lifespan(service_name="orders"))
    app.add_middleware(SecurityLoggingMiddleware, sensitivity={"/admin/*": "sensitivity.level.restricted"})
    SecurityCtx = Annotated[SecurityContext, Depends(security_context_dependency(get_session))]

    @app.post("/logout")
    async def logout(ctx: SecurityCtx): await log_user_logout(**ctx, ...)

Only Starlette is imported here (FastAPI is imported by
``security_context_dependency``), so plain Starlette apps can use the
lifespan, ``get_security_context`` and the middleware.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, Unpack

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..caller import UNKNOWN_CALLER
from ..context import SecurityContext, _asgi_view, create_security_context
from ..logger import SecurityLogger
from ._common import ApiRequestLogging, ApiRequestOptions, ContextHolder, caller_of
from ._common import start_logger as _start_logger
from ._common import stop_logger as _stop_logger

__all__ = [
    "SecurityLoggingMiddleware",
    "get_security_context",
    "security_context",
    "security_context_dependency",
    "security_lifespan",
]

_STATE_KEY = "sr_sec_async.context"
_log = logging.getLogger("sr_sec_async")


def security_lifespan(
    *,
    logger: SecurityLogger | None = None,
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None,
    shutdown_timeout: float | None = 10.0,
    **settings: Any,
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """A lifespan for ``FastAPI(lifespan=...)`` / ``Starlette(lifespan=...)``.

    At startup it sets up the default logger (``init_security_logging(**settings)``;
    with no settings, the existing default logger or one from the environment)
    or uses ``logger``; at shutdown it waits for the middleware's pending
    events, flushes and closes, within ``shutdown_timeout`` seconds. Your own
    ``lifespan`` runs inside it, and its state is passed through.
    """

    @asynccontextmanager
    async def security_logging_lifespan(app: Any) -> AsyncIterator[Any]:
        target = _start_logger(logger, settings)
        await target.start()
        try:
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as state:
                    yield state
        finally:
            await _stop_logger(logger, shutdown_timeout)

    return security_logging_lifespan


def get_security_context(
    request: HTTPConnection,
    session: Any = None,
    *,
    logger: SecurityLogger | None = None,
    trusted_proxy_headers: Sequence[str] | None = None,
) -> SecurityContext:
    """``create_security_context(request, session)``, also handed to
    ``SecurityLoggingMiddleware`` so the request's event names the same actor
    and session. Without ``session``, Starlette's ``SessionMiddleware``
    session (``request.scope["session"]``) is used when there is one."""
    if session is None:
        session = request.scope.get("session")
    context = create_security_context(
        request, session, logger=logger, trusted_proxy_headers=trusted_proxy_headers
    )
    holder = request.scope.get("state", {}).get(_STATE_KEY)
    if isinstance(holder, ContextHolder):
        holder.context = context
    return context


def security_context(request: HTTPConnection) -> SecurityContext:
    """A FastAPI dependency: the request's security context (session from
    Starlette's ``SessionMiddleware``, if any)."""
    return get_security_context(request)


def security_context_dependency(
    get_session: Callable[..., Any] | None = None,
    *,
    logger: SecurityLogger | None = None,
    trusted_proxy_headers: Sequence[str] | None = None,
) -> Callable[..., SecurityContext]:
    """A FastAPI dependency yielding the request's security context, with the
    session from your own dependency ``get_session`` (its result may be a
    dict or an object; see ``sr_sec_async.context.session_id_of``)."""
    from fastapi import Depends

    if get_session is None:

        def dependency(request: HTTPConnection) -> SecurityContext:
            return get_security_context(
                request, logger=logger, trusted_proxy_headers=trusted_proxy_headers
            )

        return dependency

    def session_dependency(request: HTTPConnection, session: Any) -> SecurityContext:
        return get_security_context(
            request, session, logger=logger, trusted_proxy_headers=trusted_proxy_headers
        )

    # Real (not string) annotations, so FastAPI sees the closure's ``get_session``.
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    session_dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", kind, annotation=HTTPConnection),
            inspect.Parameter("session", kind, annotation=Annotated[Any, Depends(get_session)]),
        ],
        return_annotation=SecurityContext,
    )
    return session_dependency


class SecurityLoggingMiddleware:
    """Pure ASGI middleware: one ``api_request_processed`` event per HTTP
    request, logged after the response has been sent and in a background
    task, so it never delays the response.

    The event's ``endpoint_path`` is the route template (``/users/{user_id}``),
    its status follows the response code (``request_outcome``), and its actor
    and session are those of the context the endpoint obtained through
    ``get_security_context`` or the dependencies (else Starlette's session,
    else "anonymous"). Options (``exclude``, ``sensitivity``,
    ``default_sensitivity``, ``actor_type``, ``anonymous_actor_type``,
    ``auth_protocol``, ``logger``, ``trusted_proxy_headers``): see
    ``ApiRequestLogging``. A request that
    ends in an exception is logged as a 500; a cancelled one (client gone) is
    not logged. WebSocket and lifespan traffic pass through untouched.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[ApiRequestOptions]) -> None:
        self.app = app
        self.policy = ApiRequestLogging(**options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder = ContextHolder()
        scope.setdefault("state", {})[_STATE_KEY] = holder
        status_code = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        except Exception:
            self._log(scope, 500, holder)
            raise
        self._log(scope, status_code, holder)

    def _log(self, scope: Scope, status_code: int, holder: ContextHolder) -> None:
        try:
            self._record(scope, status_code, holder)
        except Exception:  # a logging bug must never turn into a failed request
            _log.exception("security logging middleware failed")

    def _record(self, scope: Scope, status_code: int, holder: ContextHolder) -> None:
        path = scope.get("path", "")
        route = scope.get("route")
        template = getattr(route, "path", None) or path
        policy = self.policy
        if policy.excluded(template, path):
            return
        view = _asgi_view(scope)
        context = holder.context
        if context is None:
            context = create_security_context(
                view,
                scope.get("session"),
                logger=policy.logger,
                trusted_proxy_headers=policy.trusted_proxy_headers,
            )
        fields = policy.fields(
            context,
            template=template,
            method=scope.get("method"),
            status_code=status_code,
            header=view.header,
        )
        if fields is not None:
            endpoint = scope.get("endpoint")
            policy.submit(fields, caller_of(endpoint) if route is not None else UNKNOWN_CALLER)
