"""The module-level API: a thin layer over one default ``SecurityLogger``."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Awaitable
from typing import Any, Unpack

from . import signatures as sig
from .caller import SPAWNER, find_caller
from .errors import ValidationError, report_error
from .logger import SecurityLogger
from .results import DeliverySummary, LogResult
from .supervisor import FailoverMetrics

__all__ = [
    "fire_and_forget",
    "flush_security_logging",
    "get_failover_metrics",
    "get_security_logger",
    "init_security_logging",
    "reset_failover_metrics",
    "shutdown_security_logging",
]

_default: SecurityLogger | None = None
_retired: list[SecurityLogger] = []
_background: set[asyncio.Task[Any]] = set()
_shutting_down = False  # fire_and_forget refuses new work while set


def init_security_logging(**settings: Any) -> SecurityLogger:
    """Set up (or replace) the default logger. A plain function: it can run at
    import time, outside any event loop. Events the previous default logger
    already accepted are still delivered."""
    global _default
    if _default is not None:
        _retired.append(_default)
    _default = SecurityLogger(**settings)
    return _default


def get_security_logger() -> SecurityLogger:
    """The default logger, created from the environment if ``init`` was not called."""
    global _default
    if _default is None:
        _default = SecurityLogger()
    return _default


def _logger() -> SecurityLogger:
    logger = _default if _default is not None else get_security_logger()
    if _retired:
        _retire_in_background()
    return logger


def _retire_in_background() -> None:
    """Drain replaced loggers in the running loop, keeping a strong reference."""
    while _retired:
        old = _retired.pop()
        _spawn(old.shutdown(), None)


def _spawn(awaitable: Awaitable[Any], event_type: str | None) -> asyncio.Task[Any]:
    task = asyncio.get_running_loop().create_task(_observe(awaitable, event_type))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def _observe(awaitable: Awaitable[Any], event_type: str | None) -> Any:
    try:
        result = await awaitable
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        report_error(exc, event_type)
        return None
    if isinstance(result, LogResult) and result.status == "failure" and result.reason is None:
        report_error(ValidationError(result.message), event_type)  # (refusals: reported)
    return result


def fire_and_forget(
    awaitable: Awaitable[Any], event_type: str | None = None
) -> asyncio.Task[Any] | None:
    """Run ``awaitable`` in the background without blocking the caller.

    The task is held strongly until done. An exception it raises, or a
    ``LogResult`` with status "failure", goes to the error handler — never
    unobserved. The caller recorded in the event is the function that called
    ``fire_and_forget``. Returns the task, or ``None`` (after reporting) when
    no event loop is running or logging is shutting down or shut down.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        if inspect.iscoroutine(awaitable):
            awaitable.close()
        report_error(RuntimeError("fire_and_forget needs a running event loop"), event_type)
        return None
    logger = _default
    if _shutting_down or (logger is not None and logger.closed):
        if inspect.iscoroutine(awaitable):
            awaitable.close()
        if logger is not None:
            logger.refused("shut_down", event_type, "Security logging is shutting down")
        return None
    context = contextvars.copy_context()
    context.run(SPAWNER.set, find_caller(2))
    task = loop.create_task(
        _observe(awaitable, event_type), name="sr_sec_async-fire_and_forget", context=context
    )
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def _wait_background(timeout: float | None) -> None:
    """Wait for this loop's background tasks, including ones they spawn."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    current = asyncio.current_task()
    while mine := [t for t in _background if t.get_loop() is loop and t is not current]:
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            return
        await asyncio.wait(mine, timeout=left)


async def flush_security_logging(timeout: float | None = None) -> DeliverySummary:
    """Wait until everything accepted so far is delivered or failed (or the
    timeout passes); returns ``delivered``, ``failed`` and ``pending`` counts."""
    await _wait_background(timeout)
    return await _logger().flush(timeout)


async def shutdown_security_logging(timeout: float | None = None) -> DeliverySummary:
    """Stop intake, let ``fire_and_forget`` tasks spawned before finish,
    deliver what is queued, then close the SNS clients, all within
    ``timeout`` seconds. ``fire_and_forget`` calls from now on, and later
    ``log_*`` calls, are refused (counted, reported, never sent)."""
    global _shutting_down
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - loop.time())

    _shutting_down = True
    try:
        if _retired:
            _retire_in_background()
        await _wait_background(remaining())
        logger = _default
        if logger is None:
            return DeliverySummary(0, 0, 0)
        summary = await logger.shutdown(remaining())
        await _wait_background(remaining())
        return summary
    finally:
        _shutting_down = False


def get_failover_metrics() -> FailoverMetrics:
    """Per-SNS-message counts: ``primary_success``, ``primary_failure``,
    ``failover_attempts``, ``failover_success``, ``failover_failure``,
    ``total_failures``, and each region's breaker state (``primary_breaker``,
    ``failover_breaker``); see ``FailoverMetrics``."""
    return get_security_logger().metrics()


def reset_failover_metrics() -> None:
    get_security_logger().reset_metrics()


# -- the thirteen event functions ------------------------------------------------


async def log_user_login(**fields: Unpack[sig.UserLoginFields]) -> LogResult:
    """Record a login attempt (``login_attempt``)."""
    return await _logger()._log("log_user_login", fields)


async def log_mfa_challenge(**fields: Unpack[sig.MfaChallengeFields]) -> LogResult:
    """Record an MFA challenge outcome (``mfa_challenge``)."""
    return await _logger()._log("log_mfa_challenge", fields)


async def log_user_logout(**fields: Unpack[sig.UserLogoutFields]) -> LogResult:
    """Record a logout or ended session (``user_logout``)."""
    return await _logger()._log("log_user_logout", fields)


async def log_permission_role_change(**fields: Unpack[sig.PermissionRoleChangeFields]) -> LogResult:
    """Record a role, permission or group-membership change."""
    return await _logger()._log("log_permission_role_change", fields)


async def log_user_status_change(**fields: Unpack[sig.UserStatusChangeFields]) -> LogResult:
    """Record an account enabled, disabled, locked or deleted."""
    return await _logger()._log("log_user_status_change", fields)


async def log_impersonation_event(**fields: Unpack[sig.ImpersonationEventFields]) -> LogResult:
    """Record the start or end of an impersonation."""
    return await _logger()._log("log_impersonation_event", fields)


async def log_user_invite_event(**fields: Unpack[sig.UserInviteEventFields]) -> LogResult:
    """Record a user invitation's lifecycle."""
    return await _logger()._log("log_user_invite_event", fields)


