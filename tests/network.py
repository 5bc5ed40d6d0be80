"""Network conditions for delivery tests, with real sockets on 127.0.0.1.

``RegionSwitch`` is a TCP proxy in front of the moto server: while ``up`` is
false it accepts and at once closes every connection (SNS "unreachable");
once ``up`` it forwards bytes both ways. ``PublishGate`` holds every
``PublishBatch`` until opened, to play a blocked publisher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from sr_sec_async.local_sns import LocalAws, TopicWithQueue
from sr_sec_async.sinks.sns import SnsSink


class RegionSwitch:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.up = False
        self.refused = 0  # connections closed while down
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.url = ""

    async def __aenter__(self) -> RegionSwitch:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            if not self.up:
                self.refused += 1
                return
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
            self._writers.add(up_writer)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
                self._writers.discard(up_writer)
                with contextlib.suppress(Exception):
                    await up_writer.wait_closed()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()


@contextlib.asynccontextmanager
async def region_switch(upstream_url: str) -> AsyncIterator[RegionSwitch]:
    async with RegionSwitch(upstream_url) as switch:
        yield switch


class PublishGate:
    """Every PublishBatch waits at the gate until ``open()``; ``arrived`` is
    set when the first one is waiting, ``calls`` counts them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._open = asyncio.Event()
        self.arrived = asyncio.Event()
        self.calls = 0
        real = SnsSink.publish_batch

        async def gated(sink: SnsSink, target: Any, entries: list[dict[str, Any]]) -> Any:
            self.calls += 1
            self.arrived.set()
            await self._open.wait()
            return await real(sink, target, entries)

        monkeypatch.setattr(SnsSink, "publish_batch", gated)

    def open(self) -> None:
        self._open.set()


async def drain_exactly(aws: LocalAws, topic: TopicWithQueue, count: int) -> list[dict[str, Any]]:
    """Read ``count`` messages, then make sure no further one is there: moto
    delivers to the queue inside the Publish call, so once the logger has
    flushed, a duplicate would already be waiting."""
    received = await aws.drain(topic, count, timeout=30)
    assert len(received) == count, f"{len(received)} messages arrived, expected {count}"
    received = await aws.drain(topic, count + 1, timeout=0.3)
    assert len(received) == count, f"{len(received) - count} duplicate message(s)"
    return received


def closed_port_url() -> str:
    """An endpoint on 127.0.0.1 where nothing listens: connections are refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
