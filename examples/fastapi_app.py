"""A small FastAPI app instrumented with sr_sec_async: login, logout, MFA,
role change, record export and API keys, plus one ``api_request_processed``
event per request from the middleware.

Run it (test mode prints each event as a JSON line)::

    SECURITY_LOGS_TEST_MODE=true SERVICE_NAME=example CLOUD_ENV_TYPE=dev \\
    CLOUD_ENV_UNIQUE_ID=123456789012 CLOUD_ENV_NAME=dev SERVICE_ACCOUNT_ID=local \\
    uvicorn examples.fastapi_app:app
"""

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

from .auth import MFA_CODE, Directory, User

ROLES = {"admin": sec.UserRole.ADMIN, "standard": sec.UserRole.STANDARD_USER}
ACTOR = sec.ActorType.HUMAN_INTERNAL


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
        SecurityLoggingMiddleware,
        actor_type=ACTOR,
        sensitivity={
            "/login": sec.EndpointSensitivity.PUBLIC,
            "/admin/*": sec.EndpointSensitivity.RESTRICTED,
            "/customers/*": sec.EndpointSensitivity.CONFIDENTIAL,
        },
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
            ctx = get_security_context(request)  # no session yet
            await sec.log_user_login(
                **{"user_agent": "unknown", **ctx},
                actor_identifier=body.email,
                actor_type=ACTOR,
                session_id="none",
                status=sec.Status.FAILURE,
                user_role=sec.UserRole.UNKNOWN,
                auth_protocol=sec.AuthProtocol.FORM_BASED,
                detail=sec.Detail.INVALID_CREDENTIALS,
            )
            raise HTTPException(401, "invalid credentials")
        token, session = directory.issue_token(user)
        ctx = get_security_context(request, session)  # the new session's id and actor
        await sec.log_user_login(
            **{"user_agent": "unknown", **ctx},
            actor_type=ACTOR,
            status=sec.Status.SUCCESS,
            user_role=ROLES[user.role],
            auth_protocol=sec.AuthProtocol.FORM_BASED,
            detail=sec.Detail.USER_INITIATED,
        )
        return {"access_token": token}

    @app.post("/logout")
    async def logout(ctx: Context, session: Session) -> dict[str, str]:
        user = signed_in(session)
        assert session is not None
        directory.revoked.add(session["token"]["jti"])
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
        return {"status": "signed out"}

    @app.post("/mfa/verify")
    async def verify_mfa(body: MfaCode, ctx: Context, session: Session) -> dict[str, bool]:
        user = signed_in(session)
        ok = body.code == MFA_CODE
        await sec.log_mfa_challenge(
            **{"user_agent": "unknown", **ctx},
            actor_type=ACTOR,
            status=sec.Status.SUCCESS if ok else sec.Status.FAILURE,
            mfa_type=sec.MfaType.TOTP,
            user_role=ROLES[user.role],
            detail=sec.Detail.USER_INITIATED if ok else sec.Detail.MFA_INVALID_CODE,
        )
        if not ok:
            raise HTTPException(401, "wrong code")
        return {"verified": True}

    @app.post("/admin/users/{email}/role")
    async def change_role(
        email: str, body: RoleChange, ctx: Context, session: Session
    ) -> dict[str, str]:
        user = signed_in(session)
        target = directory.users.get(email)
        if target is None or body.role not in ROLES:
            raise HTTPException(404, "no such user or role")
        allowed = user.role == "admin"
        await sec.log_permission_role_change(
            **ctx,
            actor_type=ACTOR,
            event_type=sec.EventType.ROLE_ASSIGN,
            status=sec.Status.SUCCESS if allowed else sec.Status.FAILURE,
            target_user_identifier=email,
            object_changed="role",
            previous_value=target.role,
            new_value=body.role,
            detail=sec.Detail.ADMIN_INITIATED if allowed else sec.Detail.UNAUTHORIZED_ACCESS,
        )
        if not allowed:
            raise HTTPException(403, "admins only")
        target.role = body.role
        return {"email": email, "role": body.role}

    @app.get("/customers/export")
    async def export_customers(ids: str, ctx: Context, session: Session) -> dict[str, Any]:
        signed_in(session)
        id_list = [i for i in ids.split(",") if i]
        await sec.log_record_access(
            **ctx,
            actor_type=ACTOR,
            status=sec.Status.SUCCESS,
            id_list=id_list,
            data_sensitivity_level=sec.DataSensitivityLevel.CONFIDENTIAL,
            detail=sec.Detail.EXPORT_REPORT,
            fields_accessed=["name", "email"],
        )
        return {"exported": len(id_list)}

    @app.post("/api-keys")
    async def create_api_key(ctx: Context, session: Session) -> dict[str, str]:
        user = signed_in(session)
        key_id, secret = directory.new_api_key(user.email)
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
        return {"key_id": key_id, "secret": secret}

    @app.delete("/api-keys/{key_id}")
    async def revoke_api_key(key_id: str, ctx: Context, session: Session) -> dict[str, str]:
        signed_in(session)
        found = directory.api_keys.pop(key_id, None) is not None
        await sec.log_api_key_lifecycle(
            **ctx,
            actor_type=ACTOR,
            status=sec.Status.SUCCESS if found else sec.Status.FAILURE,
            target_object=key_id,
            key_status=sec.Status.SUCCESS if found else sec.Status.FAILURE,
            detail=sec.Detail.API_KEY_REVOKED,
        )
        if not found:
            raise HTTPException(404, "no such key")
        return {"revoked": key_id}

    return app


app = create_app()
