"""Every benchmark scenario side by side, in one run, against the same endpoints.

``python -m benchmarks [--quick] [--json FILE] [--endpoints instant,latency,moto]``

Endpoints (each on 127.0.0.1, each in its own process so that its CPU is not
charged to the event loop being measured): the fake SNS with no added latency
("instant"), the same with 20 ms added per request ("latency"), and moto.

Scenarios, each in a fresh event loop:

* ``peer``: the older library's way: synchronous boto3 ``publish`` per event,
  on the caller's path;
* ``naive``: ``await client.publish(...)`` per event with aioboto3;
* ``bare-batch``: a hand-written aioboto3 ``publish_batch`` loop, 10 entries a
  request, 2 requests in flight: the SDK's own best;
* ``sr_sec_async``: ``await log_user_login(...)`` for every event, then flush;
  ``sr_sec_async-stock`` is the same with the botocore fast path off,
  ``sr_sec_async-ff`` uses ``fire_and_forget``.

Event-loop CPU is the main thread's CPU time (``time.thread_time``) divided by
the events delivered; caller latency is measured around each call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import aioboto3
import boto3
from aiobotocore.config import AioConfig
from botocore.config import Config

import sr_sec_async as s
from sr_sec_async import api
from sr_sec_async.sinks import fastpath

REGION = "us-west-2"
ACCOUNT = "123456789012"
ENV = {
    "cloud_env_type": "prod",
    "cloud_env_unique_id": "123456789012",
    "cloud_env_name": "production-us-west-2",
    "service_account_id": "arn:aws:iam::123456789012:role/billing-api-service",
    "service_name": "billing-api",
}
#: A realistic login event: its wire form is about 900 bytes.
LOGIN: dict[str, Any] = {
    "event_type": s.EventType.LOGIN_ATTEMPT,
    "status": s.Status.SUCCESS,
    "actor_identifier": "alice@customer.example.com",
    "actor_type": s.ActorType.HUMAN_INTERNAL,
    "session_id": "sess-7f3c2a9e41d24b7a",
    "source_ip_address": "203.0.113.42",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "user_role": s.UserRole.ADMIN,
    "auth_protocol": s.AuthProtocol.OAUTH2_JWT,
    "detail": s.Detail.USER_INITIATED,
    "device_id": "device-5d0c8f7a2b1e",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "span_id": "00f067aa0ba902b7",
    "context": {"tenant": "acme", "mfa": True},
}


# -- endpoints -------------------------------------------------------------------


@dataclass
class Endpoint:
    name: str
    url: str
    topic_arn: str


@contextlib.contextmanager
def _process(args: list[str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.contextmanager
def fake_endpoint(name: str, latency: float) -> Iterator[Endpoint]:
    with _process(["-m", "benchmarks.fake_sns", "--latency", str(latency)]) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"fake SNS did not start: {url!r}")
        yield Endpoint(name, url, f"arn:aws:sns:{REGION}:{ACCOUNT}:bench")


@contextlib.contextmanager
def moto_endpoint() -> Iterator[Endpoint]:
    code = (
        "import logging,sys;from moto.server import ThreadedMotoServer;"
        "logging.getLogger('werkzeug').setLevel(logging.ERROR);"
        "m=ThreadedMotoServer(ip_address='127.0.0.1',port=0,verbose=False);m.start();"
        "h,p=m.get_host_and_port();print(f'http://{h}:{p}',flush=True);sys.stdin.read();m.stop()"
    )
    with _process(["-c", code]) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        client = boto3.client("sns", region_name=REGION, endpoint_url=url)
        arn = client.create_topic(Name="bench")["TopicArn"]
        client.close()
        yield Endpoint("moto", url, arn)


# -- measurements -------------------------------------------------------------------


@dataclass
class Row:
    endpoint: str
    scenario: str
    events: int
    delivered: int
    seconds: float
    events_per_s: float
    cpu_us_per_event: float
    caller_p50_us: float | None = None
    caller_p99_us: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(endpoint: Endpoint, scenario: str, n: int, delivered: int, wall: float, cpu: float,
         latencies: list[float] | None = None) -> Row:  # fmt: skip
    return Row(
        endpoint.name,
        scenario,
        n,
        delivered,
        round(wall, 3),
        round(delivered / wall, 1) if wall else 0.0,
        round(cpu / max(delivered, 1) * 1e6, 1),
        round(_pct(latencies, 0.5) * 1e6, 2) if latencies else None,
        round(_pct(latencies, 0.99) * 1e6, 2) if latencies else None,
    )


def _message() -> str:
    """The peer's and the bare loops' message: same fields, same size, built per event."""
    body = {k: str(v) if not isinstance(v, dict) else v for k, v in LOGIN.items()}
    body.update(ENV)
    body.update(
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        event_uuid=str(uuid.uuid4()),
        log_category="authentication",
        caller_function="handler",
        caller_file="views.py",
    )
    return json.dumps(body, separators=(",", ":"))


_ATTRS = {
    "event_type": {"DataType": "String", "StringValue": "login_attempt"},
    "log_category": {"DataType": "String", "StringValue": "authentication"},
}


def run_peer(endpoint: Endpoint, n: int) -> Row:
    client = boto3.client(
        "sns",
        region_name=REGION,
        endpoint_url=endpoint.url,
        config=Config(retries={"total_max_attempts": 1}),
    )
    try:
        client.publish(TopicArn=endpoint.topic_arn, Message=_message())  # connect
        latencies = []
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            client.publish(
                TopicArn=endpoint.topic_arn, Message=_message(), MessageAttributes=_ATTRS
            )
            latencies.append(time.perf_counter() - t)
        wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    finally:
        client.close()
    return _row(endpoint, "peer", n, n, wall, cpu, latencies)


@contextlib.asynccontextmanager
async def _aio_client(endpoint: Endpoint) -> AsyncIterator[Any]:
    session = aioboto3.Session()
    config = AioConfig(retries={"total_max_attempts": 1}, max_pool_connections=8)
    async with session.client(
        "sns", region_name=REGION, endpoint_url=endpoint.url, config=config
    ) as client:
        yield client


async def run_naive(endpoint: Endpoint, n: int) -> Row:
    async with _aio_client(endpoint) as client:
        await client.publish(TopicArn=endpoint.topic_arn, Message=_message())
        latencies = []
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            await client.publish(
                TopicArn=endpoint.topic_arn, Message=_message(), MessageAttributes=_ATTRS
            )
            latencies.append(time.perf_counter() - t)
        wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    return _row(endpoint, "naive", n, n, wall, cpu, latencies)


async def _bare_batches(client: Any, endpoint: Endpoint, queue: asyncio.Queue[str | None],
                        in_flight: int = 2) -> int:  # fmt: skip
    """Drain ``queue`` in batches of 10 with ``in_flight`` concurrent requests."""
    delivered = 0
    done = False

    async def worker() -> None:
        nonlocal delivered, done
        while not done:
            batch: list[str] = []
            item = await queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) == 10 or queue.empty():
                    break
                item = queue.get_nowait()
            if item is None:
                done = True
            if batch:
                entries = [
                    {"Id": str(i), "Message": m, "MessageAttributes": _ATTRS}
                    for i, m in enumerate(batch)
                ]
                r = await client.publish_batch(
                    TopicArn=endpoint.topic_arn, PublishBatchRequestEntries=entries
                )
                delivered += len(r.get("Successful", ()))
        await queue.put(None)  # let the other workers stop too

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return delivered


async def run_bare(endpoint: Endpoint, n: int) -> Row:
    async with _aio_client(endpoint) as client:
        await client.publish(TopicArn=endpoint.topic_arn, Message=_message())
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        for _ in range(n):
            queue.put_nowait(_message())
        queue.put_nowait(None)
        delivered = await _bare_batches(client, endpoint, queue)
        wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    return _row(endpoint, "bare-batch", n, delivered, wall, cpu)


def _init(endpoint: Endpoint, **extra: Any) -> s.SecurityLogger:
    return s.init_security_logging(
        topic_arn=endpoint.topic_arn, endpoint_url=endpoint.url, **ENV, **extra
    )


@contextlib.contextmanager
def _fastpath(enabled: bool) -> Iterator[None]:
    saved = os.environ.get(fastpath.DISABLE_ENV)
    os.environ[fastpath.DISABLE_ENV] = "1" if enabled else "0"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(fastpath.DISABLE_ENV, None)
        else:
            os.environ[fastpath.DISABLE_ENV] = saved


async def run_ours(endpoint: Endpoint, n: int, *, scenario: str = "sr_sec_async",
                   fire: bool = False, **extra: Any) -> Row:  # fmt: skip
    api._default = None
    logger = _init(endpoint, **extra)
    await s.log_user_login(**LOGIN)  # open the clients and the connection
    await s.flush_security_logging(30)
    before = logger.summary().delivered
    latencies = []
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        if fire:
            s.fire_and_forget(s.log_user_login(**LOGIN))
        else:
            result = await s.log_user_login(**LOGIN)
        latencies.append(time.perf_counter() - t)
        if not fire and result.status != "success":
            raise RuntimeError(result.message)
    summary = await s.flush_security_logging(120)
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    await s.shutdown_security_logging(10)
    delivered = summary.delivered - before
    row = _row(endpoint, scenario, n, delivered, wall, cpu, latencies)
    row.extra["failed"] = summary.failed
    return row


# -- application impact: a 1 ms ticker while 1,000 events/s are delivered ----------


async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.001)
        lags.append(loop.time() - t - 0.001)


async def _at_rate(seconds: float, emit: Callable[[], Awaitable[None]]) -> int:
    """Call ``emit`` 10 times every 10 ms (1,000 events/s) for ``seconds``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    tick = 0
    while (now := loop.time()) - start < seconds:
        due = start + tick * 0.01
        if due > now:
            await asyncio.sleep(due - now)
        for _ in range(10):
            await emit()
            n += 1
        tick += 1
    return n


