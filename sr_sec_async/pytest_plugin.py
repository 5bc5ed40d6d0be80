"""pytest plugin: the ``security_events`` fixture.

Enable it in your ``conftest.py`` with
``pytest_plugins = ["sr_sec_async.pytest_plugin"]`` (or run pytest with
``-p sr_sec_async.pytest_plugin``). It is not registered as an auto-loaded
entry point on purpose: pytest would then import the library and rewrite its
``assert`` statements in every test run of every project that installs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import CapturedEvents


@pytest.fixture
def security_events() -> Iterator[CapturedEvents]:
    """Every security event test-mode loggers log during the test (see
    ``sr_sec_async.testing.capture_security_events``)."""
    from .testing import capture_security_events

    with capture_security_events() as captured:
        yield captured
