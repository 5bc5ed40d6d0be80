"""The main job: a realistic workload through the public API to an embedded
local SNS, every message read back from a subscribed SQS queue and checked.

Run with ``python -m sr_sec_async demo`` (needs the ``demo`` extra).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import sr_sec_async as s

from .local_faults import FaultProxy, Mode
from .local_sns import LocalAws, TopicWithQueue, local_aws

__all__ = ["DemoReport", "run_demo"]

ENVIRONMENT = {
    "cloud_env_type": s.CloudEnvType.DEV,
    "cloud_env_unique_id": "123456789012",
    "cloud_env_name": "local-demo",
    "service_account_id": "arn:aws:iam::123456789012:role/demo-app",
    "service_name": "sr-sec-async-demo",
}

EXPORT_IDS = 50_000


@dataclass
class DemoReport:
    accepted: int = 0
    rejected: int = 0
    parts: int = 0
    split_events: int = 0
    read_back: int = 0
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    failover: FailoverReport | None = None

    @property
    def ok(self) -> bool:
        return (
            not self.mismatches
            and self.read_back == self.parts
            and self.failed == 0
            and self.pending == 0
            and (self.failover is None or self.failover.ok)
        )

    def table(self) -> str:
        rows = [
            ("events accepted", f"{self.accepted:,}"),
            ("events rejected by validation", f"{self.rejected:,}"),
            ("messages published", f"{self.parts:,}"),
            ("events split into parts", f"{self.split_events:,}"),
            ("messages read back", f"{self.read_back:,}"),
            ("delivered / failed / pending", f"{self.delivered} / {self.failed} / {self.pending}"),
            ("mismatches", f"{len(self.mismatches):,}"),
            ("events per second", f"{self.accepted / self.seconds:,.0f}" if self.seconds else "-"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"  {k:<{width}}  {v:>12}" for k, v in rows)


@dataclass
class FailoverReport:
    """The failover phase: events logged while the primary region was up,
    down (its endpoint refusing connections) and back, and the region each
    was delivered to, checked against what each region's queue received."""

    # stage -> region -> events delivered there
    by_stage: dict[str, dict[str, int]] = field(default_factory=dict)
    failed: int = 0
    unaccounted: list[str] = field(default_factory=list)
    metrics: dict[str, object] = field(default_factory=dict)
    probes: int = 0

    @property
    def ok(self) -> bool:
        down = self.by_stage.get("primary down", {})
        back = self.by_stage.get("primary back", {})
        return (
            not self.unaccounted
            and self.failed == 0
            and down.get(FAILOVER_REGION, 0) > 0
            and back.get(PRIMARY_REGION, 0) > 0
        )

    def table(self) -> str:
        lines = ["  failover phase (events per region):"]
        for stage, counts in self.by_stage.items():
            cells = ", ".join(f"{region} {n}" for region, n in sorted(counts.items()))
            lines.append(f"    {stage:<14} {cells}")
        lines.append(
            f"    primary breaker probes: {self.probes}; events not delivered: {self.failed}"
        )
        lines.append("    metrics: " + ", ".join(f"{k}={v}" for k, v in self.metrics.items()))
        lines.extend(f"    UNACCOUNTED {u}" for u in self.unaccounted[:20])
        return "\n".join(lines)


PRIMARY_REGION, FAILOVER_REGION = "us-west-2", "us-east-2"


