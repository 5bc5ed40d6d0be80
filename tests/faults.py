"""Faults injected in the network path between the SNS client and moto.

``FaultProxy`` is a TCP proxy on 127.0.0.1 that can be switched at run time
to pass traffic, refuse new connections (its listening socket is closed),
reset connections (RST), black-hole them (accept, read, never answer) or delay
them. ``ErrorFront`` is a small HTTP server that forwards requests to moto or
answers them with a canned AWS error (500, 503, throttling).
``FaultyRegion`` chains them: client → proxy → front → moto.

Switching the proxy's mode drops every open connection, so keep-alive
connections in the client's pool cannot bypass the new fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import uuid
from enum import StrEnum

import aiohttp
from aiohttp import web

__all__ = ["ErrorFront", "FaultProxy", "FaultyRegion", "HttpFault", "Mode"]


class Mode(StrEnum):
    PASS = "pass"
    REFUSE = "refuse"
    RESET = "reset"
    BLACKHOLE = "blackhole"
    DELAY = "delay"


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self.port = 0
        self.mode = Mode.PASS
        self.delay = 0.0
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.accepted = 0  # connections accepted, whatever the mode

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> str:
        await self._listen()
        return self.url

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def set_mode(self, mode: Mode, delay: float = 0.0) -> None:
        """Switch behaviour for every connection from now on."""
        self.mode, self.delay = mode, delay
        await self._drop_connections()
        if mode is Mode.REFUSE:
            await self._stop_listening()
        elif self._server is None:
            await self._listen()  # the same port: the client's endpoint is unchanged

    async def aclose(self) -> None:
        await self._stop_listening()
        await self._drop_connections()

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await self._drop_connections()
            await server.wait_closed()

    async def _drop_connections(self) -> None:
        for writer in list(self._writers):
            _reset(writer)
        handlers = list(self._handlers)
        if handlers:
            await asyncio.gather(*handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            mode = self.mode
            if mode is Mode.RESET:
                await reader.read(65536)  # the request arrives, then the connection dies
                _reset(writer)
            elif mode is Mode.BLACKHOLE:
                while await reader.read(65536):
                    pass
            else:
                await self._forward(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.transport.abort()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers.add(up_writer)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, delayed=True)),
            asyncio.create_task(self._pump(up_reader, writer, delayed=False)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._writers.discard(up_writer)
            up_writer.transport.abort()
            writer.transport.abort()
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await src.read(65536):
                if delayed and self.mode is Mode.DELAY:
                    await asyncio.sleep(self.delay)
                dst.write(data)
                await dst.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class HttpFault(StrEnum):
    NONE = "none"
    INTERNAL_ERROR = "500"
    UNAVAILABLE = "503"
    THROTTLING = "throttling"


# (HTTP status, fault type, code, message) as SNS answers them (query protocol).
_CANNED = {
    HttpFault.INTERNAL_ERROR: (500, "Receiver", "InternalError", "An internal error occurred"),
    HttpFault.UNAVAILABLE: (503, "Receiver", "ServiceUnavailable", "Service is unavailable"),
    # SNS marks throttling as a sender fault, with HTTP 400.
    HttpFault.THROTTLING: (400, "Sender", "Throttling", "Rate exceeded"),
}


class ErrorFront:
    """An HTTP server that forwards to ``upstream_url`` or answers a canned error."""

    def __init__(self, upstream_url: str) -> None:
        self._upstream = upstream_url.rstrip("/")
        self.fault = HttpFault.NONE
        self.errors_sent = 0
        self.forwarded = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert self._runner.addresses
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        fault = self.fault
        if fault is not HttpFault.NONE:
            self.errors_sent += 1
            status, kind, code, message = _CANNED[fault]
            xml = (
                '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
                f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
            )
            return web.Response(status=status, body=xml.encode(), content_type="text/xml")
        self.forwarded += 1
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(
            request.method, self._upstream + request.path_qs, headers=headers, data=body
        ) as upstream:
            payload = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=upstream.status, body=payload, headers=out)


_HOP_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
)


class FaultyRegion:
    """One region's endpoint with both kinds of fault: client → proxy → front → moto."""

    def __init__(self, moto_url: str) -> None:
        self.front = ErrorFront(moto_url)
        self.proxy: FaultProxy | None = None

    async def start(self) -> str:
        await self.front.start()
        host, port = self.front.url.removeprefix("http://").rsplit(":", 1)
        self.proxy = FaultProxy(host, int(port))
        return await self.proxy.start()

    @property
    def url(self) -> str:
        assert self.proxy is not None
        return self.proxy.url

    async def set_mode(self, mode: Mode, delay: float = 0.0) -> None:
        assert self.proxy is not None
        await self.proxy.set_mode(mode, delay)

    def set_fault(self, fault: HttpFault) -> None:
        self.front.fault = fault

    async def heal(self) -> None:
        self.set_fault(HttpFault.NONE)
        await self.set_mode(Mode.PASS)

    async def aclose(self) -> None:
        if self.proxy is not None:
            await self.proxy.aclose()
        await self.front.aclose()
