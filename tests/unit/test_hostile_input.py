"""Hostile and odd input never raises into the caller: each value gets a clear
validation failure or a faithful, valid UTF-8 JSON encoding within the SNS
limits, and test mode prints exactly one parseable line per message.

Property-based (hypothesis): arbitrary values go into every field of every
``log_*`` function; a handful of named cases pin down the expected answer."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sr_sec_async as s
from sr_sec_async.events import RESERVED_FIELDS, SPECS
from sr_sec_async.wire import MAX_MESSAGE_BYTES, attributes_size

from ..samples import ENV, VALID, call_kwargs

FUNCTIONS = sorted(VALID)

# -- values an application or an attacker might pass ---------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # lone surrogates too
nasty_text = st.sampled_from(
    [
        "",
        "   ",
        "\r\n",
        "line1\nline2\r\n",
        "\x1b[31mred\x1b[0m\x07",
        "\x00\x01\x1f\x7f",
        "\u2028\u2029\x85",
        "\ud800",
        "a\udfffb",
        "\ufeff\u202e",
        "😀" * 10,
        "x" * 300_000,
        "é" * 200_000,
    ]
)
datetimes = st.one_of(
    st.datetimes(),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.datetimes(timezones=st.just(dt.timezone(dt.timedelta(hours=-7)))),
)


class Opaque:
    def __repr__(self) -> str:
        raise RuntimeError("repr refuses")


class HostileStr(str):
    """A str whose comparisons and hashing raise."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing")

    def __hash__(self) -> int:
        raise RuntimeError("no hashing")


class HostileMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("no items")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no iterating")

    def __len__(self) -> int:
        return 1


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    nasty_text,
    st.binary(max_size=20),
    datetimes,
    st.sampled_from(list(s.EventType) + list(s.Status) + list(s.Detail)[:5]),
    st.builds(Opaque),
    st.builds(HostileStr, any_text),
    st.builds(HostileMapping),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(
            st.one_of(any_text, st.sampled_from(sorted(RESERVED_FIELDS))), inner, max_size=3
        ),
        st.dictionaries(st.integers(), inner, max_size=2),
    ),
    max_leaves=6,
)


def field_names(function: str) -> list[str]:
    return sorted({*SPECS[function].fields, "event_type", "context", "timestamp", "bogus"})


@contextlib.contextmanager
def captured_stdout() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


def check_output(result: s.LogResult, out: str) -> None:
    """The invariants every call must keep, whatever it was given."""
    assert result.status in ("success", "failure")
    assert isinstance(result.message, str) and result.message
    if not result.ok:
        assert out == "", "a refused event printed something"
        result.message.encode("utf-8")  # the message itself is valid text
        return
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) - 1 == result.parts
    assert out.splitlines() == lines[:-1], "a message spans several lines"
    for line in lines[:-1]:
        raw = line.encode("utf-8")  # strict: a lone surrogate would raise here
        message = json.loads(raw)
        assert isinstance(message, dict) and message["event_uuid"] == result.event_uuid
        assert len(raw) + attributes_size(message["event_type"]) <= MAX_MESSAGE_BYTES


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_arbitrary_values_in_every_field_never_raise(
    function: str, loop: asyncio.AbstractEventLoop
) -> None:
    logger = s.SecurityLogger(test_mode=True, **ENV)
    names = field_names(function)

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.dictionaries(st.sampled_from(names), values, min_size=1, max_size=4))
    def run(overrides: dict[str, Any]) -> None:
        kwargs = call_kwargs(function, **overrides)
        with captured_stdout() as out:
            result = loop.run_until_complete(getattr(logger, function)(**kwargs))
        check_output(result, out.getvalue())

    run()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_arbitrary_context_objects_encode_faithfully_or_fail_clearly(
    function: str, loop: asyncio.AbstractEventLoop
) -> None:
    logger = s.SecurityLogger(test_mode=True, **ENV)

    @settings(max_examples=15, deadline=None, database=None)
    @given(st.dictionaries(any_text, values, max_size=4))
    def run(context: dict[str, Any]) -> None:
        with captured_stdout() as out:
            result = loop.run_until_complete(
                getattr(logger, function)(**call_kwargs(function, context=context))
            )
        check_output(result, out.getvalue())

    run()


