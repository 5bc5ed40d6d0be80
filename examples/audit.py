"""The example apps' security events, one function per action, shared by the
FastAPI and the aiohttp app: each takes the request's security context
(``create_security_context`` / the integrations' helpers) and adds what only
the application knows. Keeping instrumentation in one module like this makes
it easy to review against the reference README's playbook."""

from __future__ import annotations

from typing import Any

import sr_sec_async as sec

from .auth import User

ACTOR = sec.ActorType.HUMAN_INTERNAL
ROLES = {"admin": sec.UserRole.ADMIN, "standard": sec.UserRole.STANDARD_USER}
#: Route template → sensitivity, for the middleware.
SENSITIVITY = {
    "/login": sec.EndpointSensitivity.PUBLIC,
    "/admin/*": sec.EndpointSensitivity.RESTRICTED,
    "/customers/*": sec.EndpointSensitivity.CONFIDENTIAL,
}


def _with_agent(ctx: sec.SecurityContext) -> dict[str, Any]:
    """``user_agent`` is required by the authentication events; a client may omit it."""
    return {"user_agent": "unknown", **ctx}


async def login_failed(ctx: sec.SecurityContext, email: str) -> None:
    await sec.log_user_login(
        **_with_agent(ctx),
        actor_identifier=email or "unknown",
        actor_type=ACTOR,
        session_id="none",  # no session was created
        status=sec.Status.FAILURE,
        user_role=sec.UserRole.UNKNOWN,
        auth_protocol=sec.AuthProtocol.FORM_BASED,
        detail=sec.Detail.INVALID_CREDENTIALS,
    )


async def login_succeeded(ctx: sec.SecurityContext, user: User) -> None:
    await sec.log_user_login(
        **_with_agent(ctx),
        actor_type=ACTOR,
        status=sec.Status.SUCCESS,
        user_role=ROLES[user.role],
        auth_protocol=sec.AuthProtocol.FORM_BASED,
        detail=sec.Detail.USER_INITIATED,
    )


def logged_out(ctx: sec.SecurityContext, user: User) -> None:
    """Not awaited at all: ``fire_and_forget`` reports a failure to the error handler."""
    sec.fire_and_forget(
        sec.log_user_logout(
            **_with_agent(ctx),
            actor_type=ACTOR,
            status=sec.Status.SUCCESS,
            user_role=ROLES[user.role],
            detail=sec.Detail.USER_INITIATED,
        ),
        "user_logout",
    )


async def mfa_checked(ctx: sec.SecurityContext, user: User, ok: bool) -> None:
    await sec.log_mfa_challenge(
        **_with_agent(ctx),
        actor_type=ACTOR,
        status=sec.Status.SUCCESS if ok else sec.Status.FAILURE,
        mfa_type=sec.MfaType.TOTP,
        user_role=ROLES[user.role],
        detail=sec.Detail.USER_INITIATED if ok else sec.Detail.MFA_INVALID_CODE,
    )


async def role_changed(
    ctx: sec.SecurityContext, target: User, new_role: str, *, allowed: bool
) -> None:
    await sec.log_permission_role_change(
        **ctx,
        actor_type=ACTOR,
        event_type=sec.EventType.ROLE_ASSIGN,
        status=sec.Status.SUCCESS if allowed else sec.Status.FAILURE,
        target_user_identifier=target.email,
        object_changed="role",
        previous_value=target.role,
        new_value=new_role,
        detail=sec.Detail.ADMIN_INITIATED if allowed else sec.Detail.UNAUTHORIZED_ACCESS,
    )


async def records_exported(ctx: sec.SecurityContext, id_list: list[str]) -> None:
    await sec.log_record_access(
        **ctx,
        actor_type=ACTOR,
        status=sec.Status.SUCCESS,
        id_list=id_list,
        data_sensitivity_level=sec.DataSensitivityLevel.CONFIDENTIAL,
        detail=sec.Detail.EXPORT_REPORT,
        fields_accessed=["name", "email"],
    )


def api_key_created(ctx: sec.SecurityContext, key_id: str) -> None:
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


async def api_key_revoked(ctx: sec.SecurityContext, key_id: str, *, found: bool) -> None:
    outcome = sec.Status.SUCCESS if found else sec.Status.FAILURE
    await sec.log_api_key_lifecycle(
        **ctx,
        actor_type=ACTOR,
        status=outcome,
        target_object=key_id,
        key_status=outcome,
        detail=sec.Detail.API_KEY_REVOKED,
    )
