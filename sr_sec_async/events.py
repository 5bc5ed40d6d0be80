"""One frozen msgspec ``Struct`` per event family, and the table that ties each
``log_*`` function to its struct, its allowed event types and its fields.

The structs are only built from values that ``validation`` already checked, so
they carry no constraints of their own: their job is to encode straight to the
compact, flat JSON that consumers parse. Optional fields default to ``None`` and
are omitted from the wire (``omit_defaults``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from .fields import (
    ActorType,
    AuthProtocol,
    CloudEnvType,
    DataSensitivityLevel,
    Detail,
    EndpointSensitivity,
    EventType,
    HttpMethod,
    InviteStatus,
    LogCategory,
    MfaType,
    Status,
    UserRole,
)

__all__ = ["CATEGORY_OF", "SPECS", "EventSpec", "SecurityEvent"]


class SecurityEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base fields present in every event, in wire order."""

    timestamp: str
    event_uuid: str
    event_type: str
    log_category: str
    status: str
    actor_identifier: str
    actor_type: str
    session_id: str
    cloud_env_type: str
    cloud_env_unique_id: str
    cloud_env_name: str
    service_account_id: str
    service_name: str
    caller_function: str
    caller_file: str
    source_ip_address: str | None = None
    service_component_name: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    context: dict[str, Any] | None = None


class UserLoginEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    user_agent: str
    user_role: str
    auth_protocol: str
    detail: str
    device_id: str | None = None


class MfaChallengeEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    mfa_type: str
    user_agent: str
    user_role: str
    detail: str
    device_id: str | None = None


class UserLogoutEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    user_agent: str
    user_role: str
    detail: str
    device_id: str | None = None


class PermissionRoleChangeEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    target_user_identifier: str
    object_changed: str
    previous_value: str
    new_value: str
    detail: str | None = None


class UserStatusChangeEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    target_user_identifier: str
    detail: str


class ImpersonationEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    target_user_identifier: str
    detail: str


class UserInviteEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    target_user_email: str
    assigned_role: str
    invite_status: str
    detail: str


class ApiRequestEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    auth_protocol: str
    endpoint_path: str
    http_method: str
    authorization_status: str
    endpoint_sensitivity: str
    detail: str | None = None


class RecordAccessEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    """``record_count`` is the number of ids in this message; a split event's
    parts also carry ``part`` (1-based), ``total_parts`` and ``total_record_count``."""

    id_list: list[str]
    endpoint_path: str
    data_sensitivity_level: str
    detail: str
    record_count: int
    fields_accessed: list[str] | None = None
    part: int | None = None
    total_parts: int | None = None
    total_record_count: int | None = None


class MfaStatusChangeEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    target_object: str
    mfa_status: str
    mfa_id: str
    detail: str


class PasswordChangeResetEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    target_object: str
    change_status: str
    detail: str


class ApiKeyLifecycleEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    target_object: str
    key_status: str
    detail: str


class AuthMechanismModificationEvent(SecurityEvent, frozen=True, kw_only=True, omit_defaults=True):
    target_object: str
    auth_status: str
    detail: str


_AUTHN = (EventType.LOGIN_ATTEMPT, EventType.MFA_CHALLENGE, EventType.USER_LOGOUT)
_AUTHZ = (
    EventType.PERMISSION_CHANGE,
    EventType.ROLE_ASSIGN,
    EventType.ROLE_REVOKE,
    EventType.PERMISSION_GRANT,
    EventType.PERMISSION_REVOKE,
    EventType.GROUP_MEMBERSHIP_ADD,
    EventType.GROUP_MEMBERSHIP_REMOVE,
    EventType.USER_STATUS_CHANGE,
    EventType.IMPERSONATION_EVENT,
    EventType.USER_INVITE_EVENT,
)
_KEY_CONFIG = (
    EventType.MFA_STATUS_CHANGE,
    EventType.PASSWORD_CHANGE_RESET,
    EventType.API_KEY_LIFECYCLE,
    EventType.AUTH_MECHANISM_MODIFICATION,
)

