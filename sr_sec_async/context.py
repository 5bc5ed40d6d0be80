"""Context helpers: the fields of a security event that a request, a session
and the process environment already know.

``create_security_context(request, session)`` returns a plain dict you spread
into any ``log_*`` call (``await log_user_login(**ctx, status=..., ...)``);
functions ignore the helper fields they do not take (``endpoint_path`` in a
login event, say) instead of rejecting them. Extraction is best effort: a field
that cannot be found is left out, and the ``log_*`` call names it as missing.

Request kinds, recognised by shape (no framework is imported here):

* Starlette / FastAPI ``Request`` (and ``WebSocket``): anything with an ASGI
  ``scope`` mapping;
* a raw ASGI ``scope`` dict (``{"type": "http", "headers": [...], ...}``);
* aiohttp ``web.Request``;
* an AWS Lambda event from API Gateway (REST v1 or HTTP v2), a function URL or
  an ALB;
* anything else with ``headers``, ``method`` and ``path`` (or ``url.path``).

Fields:

``user_agent``
    the ``User-Agent`` header.
``source_ip_address``
    the first trusted proxy header that holds a valid IP address, in the order
    ``x-forwarded-for`` (first hop) → ``x-real-ip`` → ``cf-connecting-ip``, then
    the peer address (ASGI ``client``, aiohttp ``remote``, API Gateway
    ``sourceIp``). Which headers count is set by ``trusted_proxy_headers=``
    (or the ``SECURITY_LOGS_TRUSTED_PROXY_HEADERS`` environment variable, a
    comma-separated list; empty trusts none). Trust only headers your own
    proxy sets: a client can send any of them.
``endpoint_path``, ``http_method``
    the request path (no query string) and the method as an ``HttpMethod``
    value (methods outside ``HttpMethod`` are left out).
``actor_identifier``
    the session's ``user.email`` (or a top-level ``email``).
``session_id``
    see ``session_id_of``.
environment fields
    those of the logger in use (init arguments, then the environment-variable
    chains in ``environment.py``), so a spread context never overrides
    ``init_security_logging(...)`` with something else.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, cast

from .environment import ENVIRONMENT_CHAINS, environment_fields
from .fields import HttpMethod

if TYPE_CHECKING:
    from .logger import SecurityLogger

__all__ = [
    "DEFAULT_TRUSTED_PROXY_HEADERS",
    "ContextDiagnosis",
    "ContextSuggestion",
    "SecurityContext",
    "create_security_context",
    "diagnose_security_context",
    "get_missing_context_fields",
    "session_id_of",
    "warn_missing_context_fields",
]

log = logging.getLogger("sr_sec_async")

#: Proxy headers trusted for the client address, highest precedence first.
DEFAULT_TRUSTED_PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "cf-connecting-ip")
TRUSTED_HEADERS_VARIABLE = "SECURITY_LOGS_TRUSTED_PROXY_HEADERS"


class SecurityContext(TypedDict, total=False):
    """What ``create_security_context`` found; absent keys were not found."""

    actor_identifier: str
    session_id: str
    source_ip_address: str
    user_agent: str
    endpoint_path: str
    http_method: HttpMethod
    cloud_env_type: str
    cloud_env_unique_id: str
    cloud_env_name: str
    service_account_id: str
    service_name: str


#: Every field the helper can produce, in the order diagnostics list them.
CONTEXT_FIELDS: tuple[str, ...] = tuple(SecurityContext.__annotations__)

_REQUEST_FIELD_HINTS = {
    "actor_identifier": "pass a session with user.email (or email)",
    "session_id": "pass a session with id, sessionToken, jti / token.jti, or user.email + expires",
    "source_ip_address": "trusted proxy header (x-forwarded-for, x-real-ip, cf-connecting-ip) "
    "or the peer address",
    "user_agent": "the request's User-Agent header",
    "endpoint_path": "the request path",
    "http_method": "the request method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)",
}


# -- sessions ----------------------------------------------------------------------


def _get(obj: Any, *names: str) -> Any:
    """The first present attribute or key of ``obj`` among ``names``."""
    if obj is None:
        return None
    for name in names:
        if isinstance(obj, Mapping):
            value = obj.get(name)
        else:
            try:
                value = getattr(obj, name, None)
            except Exception:  # a property that raises is "not there"
                value = None
        if value is not None:
            return value
    return None


def _text(value: Any) -> str | None:
    """Non-blank text from a str, an int (not a bool) or a datetime."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return None


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _email(session: Any) -> str | None:
    return _text(_get(_get(session, "user"), "email")) or _text(_get(session, "email"))


