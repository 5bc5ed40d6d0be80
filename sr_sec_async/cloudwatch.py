"""``log_failure`` metrics in CloudWatch for every failed, dropped or rejected
event: the failure monitoring the reference README requires of every team,
built in behind ``cloudwatch_metrics=True``.

Each failure is counted in memory (synchronously, on whatever path reported
it) and a background task in the running loop sends the counts in batches
through one long-lived aiobotocore CloudWatch client: namespace
``SecurityLogging``, metric ``log_failure`` (unit ``Count``), dimensions
``ServiceName``, ``Environment`` (the logger's ``cloud_env_type``) and
``EventType`` ("unknown" when a value is not set). Alarm on the metric's
``Sum`` with the dimensions your service uses.

A CloudWatch outage never feeds back into the security channel: a failed
``PutMetricData`` is logged on the ``sr_sec_async`` logger, its counts are
kept for the next batch (up to ``max_pending``), and nothing is reported
through the error handler or the failure listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections import Counter
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig

from .config import DEFAULT_REGION, Settings

__all__ = ["METRIC_NAME", "NAMESPACE", "CloudWatchFailureMetrics"]

log = logging.getLogger("sr_sec_async")

NAMESPACE = "SecurityLogging"
METRIC_NAME = "log_failure"
_MAX_DATUMS = 1000  # PutMetricData's limit per request


class CloudWatchFailureMetrics:
    """Counts failures per event type and puts them as ``log_failure`` metrics.

    ``record`` never blocks and never raises. The client is opened lazily in
    the running loop by the sending task, and closed when that task ends: at
    ``aclose()`` (the logger's shutdown) or when its loop is torn down.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        namespace: str = NAMESPACE,
        flush_interval: float = 5.0,
        max_pending: int = 100_000,
        close_timeout: float = 5.0,
    ) -> None:
        env = settings.environment
        self.service_name = env.get("service_name") or "unknown"
        self.environment = env.get("cloud_env_type") or "unknown"
        self.namespace = namespace
        self.region = region or (settings.primary.region if settings.primary else DEFAULT_REGION)
        self._endpoint_url = endpoint_url
        self._credentials = settings.credentials
        self._interval = flush_interval
        self._max_pending = max_pending
        self._close_timeout = close_timeout
        self._pending: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        #: Failures put into CloudWatch, and failures given up on (logged).
        self.reported = 0
        self.lost = 0

    @property
    def pending(self) -> int:
        return sum(self._pending.values())

    def record(self, event_type: str | None, reason: str = "") -> None:
        """Count one failure; sent with the next batch."""
        if self._closing and self._task is None:
            self.lost += 1
            log.warning("log_failure metric after shutdown not sent (%s)", event_type)
            return
        if self.pending >= self._max_pending:
            self.lost += 1
            return
        self._pending[event_type or "unknown"] += 1
        self._ensure_running()

    def _ensure_running(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # sent by the next task started in a running loop, or at close
        if self._loop is loop and self._task is not None and not self._task.done():
            if self._wake is not None:
                self._wake.set()
            return
        if self._loop is not loop:
            self._loop = loop
            self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="sr_sec_async-cloudwatch")

    def _client(self) -> Any:
        creds = self._credentials
        session = aioboto3.Session(
            aws_access_key_id=creds.access_key_id if creds else None,
            aws_secret_access_key=creds.secret_access_key if creds else None,
            aws_session_token=creds.session_token if creds else None,
        )
        config = AioConfig(connect_timeout=2.0, read_timeout=5.0, retries={"total_max_attempts": 2})
        return session.client(
            "cloudwatch", region_name=self.region, endpoint_url=self._endpoint_url, config=config
        )

    async def _run(self) -> None:
        try:
            await self._sender()
        except Exception as exc:  # never an unobserved task exception
            log.warning("CloudWatch metrics sender stopped: %r", exc)

    async def _sender(self) -> None:
        assert self._wake is not None
        wake = self._wake
        async with contextlib.AsyncExitStack() as stack:
            client = await stack.enter_async_context(self._client())
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    wake.clear()
                    await wake.wait()
                    continue
                if not self._closing:  # gather a batch, unless shutting down
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._interval):
                            while not self._closing:
                                await wake.wait()
                                wake.clear()
                if not await self._send(client) and self._closing:
                    return

    async def _send(self, client: Any) -> bool:
        counts = dict(self._pending)
        self._pending.clear()
        now = datetime.datetime.now(datetime.UTC)
        data: list[dict[str, Any]] = [
            {
                "MetricName": METRIC_NAME,
                "Value": float(count),
                "Unit": "Count",
                "Timestamp": now,
                "Dimensions": [
                    {"Name": "ServiceName", "Value": self.service_name},
                    {"Name": "Environment", "Value": self.environment},
                    {"Name": "EventType", "Value": event_type},
                ],
            }
            for event_type, count in counts.items()
        ]
        sent: set[str] = set()
        try:
            for start in range(0, len(data), _MAX_DATUMS):
                chunk = data[start : start + _MAX_DATUMS]
                await client.put_metric_data(Namespace=self.namespace, MetricData=chunk)
                sent.update(d["Dimensions"][2]["Value"] for d in chunk)
        except asyncio.CancelledError:  # the loop is ending: the next one sends them
            self._pending.update({t: c for t, c in counts.items() if t not in sent})
            raise
        except Exception as exc:
            unsent = {t: c for t, c in counts.items() if t not in sent}
            self._pending.update(unsent)  # retried with the next batch
            log.warning(
                "cannot put %d log_failure metric(s) to CloudWatch (%s): %r",
                sum(unsent.values()),
                self.region,
                exc,
            )
            self.reported += sum(c for t, c in counts.items() if t in sent)
            return False
        self.reported += sum(counts.values())
        return True

    async def aclose(self) -> None:
        """Send what is pending (one attempt, within ``close_timeout``), then
        close the client. Counts that could not be sent are logged as lost."""
        self._closing = True
        if self._pending:
            self._ensure_running()
        task, wake = self._task, self._wake
        if task is not None and self._loop is asyncio.get_running_loop():
            if wake is not None:
                wake.set()
            try:
                async with asyncio.timeout(self._close_timeout):
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            except Exception as exc:
                log.warning("CloudWatch metrics task failed: %r", exc)
        self._task = None
        if self._pending:
            self.lost += self.pending
            log.error("%d security logging failure(s) could not be put to CloudWatch", self.pending)
            self._pending.clear()
