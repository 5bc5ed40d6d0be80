"""The circuit breaker's state machine and the supervisor's retry, failover
and budget decisions, on a fake clock: no test here sleeps for real.

The supervisor tests use a scripted sink (a list of outcomes per region)
because they are about decisions and timing; the same decisions against a real
local SNS with injected network faults are in tests/integration/test_failover.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sr_sec_async.breaker import BreakerState, CircuitBreaker, Ticket
from sr_sec_async.config import RegionTarget, Settings, resolve_settings
from sr_sec_async.supervisor import EXHAUSTED, Supervisor, classify_error

pytestmark = pytest.mark.anyio

PRIMARY = "arn:aws:sns:us-west-2:123456789012:sec"
FAILOVER = "arn:aws:sns:us-east-2:123456789012:sec-failover"


class FakeClock:
    """``clock()`` reads the time; ``sleep`` advances it and yields once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._alarms: list[tuple[float, asyncio.Event]] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        for at, alarm in self._alarms:
            if at <= self.now:
                alarm.set()
        await asyncio.sleep(0)

    async def reached(self, at: float) -> None:
        """Return once the code under test has slept until ``at``."""
        alarm = asyncio.Event()
        self._alarms.append((at, alarm))
        await alarm.wait()


def breaker(clock: FakeClock, threshold: int = 5, cooldown: float = 60.0) -> CircuitBreaker:
    return CircuitBreaker("primary", threshold=threshold, cooldown=cooldown, clock=clock)


def fail(b: CircuitBreaker, times: int) -> None:
    """``times`` requests admitted and failed one after the other."""
    for _ in range(times):
        ticket = b.admit()
        assert ticket is not None
        ticket.failure("refused")


def trip(b: CircuitBreaker) -> None:
    fail(b, b.threshold)
    assert b.state is BreakerState.OPEN


def probing(clock: FakeClock) -> tuple[CircuitBreaker, Ticket]:
    """A breaker that opened and has just admitted its probe."""
    b = breaker(clock)
    trip(b)
    clock.advance(60)
    probe = b.admit()
    assert probe is not None and probe.probe
    return b, probe


# -- the breaker alone ------------------------------------------------------------


def test_opens_after_threshold_consecutive_failures_not_before() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail(b, 4)
    assert b.state is BreakerState.CLOSED and b.consecutive_failures == 4
    ticket = b.admit()
    assert ticket is not None
    ticket.success()  # breaks the streak
    fail(b, 4)
    assert b.state is BreakerState.CLOSED
    fail(b, 1)
    assert b.state is BreakerState.OPEN and b.opens == 1


def test_open_breaker_admits_nothing_until_cooldown_then_exactly_one_probe() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b)
    clock.advance(59.999)
    assert b.admit() is None
    clock.advance(0.001)
    probe = b.admit()
    assert probe is not None and probe.probe
    assert b.state is BreakerState.HALF_OPEN
    assert [b.admit() for _ in range(50)] == [None] * 50
    assert b.probes == 1


def test_failed_probe_reopens_with_a_fresh_cooldown() -> None:
    clock = FakeClock()
    b, probe = probing(clock)
    clock.advance(1.5)  # the probe took a while
    probe.failure("refused")
    assert b.state is BreakerState.OPEN and b.opens == 2
    clock.advance(59.9)
    assert b.admit() is None  # cooldown counts from the failed probe
    clock.advance(0.1)
    assert b.admit() is not None


def test_successful_probe_closes_and_resets_counts() -> None:
    clock = FakeClock()
    b = breaker(clock)
    straggler = b.admit()  # started before the outage, ends after the recovery
    trip(b)
    clock.advance(60)
    probe = b.admit()
    assert probe is not None
    probe.success()
    assert b.state is BreakerState.CLOSED and b.consecutive_failures == 0
    assert straggler is not None
    straggler.failure("timeout")
    assert b.consecutive_failures == 0  # an outcome from before the outage
    fail(b, 4)  # a full new streak is needed to open again
    assert b.state is BreakerState.CLOSED


