"""Faults injected in the network path between the SNS client and moto.

``FaultProxy`` (sr_sec_async/local_faults.py, shared with the demo) is a TCP
proxy that can be switched at run time to pass, refuse, reset, black-hole or
delay connections. ``ErrorFront`` is a small HTTP server that forwards
requests to moto or answers them with a canned AWS error (500, 503,
throttling). ``FaultyRegion`` chains them: client → proxy → front → moto.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

import aiohttp
from aiohttp import web

from sr_sec_async.local_faults import FaultProxy, Mode

__all__ = ["ErrorFront", "FaultProxy", "FaultyRegion", "HttpFault", "Mode"]


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
