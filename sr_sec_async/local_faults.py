"""A TCP proxy on 127.0.0.1 whose behaviour can be switched at run time, to
put network faults between an SNS client and the local moto server: pass
traffic, refuse new connections (the listening socket is closed, the port
kept), reset connections (RST), black-hole them (accept, read, never answer)
or delay them. For the demo's failover phase and the tests
(tests/faults.py adds HTTP-level errors on top).

Switching the mode drops every open connection, so keep-alive connections in
the client's pool cannot bypass the new fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from enum import StrEnum

__all__ = ["FaultProxy", "Mode"]


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