def _lag_row(endpoint: Endpoint, scenario: str, n: int, delivered: int, wall: float,
             cpu: float, lags: list[float]) -> Row:  # fmt: skip
    row = _row(endpoint, scenario, n, delivered, wall, cpu)
    row.extra.update(
        lag_p50_ms=round(_pct(lags, 0.5) * 1e3, 3),
        lag_p99_ms=round(_pct(lags, 0.99) * 1e3, 3),
        lag_max_ms=round(max(lags) * 1e3, 3),
        ticks=len(lags),
    )
    return row


async def lag_none(endpoint: Endpoint, seconds: float) -> Row:
    async def nothing() -> None:
        return None

    return await _with_ticker(endpoint, "ticker-alone", seconds, nothing, None)


async def _with_ticker(endpoint: Endpoint, scenario: str, seconds: float,
                       emit: Callable[[], Awaitable[None]],
                       finish: Callable[[], Awaitable[int]] | None) -> Row:  # fmt: skip
    stop = asyncio.Event()
    lags: list[float] = []
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    ticker = asyncio.create_task(_ticker(stop, lags))
    n = await _at_rate(seconds, emit)
    delivered = await finish() if finish is not None else n
    stop.set()
    await ticker
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    return _lag_row(endpoint, scenario, n, delivered, wall, cpu, lags)