def session_id_of(session: Any) -> str | None:
    """A stable session id for ``session`` (a dict or any object), or ``None``.

    First match wins:

    1. ``id``: used as is (it must be an identifier, not a secret);
    2. ``sessionToken`` / ``session_token``: ``"sess_"`` + the first 16 hex
       digits of its SHA-256;
    3. ``jti``, or ``token.jti`` (a decoded JWT's id): ``"jwt_"`` + 16 hex;
    4. ``user.email`` (or ``email``) with ``expires``: ``"sess_"`` + 16 hex of
       the SHA-256 of ``"email:expires"``.

    Tokens are only ever reported hashed, never as given.
    """
    if session is None:
        return None
    sid = _text(_get(session, "id"))
    if sid:
        return sid
    token = _text(_get(session, "sessionToken", "session_token"))
    if token:
        return "sess_" + _digest(token)
    jti = _text(_get(session, "jti")) or _text(_get(_get(session, "token"), "jti"))
    if jti:
        return "jwt_" + _digest(jti)
    email, expires = _email(session), _text(_get(session, "expires"))
    if email and expires:
        return "sess_" + _digest(f"{email}:{expires}")
    return None


# -- requests ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RequestView:
    header: Callable[[str], str | None]
    method: str | None
    path: str | None
    peer: str | None


def _asgi_view(scope: Mapping[str, Any]) -> _RequestView:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").lower()
        if name not in headers:  # the first occurrence, as Starlette does
            headers[name] = raw_value.decode("latin-1")
    client = scope.get("client")
    method = scope.get("method") or ("GET" if scope.get("type") == "websocket" else None)
    return _RequestView(headers.get, method, scope.get("path"), client[0] if client else None)


def _lambda_view(event: Mapping[str, Any]) -> _RequestView:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    for k, values in (event.get("multiValueHeaders") or {}).items():
        if str(k).lower() not in headers and values:
            headers[str(k).lower()] = str(values[0])
    ctx = event.get("requestContext") or {}
    http = ctx.get("http") or {}
    identity = ctx.get("identity") or {}
    method = event.get("httpMethod") or http.get("method")
    path = event.get("rawPath") or http.get("path") or event.get("path")
    peer = http.get("sourceIp") or identity.get("sourceIp")
    return _RequestView(headers.get, method, path, peer)


def _object_view(request: Any) -> _RequestView:
    """aiohttp ``web.Request`` or any object with headers/method/path."""
    headers = getattr(request, "headers", None) or {}
    if isinstance(headers, Mapping) and not hasattr(headers, "getall"):
        lowered = {str(k).lower(): v for k, v in headers.items()}
        get: Callable[[str], Any] = lowered.get
    else:
        get = headers.get  # a case-insensitive multidict
    path = getattr(request, "path", None)
    if not isinstance(path, str):
        path = getattr(getattr(request, "url", None), "path", None)
    peer = getattr(request, "remote", None) or _get(getattr(request, "client", None), "host")
    return _RequestView(
        lambda name: None if (v := get(name)) is None else str(v),
        getattr(request, "method", None),
        path,
        peer if isinstance(peer, str) else None,
    )


def _view(request: Any) -> _RequestView:
    if isinstance(request, _RequestView):  # already read (the middleware reuses one)
        return request
    scope = getattr(request, "scope", None)
    if isinstance(scope, Mapping) and scope.get("type") in ("http", "websocket"):
        return _asgi_view(scope)  # Starlette / FastAPI
    if isinstance(request, Mapping) and not hasattr(request, "headers"):
        if request.get("type") in ("http", "websocket"):
            return _asgi_view(request)
        return _lambda_view(request)
    return _object_view(request)  # aiohttp (a Mapping too) and the rest


