"""What the framework integrations share: starting and stopping the logger
with the app, which requests the middleware logs, the
``api_request_processed`` fields of one request, and logging them without
delaying the response."""

from __future__ import annotations

import asyncio
import contextvars
import fnmatch
import inspect
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .. import api
from ..caller import SPAWNER, UNKNOWN_CALLER
from ..context import SecurityContext, http_method_of
from ..fields import ActorType, AuthProtocol, Detail, EndpointSensitivity, EventType, Status
from ..logger import SecurityLogger

__all__ = [
    "DEFAULT_EXCLUDED_PATHS",
    "ApiRequestLogging",
    "ApiRequestOptions",
    "ContextHolder",
    "caller_of",
    "detect_auth_protocol",
    "request_outcome",
    "start_logger",
    "stop_logger",
]

log = logging.getLogger("sr_sec_async")

#: Health and readiness probes: not worth an event per poll.
DEFAULT_EXCLUDED_PATHS: tuple[str, ...] = ("/health", "/healthz", "/livez", "/readyz", "/ping")

Header = Callable[[str], str | None]


def start_logger(logger: SecurityLogger | None, settings: Mapping[str, Any]) -> SecurityLogger:
    """The logger an app's lifespan runs: ``logger`` when given; otherwise the
    default one, (re)created by ``init_security_logging(**settings)`` when
    settings are given or there is no open default logger."""
    if logger is not None:
        return logger
    current = api._default
    if settings or current is None or current._closed:
        return api.init_security_logging(**settings)
    return current


async def stop_logger(logger: SecurityLogger | None, timeout: float | None) -> None:
    """Let the middleware's pending events be accepted, then flush and close."""
    if logger is None:
        summary = await api.shutdown_security_logging(timeout)
    else:
        await api._wait_background(timeout)
        summary = await logger.shutdown(timeout)
    if summary.pending or summary.failed:
        log.warning(
            "security logging shut down with %d failed and %d undelivered event(s)",
            summary.failed,
            summary.pending,
        )


class ContextHolder:
    """Carries the context an endpoint built (with its session) out to the
    middleware, which runs outside the endpoint."""

    __slots__ = ("context",)

    def __init__(self) -> None:
        self.context: SecurityContext | None = None


def detect_auth_protocol(header: Header) -> AuthProtocol:
    """The protocol the request authenticated with, from its headers:
    ``Authorization: Bearer <JWT>`` → OAuth2 JWT, another bearer token → M2M
    token, ``Basic`` → basic auth, ``X-API-Key`` → API key, a cookie →
    session cookie, else none."""
    authorization = (header("authorization") or "").strip()
    scheme, _, credentials = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        jwt = credentials.strip().count(".") == 2
        return AuthProtocol.OAUTH2_JWT if jwt else AuthProtocol.M2M_TOKEN
    if scheme == "basic":
        return AuthProtocol.BASIC_AUTH
    if header("x-api-key"):
        return AuthProtocol.API_KEY
    if header("cookie"):
        return AuthProtocol.SESSION_COOKIE
    return AuthProtocol.NONE


def request_outcome(status_code: int) -> tuple[Status, Status, Detail]:
    """``(status, authorization_status, detail)`` for an HTTP status code:
    below 400 succeeded; 401/403 failed authorization; 429 rate limited; other
    4xx invalid requests; 503 unavailable; other 5xx internal errors."""
    if status_code < 400:
        return Status.SUCCESS, Status.SUCCESS, Detail.NOT_APPLICABLE
    if status_code in (401, 403):
        return Status.FAILURE, Status.FAILURE, Detail.UNAUTHORIZED_ACCESS
    if status_code == 429:
        return Status.FAILURE, Status.SUCCESS, Detail.RATE_LIMIT_EXCEEDED
    if status_code < 500:
        return Status.FAILURE, Status.SUCCESS, Detail.INVALID_REQUEST
    if status_code == 503:
        return Status.FAILURE, Status.SUCCESS, Detail.SERVICE_UNAVAILABLE
    return Status.FAILURE, Status.SUCCESS, Detail.INTERNAL_ERROR


def caller_of(endpoint: Any) -> tuple[str, str]:
    """``(function, file basename)`` of the application's endpoint, recorded as
    the event's caller; unknown when no route matched."""
    target = inspect.unwrap(endpoint) if endpoint is not None else None
    function = getattr(target, "__func__", target)  # a bound method's function
    code = getattr(function, "__code__", None)
    if code is None and target is not None:  # a callable object: its __call__
        call = type(target).__dict__.get("__call__")
        code = getattr(call, "__code__", None)
    if code is None:
        return UNKNOWN_CALLER
    return getattr(target, "__name__", code.co_name), os.path.basename(code.co_filename)