async def lag_bare(endpoint: Endpoint, seconds: float) -> Row:
    async with _aio_client(endpoint) as client:
        await client.publish(TopicArn=endpoint.topic_arn, Message=_message())
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        sender = asyncio.create_task(_bare_batches(client, endpoint, queue))

        async def emit() -> None:
            queue.put_nowait(_message())

        async def finish() -> int:
            queue.put_nowait(None)
            return await sender

        return await _with_ticker(endpoint, "bare-batch", seconds, emit, finish)


async def lag_ours(endpoint: Endpoint, seconds: float, scenario: str = "sr_sec_async") -> Row:
    api._default = None
    logger = _init(endpoint)
    await s.log_user_login(**LOGIN)
    await s.flush_security_logging(30)
    before = logger.summary().delivered

    async def emit() -> None:
        await s.log_user_login(**LOGIN)

    async def finish() -> int:
        summary = await s.flush_security_logging(60)
        return summary.delivered - before

    row = await _with_ticker(endpoint, scenario, seconds, emit, finish)
    await s.shutdown_security_logging(10)
    return row


# -- memory and record access ------------------------------------------------------------


async def memory_per_event(endpoint: Endpoint, n: int) -> dict[str, Any]:
    """Bytes held per queued event: accept ``n`` events without yielding to the
    loop (so none is sent), compare traced memory before and after."""
    api._default = None
    logger = _init(endpoint, max_queue_size=n + 10)
    await s.log_user_login(**LOGIN)
    await s.flush_security_logging(30)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(n):
        logger._accept("log_user_login", LOGIN)  # the caller drops the result
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    body = len(s.get_security_logger()._publisher._queue[-1].body)  # type: ignore[union-attr]
    await s.shutdown_security_logging(60)
    return {"events": n, "bytes_per_event": round(used / n), "wire_bytes_per_event": body}