def test_failures_recorded_while_open_do_not_extend_the_cooldown() -> None:
    clock = FakeClock()
    b = breaker(clock)
    stragglers = [b.admit() for _ in range(12)]  # in flight when the breaker opens
    trip(b)
    clock.advance(30)
    for ticket in stragglers:
        assert ticket is not None
        ticket.failure("timeout")
    assert b.opens == 1
    clock.advance(30)
    assert b.admit() is not None  # 60 s after opening, not after the late failures


def test_late_success_from_before_the_breaker_opened_does_not_close_it() -> None:
    clock = FakeClock()
    b = breaker(clock)
    slow = b.admit()
    trip(b)
    assert slow is not None
    slow.success()
    assert b.state is BreakerState.OPEN
    clock.advance(60)
    probe = b.admit()
    assert probe is not None
    late = slow  # a second report from the same ticket is ignored too
    late.success()
    assert b.state is BreakerState.HALF_OPEN


def test_cancelled_probe_is_no_failure_and_leaves_no_half_open_breaker() -> None:
    clock = FakeClock()
    b, probe = probing(clock)
    probe.abandon()
    assert b.state is BreakerState.OPEN and b.opens == 1
    again = b.admit()  # cooldown already spent: the next caller probes at once
    assert again is not None and again.probe
    again.success()
    assert b.state is BreakerState.CLOSED


def test_permanent_errors_are_not_transient_and_throttling_is() -> None:
    def client_error(code: str, status: int, kind: str) -> ClientError:
        response: Any = {
            "Error": {"Code": code, "Message": "m", "Type": kind},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return ClientError(response, "PublishBatch")

    assert classify_error(client_error("Throttling", 400, "Sender"))[0]
    assert classify_error(client_error("ServiceUnavailable", 503, "Receiver"))[0]
    assert classify_error(client_error("Anything", 502, "Receiver"))[0]
    assert classify_error(TimeoutError())[0]
    assert classify_error(ConnectionResetError())[0]
    for code in ("InvalidParameter", "NotFound", "AuthorizationError"):
        assert not classify_error(client_error(code, 400, "Sender"))[0]


# -- the supervisor on a fake clock --------------------------------------------------


class Msg:
    def __init__(self, n: int) -> None:
        self.n = n
        self.part = 1

    def request_entry(self, entry_id: str, fifo: bool) -> dict[str, Any]:
        return {"Id": entry_id, "Message": str(self.n)}


def throttled() -> ClientError:
    response: Any = {
        "Error": {"Code": "Throttling", "Message": "Rate exceeded", "Type": "Sender"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, "PublishBatch")


def not_found() -> ClientError:
    response: Any = {
        "Error": {"Code": "NotFound", "Message": "Topic does not exist", "Type": "Sender"},
        "ResponseMetadata": {"HTTPStatusCode": 404},
    }
    return ClientError(response, "PublishBatch")


Behaviour = Callable[[], Any]


class ScriptedSink:
    """Answers each region with its current behaviour: ``"ok"``, an exception
    to raise, or an ``asyncio.Event`` to wait for before answering ok."""

    def __init__(self) -> None:
        self.behaviour: dict[str, Any] = {"primary": "ok", "failover": "ok"}
        self.calls: list[str] = []

    async def publish_batch(self, target: RegionTarget, entries: list[dict[str, Any]]) -> Any:
        self.calls.append(target.name)
        what = self.behaviour[target.name]
        if isinstance(what, asyncio.Event):
            await what.wait()
        elif isinstance(what, BaseException):
            raise what
        return {"Successful": [{"Id": e["Id"], "MessageId": f"m-{e['Id']}"} for e in entries]}


def settings(**extra: Any) -> Settings:
    return resolve_settings(topic_arn=PRIMARY, failover_topic_arn=FAILOVER, **extra)


def supervisor(clock: FakeClock, **extra: Any) -> Supervisor:
    return Supervisor(settings(**extra), clock=clock, sleep=clock.sleep, jitter=lambda: 1.0)


def regions(outcomes: list[tuple[Any, Any, Any]]) -> list[str | None]:
    return [r.region if r is not None else None for _, r, _ in outcomes]


async def test_healthy_primary_takes_everything() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock), ScriptedSink()
    outcomes = await sup.deliver(sink, [Msg(i) for i in range(10)])
    assert regions(outcomes) == ["us-west-2"] * 10
    assert sink.calls == ["primary"]
    assert sup.snapshot()["primary_success"] == 10 and clock.slept == []


async def test_throttling_is_retried_with_jittered_exponential_backoff_then_fails_over() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock, max_attempts=4), ScriptedSink()
    sink.behaviour["primary"] = throttled()
    outcomes = await sup.deliver(sink, [Msg(i) for i in range(3)])
    assert sink.calls == ["primary"] * 4 + ["failover"]
    assert clock.slept == [0.05, 0.1, 0.2]  # jitter pinned to its maximum
    assert regions(outcomes) == ["us-east-2"] * 3
    m = sup.snapshot()
    assert (m["primary_failure"], m["failover_attempts"], m["failover_success"]) == (12, 3, 3)
    assert m["total_failures"] == 0 and m["primary_breaker"] == "closed"


