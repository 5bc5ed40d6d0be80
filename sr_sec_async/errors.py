"""The library's exceptions, and where failures are reported.

Nothing here is raised into the application for bad input or an outage: these
objects reach the error handler (``set_security_logging_error_handler``) or
the ``sr_sec_async`` logger instead.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

__all__ = [
    "ConfigurationError",
    "DeliveryError",
    "ErrorHandler",
    "LoggerClosedError",
    "SecurityLoggingError",
    "ValidationError",
    "report_error",
    "set_security_logging_error_handler",
]

log = logging.getLogger("sr_sec_async")


class SecurityLoggingError(Exception):
    """Base of every error the library reports."""


class ValidationError(SecurityLoggingError):
    """An event was rejected before it was accepted for delivery."""


class ConfigurationError(SecurityLoggingError):
    """Settings that cannot work (bad ARN, region mismatch, missing credentials)."""


class LoggerClosedError(SecurityLoggingError):
    """The logger was shut down; it accepts nothing more."""


class DeliveryError(SecurityLoggingError):
    """An accepted event could not be delivered; ``reason`` says why."""

    def __init__(self, message: str, *, reason: str, event_uuid: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.event_uuid = event_uuid


ErrorHandler = Callable[[BaseException, str | None], object]

_handler: ErrorHandler | None = None


def set_security_logging_error_handler(handler: ErrorHandler | None) -> None:
    """Route failures to ``handler(error, event_type)``; ``None`` restores the
    default (the ``sr_sec_async`` logger, which prints to stderr when logging
    is not configured). A handler that raises is logged, never propagated.
    An ``async def`` handler is run as a task in the running loop (held until
    done, its failures logged). Raises ``TypeError`` for a non-callable."""
    global _handler
    if handler is not None and not callable(handler):
        raise TypeError(f"error handler must be callable, got {type(handler).__name__}")
    _handler = handler


_handler_tasks: set[asyncio.Task[object]] = set()


def _run_async_handler(
    outcome: Awaitable[object], error: BaseException, event_type: str | None
) -> None:
    async def run() -> object:
        try:
            return await outcome
        except Exception:
            log.exception("security logging error handler raised")
            return None

    try:
        task = asyncio.get_running_loop().create_task(run())
    except RuntimeError:  # no loop: the report must still be seen
        if inspect.iscoroutine(outcome):
            outcome.close()
        log.error("security logging failed for %s: %s", event_type or "event", error)
        return
    _handler_tasks.add(task)
    task.add_done_callback(_handler_tasks.discard)


def report_error(error: BaseException, event_type: str | None) -> None:
    handler = _handler
    if handler is not None:
        try:
            outcome = handler(error, event_type)
            if inspect.isawaitable(outcome):
                _run_async_handler(outcome, error, event_type)
            return
        except Exception:
            log.exception("security logging error handler raised")
    log.error("security logging failed for %s: %s", event_type or "event", error)
