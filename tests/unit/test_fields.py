"""The constants are the schema: each value is restated here from SPEC §3."""

from __future__ import annotations

from enum import StrEnum

import pytest

import sr_sec_async as s

EXPECTED: dict[type[StrEnum], dict[str, str]] = {
    s.Status: {"SUCCESS": "status.general.success", "FAILURE": "status.general.failure"},
    s.ActorType: {
        "HUMAN_INTERNAL": "actor.human.internal",
        "HUMAN_PARTNER": "actor.human.partner",
        "HUMAN_CUSTOMER": "actor.human.customer",
        "HUMAN_EXTERNAL": "actor.human.external",
        "SERVICE_INTERNAL": "actor.service.internal",
        "SERVICE_PARTNER": "actor.service.partner",
        "SERVICE_CUSTOMER": "actor.service.customer",
        "SYSTEM_SELF": "actor.system.self",
    },
    s.LogCategory: {
        "AUTHN_SESSION": "authn_n_session",
        "AUTHZ_ACCESS": "authz_n_access",
        "API_ENDPOINT_ACCESS": "api_endpoint_access",
        "CUSTOMER_DATA_ACTIONS": "customer_data_actions",
        "KEY_CONFIG_CHANGES": "key_config_changes",
    },
    s.EventType: {
        n.upper(): n
        for n in (
            "login_attempt user_logout mfa_challenge permission_change role_assign "
            "role_revoke permission_grant permission_revoke group_membership_add "
            "group_membership_remove user_status_change impersonation_event "
            "user_invite_event api_request_processed record_access mfa_status_change "
            "password_change_reset api_key_lifecycle auth_mechanism_modification"
        ).split()
    },
    s.AuthProtocol: {
        "BASIC_AUTH": "auth.protocol.basic_auth",
        "FORM_BASED": "auth.protocol.form_based",
        "API_KEY": "auth.protocol.api_key",
        "M2M_TOKEN": "auth.protocol.m2m_token",
        "SESSION_COOKIE": "auth.protocol.session_cookie",
        "OAUTH2_JWT": "auth.protocol.oauth2.jwt",
        "OAUTH2_CLIENT_CREDENTIALS": "auth.protocol.oauth2.client_credentials",
        "OAUTH2_AUTHORIZATION_CODE": "auth.protocol.oauth2.authorization_code",
        "OAUTH2_IMPLICIT": "auth.protocol.oauth2.implicit",
        "OAUTH2_PASSWORD_GRANT": "auth.protocol.oauth2.password_grant",
        "SAML": "auth.protocol.saml",
        "OIDC": "auth.protocol.oidc",
        "NONE": "auth.protocol.none",
    },
    s.Detail: {
        **{
            n: "detail.auth." + n.lower()
            for n in (
                "INVALID_CREDENTIALS ACCOUNT_LOCKED IP_RESTRICTED MFA_REQUIRED POLICY_VIOLATION "
                "CAPTCHA_FAILURE TOKEN_EXPIRED TOKEN_INVALID UNAUTHORIZED_ACCESS "
                "RATE_LIMIT_EXCEEDED SSO_CONFIG_CREATED SSO_CONFIG_MODIFIED SSO_CONFIG_DELETED "
                "LOCAL_AUTH_ENABLED LOCAL_AUTH_DISABLED"
            ).split()
        },
        **{
            n: "detail.trigger." + n.lower()
            for n in (
                "USER_INITIATED ADMIN_INITIATED SYSTEM_AUTOMATED SYSTEM_POLICY_VIOLATION "
                "SESSION_TIMEOUT CONCURRENT_SESSION FAILED_ATTEMPTS_THRESHOLD"
            ).split()
        },
        **{
            n: "detail.system." + n.lower()
            for n in ("INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "MAINTENANCE")
        },
        "INVALID_REQUEST": "detail.client.invalid_request",
        "NOT_APPLICABLE": "detail.not_applicable",
        "API_KEY_CREATED": "detail.api_key.created",
        "API_KEY_REVOKED": "detail.api_key.revoked",
        "API_KEY_PERMISSIONS_MODIFIED": "detail.api_key.permissions_modified",
        **{
            n: "detail.action." + n.lower()
            for n in (
                "USER_DISABLED USER_ENABLED USER_DELETED USER_LOCKED USER_UNLOCKED "
                "IMPERSONATION_START IMPERSONATION_STOP IMPERSONATION_END VIEW_LIST "
                "MODIFY_CUSTOMER_DATA EXPORT_REPORT VIEW_RECORD EDIT_RECORD CREATE_RECORD "
                "DELETE_RECORD MFA_DISABLED MFA_ENABLED NEW_MFA_DEVICE PASSWORD_CHANGE "
                "PASSWORD_RESET NEW_SSO_PROVIDER ENABLE_LOCAL_AUTHN DISABLE_SSO"
            ).split()
        },
        "MFA_INVALID_CODE": "detail.mfa.invalid_code",
        "MFA_EXPIRED_CODE": "detail.mfa.expired_code",
        "MFA_DEVICE_NOT_ENROLLED": "detail.mfa.device_not_enrolled",
        "MFA_TOO_MANY_ATTEMPTS": "detail.mfa.too_many_attempts",
    },
    s.MfaType: {
        v.upper(): v
        for v in (
            "sms totp push email okta_verify authenticator_app hardware_token "
            "biometric backup_codes"
        ).split()
    },
    s.HttpMethod: {
        m: f"http.method.{m}" for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    },
    s.CloudEnvType: {"PROD": "prod", "STAGE": "stage", "TEST": "test", "DEV": "dev"},
    s.DataSensitivityLevel: {
        "PUBLIC": "sensitivity.level.public",
        "NON_PUBLIC": "sensitivity.level.non_public",
        "CONFIDENTIAL": "sensitivity.level.confidential",
        "RESTRICTED": "sensitivity.level.restricted",
    },
    s.UserRole: {
        n: "role.classification." + n.lower()
        for n in (
            "ADMIN SALES_REP CUSTOMER_SUPPORT PARTNER_ADMIN CUSTOMER_USER STANDARD_USER "
            "NON_ADMIN_INTERNAL NOT_AVAILABLE UNKNOWN"
        ).split()
    },
    s.InviteStatus: {
        "SENT": "sent",
        "ACCEPTED": "accepted",
        "REVOKED": "revoked",
        "EXPIRED": "expired",
    },
}
EXPECTED[s.EndpointSensitivity] = EXPECTED[s.DataSensitivityLevel]


@pytest.mark.parametrize("enum", list(EXPECTED), ids=lambda e: e.__name__)
def test_every_member_has_its_exact_value(enum: type[StrEnum]) -> None:
    assert {m.name: m.value for m in enum} == EXPECTED[enum]


def test_members_equal_their_strings() -> None:
    assert s.ActorType.HUMAN_INTERNAL == "actor.human.internal"
    assert isinstance(s.Detail.USER_INITIATED, str)


def test_category_alias() -> None:
    assert s.Category is s.LogCategory


def test_detail_count_matches_spec() -> None:
    # 15 auth + 7 trigger + 3 system + 2 general + 3 api_key + 23 action + 4 mfa
    assert len(s.Detail) == 57
