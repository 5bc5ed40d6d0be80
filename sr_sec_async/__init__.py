"""sr_sec_async: structured security events from asyncio apps to AWS SNS.

``init_security_logging(...)`` once, then ``await log_user_login(...)`` (or any
of the thirteen ``log_*`` functions) from async code. Events are validated,
encoded as compact JSON and delivered by a background publisher, with failover
to a second region.
"""

from .api import (
    fire_and_forget,
    flush_security_logging,
    get_failover_metrics,
    get_security_logger,
    init_security_logging,
    log_api_key_lifecycle,
    log_api_request,
    log_auth_mechanism_modification,
    log_impersonation_event,
    log_mfa_challenge,
    log_mfa_status_change,
    log_password_change_reset,
    log_permission_role_change,
    log_record_access,
    log_user_invite_event,
    log_user_login,
    log_user_logout,
    log_user_status_change,
    reset_failover_metrics,
    shutdown_security_logging,
)
from .errors import (
    ConfigurationError,
    DeliveryError,
    LoggerClosedError,
    SecurityLoggingError,
    ValidationError,
    set_security_logging_error_handler,
)
from .fields import (
    ActorType,
    AuthProtocol,
    Category,
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
from .logger import SecurityLogger
from .results import Delivery, DeliverySummary, LogResult, Receipt
from .supervisor import FailoverMetrics

__version__ = "0.1.0"

__all__ = [
    "ActorType",
    "AuthProtocol",
    "Category",
    "CloudEnvType",
    "ConfigurationError",
    "DataSensitivityLevel",
    "Delivery",
    "DeliveryError",
    "DeliverySummary",
    "Detail",
    "EndpointSensitivity",
    "EventType",
    "FailoverMetrics",
    "HttpMethod",
    "InviteStatus",
    "LogCategory",
    "LogResult",
    "LoggerClosedError",
    "MfaType",
    "Receipt",
    "SecurityLogger",
    "SecurityLoggingError",
    "Status",
    "UserRole",
    "ValidationError",
    "__version__",
    "fire_and_forget",
    "flush_security_logging",
    "get_failover_metrics",
    "get_security_logger",
    "init_security_logging",
    "log_api_key_lifecycle",
    "log_api_request",
    "log_auth_mechanism_modification",
    "log_impersonation_event",
    "log_mfa_challenge",
    "log_mfa_status_change",
    "log_password_change_reset",
    "log_permission_role_change",
    "log_record_access",
    "log_user_invite_event",
    "log_user_login",
    "log_user_logout",
    "log_user_status_change",
    "reset_failover_metrics",
    "set_security_logging_error_handler",
    "shutdown_security_logging",
]