async def record_access_cost(endpoint: Endpoint, sizes: list[int]) -> list[dict[str, Any]]:
    """Caller time of ``log_record_access`` against the size of ``id_list``."""
    api._default = None
    _init(endpoint)
    out = []
    for size in sizes:
        ids = [f"rec-{i:08d}" for i in range(size)]
        await s.flush_security_logging(60)
        times = []
        repeats = 50 if size <= 100 else 5 if size <= 10_000 else 3
        parts = 1
        for _ in range(repeats):  # back to back, as an application logs them
            t = time.perf_counter()
            result = await s.log_record_access(
                **{k: v for k, v in LOGIN.items() if k in _BASE_FIELDS},
                id_list=ids,
                endpoint_path="/api/customers/export",
                data_sensitivity_level=s.DataSensitivityLevel.CONFIDENTIAL,
                detail=s.Detail.EXPORT_REPORT,
            )
            times.append(time.perf_counter() - t)
            if result.status != "success":
                raise RuntimeError(result.message)
            parts = result.parts
        summary = await s.flush_security_logging(120)
        if summary.pending or summary.failed:
            raise RuntimeError(f"record access events not delivered: {summary}")
        median = statistics.median(times)
        out.append(
            {
                "ids": size,
                "parts": parts,
                "caller_us": round(median * 1e6, 1),
                "ns_per_id": round(median * 1e9 / size, 1),
            }
        )
    await s.shutdown_security_logging(30)
    return out


_BASE_FIELDS = {"status", "actor_identifier", "actor_type", "session_id", "source_ip_address"}


# -- the run ------------------------------------------------------------------------------


@dataclass
class Sizes:
    peer: int
    naive: int
    bare: int
    ours: int
    lag_seconds: float
    memory: int
    record_sizes: list[int]


FULL = Sizes(300, 300, 3000, 3000, 3.0, 5000, [1, 100, 10_000, 100_000, 300_000])
QUICK = Sizes(40, 40, 300, 300, 0.6, 500, [1, 100, 10_000])
SLOW_DIVISOR = {"instant": 1, "latency": 5, "moto": 3}


