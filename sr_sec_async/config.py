"""Settings, resolved once at init: init arguments > environment > defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .environment import environment_fields, normalize_env_type

__all__ = [
    "DEFAULT_DEV_TOPIC_ARN",
    "DEFAULT_PROD_FAILOVER_TOPIC_ARN",
    "DEFAULT_PROD_TOPIC_ARN",
    "AwsCredentials",
    "RegionTarget",
    "Settings",
    "resolve_settings",
]

DEFAULT_PROD_TOPIC_ARN = "arn:aws:sns:us-west-2:000576341507:sr-sec-logging-log-topic-prod"
DEFAULT_PROD_FAILOVER_TOPIC_ARN = (
    "arn:aws:sns:us-east-2:000576341507:sr-sec-logging-log-topic-failover-prod"
)
DEFAULT_DEV_TOPIC_ARN = "arn:aws:sns:us-west-2:687126124183:sr-sec-logging-log-topic-dev"
DEFAULT_REGION = "us-west-2"

_TRUE = {"1", "true", "yes", "on"}

#: What an event meets when the queue is full: ``wait`` (an awaited call waits
#: up to ``queue_wait_timeout`` for room, then is refused), ``drop`` (refused at
#: once), ``spool`` (written to the on-disk spool; needs ``spool_dir``).
OVERFLOW_POLICIES = ("wait", "drop", "spool")
DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never print secrets
        return f"AwsCredentials(access_key_id={self.access_key_id[:4]}…)"


@dataclass(frozen=True, slots=True)
class RegionTarget:
    """One region's topic and how to reach it."""

    name: str  # "primary" or "failover"
    topic_arn: str
    region: str
    endpoint_url: str | None = None

    @property
    def fifo(self) -> bool:
        return self.topic_arn.endswith(".fifo")


@dataclass(frozen=True, slots=True)
class Settings:
    test_mode: bool
    primary: RegionTarget | None
    failover: RegionTarget | None
    credentials: AwsCredentials | None
    environment: Mapping[str, str]
    max_queue_size: int = 10_000
    primary_timeout: float = 2.0
    max_in_flight: int = 2
    max_attempts: int = 4
    #: Consecutive transient failures that open a region's circuit breaker.
    breaker_threshold: int = 5
    #: Seconds an open breaker waits before admitting its one probe.
    breaker_cooldown: float = 60.0
    #: Seconds a batch keeps being retried while no region takes it; then its
    #: events fail with "retry budget exhausted".
    retry_budget: float = 600.0
    #: Seconds the failover region gets per batch (the primary gets ``primary_timeout``).
    failover_timeout: float = 5.0
    overflow_policy: str = "wait"
    queue_wait_timeout: float = 1.0
    #: The spool's one switch: a directory turns it on (``None``: off).
    spool_dir: str | None = None
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    spool_fsync: bool = True
    spool_replay_interval: float = 5.0
    #: Part of a shutdown's timeout kept for in-flight batches to finish.
    shutdown_grace: float = 2.0
    exit_timeout: float | None = 30.0  # leaving ``async with SecurityLogger``
    #: At most ``warning_burst`` reports per reason in each ``warning_interval``
    #: seconds; the rest are counted and summed up in the next report.
    warning_interval: float = 10.0
    warning_burst: int = 100
    problems: tuple[str, ...] = field(default=())


