"""Valid keyword arguments for each of the thirteen functions (all fields,
optional ones included), and the environment fields used across the tests."""

from __future__ import annotations

from typing import Any

import sr_sec_async as s

ENV = {
    "cloud_env_type": "dev",
    "cloud_env_unique_id": "123456789012",
    "cloud_env_name": "development",
    "service_account_id": "arn:aws:iam::123456789012:role/app",
    "service_name": "tests",
}

BASE: dict[str, Any] = {
    "actor_identifier": "alice@example.com",
    "actor_type": s.ActorType.HUMAN_INTERNAL,
    "session_id": "sess-1",
    "status": s.Status.SUCCESS,
}

VALID: dict[str, dict[str, Any]] = {
    "log_user_login": {
        "event_type": s.EventType.LOGIN_ATTEMPT,
        "user_agent": "Mozilla/5.0",
        "user_role": s.UserRole.ADMIN,
        "auth_protocol": s.AuthProtocol.OAUTH2_JWT,
        "detail": s.Detail.USER_INITIATED,
        "device_id": "dev-1",
    },
    "log_mfa_challenge": {
        "mfa_type": s.MfaType.TOTP,
        "user_agent": "Mozilla/5.0",
        "user_role": s.UserRole.STANDARD_USER,
        "detail": s.Detail.MFA_INVALID_CODE,
        "device_id": "dev-2",
    },
    "log_user_logout": {
        "user_agent": "Mozilla/5.0",
        "user_role": s.UserRole.SALES_REP,
        "detail": s.Detail.SESSION_TIMEOUT,
    },
    "log_permission_role_change": {
        "event_type": s.EventType.ROLE_ASSIGN,
        "target_user_identifier": "bob@example.com",
        "object_changed": "role",
        "previous_value": "Sales Rep",
        "new_value": "Sales Manager",
        "detail": s.Detail.ADMIN_INITIATED,
    },
    "log_user_status_change": {
        "target_user_identifier": "bob@example.com",
        "detail": s.Detail.USER_DISABLED,
    },
    "log_impersonation_event": {
        "target_user_identifier": "carol@example.com",
        "detail": s.Detail.IMPERSONATION_START,
    },
    "log_user_invite_event": {
        "target_user_email": "dave@example.com",
        "assigned_role": s.UserRole.CUSTOMER_USER,
        "invite_status": s.InviteStatus.SENT,
        "detail": s.Detail.USER_INITIATED,
    },
    "log_api_request": {
        "auth_protocol": s.AuthProtocol.API_KEY,
        "endpoint_path": "/api/v1/health",
        "http_method": s.HttpMethod.GET,
        "authorization_status": s.Status.SUCCESS,
        "endpoint_sensitivity": s.EndpointSensitivity.PUBLIC,
        "detail": s.Detail.NOT_APPLICABLE,
    },
    "log_record_access": {
        "id_list": ["cust_1", "cust_2", "cust_3"],
        "endpoint_path": "/api/customers/export",
        "data_sensitivity_level": s.DataSensitivityLevel.CONFIDENTIAL,
        "detail": s.Detail.EXPORT_REPORT,
        "fields_accessed": ["name", "email"],
    },
    "log_mfa_status_change": {
        "target_object": "alice@example.com",
        "mfa_status": s.Status.SUCCESS,
        "mfa_id": "mfa-device-123",
        "detail": s.Detail.MFA_ENABLED,
    },
    "log_password_change_reset": {
        "target_object": "alice@example.com",
        "change_status": s.Status.SUCCESS,
        "detail": s.Detail.PASSWORD_CHANGE,
    },
    "log_api_key_lifecycle": {
        "target_object": "api-key-prod-2024",
        "key_status": s.Status.SUCCESS,
        "detail": s.Detail.API_KEY_CREATED,
    },
    "log_auth_mechanism_modification": {
        "target_object": "okta-integration",
        "auth_status": s.Status.SUCCESS,
        "detail": s.Detail.SSO_CONFIG_CREATED,
    },
}

#: The single event type each function logs when ``event_type`` is omitted.
EVENT_TYPE = {
    "log_user_login": "login_attempt",
    "log_mfa_challenge": "mfa_challenge",
    "log_user_logout": "user_logout",
    "log_permission_role_change": "role_assign",
    "log_user_status_change": "user_status_change",
    "log_impersonation_event": "impersonation_event",
    "log_user_invite_event": "user_invite_event",
    "log_api_request": "api_request_processed",
    "log_record_access": "record_access",
    "log_mfa_status_change": "mfa_status_change",
    "log_password_change_reset": "password_change_reset",
    "log_api_key_lifecycle": "api_key_lifecycle",
    "log_auth_mechanism_modification": "auth_mechanism_modification",
}

CATEGORY = {
    "login_attempt": "authn_n_session",
    "mfa_challenge": "authn_n_session",
    "user_logout": "authn_n_session",
    "role_assign": "authz_n_access",
    "user_status_change": "authz_n_access",
    "impersonation_event": "authz_n_access",
    "user_invite_event": "authz_n_access",
    "api_request_processed": "api_endpoint_access",
    "record_access": "customer_data_actions",
    "mfa_status_change": "key_config_changes",
    "password_change_reset": "key_config_changes",
    "api_key_lifecycle": "key_config_changes",
    "auth_mechanism_modification": "key_config_changes",
}


def call_kwargs(function: str, **overrides: Any) -> dict[str, Any]:
    return {**BASE, **VALID[function], **overrides}


def expected_wire(function: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """What the message must hold for these kwargs (generated fields aside)."""
    wire = {k: (list(v) if isinstance(v, list) else str(v)) for k, v in kwargs.items()}
    wire.setdefault("event_type", EVENT_TYPE[function])
    wire["log_category"] = CATEGORY[wire["event_type"]]
    if function == "log_record_access":
        wire["record_count"] = len(kwargs["id_list"])
    for k, v in ENV.items():
        wire.setdefault(k, v)
    return wire
