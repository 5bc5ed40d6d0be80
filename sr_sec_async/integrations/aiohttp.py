"""aiohttp: start the logger with the app (``cleanup_ctx``), get each
request's security context, and (optionally) log every request.

::

    from aiohttp import web
    from sr_sec_async.integrations.aiohttp import (
        get_security_context, security_cleanup_ctx, security_logging_middleware,
    )

    app = web.Application(middlewares=[security_logging_middleware()])
    app.cleanup_ctx.append(security_cleanup_ctx(service_name="orders"))

    async def logout(request):
        ctx = get_security_context(request, await load_session(request))
        await log_user_logout(**ctx, ...)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Unpack

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..caller import UNKNOWN_CALLER
from ..context import SecurityContext, create_security_context
from ..logger import SecurityLogger
from ._common import ApiRequestLogging, ApiRequestOptions, caller_of
from ._common import start_logger as _start_logger
from ._common import stop_logger as _stop_logger

__all__ = [
    "SECURITY_CONTEXT_KEY",
    "get_security_context",
    "security_cleanup_ctx",
    "security_logging_middleware",
]

_log = logging.getLogger("sr_sec_async")

#: Where ``get_security_context`` keeps the request's context (``request[KEY]``).
SECURITY_CONTEXT_KEY: Any = (
    web.RequestKey("security_context", dict)
    if hasattr(web, "RequestKey")
    else "sr_sec_async.security_context"
)


def security_cleanup_ctx(
    *,
    logger: SecurityLogger | None = None,
    shutdown_timeout: float | None = 10.0,
    **settings: Any,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """For ``app.cleanup_ctx.append(...)``: sets up the default logger at
    startup (``init_security_logging(**settings)``; with no settings, the
    existing default logger or one from the environment) or uses ``logger``,
    and at cleanup waits for the middleware's pending events, flushes and
    closes, within ``shutdown_timeout`` seconds."""

    async def security_logging(app: web.Application) -> AsyncIterator[None]:
        target = _start_logger(logger, settings)
        await target.start()
        try:
            yield
        finally:
            await _stop_logger(logger, shutdown_timeout)

    return security_logging


def get_security_context(
    request: web.Request,
    session: Any = None,
    *,
    logger: SecurityLogger | None = None,
    trusted_proxy_headers: Sequence[str] | None = None,
) -> SecurityContext:
    """``create_security_context(request, session)``, kept at
    ``request[SECURITY_CONTEXT_KEY]``: the middleware's event then names the
    same actor and session. Called again without a session, it returns the
    kept context."""
    if session is None and SECURITY_CONTEXT_KEY in request:
        kept: SecurityContext = request[SECURITY_CONTEXT_KEY]
        return kept
    context = create_security_context(
        request, session, logger=logger, trusted_proxy_headers=trusted_proxy_headers
    )
    request[SECURITY_CONTEXT_KEY] = context
    return context


def security_logging_middleware(**options: Unpack[ApiRequestOptions]) -> Middleware:
    """One ``api_request_processed`` event per request, logged in a
    background task so the response never waits. ``endpoint_path`` is the
    route's template (``/users/{user_id}``); options as in
    ``ApiRequestLogging``. A handler's ``HTTPException`` is logged with its
    status, any other exception as a 500; a cancelled request is not logged."""
    policy = ApiRequestLogging(**options)

    def log(request: web.Request, status_code: int) -> None:
        try:
            record(request, status_code)
        except Exception:  # a logging bug must never turn into a failed request
            _log.exception("security logging middleware failed")

    def record(request: web.Request, status_code: int) -> None:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        if policy.excluded(template, request.path):
            return
        context = request.get(SECURITY_CONTEXT_KEY) or create_security_context(
            request, logger=policy.logger, trusted_proxy_headers=policy.trusted_proxy_headers
        )
        fields = policy.fields(
            context,
            template=template,
            method=request.method,
            status_code=status_code,
            header=request.headers.get,
        )
        if fields is not None:
            caller = caller_of(request.match_info.handler) if resource else UNKNOWN_CALLER
            policy.submit(fields, caller)

    @web.middleware
    async def security_logging_middleware(
        request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            log(request, exc.status)
            raise
        except Exception:
            log(request, 500)
            raise
        log(request, response.status)
        return response

    return security_logging_middleware
