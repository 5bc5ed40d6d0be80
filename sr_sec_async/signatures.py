"""Keyword arguments of the thirteen ``log_*`` functions, for type checkers.

Every key is optional to the type checker because environment fields may come
from ``init_security_logging`` and because the functions report missing fields
in their result rather than raising. Enum-typed fields accept the member or
its exact string value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

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
    MfaType,
    Status,
    UserRole,
)

__all__ = [
    "ApiKeyLifecycleFields",
    "ApiRequestFields",
    "AuthMechanismModificationFields",
    "BaseFields",
    "ImpersonationEventFields",
    "MfaChallengeFields",
    "MfaStatusChangeFields",
    "PasswordChangeResetFields",
    "PermissionRoleChangeFields",
    "RecordAccessFields",
    "UserInviteEventFields",
    "UserLoginFields",
    "UserLogoutFields",
    "UserStatusChangeFields",
]


class BaseFields(TypedDict, total=False):
    event_type: EventType | str
    status: Status | str
    actor_identifier: str
    actor_type: ActorType | str
    session_id: str
    source_ip_address: str | None
    service_component_name: str | None
    trace_id: str | None
    span_id: str | None
    context: Mapping[str, Any] | None
    cloud_env_type: CloudEnvType | str | None
    cloud_env_unique_id: str | None
    cloud_env_name: str | None
    service_account_id: str | None
    service_name: str | None
    # Produced by create_security_context; ignored by functions that do not take them.
    user_agent: str | None
    endpoint_path: str | None
    http_method: HttpMethod | str | None


class UserLoginFields(BaseFields, total=False):
    user_role: UserRole | str
    auth_protocol: AuthProtocol | str
    detail: Detail | str
    device_id: str | None


class MfaChallengeFields(BaseFields, total=False):
    mfa_type: MfaType | str
    user_role: UserRole | str
    detail: Detail | str
    device_id: str | None


class UserLogoutFields(BaseFields, total=False):
    user_role: UserRole | str
    detail: Detail | str
    device_id: str | None


class PermissionRoleChangeFields(BaseFields, total=False):
    target_user_identifier: str
    object_changed: str
    previous_value: str
    new_value: str
    detail: Detail | str | None


class UserStatusChangeFields(BaseFields, total=False):
    target_user_identifier: str
    detail: Detail | str


class ImpersonationEventFields(BaseFields, total=False):
    target_user_identifier: str
    detail: Detail | str


class UserInviteEventFields(BaseFields, total=False):
    target_user_email: str
    assigned_role: UserRole | str
    invite_status: InviteStatus | str
    detail: Detail | str


class ApiRequestFields(BaseFields, total=False):
    auth_protocol: AuthProtocol | str
    authorization_status: Status | str
    endpoint_sensitivity: EndpointSensitivity | str
    detail: Detail | str | None


class RecordAccessFields(BaseFields, total=False):
    id_list: Sequence[str]
    data_sensitivity_level: DataSensitivityLevel | str
    detail: Detail | str
    fields_accessed: Sequence[str] | None


class MfaStatusChangeFields(BaseFields, total=False):
    target_object: str
    mfa_status: Status | str
    mfa_id: str
    detail: Detail | str


class PasswordChangeResetFields(BaseFields, total=False):
    target_object: str
    change_status: Status | str
    detail: Detail | str


class ApiKeyLifecycleFields(BaseFields, total=False):
    target_object: str
    key_status: Status | str
    detail: Detail | str


class AuthMechanismModificationFields(BaseFields, total=False):
    target_object: str
    auth_status: Status | str
    detail: Detail | str