async def log_api_request(**fields: Unpack[sig.ApiRequestFields]) -> LogResult:
    """Record a processed API request that touches no specific records."""
    return await _logger()._log("log_api_request", fields)


async def log_record_access(**fields: Unpack[sig.RecordAccessFields]) -> LogResult:
    """Record access to customer records; large ``id_list`` values are split
    into parts that share the event's ``event_uuid``."""
    return await _logger()._log("log_record_access", fields)


async def log_mfa_status_change(**fields: Unpack[sig.MfaStatusChangeFields]) -> LogResult:
    """Record MFA enabled, disabled or a device added."""
    return await _logger()._log("log_mfa_status_change", fields)


async def log_password_change_reset(**fields: Unpack[sig.PasswordChangeResetFields]) -> LogResult:
    """Record a password change or reset."""
    return await _logger()._log("log_password_change_reset", fields)


async def log_api_key_lifecycle(**fields: Unpack[sig.ApiKeyLifecycleFields]) -> LogResult:
    """Record an API key created, revoked or modified."""
    return await _logger()._log("log_api_key_lifecycle", fields)


async def log_auth_mechanism_modification(
    **fields: Unpack[sig.AuthMechanismModificationFields],
) -> LogResult:
    """Record a change to SSO or another authentication mechanism."""
    return await _logger()._log("log_auth_mechanism_modification", fields)