async def _failover_phase(
    aws: LocalAws, rounds: int, out: Callable[[str], object]
) -> FailoverReport:
    """Log a steady trickle while the primary goes down mid-run and comes back."""
    primary = await aws.topic_with_queue("sr-sec-logging-demo-primary", PRIMARY_REGION)
    failover = await aws.topic_with_queue("sr-sec-logging-demo-failover", FAILOVER_REGION)
    host, port = aws.endpoint_url.removeprefix("http://").rsplit(":", 1)
    proxy = FaultProxy(host, int(port))  # the primary's network path
    report = FailoverReport()
    sent: list[tuple[str, s.LogResult]] = []
    try:
        await proxy.start()
        logger = s.init_security_logging(
            topic_arn=primary.topic_arn,
            failover_topic_arn=failover.topic_arn,
            endpoint_url=proxy.url,
            failover_endpoint_url=aws.endpoint_url,
            primary_timeout=0.5,
            breaker_cooldown=1.0,
            **ENVIRONMENT,
        )
        rng = random.Random(11)
        stages = [("primary up", Mode.PASS), ("primary down", Mode.REFUSE)]
        stages.append(("primary back", Mode.PASS))
        for stage, mode in stages:
            await proxy.set_mode(mode)
            out(f"  failover phase: {stage}")
            for _ in range(rounds):
                for function, kwargs in _workload(rng)[:3]:
                    result = await getattr(s, function)(**kwargs)
                    if result.ok:
                        sent.append((stage, result))
                await asyncio.sleep(0.05)
        await s.flush_security_logging(timeout=60)
        report.probes = logger._supervisor.breakers["primary"].probes
        report.metrics = dict(s.get_failover_metrics())
        await s.shutdown_security_logging(timeout=60)
    finally:
        await proxy.aclose()
    delivered: dict[str, set[str]] = {PRIMARY_REGION: set(), FAILOVER_REGION: set()}
    for stage, result in sent:
        delivery = await result.delivery()
        counts = report.by_stage.setdefault(stage, {})
        if not delivery.delivered:
            report.failed += 1
            counts["failed"] = counts.get("failed", 0) + 1
            continue
        region = delivery.receipts[0].region
        counts[region] = counts.get(region, 0) + 1
        delivered[region].update(f"{delivery.event_uuid}/{r.part}" for r in delivery.receipts)
    for region, topic in ((PRIMARY_REGION, primary), (FAILOVER_REGION, failover)):
        got = await aws.drain(topic, len(delivered[region]), timeout=60, readers=2)
        read = {f"{m['event_uuid']}/{m.get('part', 1)}" for m in got}
        report.unaccounted.extend(f"{region}: not read back {k}" for k in delivered[region] - read)
        report.unaccounted.extend(f"{region}: unexpected {k}" for k in read - delivered[region])
    return report


def _users(rng: random.Random) -> tuple[str, s.ActorType]:
    n = rng.randrange(200)
    if n < 150:
        return f"employee{n}@example.com", s.ActorType.HUMAN_INTERNAL
    return f"customer{n}@example.org", s.ActorType.HUMAN_CUSTOMER


