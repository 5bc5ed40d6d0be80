"""The schema's vocabulary: every constant of the wire format, as ``StrEnum``.

Members compare equal to their exact wire strings
(``ActorType.HUMAN_INTERNAL == "actor.human.internal"``), so callers may pass
either the member or the string; nothing else is accepted for a field typed by
one of these enums.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ActorType",
    "AuthProtocol",
    "Category",
    "CloudEnvType",
    "DataSensitivityLevel",
    "Detail",
    "EndpointSensitivity",
    "EventType",
    "HttpMethod",
    "InviteStatus",
    "LogCategory",
    "MfaType",
    "Status",
    "UserRole",
]


class Status(StrEnum):
    SUCCESS = "status.general.success"
    FAILURE = "status.general.failure"


class ActorType(StrEnum):
    HUMAN_INTERNAL = "actor.human.internal"
    HUMAN_PARTNER = "actor.human.partner"
    HUMAN_CUSTOMER = "actor.human.customer"
    HUMAN_EXTERNAL = "actor.human.external"
    SERVICE_INTERNAL = "actor.service.internal"
    SERVICE_PARTNER = "actor.service.partner"
    SERVICE_CUSTOMER = "actor.service.customer"
    SYSTEM_SELF = "actor.system.self"


class LogCategory(StrEnum):
    AUTHN_SESSION = "authn_n_session"
    AUTHZ_ACCESS = "authz_n_access"
    API_ENDPOINT_ACCESS = "api_endpoint_access"
    CUSTOMER_DATA_ACTIONS = "customer_data_actions"
    KEY_CONFIG_CHANGES = "key_config_changes"


Category = LogCategory


class EventType(StrEnum):
    LOGIN_ATTEMPT = "login_attempt"
    USER_LOGOUT = "user_logout"
    MFA_CHALLENGE = "mfa_challenge"
    PERMISSION_CHANGE = "permission_change"
    ROLE_ASSIGN = "role_assign"
    ROLE_REVOKE = "role_revoke"
    PERMISSION_GRANT = "permission_grant"
    PERMISSION_REVOKE = "permission_revoke"
    GROUP_MEMBERSHIP_ADD = "group_membership_add"
    GROUP_MEMBERSHIP_REMOVE = "group_membership_remove"
    USER_STATUS_CHANGE = "user_status_change"
    IMPERSONATION_EVENT = "impersonation_event"
    USER_INVITE_EVENT = "user_invite_event"
    API_REQUEST_PROCESSED = "api_request_processed"
    RECORD_ACCESS = "record_access"
    MFA_STATUS_CHANGE = "mfa_status_change"
    PASSWORD_CHANGE_RESET = "password_change_reset"
    API_KEY_LIFECYCLE = "api_key_lifecycle"
    AUTH_MECHANISM_MODIFICATION = "auth_mechanism_modification"


class AuthProtocol(StrEnum):
    BASIC_AUTH = "auth.protocol.basic_auth"
    FORM_BASED = "auth.protocol.form_based"
    API_KEY = "auth.protocol.api_key"
    M2M_TOKEN = "auth.protocol.m2m_token"
    SESSION_COOKIE = "auth.protocol.session_cookie"
    OAUTH2_JWT = "auth.protocol.oauth2.jwt"
    OAUTH2_CLIENT_CREDENTIALS = "auth.protocol.oauth2.client_credentials"
    OAUTH2_AUTHORIZATION_CODE = "auth.protocol.oauth2.authorization_code"
    OAUTH2_IMPLICIT = "auth.protocol.oauth2.implicit"
    OAUTH2_PASSWORD_GRANT = "auth.protocol.oauth2.password_grant"
    SAML = "auth.protocol.saml"
    OIDC = "auth.protocol.oidc"
    NONE = "auth.protocol.none"


class Detail(StrEnum):
    # auth
    INVALID_CREDENTIALS = "detail.auth.invalid_credentials"
    ACCOUNT_LOCKED = "detail.auth.account_locked"
    IP_RESTRICTED = "detail.auth.ip_restricted"
    MFA_REQUIRED = "detail.auth.mfa_required"
    POLICY_VIOLATION = "detail.auth.policy_violation"
    CAPTCHA_FAILURE = "detail.auth.captcha_failure"
    TOKEN_EXPIRED = "detail.auth.token_expired"
    TOKEN_INVALID = "detail.auth.token_invalid"
    UNAUTHORIZED_ACCESS = "detail.auth.unauthorized_access"
    RATE_LIMIT_EXCEEDED = "detail.auth.rate_limit_exceeded"
    SSO_CONFIG_CREATED = "detail.auth.sso_config_created"
    SSO_CONFIG_MODIFIED = "detail.auth.sso_config_modified"
    SSO_CONFIG_DELETED = "detail.auth.sso_config_deleted"
    LOCAL_AUTH_ENABLED = "detail.auth.local_auth_enabled"
    LOCAL_AUTH_DISABLED = "detail.auth.local_auth_disabled"
    # trigger
    USER_INITIATED = "detail.trigger.user_initiated"
    ADMIN_INITIATED = "detail.trigger.admin_initiated"
    SYSTEM_AUTOMATED = "detail.trigger.system_automated"
    SYSTEM_POLICY_VIOLATION = "detail.trigger.system_policy_violation"
    SESSION_TIMEOUT = "detail.trigger.session_timeout"
    CONCURRENT_SESSION = "detail.trigger.concurrent_session"
    FAILED_ATTEMPTS_THRESHOLD = "detail.trigger.failed_attempts_threshold"
    # system
    INTERNAL_ERROR = "detail.system.internal_error"
    SERVICE_UNAVAILABLE = "detail.system.service_unavailable"
    MAINTENANCE = "detail.system.maintenance"
    # client / general
    INVALID_REQUEST = "detail.client.invalid_request"
    NOT_APPLICABLE = "detail.not_applicable"
    # api_key
    API_KEY_CREATED = "detail.api_key.created"
    API_KEY_REVOKED = "detail.api_key.revoked"
    API_KEY_PERMISSIONS_MODIFIED = "detail.api_key.permissions_modified"
    # action
    USER_DISABLED = "detail.action.user_disabled"
    USER_ENABLED = "detail.action.user_enabled"
    USER_DELETED = "detail.action.user_deleted"
    USER_LOCKED = "detail.action.user_locked"
    USER_UNLOCKED = "detail.action.user_unlocked"
    IMPERSONATION_START = "detail.action.impersonation_start"
    IMPERSONATION_STOP = "detail.action.impersonation_stop"
    IMPERSONATION_END = "detail.action.impersonation_end"
    VIEW_LIST = "detail.action.view_list"
    MODIFY_CUSTOMER_DATA = "detail.action.modify_customer_data"
    EXPORT_REPORT = "detail.action.export_report"
    VIEW_RECORD = "detail.action.view_record"
    EDIT_RECORD = "detail.action.edit_record"
    CREATE_RECORD = "detail.action.create_record"
    DELETE_RECORD = "detail.action.delete_record"
    MFA_DISABLED = "detail.action.mfa_disabled"
    MFA_ENABLED = "detail.action.mfa_enabled"
    NEW_MFA_DEVICE = "detail.action.new_mfa_device"
    PASSWORD_CHANGE = "detail.action.password_change"
    PASSWORD_RESET = "detail.action.password_reset"
    NEW_SSO_PROVIDER = "detail.action.new_sso_provider"
    ENABLE_LOCAL_AUTHN = "detail.action.enable_local_authn"
    DISABLE_SSO = "detail.action.disable_sso"
    # mfa
    MFA_INVALID_CODE = "detail.mfa.invalid_code"
    MFA_EXPIRED_CODE = "detail.mfa.expired_code"
    MFA_DEVICE_NOT_ENROLLED = "detail.mfa.device_not_enrolled"
    MFA_TOO_MANY_ATTEMPTS = "detail.mfa.too_many_attempts"


class MfaType(StrEnum):
    SMS = "sms"
    TOTP = "totp"
    PUSH = "push"
    EMAIL = "email"
    OKTA_VERIFY = "okta_verify"
    AUTHENTICATOR_APP = "authenticator_app"
    HARDWARE_TOKEN = "hardware_token"
    BIOMETRIC = "biometric"
    BACKUP_CODES = "backup_codes"


class HttpMethod(StrEnum):
    GET = "http.method.GET"
    POST = "http.method.POST"
    PUT = "http.method.PUT"
    PATCH = "http.method.PATCH"
    DELETE = "http.method.DELETE"
    HEAD = "http.method.HEAD"
    OPTIONS = "http.method.OPTIONS"


class CloudEnvType(StrEnum):
    PROD = "prod"
    STAGE = "stage"
    TEST = "test"
    DEV = "dev"


class DataSensitivityLevel(StrEnum):
    PUBLIC = "sensitivity.level.public"
    NON_PUBLIC = "sensitivity.level.non_public"
    CONFIDENTIAL = "sensitivity.level.confidential"
    RESTRICTED = "sensitivity.level.restricted"


class EndpointSensitivity(StrEnum):
    PUBLIC = "sensitivity.level.public"
    NON_PUBLIC = "sensitivity.level.non_public"
    CONFIDENTIAL = "sensitivity.level.confidential"
    RESTRICTED = "sensitivity.level.restricted"


class UserRole(StrEnum):
    ADMIN = "role.classification.admin"
    SALES_REP = "role.classification.sales_rep"
    CUSTOMER_SUPPORT = "role.classification.customer_support"
    PARTNER_ADMIN = "role.classification.partner_admin"
    CUSTOMER_USER = "role.classification.customer_user"
    STANDARD_USER = "role.classification.standard_user"
    NON_ADMIN_INTERNAL = "role.classification.non_admin_internal"
    NOT_AVAILABLE = "role.classification.not_available"
    UNKNOWN = "role.classification.unknown"


class InviteStatus(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"