class ApiRequestOptions(TypedDict, total=False):
    """The middleware's keyword options (both frameworks); see ``ApiRequestLogging``."""

    exclude: Sequence[str]
    sensitivity: Mapping[str, EndpointSensitivity | str]
    default_sensitivity: EndpointSensitivity | str
    actor_type: ActorType | str
    anonymous_actor_type: ActorType | str
    auth_protocol: AuthProtocol | str | None
    logger: SecurityLogger | None
    trusted_proxy_headers: Sequence[str] | None


@dataclass
class ApiRequestLogging:
    """The middleware's policy: one ``api_request_processed`` event per request.

    * ``exclude``: ``fnmatch`` patterns matched against the route template and
      the raw path (default: health checks);
    * ``sensitivity``: route template (or pattern) → ``EndpointSensitivity``;
      others get ``default_sensitivity``;
    * ``auth_protocol``: a fixed value, or ``None`` to detect it from the
      request's headers (``detect_auth_protocol``);
    * ``actor_type`` for requests whose context names a user, and
      ``anonymous_actor_type`` for the others, which are logged with
      ``actor_identifier`` and ``session_id`` "anonymous";
    * ``logger``: the logger to use (default: the module-level default one);
    * ``trusted_proxy_headers``: as in ``create_security_context``.
    """

    exclude: Sequence[str] = DEFAULT_EXCLUDED_PATHS
    sensitivity: Mapping[str, EndpointSensitivity | str] = field(default_factory=dict)
    default_sensitivity: EndpointSensitivity | str = EndpointSensitivity.NON_PUBLIC
    actor_type: ActorType | str = ActorType.HUMAN_CUSTOMER
    anonymous_actor_type: ActorType | str = ActorType.HUMAN_EXTERNAL
    auth_protocol: AuthProtocol | str | None = None
    logger: SecurityLogger | None = None
    trusted_proxy_headers: Sequence[str] | None = None

    def __post_init__(self) -> None:
        self.exclude = tuple(self.exclude)  # a caller's later changes do not leak in
        self.sensitivity = dict(self.sensitivity)
        # fnmatch patterns compiled once: this runs on every request.
        joined = "|".join(fnmatch.translate(p) for p in self.exclude)
        self._excluded = re.compile(joined).match if joined else None
        self._sensitivity_patterns = [
            (re.compile(fnmatch.translate(p)).match, v) for p, v in self.sensitivity.items()
        ]

    def excluded(self, template: str, path: str) -> bool:
        match = self._excluded
        return match is not None and (match(template) is not None or match(path) is not None)

    def sensitivity_of(self, template: str) -> EndpointSensitivity | str:
        found = self.sensitivity.get(template)
        if found is not None:
            return found
        for match, value in self._sensitivity_patterns:
            if match(template):
                return value
        return self.default_sensitivity

    def fields(
        self,
        context: Mapping[str, Any],
        *,
        template: str,
        method: str | None,
        status_code: int,
        header: Header,
    ) -> dict[str, Any] | None:
        """The event's fields, or ``None`` for a method outside ``HttpMethod``."""
        http_method = http_method_of(method)
        if http_method is None:
            return None
        values: dict[str, Any] = dict(context)
        known_actor = "actor_identifier" in values
        values.setdefault("actor_identifier", "anonymous")
        values.setdefault("session_id", "anonymous")
        status, authorization, detail = request_outcome(status_code)
        values.update(
            actor_type=self.actor_type if known_actor else self.anonymous_actor_type,
            status=status,
            authorization_status=authorization,
            detail=detail,
            endpoint_path=template,
            http_method=http_method,
            endpoint_sensitivity=self.sensitivity_of(template),
            auth_protocol=self.auth_protocol or detect_auth_protocol(header),
        )
        return values

    def submit(self, fields: Mapping[str, Any], caller: tuple[str, str]) -> None:
        """Log the event in a background task: the response never waits, not
        even for queue back-pressure. The task is held strongly (flush and
        shutdown wait for it) and a rejected event reaches the error handler."""
        logger = self.logger if self.logger is not None else api._logger()
        context = contextvars.copy_context()
        context.run(SPAWNER.set, caller)
        task = asyncio.get_running_loop().create_task(
            api._observe(
                logger._log("log_api_request", fields), EventType.API_REQUEST_PROCESSED.value
            ),
            context=context,
        )
        api._background.add(task)
        task.add_done_callback(api._background.discard)
