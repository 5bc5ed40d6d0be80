"""A small FastAPI app instrumented with sr_sec_async: login, logout, MFA,
role change, record export and API keys (events in ``audit.py``), plus one
``api_request_processed`` event per request from the middleware.

Run it (test mode prints each event as a JSON line)::

    SECURITY_LOGS_TEST_MODE=true SERVICE_NAME=example CLOUD_ENV_TYPE=dev \\
    CLOUD_ENV_UNIQUE_ID=123456789012 CLOUD_ENV_NAME=dev SERVICE_ACCOUNT_ID=local \\
    uvicorn examples.fastapi_app:app
"""

# No ``from __future__ import annotations``: FastAPI must see the real
# annotations of the endpoints defined inside ``create_app``.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from pydantic import BaseModel

import sr_sec_async as sec
from sr_sec_async.integrations.fastapi import (
    SecurityLoggingMiddleware,
    get_security_context,
    security_context_dependency,
    security_lifespan,
)

from . import audit
from .auth import MFA_CODE, Directory, User


class Credentials(BaseModel):
    email: str
    password: str


class MfaCode(BaseModel):
    code: str


class RoleChange(BaseModel):
    role: str


def create_app(**security_settings: Any) -> FastAPI:
    """``security_settings`` go to ``init_security_logging`` at startup."""
    directory = Directory()
    app = FastAPI(lifespan=security_lifespan(**security_settings))
    app.add_middleware(
        SecurityLoggingMiddleware, actor_type=audit.ACTOR, sensitivity=audit.SENSITIVITY
    )

    def current_session(authorization: Annotated[str | None, Header()] = None) -> Any:
        return directory.session_for(authorization)

    Context = Annotated[sec.SecurityContext, Depends(security_context_dependency(current_session))]
    Session = Annotated[dict[str, Any] | None, Depends(current_session)]

    def signed_in(session: dict[str, Any] | None) -> User:
        if session is None:
            raise HTTPException(401, "sign in first")
        return directory.users[session["user"]["email"]]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/login")
    async def login(body: Credentials, request: Request) -> dict[str, str]:
        user = directory.authenticate(body.email, body.password)
        if user is None:
            await audit.login_failed(get_security_context(request), body.email)
            raise HTTPException(401, "invalid credentials")
        token, session = directory.issue_token(user)
        # The new session gives the event (and the middleware's) its id and actor.
        await audit.login_succeeded(get_security_context(request, session), user)
        return {"access_token": token}

    @app.post("/logout")
    async def logout(ctx: Context, session: Session) -> dict[str, str]:
        user = signed_in(session)
        assert session is not None
        directory.revoked.add(session["token"]["jti"])
        audit.logged_out(ctx, user)
        return {"status": "signed out"}

    @app.post("/mfa/verify")
    async def verify_mfa(body: MfaCode, ctx: Context, session: Session) -> dict[str, bool]:
        ok = body.code == MFA_CODE
        await audit.mfa_checked(ctx, signed_in(session), ok)
        if not ok:
            raise HTTPException(401, "wrong code")
        return {"verified": True}

    @app.post("/admin/users/{email}/role")
    async def change_role(
        email: str, body: RoleChange, ctx: Context, session: Session
    ) -> dict[str, str]:
        user = signed_in(session)
        target = directory.users.get(email)
        if target is None or body.role not in audit.ROLES:
            raise HTTPException(404, "no such user or role")
        allowed = user.role == "admin"
        await audit.role_changed(ctx, target, body.role, allowed=allowed)
        if not allowed:
            raise HTTPException(403, "admins only")
        target.role = body.role
        return {"email": email, "role": body.role}

    @app.get("/customers/export")
    async def export_customers(ids: str, ctx: Context, session: Session) -> dict[str, Any]:
        signed_in(session)
        id_list = [i for i in ids.split(",") if i]
        await audit.records_exported(ctx, id_list)
        return {"exported": len(id_list)}

    @app.post("/api-keys")
    async def create_api_key(ctx: Context, session: Session) -> dict[str, str]:
        key_id, secret = directory.new_api_key(signed_in(session).email)
        audit.api_key_created(ctx, key_id)
        return {"key_id": key_id, "secret": secret}

    @app.delete("/api-keys/{key_id}")
    async def revoke_api_key(key_id: str, ctx: Context, session: Session) -> dict[str, str]:
        signed_in(session)
        found = directory.api_keys.pop(key_id, None) is not None
        await audit.api_key_revoked(ctx, key_id, found=found)
        if not found:
            raise HTTPException(404, "no such key")
        return {"revoked": key_id}

    return app


app = create_app()