#: ``event_type`` → ``log_category``: the caller never supplies the category.
CATEGORY_OF: dict[str, str] = {
    **{str(t): LogCategory.AUTHN_SESSION.value for t in _AUTHN},
    **{str(t): LogCategory.AUTHZ_ACCESS.value for t in _AUTHZ},
    EventType.API_REQUEST_PROCESSED.value: LogCategory.API_ENDPOINT_ACCESS.value,
    EventType.RECORD_ACCESS.value: LogCategory.CUSTOMER_DATA_ACTIONS.value,
    **{str(t): LogCategory.KEY_CONFIG_CHANGES.value for t in _KEY_CONFIG},
}

TEXT = str
ID_LIST = "id_list"  # a non-empty list of non-empty strings
STR_LIST = "str_list"  # a list of strings (may be empty)
CONTEXT = "context"  # a JSON object of caller extras

#: How each field the caller may pass is checked: ``str`` (non-blank text), an
#: enum class (one of its values), or one of the list/object kinds above.
FIELD_KINDS: dict[str, Any] = {
    # base
    "status": Status,
    "actor_identifier": TEXT,
    "actor_type": ActorType,
    "session_id": TEXT,
    "source_ip_address": TEXT,
    "service_component_name": TEXT,
    "trace_id": TEXT,
    "span_id": TEXT,
    "context": CONTEXT,
    # environment
    "cloud_env_type": CloudEnvType,
    "cloud_env_unique_id": TEXT,
    "cloud_env_name": TEXT,
    "service_account_id": TEXT,
    "service_name": TEXT,
    # event-specific
    "user_agent": TEXT,
    "user_role": UserRole,
    "auth_protocol": AuthProtocol,
    "detail": Detail,
    "device_id": TEXT,
    "mfa_type": MfaType,
    "target_user_identifier": TEXT,
    "object_changed": TEXT,
    "previous_value": TEXT,
    "new_value": TEXT,
    "target_user_email": TEXT,
    "assigned_role": UserRole,
    "invite_status": InviteStatus,
    "endpoint_path": TEXT,
    "http_method": HttpMethod,
    "authorization_status": Status,
    "endpoint_sensitivity": EndpointSensitivity,
    "id_list": ID_LIST,
    "data_sensitivity_level": DataSensitivityLevel,
    "fields_accessed": STR_LIST,
    "target_object": TEXT,
    "mfa_status": Status,
    "mfa_id": TEXT,
    "change_status": Status,
    "key_status": Status,
    "auth_status": Status,
}

ENVIRONMENT_FIELDS = (
    "cloud_env_type",
    "cloud_env_unique_id",
    "cloud_env_name",
    "service_account_id",
    "service_name",
)
BASE_REQUIRED = ("status", "actor_identifier", "actor_type", "session_id")
BASE_OPTIONAL = ("source_ip_address", "service_component_name", "trace_id", "span_id", "context")

#: Fields the library fills in itself; a caller passing one is told so.
GENERATED_FIELDS = frozenset(
    {
        "timestamp",
        "event_uuid",
        "log_category",
        "caller_function",
        "caller_file",
        "record_count",
        "part",
        "total_parts",
        "total_record_count",
    }
)

#: Every top-level name on the wire; ``context`` keys may not reuse them.
RESERVED_FIELDS = frozenset(FIELD_KINDS) | GENERATED_FIELDS | {"event_type"}

