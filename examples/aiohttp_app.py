"""A small aiohttp app instrumented with sr_sec_async: login, logout, MFA,
role change, record export and API keys (events in ``audit.py``), plus one
``api_request_processed`` event per request from the middleware.

Run it (test mode prints each event as a JSON line)::

    SECURITY_LOGS_TEST_MODE=true SERVICE_NAME=example CLOUD_ENV_TYPE=dev \\
    CLOUD_ENV_UNIQUE_ID=123456789012 CLOUD_ENV_NAME=dev SERVICE_ACCOUNT_ID=local \\
    python -m examples.aiohttp_app
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

import sr_sec_async as sec
from sr_sec_async.integrations.aiohttp import (
    get_security_context,
    security_cleanup_ctx,
    security_logging_middleware,
)

from . import audit
from .auth import MFA_CODE, Directory, User

DIRECTORY: web.AppKey[Directory] = web.AppKey("directory", Directory)


def _signed_in(request: web.Request) -> tuple[User, sec.SecurityContext, dict[str, Any]]:
    """The user, the request's security context and the session, or 401."""
    directory = request.app[DIRECTORY]
    session = directory.session_for(request.headers.get("Authorization"))
    if session is None:
        raise web.HTTPUnauthorized(text="sign in first")
    ctx = get_security_context(request, session)
    return directory.users[session["user"]["email"]], ctx, session


async def login(request: web.Request) -> web.Response:
    body = await request.json()
    directory = request.app[DIRECTORY]
    user = directory.authenticate(body.get("email", ""), body.get("password", ""))
    if user is None:
        await audit.login_failed(get_security_context(request), body.get("email", ""))
        raise web.HTTPUnauthorized(text="invalid credentials")
    token, session = directory.issue_token(user)
    await audit.login_succeeded(get_security_context(request, session), user)
    return web.json_response({"access_token": token})


async def logout(request: web.Request) -> web.Response:
    user, ctx, session = _signed_in(request)
    request.app[DIRECTORY].revoked.add(session["token"]["jti"])
    audit.logged_out(ctx, user)
    return web.json_response({"status": "signed out"})


async def verify_mfa(request: web.Request) -> web.Response:
    user, ctx, _ = _signed_in(request)
    ok = (await request.json()).get("code") == MFA_CODE
    await audit.mfa_checked(ctx, user, ok)
    if not ok:
        raise web.HTTPUnauthorized(text="wrong code")
    return web.json_response({"verified": True})


async def change_role(request: web.Request) -> web.Response:
    user, ctx, _ = _signed_in(request)
    email = request.match_info["email"]
    role = (await request.json()).get("role")
    target = request.app[DIRECTORY].users.get(email)
    if target is None or role not in audit.ROLES:
        raise web.HTTPNotFound(text="no such user or role")
    allowed = user.role == "admin"
    await audit.role_changed(ctx, target, role, allowed=allowed)
    if not allowed:
        raise web.HTTPForbidden(text="admins only")
    target.role = role
    return web.json_response({"email": email, "role": role})


async def export_customers(request: web.Request) -> web.Response:
    _, ctx, _ = _signed_in(request)
    id_list = [i for i in request.query.get("ids", "").split(",") if i]
    await audit.records_exported(ctx, id_list)
    return web.json_response({"exported": len(id_list)})


async def create_api_key(request: web.Request) -> web.Response:
    user, ctx, _ = _signed_in(request)
    key_id, secret = request.app[DIRECTORY].new_api_key(user.email)
    audit.api_key_created(ctx, key_id)
    return web.json_response({"key_id": key_id, "secret": secret})


async def revoke_api_key(request: web.Request) -> web.Response:
    _, ctx, _ = _signed_in(request)
    key_id = request.match_info["key_id"]
    found = request.app[DIRECTORY].api_keys.pop(key_id, None) is not None
    await audit.api_key_revoked(ctx, key_id, found=found)
    if not found:
        raise web.HTTPNotFound(text="no such key")
    return web.json_response({"revoked": key_id})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(**security_settings: Any) -> web.Application:
    """``security_settings`` go to ``init_security_logging`` at startup."""
    app = web.Application(
        middlewares=[
            security_logging_middleware(actor_type=audit.ACTOR, sensitivity=audit.SENSITIVITY)
        ]
    )
    app[DIRECTORY] = Directory()
    app.cleanup_ctx.append(security_cleanup_ctx(**security_settings))
    app.router.add_get("/health", health)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_post("/mfa/verify", verify_mfa)
    app.router.add_post("/admin/users/{email}/role", change_role)
    app.router.add_get("/customers/export", export_customers)
    app.router.add_post("/api-keys", create_api_key)
    app.router.add_delete("/api-keys/{key_id}", revoke_api_key)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