def region_of(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "sns" and parts[3]:
        return parts[3]
    return None


def _credentials(value: Any) -> AwsCredentials | None:
    if value is None or isinstance(value, AwsCredentials):
        return value
    if isinstance(value, Mapping):
        get = value.get
    else:

        def get(key: str, default: Any = None) -> Any:
            return getattr(value, key, default)

    key = get("access_key_id") or get("accessKeyId")
    secret = get("secret_access_key") or get("secretAccessKey")
    token = get("session_token") or get("sessionToken")
    if not key or not secret:
        raise ValueError("credentials need access_key_id and secret_access_key")
    return AwsCredentials(str(key), str(secret), str(token) if token else None)


def _positive(name: str, value: object, default: float, problems: list[str]) -> float:
    """A timeout of zero or less would fail every request: report it (as a
    configuration problem, not an exception) and use the default instead."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if number > 0:
        return number
    problems.append(f"{name} must be a positive number of seconds, got {value!r}; using {default}")
    return default


def resolve_settings(
    *,
    test_mode: bool | None = None,
    topic_arn: str | None = None,
    failover_topic_arn: str | None = None,
    enable_failover: bool = True,
    region_name: str | None = None,
    failover_region: str | None = None,
    credentials: Any = None,
    endpoint_url: str | None = None,
    failover_endpoint_url: str | None = None,
    cloud_env_type: str | None = None,
    cloud_env_unique_id: str | None = None,
    cloud_env_name: str | None = None,
    service_account_id: str | None = None,
    service_name: str | None = None,
    max_queue_size: int = 10_000,
    primary_timeout: float = 2.0,
    max_in_flight: int = 2,
    max_attempts: int = 4,
    breaker_threshold: int = 5,
    breaker_cooldown: float = 60.0,
    retry_budget: float = 600.0,
    failover_timeout: float = 5.0,
    overflow_policy: str | None = None,
    queue_wait_timeout: float = 1.0,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES,
    spool_fsync: bool = True,
    spool_replay_interval: float = 5.0,
    shutdown_grace: float = 2.0,
    exit_timeout: float | None = 30.0,
    warning_interval: float = 10.0,
    warning_burst: int = 100,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    problems: list[str] = []

    spool = spool_dir if spool_dir is not None else env.get("SECURITY_LOGS_SPOOL_DIR") or None
    policy = (overflow_policy or env.get("SECURITY_LOGS_OVERFLOW_POLICY") or "wait").lower()
    if policy not in OVERFLOW_POLICIES:
        problems.append(
            f"overflow_policy {policy!r} is not one of {', '.join(OVERFLOW_POLICIES)}; using 'wait'"
        )
        policy = "wait"
    if policy == "spool" and spool is None:
        problems.append("overflow_policy 'spool' needs spool_dir; using 'wait'")
        policy = "wait"

    raw_test_mode: object = (
        env.get("SECURITY_LOGS_TEST_MODE", "") if test_mode is None else test_mode
    )
    if isinstance(raw_test_mode, str):  # "false" and "0" must not switch test mode on
        test_mode = raw_test_mode.strip().lower() in _TRUE
    else:
        test_mode = bool(raw_test_mode)

    fields = environment_fields(env)
    given = {
        "cloud_env_type": cloud_env_type,
        "cloud_env_unique_id": cloud_env_unique_id,
        "cloud_env_name": cloud_env_name,
        "service_account_id": service_account_id,
        "service_name": service_name,
    }
    fields.update({k: v for k, v in given.items() if v is not None})
    if isinstance(fields.get("cloud_env_type"), str):
        fields["cloud_env_type"] = normalize_env_type(fields["cloud_env_type"])

    try:
        creds = _credentials(credentials)
    except ValueError as exc:
        problems.append(str(exc))
        creds = None

    primary_arn = topic_arn or env.get("SECURITY_LOGS_TOPIC_ARN") or None
    custom = primary_arn is not None
    if primary_arn is None:
        is_prod = fields.get("cloud_env_type") == "prod"
        primary_arn = DEFAULT_PROD_TOPIC_ARN if is_prod else DEFAULT_DEV_TOPIC_ARN

    arn_region = region_of(primary_arn)
    if arn_region is None:
        problems.append(f"topic_arn is not an SNS topic ARN: {primary_arn!r}")
    if region_name and arn_region and region_name != arn_region:
        problems.append(
            f"region_name {region_name!r} does not match the topic ARN's region {arn_region!r}"
        )
    region = arn_region or region_name or env.get("AWS_REGION") or DEFAULT_REGION
    primary = RegionTarget("primary", primary_arn, region, endpoint_url)

    failover = None
    if enable_failover:
        fo_arn = failover_topic_arn or env.get("SECURITY_LOGS_FAILOVER_TOPIC_ARN") or None
        if fo_arn is None and not custom and primary_arn == DEFAULT_PROD_TOPIC_ARN:
            fo_arn = DEFAULT_PROD_FAILOVER_TOPIC_ARN  # never for a custom primary topic
        if fo_arn is not None:
            fo_arn_region = region_of(fo_arn)
            if fo_arn_region is None:
                problems.append(f"failover_topic_arn is not an SNS topic ARN: {fo_arn!r}")
            fo_region = (
                fo_arn_region
                or failover_region
                or env.get("SECURITY_LOGS_FAILOVER_REGION")
                or "us-east-2"
            )
            if failover_region and fo_arn_region and failover_region != fo_arn_region:
                problems.append(
                    f"failover_region {failover_region!r} does not match the failover "
                    f"topic ARN's region {fo_arn_region!r}"
                )
            failover = RegionTarget("failover", fo_arn, fo_region, failover_endpoint_url)

    return Settings(
        test_mode=bool(test_mode),
        primary=primary,
        failover=failover,
        credentials=creds,
        environment=fields,
        max_queue_size=max(1, int(max_queue_size)),
        primary_timeout=_positive("primary_timeout", primary_timeout, 2.0, problems),
        max_in_flight=max(1, int(max_in_flight)),
        max_attempts=max(1, int(max_attempts)),
        breaker_threshold=max(1, int(breaker_threshold)),
        breaker_cooldown=max(0.0, float(breaker_cooldown)),
        retry_budget=max(0.0, float(retry_budget)),
        failover_timeout=_positive("failover_timeout", failover_timeout, 5.0, problems),
        overflow_policy=policy,
        queue_wait_timeout=max(0.0, float(queue_wait_timeout)),
        spool_dir=os.fspath(spool) if spool is not None else None,
        spool_max_bytes=max(4096, int(spool_max_bytes)),
        spool_fsync=bool(spool_fsync),
        spool_replay_interval=max(0.01, float(spool_replay_interval)),
        shutdown_grace=max(0.0, float(shutdown_grace)),
        exit_timeout=None if exit_timeout is None else max(0.0, float(exit_timeout)),
        warning_interval=max(0.0, float(warning_interval)),
        warning_burst=max(1, int(warning_burst)),
        problems=tuple(problems),
    )
