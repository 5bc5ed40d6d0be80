"""An embedded local SNS + SQS (moto in server mode on 127.0.0.1) for the demo
and the tests: topics with a subscribed queue each, and a reader that drains a
queue as messages arrive (moto rescans every queued message on each call, so
queues are kept small by deleting what was read).

Needs the ``demo`` or ``test`` extra (``moto[server]``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aioboto3

__all__ = ["LocalAws", "TopicWithQueue", "local_aws", "test_credentials"]

ACCOUNT = "123456789012"


@contextmanager
def test_credentials() -> Iterator[None]:
    """Fake AWS credentials in the environment, restored afterwards."""
    keys = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
    }
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class TopicWithQueue:
    region: str
    topic_arn: str
    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    attributes: list[dict[str, str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # SQS message ids read so far


class LocalAws:
    """A moto server on 127.0.0.1 (a free port) and helpers to use it."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""
        self._session = aioboto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing"
        )

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self.endpoint_url

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forget every topic, queue and metric (moto's reset endpoint)."""
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req) as resp:
            resp.read()

    def client(self, service: str, region: str) -> Any:
        return self._session.client(service, region_name=region, endpoint_url=self.endpoint_url)

    async def topic_with_queue(
        self, name: str, region: str = "us-west-2", *, fifo: bool = False
    ) -> TopicWithQueue:
        """Create a topic and an SQS queue subscribed to it with raw delivery,
        so each SQS body is exactly the published message."""
        suffix = ".fifo" if fifo else ""
        topic_attrs = {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if fifo else {}
        queue_attrs = {"VisibilityTimeout": "5", **({"FifoQueue": "true"} if fifo else {})}
        async with self.client("sns", region) as sns, self.client("sqs", region) as sqs:
            topic = await sns.create_topic(Name=name + suffix, Attributes=topic_attrs)
            queue = await sqs.create_queue(QueueName=name + "-q" + suffix, Attributes=queue_attrs)
            queue_arn = (
                await sqs.get_queue_attributes(
                    QueueUrl=queue["QueueUrl"], AttributeNames=["QueueArn"]
                )
            )["Attributes"]["QueueArn"]
            await sns.subscribe(
                TopicArn=topic["TopicArn"],
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
            )
        return TopicWithQueue(region, topic["TopicArn"], queue["QueueUrl"])

    async def drain(
        self,
        target: TopicWithQueue,
        expected: int,
        timeout: float = 30.0,
        *,
        readers: int = 1,
        stop: asyncio.Event | None = None,
    ) -> list[dict[str, Any]]:
        """Receive (and delete) until ``expected`` messages in all were read
        from ``target``, ``timeout`` passes or ``stop`` is set; returns
        everything read so far.

        Several ``readers`` keep a busy queue short, which keeps moto fast.
        Stop a background drain with ``stop``, not by cancelling it: a
        cancelled receive hides its messages for the visibility timeout."""
        deadline = time.monotonic() + timeout
        stop = stop or asyncio.Event()
        async with self.client("sqs", target.region) as sqs:
            await asyncio.gather(
                *(self._receive_loop(sqs, target, expected, deadline, stop) for _ in range(readers))
            )
        return target.received

    @staticmethod
    async def _receive_loop(
        sqs: Any, target: TopicWithQueue, expected: int, deadline: float, stop: asyncio.Event
    ) -> None:
        while len(target.received) < expected and time.monotonic() < deadline and not stop.is_set():
            resp = await sqs.receive_message(
                QueueUrl=target.queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = resp.get("Messages", [])
            if not messages:
                await asyncio.sleep(0.05)
                continue
            for m in messages:
                if m["MessageId"] in target.seen:
                    continue  # SQS is at-least-once: a second receive of one message
                target.seen.add(m["MessageId"])
                target.raw.append(m["Body"])
                target.received.append(json.loads(m["Body"]))
                target.attributes.append(
                    {k: v.get("StringValue", "") for k, v in m.get("MessageAttributes", {}).items()}
                )
            await sqs.delete_message_batch(
                QueueUrl=target.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )


@contextmanager
def local_aws() -> Iterator[LocalAws]:
    """Start a moto server with fake credentials in the environment."""
    with test_credentials():
        aws = LocalAws()
        aws.start()
        try:
            yield aws
        finally:
            aws.stop()
