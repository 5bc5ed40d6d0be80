"""``SecurityLogger``: validate → encode → enqueue, and the logger's lifecycle.

Everything on the caller's path is synchronous and bounded: nothing waits for
the network. Delivery happens in the publisher task.

Nothing is lost silently: an event rejected as invalid, refused at intake
(queue full, logger shut down) or failed after it was accepted is counted in
``undelivered`` by
``(reason, event_type)`` and reported to the error handler: one by one up to
``warning_burst`` reports per reason every ``warning_interval`` seconds, the
others summed up in the next report. A process that exits with events still undelivered says how
many on the ``sr_sec_async`` logger (and, with a spool, saves them there).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, Unpack

from . import signatures as sig
from .caller import find_caller
from .cloudwatch import CloudWatchFailureMetrics
from .config import Settings, resolve_settings
from .environment import ENVIRONMENT_CHAINS
from .errors import ConfigurationError, DeliveryError, LoggerClosedError, report_error
from .events import CATEGORY_OF, ENVIRONMENT_FIELDS, SPECS
from .publisher import Message, Publisher
from .results import DeliverySummary, Envelope, LogResult, Receipt
from .spool import SpoolStats
from .supervisor import FailoverMetrics, Supervisor
from .validation import CompiledSpec, compile_spec, validate
from .wire import EncodeError, encode_event, new_event_uuid, utc_timestamp

__all__ = ["FailureListener", "SecurityLogger"]

_COMPILED: dict[str, CompiledSpec] = {name: compile_spec(spec) for name, spec in SPECS.items()}

log = logging.getLogger("sr_sec_async")

#: Where test-mode loggers write instead of ``sys.stdout`` (set by
#: ``sr_sec_async.testing`` while it captures).
test_mode_sink: Callable[[list[bytes]], None] | None = None

#: ``listener(event_type, reason)``: called, synchronously and in the event
#: loop, for every event that failed delivery, was dropped or was rejected.
FailureListener = Callable[[str, str], None]


class _Warnings:
    """Reports not-delivered events without flooding: per reason, the first
    ``burst`` in each ``interval`` seconds are reported one by one; the rest
    are held back and counted by event type, and the next report of that
    reason (or ``flush``) says how many there were."""

    def __init__(self, interval: float, burst: int, clock: Callable[[], float]) -> None:
        self.interval = interval
        self.burst = burst
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # reason -> (start, reported)
        self._held: dict[str, Counter[str]] = {}

    def report(self, error: DeliveryError, event_type: str | None) -> None:
        now = self.clock()
        reason = error.reason
        start, reported = self._windows.get(reason, (now, 0))
        if now - start >= self.interval:
            start, reported = now, 0
        if reported >= self.burst:
            self._held.setdefault(reason, Counter())[event_type or "unknown"] += 1
            return
        self._windows[reason] = (start, reported + 1)
        held = self._held.pop(reason, None)
        if held:
            error = DeliveryError(
                f"{error} (and {sum(held.values())} more for the same reason since the "
                f"last report: {_by_type(held)})",
                reason=reason,
                event_uuid=error.event_uuid,
            )
        _deliver_report(error, event_type)

    def flush(self) -> None:
        """Report what is held back now (at flush and shutdown)."""
        for reason, held in list(self._held.items()):
            del self._held[reason]
            error = DeliveryError(
                f"{sum(held.values())} more events ({reason}): {_by_type(held)}",
                reason=reason,
            )
            _deliver_report(error, None)


def _by_type(held: Counter[str]) -> str:
    return ", ".join(f"{t} x{n}" for t, n in held.most_common())


def _deliver_report(error: DeliveryError, event_type: str | None) -> None:
    if error.reason == "spooled":  # deferred, not lost: a warning, not an error
        log.warning("security events spooled for later delivery: %s", error)
    else:
        report_error(error, event_type)


#: Loggers alive in this process, checked at interpreter exit.
_LIVE: weakref.WeakSet[SecurityLogger] = weakref.WeakSet()


@atexit.register
def _check_at_exit() -> None:
    for logger in list(_LIVE):
        logger._check_at_exit()


class SecurityLogger:
    """A logger with its own settings, queue, publisher and SNS clients.

    Use it with ``async with SecurityLogger(...) as logger:`` for an explicit
    lifecycle, or through the module-level functions, which act on the
    default logger set up by ``init_security_logging``.
    """

    def __init__(
        self,
        *,
        cloudwatch_metrics: bool = False,
        cloudwatch_region: str | None = None,
        cloudwatch_endpoint_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        **settings: Any,
    ) -> None:
        """``settings`` are ``init_security_logging``'s keywords.
        ``cloudwatch_metrics=True`` puts a ``log_failure`` metric in CloudWatch
        for every failed, dropped or rejected event (see ``cloudwatch.py``);
        ``cloudwatch_region`` (default: the primary topic's region) and
        ``cloudwatch_endpoint_url`` say where. ``clock`` (seconds, monotonic)
        paces the rate-limited failure reports; tests pass a fake one."""
        self._settings: Settings = resolve_settings(**settings)
        self._defaults: Mapping[str, str] = self._settings.environment
        self._supervisor = Supervisor(self._settings)
        self._clock = clock
        self._publisher: Publisher | None = None
        if not self._settings.test_mode:
            self._publisher = Publisher(
                self._settings,
                self._supervisor,
                self._event_finished,
                on_replayed=self._message_replayed,
            )
        self._seq = 0
        self._accepted = 0
        self._delivered = 0
        self._failed = 0
        self._spooled = 0
        #: Failed events after acceptance, by the first word of their reason.
        self.failures_by_reason: Counter[str] = Counter()
        #: Every event not delivered (rejected as invalid, refused at intake or
        #: failed after acceptance), by
        #: ``(reason, event_type)``.
        self.undelivered: Counter[tuple[str, str]] = Counter()
        #: Spooled messages sent again: delivered, and failed for good.
        self.replayed: Counter[str] = Counter()
        self._warnings = _Warnings(
            self._settings.warning_interval, self._settings.warning_burst, clock
        )
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
        unset = [f for f in ENVIRONMENT_FIELDS if not self._defaults.get(f)]
        if unset:
            hints = ", ".join(f"{f} ({ENVIRONMENT_CHAINS[f][1]})" for f in unset)
            log.warning(
                "security logger has no value for %s: every log_* call must pass them, or "
                "it is rejected; set them in init_security_logging(...) or the environment",
                hints,
            )
        _LIVE.add(self)

    @property
    def settings(self) -> Settings:
        return self._settings

    # -- the caller's path ----------------------------------------------------

    def _accept(self, function: str, fields: Mapping[str, Any]) -> LogResult:
        """Prepare and enqueue in one step (``_QUEUE_FULL`` when there is no room)."""
        prepared = self._prepare(function, fields)
        return prepared if isinstance(prepared, LogResult) else self._enqueue(*prepared)

    def _prepare(
        self, function: str, fields: Mapping[str, Any]
    ) -> LogResult | tuple[Envelope, list[bytes]]:
        """Validate, stamp and encode an event once: the wire bodies, or the
        failure naming every problem. A call that waits for room in the queue
        keeps these bodies (and its timestamp) for every attempt."""
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
        return Envelope(event_uuid, event_type, len(bodies), 0), bodies

    def _enqueue(self, envelope: Envelope, bodies: list[bytes]) -> LogResult:
        """Hand a prepared event to the publisher (or test-mode output)."""
        envelope.seq = self._seq + 1
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
        return LogResult("success", message, envelope.event_uuid, envelope)

    def _write_test_lines(self, envelope: Envelope, bodies: list[bytes]) -> None:
        if test_mode_sink is not None:  # sr_sec_async.testing is capturing
            test_mode_sink(bodies)
        else:
            out = sys.stdout
            out.write("".join(_one_line(body) + "\n" for body in bodies))
            out.flush()
        for part in range(1, len(bodies) + 1):
            envelope.part_finished(Receipt(part, "test-mode", "stdout"), None)
        self._delivered += 1

    async def _log(self, function: str, fields: Mapping[str, Any]) -> LogResult:
        if self._closed:
            return self._refuse("shut_down", function, fields, _SHUT_DOWN_MESSAGE)
        try:
            prepared = self._prepare(function, fields)
            result = prepared if isinstance(prepared, LogResult) else self._enqueue(*prepared)
        except Exception as exc:  # hostile input (a raising __eq__, __iter__, ...)
            result = _raised_result(exc)
        if result is not _QUEUE_FULL:
            if result.status == "failure":
                self._rejected(function, fields)
            return result
        assert not isinstance(prepared, LogResult)
        # Back-pressure: under the "wait" policy an awaited call waits for
        # room, up to queue_wait_timeout; "drop" refuses at once; "spool"
        # only gets here when the spool writer's backlog is full too, and
        # then waits for it like "wait".
        publisher = self._publisher
        assert publisher is not None
        settings = self._settings
        if settings.overflow_policy != "drop":
            deadline = time.monotonic() + settings.queue_wait_timeout
            while (remaining := deadline - time.monotonic()) > 0 and not self._closed:
                await publisher.wait_for_space(remaining)
                if self._closed:
                    break
                result = self._enqueue(*prepared)  # the same bodies: no second validation
                if result is not _QUEUE_FULL:
                    return result
        message = f"Queue full ({settings.max_queue_size} messages): event not accepted"
        return self._refuse("queue_full", function, fields, message)

    def _refuse(
        self, reason: str, function: str, fields: Mapping[str, Any], message: str
    ) -> LogResult:
        """Count and report an event refused at intake."""
        self.refused(reason, _event_type_for(function, fields), message)
        return LogResult("failure", message, None, reason=reason)

    def _rejected(self, function: str, fields: Mapping[str, Any]) -> None:
        """Count an invalid event (the caller has the message naming why)."""
        event_type = _event_type_for(function, fields)
        self.undelivered[("rejected", event_type)] += 1
        if self._failure_listeners:
            self._notify_failure(event_type, "rejected")

    def refused(self, reason: str, event_type: str | None, message: str) -> None:
        """Count (by reason and event type) and report, rate-limited, an
        event that was not accepted."""
        self.undelivered[(reason, event_type or "unknown")] += 1
        self._warnings.report(DeliveryError(message, reason=reason), event_type)
        self._notify_failure(event_type or "unknown", reason)

    @property
    def closed(self) -> bool:
        """``True`` once ``shutdown`` began: every event is refused."""
        return self._closed

    # -- outcomes ---------------------------------------------------------------

    def _event_finished(self, envelope: Envelope) -> None:
        self._unfinished.pop(envelope.seq, None)
        if envelope.error is None:
            self._delivered += 1
            return
        reason = envelope.error.split(":", 1)[0]
        if reason == "spooled":
            self._spooled += 1
            text = f"event {envelope.event_uuid} {envelope.error}"
        else:
            self._failed += 1
            self.failures_by_reason[reason] += 1
            self.undelivered[(reason, envelope.event_type)] += 1
            text = f"event {envelope.event_uuid} not delivered: {envelope.error}"
            self._notify_failure(envelope.event_type, reason)
        self._warnings.report(
            DeliveryError(text, reason=reason, event_uuid=envelope.event_uuid),
            envelope.event_type,
        )

    def _message_replayed(self, message: Message, error: str | None) -> None:
        if error is None:
            self.replayed["delivered"] += 1
            return
        self.replayed["failed"] += 1
        reason = error.split(":", 1)[0]
        event_type = message.envelope.event_type
        self.undelivered[(reason, event_type)] += 1
        self._notify_failure(event_type, reason)
        self._warnings.report(
            DeliveryError(
                f"spooled event {message.envelope.event_uuid} (part {message.part}) not "
                f"delivered on replay: {error}",
                reason=reason,
                event_uuid=message.envelope.event_uuid,
            ),
            event_type,
        )

    def add_failure_listener(self, listener: FailureListener) -> None:
        """Call ``listener(event_type, reason)`` for every event that fails
        delivery, is dropped (queue full, shutdown timeout, spool full),
        refused (shut down) or rejected as invalid. A listener must not
        block; one that raises is logged."""
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
        """``delivered`` / ``failed`` / ``spooled`` events since the logger
        started, and ``pending`` ones still queued or in flight."""
        pending = self._accepted - self._delivered - self._failed - self._spooled
        return DeliverySummary(self._delivered, self._failed, pending, self._spooled)

    def spool_stats(self) -> SpoolStats | None:
        """What the spool holds (``None`` without a spool)."""
        publisher = self._publisher
        spool = publisher.spool if publisher is not None else None
        return spool.stats() if spool is not None else None

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
                        if not await publisher.wait_progress():
                            break
            except TimeoutError:
                pass
        self._warnings.flush()
        return self.summary()

    async def replay_spool(self, timeout: float | None = None) -> int:
        """Wait until the spool is empty (replayed to SNS) or ``timeout``
        passes; returns how many messages are still spooled. Replay also
        runs by itself; this is for a caller that wants to know."""
        publisher = self._publisher
        if publisher is None or publisher.spool is None:
            return 0
        return await publisher.wait_spool_empty(timeout)

    def _oldest_unfinished(self) -> int:
        return next(iter(self._unfinished), sys.maxsize)

    async def shutdown(self, timeout: float | None = None) -> DeliverySummary:
        """Stop intake, deliver what is queued, let batches in flight finish
        (never cancelled in the middle unless they outlast the deadline),
        then close the clients, all within ``timeout`` seconds.

        What is still queued when the time is up goes to the spool (reported
        "spooled") or, without one, is reported failed ("shutdown_timeout").
        The last ``shutdown_grace`` seconds (at most half the timeout) are
        kept for batches in flight to finish. Afterwards no task of this
        logger is left running and every ``log_*`` call is refused."""
        self._closed = True
        publisher = self._publisher
        if publisher is not None:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            grace = 0.0 if timeout is None else min(self._settings.shutdown_grace, timeout / 2)
            try:
                async with asyncio.timeout_at(None if deadline is None else deadline - grace):
                    await publisher.close()
            except TimeoutError:
                assert deadline is not None
                left = await publisher.stop(max(0.0, deadline - loop.time()))
                self._give_up(publisher, left, "shutdown_timeout")
                await publisher.close()
            except asyncio.CancelledError:
                # Cancelled (e.g. a wait_for around ``async with``): stop now so
                # that no task or client is left behind, then let it through.
                self._give_up(publisher, await publisher.stop(0.0), "shutdown_cancelled")
                await publisher.close()
                raise
        self._warnings.flush()
        if self._cloudwatch is not None:
            await self._cloudwatch.aclose()
        return self.summary()

    @staticmethod
    def _give_up(publisher: Publisher, left: list[Message], reason: str) -> None:
        """Spool what shutdown could not deliver, or report it failed."""
        if left and publisher.spool is not None:
            publisher.spill(left, reason)
        else:
            publisher.fail(left, f"{reason}: not delivered in time")

    async def start(self) -> None:
        """Open the publisher now rather than on the first event (optional);
        with a spool, this also replays what an earlier run left in it."""
        if self._closed:
            raise LoggerClosedError("security logger is shut down")
        if self._publisher is not None:
            await self._publisher.start()

    def _check_at_exit(self) -> None:
        """At interpreter exit: say how many accepted events were never
        delivered (no shutdown), after saving them to the spool if any."""
        pending = self.summary().pending
        if not pending:
            return
        publisher = self._publisher
        saved = publisher.save_at_exit() if publisher is not None else 0
        where = ""
        if saved:
            assert publisher is not None and publisher.spool is not None
            where = (
                f"; {saved} messages saved to the spool in {publisher.spool.directory} "
                "for delivery at the next start"
            )
        log.warning(
            "process exiting without shutdown_security_logging(): %d accepted security "
            "events were not delivered%s",
            pending,
            where,
        )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Shut down within the ``exit_timeout`` setting (30 s by default), so a
        region outage cannot hold the application's exit indefinitely."""
        await self.shutdown(self._settings.exit_timeout)

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


#: Returned by ``_accept`` when the queue has no room (never to a caller).
_QUEUE_FULL = LogResult("failure", "queue full", None)
_SHUT_DOWN_MESSAGE = "Security logger is shut down; event not accepted"


#: Characters that JSON allows raw in strings but ``str.splitlines`` treats
#: as line breaks, and DEL and the C1 controls, which a terminal may act on
#: (msgspec already escapes every control below U+0020).
_LINE_BREAKS = str.maketrans(
    {c: f"\\u{ord(c):04x}" for c in ("\x7f", *map(chr, range(0x80, 0xA0)), "\u2028", "\u2029")}
)


def _one_line(body: bytes) -> str:
    """A message as one line for test mode: the same JSON value, with the
    raw line breaks and terminal controls escaped (they can only occur in strings)."""
    text = body.decode()
    return text.translate(_LINE_BREAKS) if not text.isascii() or "\x7f" in text else text


def _raised_result(exc: Exception) -> LogResult:
    """The failure for input that made processing raise: described, not raised."""
    log.debug("event rejected: processing raised", exc_info=exc)
    try:
        detail = str(exc)[:200]
    except Exception:
        detail = ""
    return LogResult(
        "failure", f"Invalid input: processing it raised {type(exc).__name__}: {detail}", None
    )


def _event_type_for(function: str, fields: Mapping[str, Any]) -> str:
    """The event type of a refused or rejected call, for counts and metrics:
    the one given when it is valid for ``function``, else the function's
    only (or first) type. Safe with a str subclass whose ``__eq__`` raises."""
    allowed = SPECS[function].event_types
    given = fields.get("event_type")
    if isinstance(given, str) and type(given).__eq__ is str.__eq__:
        for event_type in allowed:
            if given == event_type:
                return event_type
    return allowed[0]
