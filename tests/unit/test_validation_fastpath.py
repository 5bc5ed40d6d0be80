"""The fast validation pass never accepts what the full pass rejects, and
accepts with the same values; valid calls do take the fast pass."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import sr_sec_async as s
from sr_sec_async.logger import _COMPILED
from sr_sec_async.validation import _fast_validate, _full_validate, validate

from ..samples import ENV, VALID, call_kwargs


class Sub(str):
    """A ``str`` subclass: valid text, but left to the full pass."""


WEIRD: list[Any] = [
    None,
    "",
    "   ",
    "ok",
    Sub("sub"),
    123,
    1.5,
    b"bytes",
    [],
    ["a"],
    ["a", ""],
    ("a", "b"),
    {"k": "v"},
    {"event_type": "x"},
    {1: "v"},
    s.Status.SUCCESS,
    s.UserRole.ADMIN,
    "success",
    "not-an-option",
    s.EventType.LOGIN_ATTEMPT,
    s.EventType.ROLE_ASSIGN,
]
FUNCTIONS = sorted(VALID)


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, str]]:
    function = draw(st.sampled_from(FUNCTIONS))
    kwargs = call_kwargs(function, **ENV)
    names = sorted(kwargs)
    for name in draw(st.lists(st.sampled_from(names), max_size=4)):
        kwargs[name] = draw(st.sampled_from(WEIRD))
    for name in draw(st.lists(st.sampled_from(names), max_size=3)):
        kwargs.pop(name, None)
    extra = draw(st.sampled_from([None, "event_type", "timestamp", "bogus", "ip_address"]))
    if extra is not None:
        kwargs[extra] = draw(st.sampled_from(WEIRD))
    defaults = dict(ENV) if draw(st.booleans()) else {}
    if defaults and draw(st.booleans()):
        defaults[draw(st.sampled_from(sorted(ENV)))] = draw(st.sampled_from(["", " ", "x"]))
    return function, kwargs, defaults


@settings(max_examples=1500, deadline=None)
@given(call=calls())
def test_fast_pass_agrees_with_full_pass(call: tuple[str, dict[str, Any], dict[str, str]]) -> None:
    function, kwargs, defaults = call
    compiled = _COMPILED[function]
    # a fresh mapping each time, as a new logger would have
    fast = _fast_validate(compiled, kwargs, dict(defaults))
    values, event_type, error = _full_validate(compiled, kwargs, defaults)
    if fast is not None:
        assert error is None
        assert fast == (values, event_type)
        for key, value in values.items():
            assert type(fast[0][key]) is type(value) and not isinstance(value, StrEnum), key


def test_every_valid_sample_takes_the_fast_pass() -> None:
    for function in FUNCTIONS:
        compiled = _COMPILED[function]
        kwargs = call_kwargs(function)
        assert _fast_validate(compiled, kwargs, ENV) is not None, function
        assert validate(compiled, kwargs, ENV)[2] is None


def test_defaults_are_checked_per_mapping() -> None:
    compiled = _COMPILED["log_user_logout"]
    kwargs = call_kwargs("log_user_logout")
    assert _fast_validate(compiled, kwargs, ENV) is not None
    blank = {**ENV, "service_name": " "}
    assert _fast_validate(compiled, kwargs, blank) is None
    assert "service_name" in (validate(compiled, kwargs, blank)[2] or "")
    assert _fast_validate(compiled, kwargs, ENV) is not None
