"""Capture the security events your application logs during a test, and
assert on them, without AWS.

::

    from sr_sec_async.testing import capture_security_events

    async def test_login_is_logged(client):
        with capture_security_events() as events:
            await client.post("/login", json={...})
            await sr_sec_async.flush_security_logging()  # middleware / fire_and_forget
        event = events.assert_logged(event_type="login_attempt", status=Status.SUCCESS)
        assert event["actor_identifier"] == "alice@example.com"

Or with pytest: the ``security_events`` fixture, after
``pytest_plugins = ["sr_sec_async.pytest_plugin"]`` in your ``conftest.py``.

While capturing, every **test-mode** logger — the default one used by the
module-level ``log_*`` functions and any ``SecurityLogger(test_mode=True)`` —
hands its messages to the capture instead of writing them to ``sys.stdout``;
``SECURITY_LOGS_TEST_MODE=true`` is set so that loggers the application
creates during the block (e.g. in its lifespan) are test-mode loggers too,
unless they pass ``test_mode=False``. Each captured event is the JSON object
that would have been published, as a ``dict`` (a split record-access event
is one entry per part).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import msgspec

from . import api
from . import logger as _logger_module
from .logger import SecurityLogger

__all__ = ["CapturedEvents", "capture_security_events"]

_MISSING = object()


class CapturedEvents:
    """The events captured so far, in the order they were logged."""

    def __init__(self, *, echo: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.echo = echo

    def _collect(self, bodies: list[bytes]) -> None:
        for body in bodies:
            self.events.append(msgspec.json.decode(body))
            if self.echo:
                print(body.decode())

    # -- queries ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.events)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.events[index]

    @property
    def event_types(self) -> list[str]:
        return [e.get("event_type", "") for e in self.events]

    def find(self, **expected: Any) -> list[dict[str, Any]]:
        """Events whose fields equal every given value (enum members compare
        equal to their string values)."""
        return [e for e in self.events if _matches(e, expected)]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return self.find(event_type=event_type)

    def clear(self) -> None:
        self.events.clear()

    # -- assertions ---------------------------------------------------------

    def assert_logged(self, **expected: Any) -> dict[str, Any]:
        """The first event matching ``expected``; ``AssertionError`` listing
        what was captured when there is none."""
        found = self.find(**expected)
        if not found:
            raise AssertionError(
                f"no security event matches {_show(expected)}; captured:\n{self._summary(expected)}"
            )
        return found[0]

    def assert_logged_once(self, **expected: Any) -> dict[str, Any]:
        found = self.find(**expected)
        if len(found) != 1:
            raise AssertionError(
                f"expected exactly one security event matching {_show(expected)}, "
                f"found {len(found)}; captured:\n{self._summary(expected)}"
            )
        return found[0]

    def assert_not_logged(self, **expected: Any) -> None:
        found = self.find(**expected)
        if found:
            raise AssertionError(
                f"{len(found)} security event(s) match {_show(expected)}, expected none:\n"
                + "\n".join(_show(e) for e in found)
            )

    def _summary(self, expected: Mapping[str, Any]) -> str:
        if not self.events:
            return "  (nothing)"
        lines = []
        for e in self.events:
            diff = {k: e.get(k, "<absent>") for k, v in expected.items() if e.get(k, _MISSING) != v}
            lines.append(f"  {e.get('event_type')} {e.get('event_uuid')}: differs in {diff}")
        return "\n".join(lines)


def _matches(event: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    return all(event.get(k, _MISSING) == v for k, v in expected.items())


def _show(value: Any) -> str:
    return repr({k: str(v) if isinstance(v, str) else v for k, v in value.items()})


_stack: list[CapturedEvents] = []


def _deliver(bodies: list[bytes]) -> None:
    _stack[-1]._collect(bodies)


@contextmanager
def capture_security_events(*, echo: bool = False, **settings: Any) -> Iterator[CapturedEvents]:
    """Capture what test-mode loggers log inside the ``with`` block.

    With ``settings`` (``init_security_logging`` keywords, e.g. the
    environment fields), a test-mode default logger is installed for the
    block; without, the module-level functions create one from the
    environment when first used, as they always do (test mode, since the
    block sets ``SECURITY_LOGS_TEST_MODE``). A test-mode default logger made
    during the block is removed afterwards and the previous one restored. ``echo=True`` also prints
    each event. Captures nest: the innermost one receives the events.
    """
    captured = CapturedEvents(echo=echo)
    saved_env = os.environ.get("SECURITY_LOGS_TEST_MODE")
    os.environ["SECURITY_LOGS_TEST_MODE"] = "true"
    previous = api._default
    if settings:
        api._default = SecurityLogger(test_mode=True, **settings)
    _stack.append(captured)
    _logger_module.test_mode_sink = _deliver
    try:
        yield captured
    finally:
        _stack.remove(captured)
        if not _stack:
            _logger_module.test_mode_sink = None
        current = api._default
        if current is not previous and current is not None and current.settings.test_mode:
            # A test-mode default made in the block (by us or the app) goes.
            api._default = previous if previous is None or not previous._closed else None
        if saved_env is None:
            os.environ.pop("SECURITY_LOGS_TEST_MODE", None)
        else:
            os.environ["SECURITY_LOGS_TEST_MODE"] = saved_env
