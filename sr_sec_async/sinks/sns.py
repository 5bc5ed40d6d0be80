"""One long-lived aioboto3 SNS client per region, opened in the running loop
and closed, in reverse order, when the publisher stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import aioboto3
import botocore.loaders
import botocore.session
from aiobotocore.config import AioConfig

from ..config import RegionTarget, Settings
from . import fastpath

__all__ = ["SnsSink"]


# botocore reads its service models from disk (JSON, ~130 ms for SNS) while a
# client is created, which would stall the application's event loop at every
# publisher start. One loader, warmed once in a worker thread, serves every
# session of the process: its caches make later client creation cheap.
_loader: Any = None
_loaded = False
_load_lock = threading.Lock()
log = logging.getLogger("sr_sec_async")


def _share_loader(session: Any) -> bool:
    """Give ``session`` the process-wide model loader (False if botocore's
    internals are not as expected: then it keeps its own, stock behaviour)."""
    global _loader
    try:
        with _load_lock:
            if _loader is None:
                _loader = botocore.loaders.create_loader()
        session._session.register_component("data_loader", _loader)
    except Exception:  # pragma: no cover - unknown botocore layout
        log.debug("cannot share botocore's model loader", exc_info=True)
        return False
    return True


def _load_models() -> None:
    """Create (and drop) one SNS client, which loads every model it needs
    into the shared loader's caches; once per process."""
    global _loaded
    with _load_lock:
        if _loaded:
            return
        warm = botocore.session.get_session()
        warm.register_component("data_loader", _loader)
        warm.create_client(
            "sns", region_name="us-west-2", aws_access_key_id="-", aws_secret_access_key="-"
        ).close()
        _loaded = True


async def _warm_loader() -> None:
    if _loaded:
        return
    try:
        await asyncio.to_thread(_load_models)
    except Exception:  # a failed warm-up only costs the loop the load time
        log.debug("warming botocore's model loader failed", exc_info=True)


class SnsSink:
    """Sends ``PublishBatch`` requests for the publisher. It does no retrying of
    its own (botocore's retries are off); the supervisor decides what to retry."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack: contextlib.AsyncExitStack | None = None
        self._clients: dict[str, Any] = {}

    @property
    def targets(self) -> tuple[RegionTarget, ...]:
        s = self._settings
        return tuple(t for t in (s.primary, s.failover) if t is not None)

    async def open(self) -> None:
        creds = self._settings.credentials
        session = aioboto3.Session(
            aws_access_key_id=creds.access_key_id if creds else None,
            aws_secret_access_key=creds.secret_access_key if creds else None,
            aws_session_token=creds.session_token if creds else None,
        )
        if _share_loader(session):
            await _warm_loader()
        timeout = max(self._settings.primary_timeout, 1.0)
        config = AioConfig(
            connect_timeout=timeout,
            read_timeout=max(timeout, 5.0),
            retries={"total_max_attempts": 1},
            max_pool_connections=max(4, self._settings.max_in_flight * 2),
            **fastpath.client_config_overrides(),
        )
        stack = contextlib.AsyncExitStack()
        try:
            for target in self.targets:
                client = await stack.enter_async_context(
                    session.client(
                        "sns",
                        region_name=target.region,
                        endpoint_url=target.endpoint_url,
                        config=config,
                    )
                )
                fastpath.tune_client(client)
                self._clients[target.name] = client
        except BaseException:
            await stack.aclose()
            self._clients.clear()
            raise
        self._stack = stack

    async def publish_batch(self, target: RegionTarget, entries: list[dict[str, Any]]) -> Any:
        client = self._clients[target.name]
        return await client.publish_batch(
            TopicArn=target.topic_arn, PublishBatchRequestEntries=entries
        )

    async def aclose(self) -> None:
        stack, self._stack = self._stack, None
        self._clients.clear()
        if stack is not None:
            await stack.aclose()