def _ip(value: str | None) -> str | None:
    """A valid IP address from a header value or peer (port and brackets
    removed), in canonical form; ``inet_pton`` is ~20x faster than ``ipaddress``."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("["):  # "[2001:db8::1]:443"
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.partition(":")[0]
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, value))
        except (OSError, ValueError):
            continue
    return None


def trusted_proxy_headers_from_environment() -> tuple[str, ...]:
    raw = os.environ.get(TRUSTED_HEADERS_VARIABLE)
    if raw is None:
        return DEFAULT_TRUSTED_PROXY_HEADERS
    return tuple(h.strip().lower() for h in raw.split(",") if h.strip())


def client_ip(view: _RequestView, trusted: Iterable[str]) -> str | None:
    for name in trusted:
        value = view.header(name.lower())
        if value:
            found = _ip(value.split(",", 1)[0])  # the first hop: the client
            if found:
                return found
    return _ip(view.peer)


# -- the helpers -------------------------------------------------------------------


def _environment(logger: SecurityLogger | None) -> Mapping[str, str]:
    if logger is None:
        from . import api

        logger = api._default
    if logger is not None:
        return logger.settings.environment
    return environment_fields(os.environ)


def create_security_context(
    request: Any = None,
    session: Any = None,
    *,
    logger: SecurityLogger | None = None,
    trusted_proxy_headers: Sequence[str] | None = None,
    include_environment: bool = True,
) -> SecurityContext:
    """The event fields ``request`` and ``session`` (both optional) provide,
    plus the environment fields of ``logger`` (default: the default logger,
    else the process environment). Never raises for an unusual request or
    session: what cannot be read is left out."""
    found: dict[str, Any] = {}
    if include_environment:
        found.update(_environment(logger))
    if request is not None:
        try:
            view = _view(request)
        except Exception:  # best effort: a strange request yields fewer fields
            log.debug("cannot read request of type %s", type(request).__name__, exc_info=True)
        else:
            trusted = (
                trusted_proxy_headers_from_environment()
                if trusted_proxy_headers is None
                else trusted_proxy_headers
            )
            user_agent = view.header("user-agent")
            if user_agent and user_agent.strip():
                found["user_agent"] = user_agent
            ip = client_ip(view, trusted)
            if ip:
                found["source_ip_address"] = ip
            if view.path:
                found["endpoint_path"] = view.path
            method = http_method_of(view.method)
            if method is not None:
                found["http_method"] = method
    if session is not None:
        email = _email(session)
        if email:
            found["actor_identifier"] = email
        sid = session_id_of(session)
        if sid:
            found["session_id"] = sid
    return cast(SecurityContext, {k: found[k] for k in CONTEXT_FIELDS if k in found})


_METHODS = {m.value.rpartition(".")[2]: m for m in HttpMethod}


def http_method_of(method: Any) -> HttpMethod | None:
    """``HttpMethod`` for a method name in any case; ``None`` for others (TRACE…)."""
    return _METHODS.get(method.upper()) if isinstance(method, str) else None


def get_missing_context_fields(context: Mapping[str, Any]) -> list[str]:
    """The helper fields absent (or blank) in ``context``, in a stable order."""
    return [f for f in CONTEXT_FIELDS if not context.get(f)]


@dataclass(frozen=True, slots=True)
class ContextSuggestion:
    """How to provide one missing field: ``env_var`` is the environment
    variable to set, or ``None`` for a field that comes from the request or
    session."""

    field: str
    env_var: str | None
    description: str


@dataclass(frozen=True, slots=True)
class ContextDiagnosis:
    missing: tuple[str, ...]
    suggestions: tuple[ContextSuggestion, ...]

    @property
    def has_missing(self) -> bool:
        return bool(self.missing)


def diagnose_security_context(context: Mapping[str, Any]) -> ContextDiagnosis:
    """Which fields are missing and, for each, what to set or pass."""
    missing = get_missing_context_fields(context)
    suggestions = []
    for name in missing:
        if name in ENVIRONMENT_CHAINS:
            _read, variables, description = ENVIRONMENT_CHAINS[name]
            suggestions.append(ContextSuggestion(name, variables, description))
        else:
            suggestions.append(ContextSuggestion(name, None, _REQUEST_FIELD_HINTS[name]))
    return ContextDiagnosis(tuple(missing), tuple(suggestions))


def warn_missing_context_fields(context: Mapping[str, Any]) -> list[str]:
    """Log one warning (``sr_sec_async`` logger) naming each missing field and
    how to provide it; returns the missing fields. Meant for development."""
    diagnosis = diagnose_security_context(context)
    if diagnosis.has_missing:
        hints = "; ".join(
            f"{s.field}: set {s.env_var}" if s.env_var else f"{s.field}: {s.description}"
            for s in diagnosis.suggestions
        )
        log.warning("security context is missing %s (%s)", ", ".join(diagnosis.missing), hints)
    return list(diagnosis.missing)