#: What ``create_security_context`` may produce. Spread into a function that
#: does not take one of these, it is ignored rather than rejected.
CONTEXT_HELPER_FIELDS = frozenset(
    {
        "actor_identifier",
        "session_id",
        "source_ip_address",
        "user_agent",
        "endpoint_path",
        "http_method",
        *ENVIRONMENT_FIELDS,
    }
)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What one ``log_*`` function accepts and which struct it builds."""

    function: str
    struct: type[SecurityEvent]
    event_types: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """Every caller-supplied field but ``event_type``, required ones first."""
        return (
            *BASE_REQUIRED,
            *ENVIRONMENT_FIELDS,
            *self.required,
            *BASE_OPTIONAL,
            *self.optional,
        )


def _spec(
    function: str,
    struct: type[SecurityEvent],
    event_types: tuple[StrEnum, ...],
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> EventSpec:
    return EventSpec(function, struct, tuple(t.value for t in event_types), required, optional)


SPECS: dict[str, EventSpec] = {
    s.function: s
    for s in (
        _spec(
            "log_user_login",
            UserLoginEvent,
            (EventType.LOGIN_ATTEMPT,),
            ("user_agent", "user_role", "auth_protocol", "detail"),
            ("device_id",),
        ),
        _spec(
            "log_mfa_challenge",
            MfaChallengeEvent,
            (EventType.MFA_CHALLENGE,),
            ("mfa_type", "user_agent", "user_role", "detail"),
            ("device_id",),
        ),
        _spec(
            "log_user_logout",
            UserLogoutEvent,
            (EventType.USER_LOGOUT,),
            ("user_agent", "user_role", "detail"),
            ("device_id",),
        ),
        _spec(
            "log_permission_role_change",
            PermissionRoleChangeEvent,
            (
                EventType.PERMISSION_CHANGE,
                EventType.ROLE_ASSIGN,
                EventType.ROLE_REVOKE,
                EventType.PERMISSION_GRANT,
                EventType.PERMISSION_REVOKE,
                EventType.GROUP_MEMBERSHIP_ADD,
                EventType.GROUP_MEMBERSHIP_REMOVE,
            ),
            ("target_user_identifier", "object_changed", "previous_value", "new_value"),
            ("detail",),
        ),
        _spec(
            "log_user_status_change",
            UserStatusChangeEvent,
            (EventType.USER_STATUS_CHANGE,),
            ("target_user_identifier", "detail"),
        ),
        _spec(
            "log_impersonation_event",
            ImpersonationEvent,
            (EventType.IMPERSONATION_EVENT,),
            ("target_user_identifier", "detail"),
        ),
        _spec(
            "log_user_invite_event",
            UserInviteEvent,
            (EventType.USER_INVITE_EVENT,),
            ("target_user_email", "assigned_role", "invite_status", "detail"),
        ),
        _spec(
            "log_api_request",
            ApiRequestEvent,
            (EventType.API_REQUEST_PROCESSED,),
            (
                "auth_protocol",
                "endpoint_path",
                "http_method",
                "authorization_status",
                "endpoint_sensitivity",
            ),
            ("detail",),
        ),
        _spec(
            "log_record_access",
            RecordAccessEvent,
            (EventType.RECORD_ACCESS,),
            ("id_list", "endpoint_path", "data_sensitivity_level", "detail"),
            ("fields_accessed",),
        ),
        _spec(
            "log_mfa_status_change",
            MfaStatusChangeEvent,
            (EventType.MFA_STATUS_CHANGE,),
            ("target_object", "mfa_status", "mfa_id", "detail"),
        ),
        _spec(
            "log_password_change_reset",
            PasswordChangeResetEvent,
            (EventType.PASSWORD_CHANGE_RESET,),
            ("target_object", "change_status", "detail"),
        ),
        _spec(
            "log_api_key_lifecycle",
            ApiKeyLifecycleEvent,
            (EventType.API_KEY_LIFECYCLE,),
            ("target_object", "key_status", "detail"),
        ),
        _spec(
            "log_auth_mechanism_modification",
            AuthMechanismModificationEvent,
            (EventType.AUTH_MECHANISM_MODIFICATION,),
            ("target_object", "auth_status", "detail"),
        ),
    )
}