def run_endpoint(endpoint: Endpoint, sizes: Sizes, report: Callable[[str], None]) -> list[Row]:
    d = SLOW_DIVISOR.get(endpoint.name, 1)
    rows: list[Row] = []

    def step(what: str, row: Row) -> None:
        report(f"  {endpoint.name:8s} {what:22s} {row.events_per_s:>10.1f} ev/s")
        rows.append(row)

    step("peer", run_peer(endpoint, max(10, sizes.peer // (d * 2 if d > 1 else 1))))
    step("naive", asyncio.run(run_naive(endpoint, max(10, sizes.naive // (d * 2 if d > 1 else 1)))))
    step("bare-batch", asyncio.run(run_bare(endpoint, sizes.bare // d)))
    with _fastpath(False):
        step("sr_sec_async-stock", asyncio.run(run_ours(endpoint, sizes.ours // d, scenario="sr_sec_async-stock")))  # fmt: skip
    step("sr_sec_async", asyncio.run(run_ours(endpoint, sizes.ours // d)))
    step("sr_sec_async-ff", asyncio.run(run_ours(endpoint, sizes.ours // d, scenario="sr_sec_async-ff", fire=True)))  # fmt: skip
    if endpoint.name == "latency":
        step("sr_sec_async-6", asyncio.run(run_ours(endpoint, sizes.ours // d, scenario="sr_sec_async (6 in flight)", max_in_flight=6)))  # fmt: skip
    return rows


def run_lag(endpoint: Endpoint, sizes: Sizes, report: Callable[[str], None]) -> list[Row]:
    rows = [asyncio.run(lag_none(endpoint, sizes.lag_seconds))]
    rows.append(asyncio.run(lag_bare(endpoint, sizes.lag_seconds)))
    with _fastpath(False):
        rows.append(asyncio.run(lag_ours(endpoint, sizes.lag_seconds, "sr_sec_async-stock")))
    rows.append(asyncio.run(lag_ours(endpoint, sizes.lag_seconds)))
    for row in rows:
        report(f"  {endpoint.name:8s} lag {row.scenario:18s} p99 {row.extra['lag_p99_ms']} ms")
    return rows


def ratios(rows: list[Row]) -> dict[str, Any]:
    """The target ratios, from the rows of one run."""
    by = {(r.endpoint, r.scenario): r for r in rows}
    out: dict[str, Any] = {}

    def get(endpoint: str, scenario: str) -> Row | None:
        return by.get((endpoint, scenario))

    ours, peer, bare = (
        get("instant", "sr_sec_async"),
        get("instant", "peer"),
        get("instant", "bare-batch"),
    )
    if ours and peer and ours.caller_p50_us and peer.caller_p50_us:
        out["caller_p50_us"] = ours.caller_p50_us
        out["caller_vs_peer"] = round(peer.caller_p50_us / ours.caller_p50_us, 1)
    if ours and bare:
        out["throughput_vs_bare"] = round(ours.events_per_s / bare.events_per_s, 2)
        out["cpu_per_event_vs_bare"] = round(ours.cpu_us_per_event / bare.cpu_us_per_event, 2)
    if ours and peer:
        out["throughput_vs_peer"] = round(ours.events_per_s / peer.events_per_s, 1)
    stock = get("instant", "sr_sec_async-stock")
    if ours and stock:
        out["cpu_per_event_vs_stock_path"] = round(
            ours.cpu_us_per_event / stock.cpu_us_per_event, 2
        )
    lat_peer = get("latency", "peer")
    for name in ("sr_sec_async", "sr_sec_async (6 in flight)"):
        row = get("latency", name)
        if row and lat_peer:
            out[f"latency_throughput_vs_peer[{name}]"] = round(
                row.events_per_s / lat_peer.events_per_s, 1
            )
    lag = get("instant-lag", "sr_sec_async")
    if lag:
        out["ticker_p99_ms"] = lag.extra["lag_p99_ms"]
    return out


def table(rows: list[Row]) -> str:
    head = (
        f"| {'endpoint':11s} | {'scenario':26s} | {'events':>6s} | {'ev/s':>9s} | {'CPU µs/ev':>9s} "
        f"| {'caller p50 µs':>13s} | {'caller p99 µs':>13s} | {'lag p50/p99/max ms':>20s} |"
    )
    lines = [head, "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"]
    for r in rows:
        lag = (
            f"{r.extra['lag_p50_ms']}/{r.extra['lag_p99_ms']}/{r.extra['lag_max_ms']}"
            if "lag_p99_ms" in r.extra
            else ""
        )
        p50 = f"{r.caller_p50_us:.2f}" if r.caller_p50_us is not None else ""
        p99 = f"{r.caller_p99_us:.2f}" if r.caller_p99_us is not None else ""
        lines.append(
            f"| {r.endpoint:11s} | {r.scenario:26s} | {r.delivered:>6d} | {r.events_per_s:>9.1f} "
            f"| {r.cpu_us_per_event:>9.1f} | {p50:>13s} | {p99:>13s} | {lag:>20s} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument(
        "--json", metavar="FILE", help="also write the results as JSON ('-': stdout)"
    )
    parser.add_argument("--endpoints", default="instant,latency,moto",
                        help="comma-separated: instant, latency, moto")  # fmt: skip
    parser.add_argument("--skip", default="", help="comma-separated: lag, memory, records")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    wanted = set(args.endpoints.split(","))
    skip = set(filter(None, args.skip.split(",")))
    for key, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_SESSION_TOKEN", None)

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    rows: list[Row] = []
    memory: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    if "instant" in wanted:
        with fake_endpoint("instant", 0.0) as endpoint:
            rows += run_endpoint(endpoint, sizes, report)
            if "lag" not in skip:
                lag_rows = run_lag(endpoint, sizes, report)
                for row in lag_rows:
                    row.endpoint = "instant-lag"
                rows += lag_rows
            if "memory" not in skip:
                memory = asyncio.run(memory_per_event(endpoint, sizes.memory))
            if "records" not in skip:
                records = asyncio.run(record_access_cost(endpoint, sizes.record_sizes))
    if "latency" in wanted:
        with fake_endpoint("latency", 0.020) as endpoint:
            rows += run_endpoint(endpoint, sizes, report)
    if "moto" in wanted:
        with moto_endpoint() as endpoint:
            rows += run_endpoint(endpoint, sizes, report)

    if len(records) >= 3:
        # linear cost: the cost per id stays flat from 10,000 ids up
        per_id = [r["ns_per_id"] for r in records if r["ids"] >= 10_000]
        ratios_extra = {
            "record_access_ns_per_id_max_over_min_from_10k": round(max(per_id) / min(per_id), 2)
        }
    else:
        ratios_extra = {}
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "seconds": round(time.perf_counter() - started, 1),
        "quick": args.quick,
        "rows": [asdict(r) for r in rows],
        "ratios": ratios(rows) | ratios_extra,
        "memory": memory,
        "record_access": records,
    }
    print(f"# sr_sec_async benchmarks — {result['date']} — {result['machine']}")
    print()
    print(table(rows))
    print()
    if memory:
        print(
            f"memory: {memory['bytes_per_event']} bytes per queued event "
            f"(wire body {memory['wire_bytes_per_event']} bytes, {memory['events']} events)"
        )
    for rec in records:
        print(
            f"log_record_access ids={rec['ids']:>7d} parts={rec['parts']:>3d} "
            f"caller={rec['caller_us']:>10.1f} µs  {rec['ns_per_id']:>8.1f} ns/id"
        )
    print()
    for key, value in result["ratios"].items():
        print(f"{key}: {value}")
    print(f"\n({result['seconds']} s)")
    if args.json:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
