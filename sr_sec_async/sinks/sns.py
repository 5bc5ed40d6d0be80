"""One long-lived aioboto3 SNS client per region, opened in the running loop
and closed, in reverse order, when the publisher stops."""

from __future__ import annotations

import contextlib
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig

from ..config import RegionTarget, Settings
from . import fastpath

__all__ = ["SnsSink"]


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
