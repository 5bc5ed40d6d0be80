"""Asyncio hygiene for every test: asyncio reports "Task exception was never
retrieved" and "Task was destroyed but it is pending" through its logger
rather than raising, so they are collected here and fail the test.
(ResourceWarning fails tests through pytest's ``filterwarnings = error``.)"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest


class _AsyncioErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def asyncio_hygiene() -> Iterator[None]:
    handler = _AsyncioErrors()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
        gc.collect()  # run __del__ of dropped tasks now, inside this test
        # What survives a test is long-lived (imported modules, moto's state):
        # freezing it keeps the next test's collection to what that test made
        # (otherwise ~0.1-0.5 s per test once FastAPI, aiohttp and moto load).
        gc.freeze()
    finally:
        logger.removeHandler(handler)
    problems = [r.getMessage() for r in handler.records]
    assert not problems, f"asyncio reported: {problems}"
