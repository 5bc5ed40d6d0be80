"""botocore's service models are read from disk in a worker thread, once per
process, not on the application's event loop at each publisher start."""

from __future__ import annotations

import threading
from typing import Any

import botocore.loaders
import pytest

from sr_sec_async.config import resolve_settings
from sr_sec_async.sinks import sns

pytestmark = pytest.mark.anyio


async def test_models_load_off_the_loop_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sns, "_loader", None)
    monkeypatch.setattr(sns, "_loaded", False)
    reads: list[tuple[str, int]] = []
    real = botocore.loaders.JSONFileLoader.load_file

    def recording(self: Any, file_path: str) -> Any:  # the disk read itself
        reads.append((file_path, threading.get_ident()))
        return real(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", recording)
    settings = resolve_settings(
        topic_arn="arn:aws:sns:us-west-2:123456789012:t",
        failover_topic_arn="arn:aws:sns:us-east-2:123456789012:t",
        endpoint_url="http://127.0.0.1:9",
    )
    loop_thread = threading.get_ident()
    sinks = [sns.SnsSink(settings), sns.SnsSink(settings)]
    for sink in sinks:
        await sink.open()
    try:
        assert any("/sns/" in name for name, _ in reads)  # the models were read
        on_loop = [name for name, thread in reads if thread == loop_thread]
        assert on_loop == [], on_loop  # ... but never on the event loop's thread
        first = {name for name, _ in reads}
        assert len(reads) == len(first)  # each file read once for both sinks
    finally:
        for sink in sinks:
            await sink.aclose()