def _workload(rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """One round of a day in the life of an app: the thirteen functions, with
    successes, failures, and a few calls a developer got wrong."""
    actor, actor_type = _users(rng)
    session = f"sess_{rng.getrandbits(64):016x}"
    ok = rng.random() < 0.8
    status = s.Status.SUCCESS if ok else s.Status.FAILURE
    ua = rng.choice(["Mozilla/5.0 (Macintosh)", "Mozilla/5.0 (Windows NT 10.0)", "curl/8.5.0"])
    ip = f"203.0.113.{rng.randrange(1, 255)}"
    base = {
        "actor_identifier": actor,
        "actor_type": actor_type,
        "session_id": session,
        "source_ip_address": ip,
        "status": status,
    }
    login_detail = s.Detail.USER_INITIATED if ok else s.Detail.INVALID_CREDENTIALS
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "log_user_login",
            {
                **base,
                "user_agent": ua,
                "user_role": s.UserRole.STANDARD_USER,
                "auth_protocol": s.AuthProtocol.OIDC,
                "detail": login_detail,
            },
        ),
        (
            "log_mfa_challenge",
            {
                **base,
                "mfa_type": rng.choice(list(s.MfaType)),
                "user_agent": ua,
                "user_role": s.UserRole.STANDARD_USER,
                "detail": s.Detail.USER_INITIATED if ok else s.Detail.MFA_INVALID_CODE,
            },
        ),
        (
            "log_api_request",
            {
                **base,
                "auth_protocol": s.AuthProtocol.OAUTH2_JWT,
                "endpoint_path": rng.choice(["/api/v1/status", "/api/v1/reports", "/api/v1/me"]),
                "http_method": rng.choice([s.HttpMethod.GET, s.HttpMethod.POST]),
                "authorization_status": status,
                "endpoint_sensitivity": s.EndpointSensitivity.NON_PUBLIC,
                "trace_id": f"{rng.getrandbits(128):032x}",
            },
        ),
        (
            "log_record_access",
            {
                **base,
                "id_list": [f"cust_{rng.randrange(10**6):06d}" for _ in range(rng.randint(1, 40))],
                "endpoint_path": "/api/customers",
                "data_sensitivity_level": s.DataSensitivityLevel.CONFIDENTIAL,
                "detail": s.Detail.VIEW_LIST,
                "fields_accessed": ["name", "email", "address"],
            },
        ),
        (
            "log_permission_role_change",
            {
                **base,
                "event_type": rng.choice([s.EventType.ROLE_ASSIGN, s.EventType.ROLE_REVOKE]),
                "target_user_identifier": _users(rng)[0],
                "object_changed": "role",
                "previous_value": "viewer",
                "new_value": "editor",
                "detail": s.Detail.ADMIN_INITIATED,
            },
        ),
        (
            "log_user_status_change",
            {**base, "target_user_identifier": _users(rng)[0], "detail": s.Detail.USER_LOCKED},
        ),
        (
            "log_impersonation_event",
            {
                **base,
                "target_user_identifier": _users(rng)[0],
                "detail": s.Detail.IMPERSONATION_START,
            },
        ),
        (
            "log_user_invite_event",
            {
                **base,
                "target_user_email": f"new{rng.randrange(999)}@example.com",
                "assigned_role": s.UserRole.CUSTOMER_USER,
                "invite_status": s.InviteStatus.SENT,
                "detail": s.Detail.ADMIN_INITIATED,
            },
        ),
        (
            "log_mfa_status_change",
            {
                **base,
                "target_object": actor,
                "mfa_status": status,
                "mfa_id": f"mfa-{rng.randrange(9999)}",
                "detail": s.Detail.MFA_ENABLED,
            },
        ),
        (
            "log_password_change_reset",
            {
                **base,
                "target_object": actor,
                "change_status": status,
                "detail": s.Detail.PASSWORD_RESET,
            },
        ),
        (
            "log_api_key_lifecycle",
            {
                **base,
                "target_object": f"key-{rng.randrange(999)}",
                "key_status": status,
                "detail": s.Detail.API_KEY_CREATED,
            },
        ),
        (
            "log_auth_mechanism_modification",
            {
                **base,
                "target_object": "okta",
                "auth_status": status,
                "detail": s.Detail.SSO_CONFIG_MODIFIED,
                "context": {"change_ticket": f"CHG-{rng.randrange(9999)}"},
            },
        ),
        (
            "log_user_logout",
            {
                **base,
                "user_agent": ua,
                "user_role": s.UserRole.STANDARD_USER,
                "detail": s.Detail.SESSION_TIMEOUT,
            },
        ),
    ]
    if rng.random() < 0.1:  # a developer's mistake: rejected with a clear message
        calls.append(("log_user_login", {**base, "user_role": "superuser"}))
    return calls


