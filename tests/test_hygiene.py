"""The hygiene checks themselves can fail: run small test files that break
each rule through pytest and see them fail."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytester"]

INI = """
[pytest]
filterwarnings =
    error
"""
CONFTEST = "from tests.hygiene import asyncio_hygiene  # noqa: F401\n"


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the inner run imports tests.hygiene
    return pytester


def _run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(body)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider")


def test_never_retrieved_task_exception_fails_the_test(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
import asyncio

def test_leak():
    async def boom():
        raise RuntimeError("lost")

    async def main():
        asyncio.get_running_loop().create_task(boom())
        await asyncio.sleep(0.01)

    asyncio.run(main())
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*Task exception was never retrieved*"])


def test_destroyed_pending_task_fails_the_test(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
import asyncio

def test_pending():
    loop = asyncio.new_event_loop()
    task = loop.create_task(asyncio.sleep(60))
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    del task
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*Task was destroyed but it is pending*"])


def test_resource_warning_fails_the_test(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
import gc
import socket

def test_unclosed():
    sock = socket.socket()
    del sock
    gc.collect()
""",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) >= 1, outcomes
    result.stdout.fnmatch_lines(["*ResourceWarning*unclosed*"])


def test_a_clean_test_passes(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "def test_ok():\n    assert True\n")
    result.assert_outcomes(passed=1)