# -- named cases: what the answer is, not just that there is one ----------------


async def one(function: str = "log_user_login", **overrides: Any) -> tuple[s.LogResult, str]:
    logger = s.SecurityLogger(test_mode=True, **ENV)
    with captured_stdout() as out:
        result = await getattr(logger, function)(**call_kwargs(function, **overrides))
    check_output(result, out.getvalue())
    return result, out.getvalue()


pytestmark_anyio = pytest.mark.anyio


@pytestmark_anyio
async def test_lone_surrogate_is_a_clear_failure_naming_the_field() -> None:
    result, _ = await one(user_agent="Mozilla\ud800")
    assert not result.ok and "user_agent" in result.message and "UTF-8" in result.message


@pytestmark_anyio
async def test_control_characters_crlf_and_escape_codes_are_kept_faithfully() -> None:
    agent = "evil\r\nX-Injected: 1\x1b[2J\x00\u2028end"
    result, out = await one(user_agent=agent)
    assert result.ok
    assert json.loads(out)["user_agent"] == agent
    assert "\x1b" not in out and "\r" not in out and "\u2028" not in out


@pytestmark_anyio
async def test_megabyte_string_is_refused_with_the_size_and_the_field() -> None:
    result, _ = await one(user_agent="x" * 1_000_000)
    assert not result.ok
    assert "too large" in result.message and "user_agent" in result.message


@pytestmark_anyio
@pytest.mark.parametrize(
    "value", [42, 3.5, b"bytes", ["a"], {"a": 1}, dt.datetime(2024, 1, 1), Opaque()]
)
async def test_wrong_types_where_strings_belong_are_named(value: Any) -> None:
    result, _ = await one(user_agent=value)
    assert not result.ok and "Invalid user_agent" in result.message


@pytestmark_anyio
async def test_datetimes_in_context_keep_their_offset_or_lack_of_one() -> None:
    naive = dt.datetime(2024, 5, 6, 7, 8, 9)
    pacific = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    result, out = await one(context={"naive": naive, "pacific": pacific})
    assert result.ok
    ctx = json.loads(out)["context"]
    assert ctx == {"naive": "2024-05-06T07:08:09", "pacific": "2024-05-06T07:08:09-07:00"}


@pytestmark_anyio
async def test_context_keys_colliding_with_reserved_fields_are_refused() -> None:
    result, _ = await one(context={"event_type": "x", "timestamp": "y", "ok": 1})
    assert not result.ok
    assert "event_type" in result.message and "timestamp" in result.message


@pytestmark_anyio
async def test_self_referencing_context_is_a_clear_failure() -> None:
    loop_ctx: dict[str, Any] = {}
    loop_ctx["self"] = loop_ctx
    result, _ = await one(context=loop_ctx)
    assert not result.ok and "context" in result.message


@pytestmark_anyio
async def test_objects_whose_methods_raise_are_refused_not_raised() -> None:
    for overrides in (
        {"context": HostileMapping()},
        {"event_type": HostileStr("login_attempt")},
        {"user_role": HostileStr("x")},
    ):
        result, _ = await one(**overrides)
        assert not result.ok, overrides
        assert result.message


@pytestmark_anyio
async def test_rejected_events_are_counted_by_reason_and_event_type() -> None:
    logger = s.SecurityLogger(test_mode=True, **ENV)
    with captured_stdout():
        await logger.log_user_login(**call_kwargs("log_user_login", user_agent="\ud800"))
        await logger.log_user_logout(**call_kwargs("log_user_logout", context=HostileMapping()))
        await logger.log_user_logout(**call_kwargs("log_user_logout", user_role=HostileStr("x")))
        assert (await logger.log_user_logout(**call_kwargs("log_user_logout"))).ok
    assert logger.undelivered == {
        ("rejected", "login_attempt"): 1,
        ("rejected", "user_logout"): 2,
    }
