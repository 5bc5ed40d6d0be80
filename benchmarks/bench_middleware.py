"""What ``SecurityLoggingMiddleware`` costs a Starlette app per request.

Method: the same one-route Starlette app, with and without the middleware,
called directly through ASGI (no HTTP client, no server: only the app's own
work is timed) for N requests carrying a proxy header and a user agent; the
logger runs in test mode with ``capture_security_events`` (no AWS, no
stdout). After each request the loop runs once (``sleep(0)``), as a server's
loop would, so the middleware's background task validates, encodes and
queues the event between requests: the time per request is the app's work
plus the whole cost of its security event (the capture's JSON decoding of
each event included, which production does not do). Rounds alternate to
spread machine noise; the best round of each is reported, with the ratio of
the two in the same run.

    python benchmarks/bench_middleware.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import sr_sec_async as sec
from sr_sec_async.integrations.fastapi import SecurityLoggingMiddleware
from sr_sec_async.testing import capture_security_events

ENV = {
    "cloud_env_type": "dev",
    "cloud_env_unique_id": "123456789012",
    "cloud_env_name": "bench",
    "service_account_id": "bench",
    "service_name": "bench",
}


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.path_params["item_id"])


def make_app(with_middleware: bool) -> Starlette:
    middleware = [Middleware(SecurityLoggingMiddleware)] if with_middleware else []
    return Starlette(routes=[Route("/items/{item_id}", item)], middleware=middleware)


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/items/42",
    "raw_path": b"/items/42",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"bench"),
        (b"user-agent", b"bench/1.0"),
        (b"accept", b"*/*"),
        (b"x-forwarded-for", b"203.0.113.7, 10.0.0.1"),
    ],
    "client": ("192.0.2.1", 50000),
    "server": ("127.0.0.1", 8000),
}


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict[str, Any]) -> None:
    pass


async def round_(app: Starlette, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await app(dict(SCOPE), receive, send)
        await asyncio.sleep(0)
    await sec.flush_security_logging()
    return (time.perf_counter() - start) / n * 1e6


async def main(n: int) -> None:
    plain, logged = make_app(False), make_app(True)
    best = {"plain": 1e9, "logged": 1e9}
    with capture_security_events(**ENV) as events:
        await round_(plain, 200)  # warm up both
        await round_(logged, 200)
        for _ in range(5):
            for name, app in (("plain", plain), ("logged", logged)):
                best[name] = min(best[name], await round_(app, n))
    assert len(events) == 200 + 5 * n, len(events)
    print(f"requests per round: {n}, best of 5 rounds")
    print(f"without middleware: {best['plain']:7.1f} us/request")
    print(
        f"with middleware:    {best['logged']:7.1f} us/request, event included"
        f"  (x{best['logged'] / best['plain']:.2f}, +{best['logged'] - best['plain']:.1f} us)"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