def _expected(function: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    wire = {k: (list(v) if isinstance(v, list) else v) for k, v in kwargs.items()}
    wire = {k: (str(v) if isinstance(v, str) else v) for k, v in wire.items()}
    for k, v in ENVIRONMENT.items():
        wire.setdefault(k, str(v))
    return wire


def _compare(expected: dict[str, Any], got: dict[str, Any], label: str) -> list[str]:
    problems = [
        f"{label}: {key} is {got.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if key != "id_list" and got.get(key) != value
    ]
    if got.get("caller_function") != "emit" or got.get("caller_file") != "demo.py":
        problems.append(f"{label}: caller is {got.get('caller_function')}/{got.get('caller_file')}")
    return problems


async def _run(aws: LocalAws, events: int, seed: int, out: Callable[[str], object]) -> DemoReport:
    rng = random.Random(seed)
    topic: TopicWithQueue = await aws.topic_with_queue("sr-sec-logging-demo")
    s.init_security_logging(topic_arn=topic.topic_arn, endpoint_url=aws.endpoint_url, **ENVIRONMENT)
    report = DemoReport()
    sent: dict[str, tuple[str, dict[str, Any], int]] = {}
    expected_parts = 0
    reader: asyncio.Task[Any] | None = None
    stop_reading = asyncio.Event()

    async def emit(function: str, kwargs: dict[str, Any]) -> s.LogResult:
        log: Callable[..., Awaitable[s.LogResult]] = getattr(s, function)
        return await log(**kwargs)

    started = time.perf_counter()
    while report.accepted < events:
        for function, kwargs in _workload(rng):
            result = await emit(function, kwargs)
            if result.ok:
                assert result.event_uuid is not None
                sent[result.event_uuid] = (function, kwargs, result.parts)
                report.accepted += 1
                expected_parts += result.parts
            else:
                report.rejected += 1
        if reader is None:
            reader = asyncio.create_task(
                aws.drain(topic, 10**9, timeout=600, readers=4, stop=stop_reading)
            )
        # Requests arrive over time in a real app; pausing between rounds also
        # keeps moto's queue (which it rescans on every call) short.
        await asyncio.sleep(0.02)

    export_ids = [f"cust_{i:08d}" for i in range(EXPORT_IDS)]
    export = await emit(
        "log_record_access",
        {
            "actor_identifier": "analyst@example.com",
            "actor_type": s.ActorType.HUMAN_INTERNAL,
            "session_id": "sess_export",
            "status": s.Status.SUCCESS,
            "id_list": export_ids,
            "endpoint_path": "/api/customers/export",
            "data_sensitivity_level": s.DataSensitivityLevel.RESTRICTED,
            "detail": s.Detail.EXPORT_REPORT,
        },
    )
    assert export.ok and export.event_uuid is not None, export.message
    report.accepted += 1
    expected_parts += export.parts
    sent[export.event_uuid] = ("log_record_access", {}, export.parts)
    out(
        f"  logged {report.accepted:,} events; export of {EXPORT_IDS:,} ids in {export.parts} parts"
    )

    summary = await s.shutdown_security_logging(timeout=300)
    report.seconds = time.perf_counter() - started
    report.delivered, report.failed, report.pending = (
        summary.delivered,
        summary.failed,
        summary.pending,
    )
    report.parts = expected_parts
    stop_reading.set()
    if reader is not None:
        await reader
    deadline = time.monotonic() + 120
    while len(topic.received) < expected_parts and time.monotonic() < deadline:
        await aws.drain(topic, expected_parts, timeout=max(1.0, deadline - time.monotonic()))

    report.read_back = len(topic.received)
    export_parts: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for msg in topic.received:
        uuid = msg.get("event_uuid", "")
        if uuid not in sent:
            report.mismatches.append(f"unexpected message {uuid!r}")
            continue
        seen[uuid] = seen.get(uuid, 0) + 1
        function, kwargs, _ = sent[uuid]
        if uuid == export.event_uuid:
            export_parts.append(msg)
            continue
        report.mismatches.extend(_compare(_expected(function, kwargs), msg, f"{function} {uuid}"))
        if function == "log_record_access" and msg.get("id_list") != kwargs["id_list"]:
            report.mismatches.append(f"{uuid}: id_list differs")
    for uuid, (_, _, parts) in sent.items():
        if seen.get(uuid, 0) != parts:
            report.mismatches.append(f"{uuid}: read {seen.get(uuid, 0)} of {parts} parts")
    export_parts.sort(key=lambda m: m["part"])
    if [i for m in export_parts for i in m["id_list"]] != export_ids:
        report.mismatches.append("export: the parts do not hold exactly the input ids in order")
    report.split_events = sum(1 for _, _, parts in sent.values() if parts > 1)
    return report


def run_demo(
    events: int = 1000,
    seed: int = 7,
    out: Callable[[str], object] = print,
    failover_rounds: int = 30,
) -> DemoReport:
    """Run the demo end to end; returns the report (``report.ok`` says it passed).
    ``failover_rounds`` rounds per stage of the failover phase (0 skips it)."""
    out("sr_sec_async demo: embedded local SNS + SQS (moto server on 127.0.0.1)")
    with local_aws() as aws:
        out(f"  endpoint {aws.endpoint_url}")
        report = asyncio.run(_run(aws, events, seed, out))
        if failover_rounds:
            report.failover = asyncio.run(_failover_phase(aws, failover_rounds, out))
    out(report.table())
    if report.failover is not None:
        out(report.failover.table())
    for line in report.mismatches[:20]:
        out(f"  MISMATCH {line}")
    out("OK: every accepted event was read back intact" if report.ok else "FAILED")
    return report