async def test_jitter_spreads_backoff_between_half_and_full_delay() -> None:
    clock = FakeClock()
    sup = Supervisor(settings(), clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)
    sink = ScriptedSink()
    sink.behaviour["primary"] = throttled()
    await sup.deliver(sink, [Msg(0)])
    assert clock.slept == [0.025, 0.05, 0.1]


async def test_primary_window_bounds_the_time_before_failover() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock, primary_timeout=0.1), ScriptedSink()
    sink.behaviour["primary"] = throttled()
    await sup.deliver(sink, [Msg(0)])
    # 0.05 s then only 0.05 s left of the window: two tries, then failover.
    assert sink.calls == ["primary", "primary", "failover"]
    assert sum(clock.slept) == pytest.approx(0.1)


async def test_permanent_error_is_neither_retried_nor_failed_over() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock), ScriptedSink()
    sink.behaviour["primary"] = not_found()
    outcomes = await sup.deliver(sink, [Msg(0), Msg(1)])
    assert sink.calls == ["primary"]
    assert [e for _, _, e in outcomes] == [
        "permanent: primary (us-west-2): NotFound: Topic does not exist"
    ] * 2
    m = sup.snapshot()
    assert (m["primary_failure"], m["total_failures"], m["failover_attempts"]) == (2, 2, 0)
    assert sup.breakers["primary"].consecutive_failures == 0


async def test_open_primary_is_skipped_until_its_probe_then_traffic_returns() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock, breaker_threshold=2, max_attempts=1), ScriptedSink()
    sink.behaviour["primary"] = ConnectionRefusedError("refused")
    for _ in range(2):
        await sup.deliver(sink, [Msg(0)])
    assert sup.snapshot()["primary_breaker"] == "open"
    sink.calls.clear()
    await sup.deliver(sink, [Msg(1)])
    assert sink.calls == ["failover"]  # no request to an open region
    sink.behaviour["primary"] = "ok"
    clock.advance(60)
    sink.calls.clear()
    outcomes = await sup.deliver(sink, [Msg(2)])
    assert sink.calls == ["primary"] and regions(outcomes) == ["us-west-2"]
    assert sup.snapshot()["primary_breaker"] == "closed"


async def primary_due_for_probe(clock: FakeClock) -> tuple[Supervisor, ScriptedSink]:
    """A supervisor whose primary breaker opened and whose cooldown has just ended."""
    sup, sink = supervisor(clock, breaker_threshold=1, max_attempts=1), ScriptedSink()
    sink.behaviour["primary"] = ConnectionRefusedError("refused")
    await sup.deliver(sink, [Msg(0)])
    assert sup.snapshot()["primary_breaker"] == "open"
    clock.advance(60)
    return sup, sink


