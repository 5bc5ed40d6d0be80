"""A small aiohttp app instrumented with sr_sec_async: login, logout, MFA,
role change, record export and API keys, plus one ``api_request_processed``
event per request from the middleware.

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

from .auth import MFA_CODE, Directory, User

ROLES = {"admin": sec.UserRole.ADMIN, "standard": sec.UserRole.STANDARD_USER}
ACTOR = sec.ActorType.HUMAN_INTERNAL
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
        ctx = get_security_context(request)  # no session yet
        await sec.log_user_login(
            **{"user_agent": "unknown", **ctx},
            actor_identifier=body.get("email") or "unknown",
            actor_type=ACTOR,
            session_id="none",
            status=sec.Status.FAILURE,
            user_role=sec.UserRole.UNKNOWN,
            auth_protocol=sec.AuthProtocol.FORM_BASED,
            detail=sec.Detail.INVALID_CREDENTIALS,
        )
        raise web.HTTPUnauthorized(text="invalid credentials")
    token, session = directory.issue_token(user)
    ctx = get_security_context(request, session)
    await sec.log_user_login(
        **{"user_agent": "unknown", **ctx},
        actor_type=ACTOR,
        status=sec.Status.SUCCESS,
        user_role=ROLES[user.role],
        auth_protocol=sec.AuthProtocol.FORM_BASED,
        detail=sec.Detail.USER_INITIATED,
    )
    return web.json_response({"access_token": token})


async def logout(request: web.Request) -> web.Response:
    user, ctx, session = _signed_in(request)
    request.app[DIRECTORY].revoked.add(session["token"]["jti"])
    sec.fire_and_forget(
        sec.log_user_logout(
            **{"user_agent": "unknown", **ctx},
            actor_type=ACTOR,
            status=sec.Status.SUCCESS,
            user_role=ROLES[user.role],
            detail=sec.Detail.USER_INITIATED,
        ),
        "user_logout",
    )
    return web.json_response({"status": "signed out"})


async def verify_mfa(request: web.Request) -> web.Response:
    user, ctx, _ = _signed_in(request)
    ok = (await request.json()).get("code") == MFA_CODE
    await sec.log_mfa_challenge(
        **{"user_agent": "unknown", **ctx},
        actor_type=ACTOR,
        status=sec.Status.SUCCESS if ok else sec.Status.FAILURE,
        mfa_type=sec.MfaType.TOTP,
        user_role=ROLES[user.role],
        detail=sec.Detail.USER_INITIATED if ok else sec.Detail.MFA_INVALID_CODE,
    )
    if not ok:
        raise web.HTTPUnauthorized(text="wrong code")
    return web.json_response({"verified": True})


async def change_role(request: web.Request) -> web.Response:
    user, ctx, _ = _signed_in(request)
    email = request.match_info["email"]
    role = (await request.json()).get("role")
    target = request.app[DIRECTORY].users.get(email)
    if target is None or role not in ROLES:
        raise web.HTTPNotFound(text="no such user or role")
    allowed = user.role == "admin"
    await sec.log_permission_role_change(
        **ctx,
        actor_type=ACTOR,
        event_type=sec.EventType.ROLE_ASSIGN,
        status=sec.Status.SUCCESS if allowed else sec.Status.FAILURE,
        target_user_identifier=email,
        object_changed="role",
        previous_value=target.role,
        new_value=role,
        detail=sec.Detail.ADMIN_INITIATED if allowed else sec.Detail.UNAUTHORIZED_ACCESS,
    )
    if not allowed:
        raise web.HTTPForbidden(text="admins only")
    target.role = role
    return web.json_response({"email": email, "role": role})


async def export_customers(request: web.Request) -> web.Response:
    _, ctx, _ = _signed_in(request)
    id_list = [i for i in request.query.get("ids", "").split(",") if i]
    await sec.log_record_access(
        **ctx,
        actor_type=ACTOR,
        status=sec.Status.SUCCESS,
        id_list=id_list,
        data_sensitivity_level=sec.DataSensitivityLevel.CONFIDENTIAL,
        detail=sec.Detail.EXPORT_REPORT,
        fields_accessed=["name", "email"],
    )
    return web.json_response({"exported": len(id_list)})


async def create_api_key(request: web.Request) -> web.Response:
    user, ctx, _ = _signed_in(request)
    key_id, secret = request.app[DIRECTORY].new_api_key(user.email)
    sec.fire_and_forget(
        sec.log_api_key_lifecycle(
            **ctx,
            actor_type=ACTOR,
            status=sec.Status.SUCCESS,
            target_object=key_id,
            key_status=sec.Status.SUCCESS,
            detail=sec.Detail.API_KEY_CREATED,
        ),
        "api_key_lifecycle",
    )
    return web.json_response({"key_id": key_id, "secret": secret})


async def revoke_api_key(request: web.Request) -> web.Response:
    _, ctx, _ = _signed_in(request)
    key_id = request.match_info["key_id"]
    found = request.app[DIRECTORY].api_keys.pop(key_id, None) is not None
    await sec.log_api_key_lifecycle(
        **ctx,
        actor_type=ACTOR,
        status=sec.Status.SUCCESS if found else sec.Status.FAILURE,
        target_object=key_id,
        key_status=sec.Status.SUCCESS if found else sec.Status.FAILURE,
        detail=sec.Detail.API_KEY_REVOKED,
    )
    if not found:
        raise web.HTTPNotFound(text="no such key")
    return web.json_response({"revoked": key_id})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(**security_settings: Any) -> web.Application:
    """``security_settings`` go to ``init_security_logging`` at startup."""
    app = web.Application(
        middlewares=[
            security_logging_middleware(
                actor_type=ACTOR,
                sensitivity={
                    "/login": sec.EndpointSensitivity.PUBLIC,
                    "/admin/*": sec.EndpointSensitivity.RESTRICTED,
                    "/customers/*": sec.EndpointSensitivity.CONFIDENTIAL,
                },
            )
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
