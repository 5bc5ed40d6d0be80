"""A fake SNS endpoint for the benchmarks: answers ``Publish`` and
``PublishBatch`` (query protocol, form-encoded bodies) the way SNS does,
checks the request limits SNS enforces, and can add a fixed latency.

It keeps nothing but counters, so it stays "instant" however long a run is.
Run it in its own process (``python -m benchmarks.fake_sns --port 0``) so its
CPU is not charged to the event loop being measured; ``serve()`` also works in
process, for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from urllib.parse import parse_qsl

from aiohttp import web

__all__ = ["FakeSns", "parse_publish_batch", "serve"]

MAX_ENTRIES = 10
MAX_BYTES = 262_144
_NS = "http://sns.amazonaws.com/doc/2010-03-31/"


def parse_publish_batch(form: dict[str, str]) -> list[dict[str, object]]:
    """The entries of a form-encoded ``PublishBatch`` request, as botocore's
    parameters (``Id``, ``Message``, ``MessageAttributes`` ...)."""
    entries: dict[int, dict[str, object]] = {}
    prefix = "PublishBatchRequestEntries.member."
    attrs: dict[tuple[int, int], dict[str, str]] = {}
    for key, value in form.items():
        if not key.startswith(prefix):
            continue
        index_text, _, rest = key[len(prefix) :].partition(".")
        index = int(index_text)
        entry = entries.setdefault(index, {})
        if rest.startswith("MessageAttributes.entry."):
            n_text, _, field = rest[len("MessageAttributes.entry.") :].partition(".")
            attr = attrs.setdefault((index, int(n_text)), {})
            attr[field] = value
        else:
            entry[rest] = value
    for (index, _n), attr in sorted(attrs.items()):
        entry_attrs = entries[index].setdefault("MessageAttributes", {})
        assert isinstance(entry_attrs, dict)
        entry_attrs[attr["Name"]] = {
            k.removeprefix("Value."): v for k, v in attr.items() if k != "Name"
        }
    return [entries[i] for i in sorted(entries)]


def _entry_size(entry: dict[str, object]) -> int:
    size = len(str(entry.get("Message", "")).encode())
    attrs = entry.get("MessageAttributes") or {}
    assert isinstance(attrs, dict)
    for name, attr in attrs.items():
        size += len(name.encode()) + len(attr.get("DataType", "").encode())
        size += len(attr.get("StringValue", "").encode())
    return size


def _error(code: str, message: str, status: int = 400) -> web.Response:
    body = (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
        "</ErrorResponse>"
    )
    return web.Response(status=status, body=body.encode(), content_type="text/xml")


class FakeSns:
    """The request handler and its counters."""

    def __init__(self, latency: float = 0.0, capture: bool = False) -> None:
        self.latency = latency
        #: Raw request bodies, kept only when ``capture`` is set (for tests).
        self.captured: list[bytes] | None = [] if capture else None
        self.requests = 0
        self.messages = 0
        self.rejected = 0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.captured is not None:
            self.captured.append(raw)
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        if self.latency:
            await asyncio.sleep(self.latency)
        self.requests += 1
        action = form.get("Action")
        request_id = uuid.uuid4()
        if action == "Publish":
            if len(form.get("Message", "").encode()) > MAX_BYTES:
                self.rejected += 1
                return _error("InvalidParameter", "Message too long")
            self.messages += 1
            body = (
                f'<PublishResponse xmlns="{_NS}"><PublishResult><MessageId>{uuid.uuid4()}'
                f"</MessageId></PublishResult><ResponseMetadata><RequestId>{request_id}"
                "</RequestId></ResponseMetadata></PublishResponse>"
            )
        elif action == "PublishBatch":
            entries = parse_publish_batch(form)
            ids = [str(e.get("Id")) for e in entries]
            if not 1 <= len(entries) <= MAX_ENTRIES:
                self.rejected += 1
                return _error("TooManyEntriesInBatchRequest", f"{len(entries)} entries")
            if len(set(ids)) != len(ids):
                self.rejected += 1
                return _error("BatchEntryIdsNotDistinct", "duplicate ids")
            if sum(_entry_size(e) for e in entries) > MAX_BYTES:
                self.rejected += 1
                return _error("BatchRequestTooLong", "request too long")
            self.messages += len(entries)
            members = "".join(
                f"<member><Id>{i}</Id><MessageId>{uuid.uuid4()}</MessageId></member>" for i in ids
            )
            body = (
                f'<PublishBatchResponse xmlns="{_NS}"><PublishBatchResult><Successful>'
                f"{members}</Successful><Failed/></PublishBatchResult><ResponseMetadata>"
                f"<RequestId>{request_id}</RequestId></ResponseMetadata></PublishBatchResponse>"
            )
        elif action == "Stats":
            body = f"{self.requests} {self.messages} {self.rejected}"
        else:
            self.rejected += 1
            return _error("InvalidAction", f"unsupported action {action!r}")
        return web.Response(body=body.encode(), content_type="text/xml")


async def serve(
    latency: float = 0.0, port: int = 0, capture: bool = False
) -> tuple[web.AppRunner, FakeSns, str]:
    """Start the fake on 127.0.0.1; returns the runner (``await runner.cleanup()``
    to stop), the handler with its counters, and the endpoint URL."""
    fake = FakeSns(latency, capture)
    app = web.Application(client_max_size=4 * MAX_BYTES)
    app.router.add_post("/", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=512)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    bound = server.sockets[0].getsockname()[1]
    return runner, fake, f"http://127.0.0.1:{bound}"


async def _main(latency: float, port: int) -> None:
    runner, _fake, url = await serve(latency, port)
    print(url, flush=True)
    try:
        # Stops when the parent closes our stdin (or the process is killed).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_main(args.latency, args.port))


if __name__ == "__main__":
    main()