async def test_twenty_concurrent_batches_at_end_of_cooldown_send_exactly_one_probe() -> None:
    clock = FakeClock()
    sup, sink = await primary_due_for_probe(clock)
    gate = asyncio.Event()
    sink.behaviour["primary"] = gate  # the probe hangs until released
    sink.calls.clear()
    tasks = [asyncio.create_task(sup.deliver(sink, [Msg(i)])) for i in range(20)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert sink.calls.count("primary") == 1
    assert sup.snapshot()["primary_breaker"] == "half_open"
    gate.set()
    results = await asyncio.gather(*tasks)
    assert sink.calls.count("primary") == 1 and sink.calls.count("failover") == 19
    assert sorted(r for o in results for r in regions(o)) == ["us-east-2"] * 19 + ["us-west-2"]
    assert sup.breakers["primary"].probes == 1
    assert sup.snapshot()["primary_breaker"] == "closed"


async def test_cancelled_probe_through_the_supervisor_leaves_the_breaker_open() -> None:
    clock = FakeClock()
    sup, sink = await primary_due_for_probe(clock)
    sink.behaviour["primary"] = asyncio.Event()  # never set
    task = asyncio.create_task(sup.deliver(sink, [Msg(1)]))
    await asyncio.sleep(0)
    assert sup.snapshot()["primary_breaker"] == "half_open"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    b = sup.breakers["primary"]
    assert b.state is BreakerState.OPEN and b.opens == 1
    sink.behaviour["primary"] = "ok"
    outcomes = await sup.deliver(sink, [Msg(2)])  # probes at once: no new cooldown
    assert regions(outcomes) == ["us-west-2"] and b.state is BreakerState.CLOSED


async def test_both_regions_down_waits_for_probes_and_delivers_on_recovery() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock, breaker_threshold=2, breaker_cooldown=30), ScriptedSink()
    sink.behaviour = {"primary": ConnectionResetError(), "failover": ConnectionResetError()}
    task = asyncio.create_task(sup.deliver(sink, [Msg(0), Msg(1)]))
    await clock.reached(1000 + 200)  # a few minutes of outage
    sink.behaviour = {"primary": "ok", "failover": "ok"}
    outcomes = await task
    assert [e for _, _, e in outcomes] == [None, None]
    m = sup.snapshot()
    assert m["total_failures"] == 0 and m["primary_success"] + m["failover_success"] == 2
    # While both were open the batch slept until the next probe, not in a busy loop.
    assert len(clock.slept) < 100


async def test_budget_exhausted_fails_the_rest_with_one_clear_reason() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock, retry_budget=30), ScriptedSink()
    sink.behaviour = {"primary": throttled(), "failover": ConnectionResetError("reset")}
    outcomes = await sup.deliver(sink, [Msg(0), Msg(1), Msg(2)])
    errors = [e for _, _, e in outcomes]
    assert len(errors) == 3
    assert all(e is not None and e.startswith(f"{EXHAUSTED}: failover (us-east-2)") for e in errors)
    assert clock.now - 1000 == pytest.approx(30, abs=2.5)
    assert sup.snapshot()["total_failures"] == 3


async def test_default_budget_outlasts_a_five_minute_outage() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock), ScriptedSink()
    sink.behaviour = {"primary": ConnectionRefusedError(), "failover": ConnectionRefusedError()}
    task = asyncio.create_task(sup.deliver(sink, [Msg(0)]))
    await clock.reached(1000 + 300)
    sink.behaviour = {"primary": "ok", "failover": "ok"}
    outcomes = await task
    assert outcomes[0][1] is not None


async def test_reset_zeroes_counts_but_keeps_breaker_state() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock, breaker_threshold=1, max_attempts=1), ScriptedSink()
    sink.behaviour["primary"] = ConnectionRefusedError()
    await sup.deliver(sink, [Msg(0)])
    assert sup.snapshot()["failover_success"] == 1
    sup.reset_metrics()
    snap = sup.snapshot()
    assert all(v == 0 for v in snap.values() if isinstance(v, int))
    assert snap["primary_breaker"] == "open" and snap["failover_breaker"] == "closed"


def test_no_failover_region_reports_its_breaker_disabled() -> None:
    sup = Supervisor(resolve_settings(topic_arn=PRIMARY))
    assert sup.snapshot()["failover_breaker"] == "disabled"


async def test_breaker_opening_mid_window_sends_the_batch_to_failover_at_once() -> None:
    clock = FakeClock()
    sup, sink = supervisor(clock, breaker_threshold=2, max_attempts=4), ScriptedSink()
    sink.behaviour["primary"] = ConnectionRefusedError("refused")
    outcomes = await sup.deliver(sink, [Msg(0)])
    assert sink.calls == ["primary", "primary", "failover"]
    assert regions(outcomes) == ["us-east-2"] and len(clock.slept) == 1
