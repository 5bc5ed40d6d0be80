"""``SecurityLogger``: validate → encode → enqueue, and the logger's lifecycle.

Everything on the caller's path is synchronous and bounded: nothing waits for
the network. Delivery happens in the publisher task.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, Unpack

from . import signatures as sig
from .caller import find_caller
from .cloudwatch import CloudWatchFailureMetrics
from .config import Settings, resolve_settings
from .errors import ConfigurationError, DeliveryError, LoggerClosedError, report_error
from .events import CATEGORY_OF, SPECS
from .publisher import Publisher
from .results import DeliverySummary, Envelope, LogResult, Receipt
from .supervisor import FailoverMetrics, Supervisor
from .validation import CompiledSpec, compile_spec, validate
from .wire import EncodeError, encode_event, new_event_uuid, utc_timestamp

__all__ = ["FailureListener", "SecurityLogger"]

log = logging.getLogger("sr_sec_async")

#: Where test-mode loggers write instead of ``sys.stdout`` (set by
#: ``sr_sec_async.testing`` while it captures).
test_mode_sink: Callable[[list[bytes]], None] | None = None

#: ``listener(event_type, reason)``: called, synchronously and in the event
#: loop, for every event that failed delivery, was dropped or was rejected.
FailureListener = Callable[[str, str], None]

_COMPILED: dict[str, CompiledSpec] = {name: compile_spec(spec) for name, spec in SPECS.items()}


class SecurityLogger:
    """A logger with its own settings, queue, publisher and SNS clients.

    Use it with ``async with SecurityLogger(...) as logger:`` for an explicit
    lifecycle, or through the module-level functions, which act on the
    default logger set up by ``init_security_logging``.
    """

    def __init__(
        self,
        *,
        queue_wait_timeout: float = 1.0,
        cloudwatch_metrics: bool = False,
        cloudwatch_region: str | None = None,
        cloudwatch_endpoint_url: str | None = None,
        **settings: Any,
    ) -> None:
        """``settings`` are ``init_security_logging``'s keywords.
        ``cloudwatch_metrics=True`` puts a ``log_failure`` metric in CloudWatch
        for every failed, dropped or rejected event (see ``cloudwatch.py``);
        ``cloudwatch_region`` (default: the primary topic's region) and
        ``cloudwatch_endpoint_url`` say where."""
        self._settings: Settings = resolve_settings(**settings)
        self._defaults: Mapping[str, str] = self._settings.environment
        self._supervisor = Supervisor(self._settings)
        self._queue_wait_timeout = queue_wait_timeout
        self._publisher: Publisher | None = None
        if not self._settings.test_mode:
            self._publisher = Publisher(self._settings, self._supervisor, self._event_finished)
        self._seq = 0
        self._accepted = 0
        self._delivered = 0
        self._failed = 0
        self.failures_by_reason: Counter[str] = Counter()
        self._unfinished: dict[int, Envelope] = {}  # by sequence number, oldest first
        self._closed = False
        self._failure_listeners: list[FailureListener] = []
        self._cloudwatch: CloudWatchFailureMetrics | None = None
        if cloudwatch_metrics and not self._settings.test_mode:
            self._cloudwatch = CloudWatchFailureMetrics(
                self._settings, region=cloudwatch_region, endpoint_url=cloudwatch_endpoint_url
            )
            self.add_failure_listener(self._cloudwatch.record)
        for problem in self._settings.problems:
            report_error(ConfigurationError(problem), None)

    @property
    def settings(self) -> Settings:
        return self._settings

    # -- the caller's path ----------------------------------------------------

    def _accept(self, function: str, fields: Mapping[str, Any]) -> LogResult:
        if self._closed:
            return LogResult("failure", "Security logger is shut down; event not accepted", None)
        compiled = _COMPILED[function]
        values, event_type, error = validate(compiled, fields, self._defaults)
        if error is not None:
            return LogResult("failure", error, None)
        event_uuid = new_event_uuid()
        caller_function, caller_file = find_caller(2)
        values["timestamp"] = utc_timestamp()
        values["event_uuid"] = event_uuid
        values["event_type"] = event_type
        values["log_category"] = CATEGORY_OF[event_type]
        values["caller_function"] = caller_function
        values["caller_file"] = caller_file
        try:
            bodies = encode_event(compiled.spec.struct, values)
        except EncodeError as exc:
            return LogResult("failure", str(exc), None)
        envelope = Envelope(event_uuid, event_type, len(bodies), self._seq + 1)
        publisher = self._publisher
        if publisher is None:
            self._write_test_lines(envelope, bodies)
        elif publisher.submit(envelope, bodies):
            self._unfinished[envelope.seq] = envelope
        else:
            return _QUEUE_FULL
        self._seq += 1
        self._accepted += 1
        message = "Event accepted" if len(bodies) == 1 else f"Event accepted in {len(bodies)} parts"
        return LogResult("success", message, event_uuid, envelope)

    def _write_test_lines(self, envelope: Envelope, bodies: list[bytes]) -> None:
        if test_mode_sink is not None:  # sr_sec_async.testing is capturing
            test_mode_sink(bodies)
        else:
            out = sys.stdout
            out.write("".join(body.decode() + "\n" for body in bodies))
            out.flush()
        for part in range(1, len(bodies) + 1):
            envelope.part_finished(Receipt(part, "test-mode", "stdout"), None)
        self._delivered += 1

    async def _log(self, function: str, fields: Mapping[str, Any]) -> LogResult:
        result = self._accept(function, fields)
        if result is not _QUEUE_FULL:
            if result.status == "failure" and self._failure_listeners:
                self._notify_failure(_event_type_for(function, fields), "rejected")
            return result
        # Back-pressure: an awaited call waits for room, up to a bound.
        assert self._publisher is not None
        deadline = time.monotonic() + self._queue_wait_timeout
        while (remaining := deadline - time.monotonic()) > 0:
            await self._publisher.wait_for_space(remaining)
            result = self._accept(function, fields)
            if result is not _QUEUE_FULL:
                return result
        self.failures_by_reason["queue_full"] += 1
        event_type = str(fields.get("event_type") or SPECS[function].event_types[0])
        report_error(DeliveryError("queue full: event dropped", reason="queue_full"), event_type)
        self._notify_failure(event_type, "queue_full")
        return LogResult(
            "failure",
            f"Queue full ({self._settings.max_queue_size} messages): event not accepted",
            None,
        )

    # -- outcomes ---------------------------------------------------------------

    def _event_finished(self, envelope: Envelope) -> None:
        self._unfinished.pop(envelope.seq, None)
        if envelope.error is None:
            self._delivered += 1
            return
        self._failed += 1
        reason = envelope.error.split(":", 1)[0]
        self.failures_by_reason[reason] += 1
        report_error(
            DeliveryError(
                f"event {envelope.event_uuid} not delivered: {envelope.error}",
                reason=reason,
                event_uuid=envelope.event_uuid,
            ),
            envelope.event_type,
        )
        self._notify_failure(envelope.event_type, reason)

    def add_failure_listener(self, listener: FailureListener) -> None:
        """Call ``listener(event_type, reason)`` for every event that fails
        delivery, is dropped (queue full, shutdown timeout) or is rejected as
        invalid. A listener must not block; one that raises is logged."""
        self._failure_listeners.append(listener)

    def remove_failure_listener(self, listener: FailureListener) -> None:
        self._failure_listeners.remove(listener)

    def _notify_failure(self, event_type: str, reason: str) -> None:
        for listener in tuple(self._failure_listeners):
            try:
                listener(event_type, reason)
            except Exception:
                log.exception("security logging failure listener raised")

    def summary(self) -> DeliverySummary:
        pending = self._accepted - self._delivered - self._failed
        return DeliverySummary(self._delivered, self._failed, pending)

    def metrics(self) -> FailoverMetrics:
        return self._supervisor.snapshot()

    def reset_metrics(self) -> None:
        self._supervisor.reset_metrics()

    # -- lifecycle --------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> DeliverySummary:
        """Wait until everything accepted so far is delivered or failed, or
        until ``timeout`` seconds pass; the summary says what is still pending."""
        publisher = self._publisher
        if publisher is not None:
            target = self._seq
            try:
                async with asyncio.timeout(timeout):
                    while self._oldest_unfinished() <= target:
                        await publisher.wait_progress()
            except TimeoutError:
                pass
        return self.summary()

    def _oldest_unfinished(self) -> int:
        return next(iter(self._unfinished), sys.maxsize)

    async def shutdown(self, timeout: float | None = None) -> DeliverySummary:
        """Stop intake, deliver what is queued within ``timeout``, close clients.
        Events still undelivered at the deadline are reported failed."""
        self._closed = True
        publisher = self._publisher
        if publisher is not None:
            try:
                async with asyncio.timeout(timeout):
                    await publisher.close()
            except TimeoutError:
                for message in await publisher.abort():
                    publisher._finish(message, None, "shutdown_timeout: not delivered in time")
        if self._cloudwatch is not None:
            await self._cloudwatch.aclose()
        return self.summary()

    async def start(self) -> None:
        """Open the publisher now rather than on the first event (optional)."""
        if self._closed:
            raise LoggerClosedError("security logger is shut down")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    # -- the thirteen event functions -------------------------------------------

    async def log_user_login(self, **fields: Unpack[sig.UserLoginFields]) -> LogResult:
        return await self._log("log_user_login", fields)

    async def log_mfa_challenge(self, **fields: Unpack[sig.MfaChallengeFields]) -> LogResult:
        return await self._log("log_mfa_challenge", fields)

    async def log_user_logout(self, **fields: Unpack[sig.UserLogoutFields]) -> LogResult:
        return await self._log("log_user_logout", fields)

    async def log_permission_role_change(
        self, **fields: Unpack[sig.PermissionRoleChangeFields]
    ) -> LogResult:
        return await self._log("log_permission_role_change", fields)

    async def log_user_status_change(
        self, **fields: Unpack[sig.UserStatusChangeFields]
    ) -> LogResult:
        return await self._log("log_user_status_change", fields)

    async def log_impersonation_event(
        self, **fields: Unpack[sig.ImpersonationEventFields]
    ) -> LogResult:
        return await self._log("log_impersonation_event", fields)

    async def log_user_invite_event(self, **fields: Unpack[sig.UserInviteEventFields]) -> LogResult:
        return await self._log("log_user_invite_event", fields)

    async def log_api_request(self, **fields: Unpack[sig.ApiRequestFields]) -> LogResult:
        return await self._log("log_api_request", fields)

    async def log_record_access(self, **fields: Unpack[sig.RecordAccessFields]) -> LogResult:
        return await self._log("log_record_access", fields)

    async def log_mfa_status_change(self, **fields: Unpack[sig.MfaStatusChangeFields]) -> LogResult:
        return await self._log("log_mfa_status_change", fields)

    async def log_password_change_reset(
        self, **fields: Unpack[sig.PasswordChangeResetFields]
    ) -> LogResult:
        return await self._log("log_password_change_reset", fields)

    async def log_api_key_lifecycle(self, **fields: Unpack[sig.ApiKeyLifecycleFields]) -> LogResult:
        return await self._log("log_api_key_lifecycle", fields)

    async def log_auth_mechanism_modification(
        self, **fields: Unpack[sig.AuthMechanismModificationFields]
    ) -> LogResult:
        return await self._log("log_auth_mechanism_modification", fields)


def _event_type_for(function: str, fields: Mapping[str, Any]) -> str:
    """The event type of a rejected call, for metrics: the one given when it is
    valid for ``function``, else the function's only (or first) type."""
    allowed = SPECS[function].event_types
    given = fields.get("event_type")
    return str(given) if isinstance(given, str) and given in allowed else allowed[0]


#: Returned by ``_accept`` when the queue has no room (never to a caller).
_QUEUE_FULL = LogResult("failure", "queue full", None)
