"""Check a call's keyword arguments against its ``EventSpec``.

Validation never raises for bad input: it returns the cleaned values or one
message naming every problem (missing fields first, then each invalid value
with its valid options), so a caller fixes everything in one round.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .events import (
    BASE_REQUIRED,
    CONTEXT,
    CONTEXT_HELPER_FIELDS,
    ENVIRONMENT_FIELDS,
    FIELD_KINDS,
    GENERATED_FIELDS,
    ID_LIST,
    RESERVED_FIELDS,
    STR_LIST,
    TEXT,
    EventSpec,
)

__all__ = ["CompiledSpec", "compile_spec", "validate"]

_MAX_SHOWN = 60  # characters of a bad value quoted back in a message


def _show(value: Any) -> str:
    """A short, escaped rendering of a caller's value for an error message."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not break validation
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _choices(enum: type[StrEnum]) -> dict[str, str]:
    return {member.value: member.value for member in enum}


class CompiledSpec:
    """An ``EventSpec`` turned into the flat tables the hot path walks."""

    __slots__ = (
        "_defaults",
        "allowed",
        "checks",
        "choices_of",
        "default_event_type",
        "event_types",
        "kinds",
        "required",
        "spec",
        "text_names",
    )

    def __init__(self, spec: EventSpec) -> None:
        self.spec = spec
        required = {*BASE_REQUIRED, *ENVIRONMENT_FIELDS, *spec.required}
        checks: list[tuple[str, bool, Any, dict[str, str] | None]] = []
        for name in spec.fields:
            kind = FIELD_KINDS[name]
            choices = (
                _choices(kind) if isinstance(kind, type) and issubclass(kind, StrEnum) else None
            )
            checks.append((name, name in required, kind, choices))
        self.checks = tuple(checks)
        #: name -> (kind, choices), for the fast path
        self.kinds = {name: (kind, choices) for name, _, kind, choices in checks}
        self.required = frozenset(name for name, req, _, _ in checks if req)
        self.text_names = frozenset(name for name, _, kind, _ in checks if kind is TEXT)
        self.choices_of = {name: choices for name, _, _, choices in checks if choices is not None}
        self._defaults: tuple[Mapping[str, str], dict[str, Any] | None] | None = None
        self.allowed = frozenset(spec.fields) | {"event_type"}
        self.event_types = {t: t for t in spec.event_types}
        self.default_event_type = spec.event_types[0] if len(spec.event_types) == 1 else None

    def default_values(self, defaults: Mapping[str, str]) -> dict[str, Any] | None:
        """The spec's fields taken from ``defaults``, checked once per defaults
        mapping (a logger's, resolved at init and never changed); ``None``
        when one of them is not plainly valid."""
        cached = self._defaults
        if cached is not None and cached[0] is defaults:
            return cached[1]
        values: dict[str, Any] | None = {}
        for name, value in defaults.items():
            entry = self.kinds.get(name)
            if value is None or entry is None or values is None:
                continue
            cleaned = _fast_value(entry[0], entry[1], value)
            if cleaned is _BAD:
                values = None
            else:
                values[name] = cleaned
        self._defaults = (defaults, values)
        return values


def compile_spec(spec: EventSpec) -> CompiledSpec:
    return CompiledSpec(spec)


def _check_list(name: str, value: Any, non_empty: bool) -> tuple[list[str] | None, str | None]:
    if not isinstance(value, (list, tuple)):
        what = "a non-empty list" if non_empty else "a list"
        return None, f"Invalid {name}: expected {what} of strings, got {type(value).__name__}"
    if non_empty and not value:
        return None, f"Invalid {name}: must contain at least one id"
    bad = [
        i for i, item in enumerate(value) if not isinstance(item, str) or not item or item.isspace()
    ]
    if bad:
        shown = ", ".join(f"[{i}]={_show(value[i])}" for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return None, f"Invalid {name}: every item must be a non-blank string ({shown}{more})"
    return [str.__str__(item) for item in value], None


def _check_context(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(value, Mapping):
        return None, f"Invalid context: expected a JSON object (dict), got {type(value).__name__}"
    bad_keys = [k for k in value if not isinstance(k, str)]
    if bad_keys:
        shown = ", ".join(_show(k) for k in bad_keys[:5])
        return None, f"Invalid context: keys must be strings ({shown})"
    clashes = sorted(k for k in value if k in RESERVED_FIELDS)
    if clashes:
        return None, (
            f"Invalid context: keys may not reuse reserved field names ({', '.join(clashes)})"
        )
    return dict(value), None


_BAD = object()  # the fast path's "not sure: ask the full validation"


def _fast_value(kind: Any, choices: dict[str, str] | None, value: Any) -> Any:
    """The cleaned value when it is plainly valid, else ``_BAD``. Anything
    unusual (a ``str`` subclass as text, a non-dict mapping) is left to the
    full validation, which alone words the error messages."""
    if kind is TEXT:
        if type(value) is str and value and not value.isspace():
            return value
        return _BAD
    if choices is not None:
        # StrEnum members hash and compare as their values.
        return choices.get(value, _BAD) if isinstance(value, str) else _BAD
    if kind is CONTEXT:
        if (
            type(value) is dict
            and all(type(k) is str for k in value)
            and RESERVED_FIELDS.isdisjoint(value)
        ):
            return dict(value)
        return _BAD
    items, err = _check_list("", value, kind is ID_LIST)
    return _BAD if err is not None else items


def _fast_validate(
    compiled: CompiledSpec, fields: Mapping[str, Any], defaults: Mapping[str, str]
) -> tuple[dict[str, Any], str] | None:
    """``(values, event_type)`` for a call with no problem at all, walking only
    the fields given; ``None`` sends the call to the full validation. Whatever
    it accepts, ``_full_validate`` accepts with the same values."""
    defaults_checked = compiled.default_values(defaults)
    if defaults_checked is None:
        return None
    values = dict(defaults_checked)
    text = compiled.text_names
    choices_of = compiled.choices_of
    for name, value in fields.items():
        if name in text:  # most fields: checked inline
            if type(value) is str and value and not value.isspace():
                values[name] = value
                continue
            if value is None:
                continue
            return None
        choices = choices_of.get(name)
        if choices is not None:
            if value is None:
                continue
            # StrEnum members hash and compare as their values.
            canonical = choices.get(value) if isinstance(value, str) else None
            if canonical is None:
                return None
            values[name] = canonical
            continue
        entry = compiled.kinds.get(name)
        if entry is None:
            if name == "event_type":
                continue
            return None
        if value is None:
            continue
        value = _fast_value(entry[0], entry[1], value)
        if value is _BAD:
            return None
        values[name] = value
    if not compiled.required.issubset(values):
        return None
    event_type = fields.get("event_type")
    if event_type is None:
        event_type = compiled.default_event_type
    elif isinstance(event_type, str):
        event_type = compiled.event_types.get(event_type)
    else:
        return None
    if event_type is None:
        return None
    return values, event_type


def validate(
    compiled: CompiledSpec, fields: Mapping[str, Any], defaults: Mapping[str, str]
) -> tuple[dict[str, Any], str, str | None]:
    """Return ``(values, event_type, error)``; ``error`` is ``None`` when valid.

    ``None`` counts as "not given", so an environment field left ``None`` in a
    call falls back to ``defaults`` (init arguments, then environment variables).
    A valid call is checked by a fast pass over the given fields alone; any
    doubt goes to the full pass, which names every problem.
    """
    fast = _fast_validate(compiled, fields, defaults)
    if fast is not None:
        return fast[0], fast[1], None
    return _full_validate(compiled, fields, defaults)


def _full_validate(
    compiled: CompiledSpec, fields: Mapping[str, Any], defaults: Mapping[str, str]
) -> tuple[dict[str, Any], str, str | None]:
    values: dict[str, Any] = {}
    missing: list[str] = []
    problems: list[str] = []
    for name, required, kind, choices in compiled.checks:
        value = fields.get(name)
        if value is None:
            value = defaults.get(name)
            if value is None:
                if required:
                    missing.append(name)
                continue
        if kind is TEXT:
            if isinstance(value, str) and value and not value.isspace():
                values[name] = value if type(value) is str else str.__str__(value)
            elif isinstance(value, str):
                problems.append(f"Invalid {name}: must not be blank")
            else:
                problems.append(
                    f"Invalid {name}: expected a non-blank string, got {type(value).__name__}"
                )
        elif choices is not None:
            canonical = choices.get(value) if isinstance(value, str) else None
            if canonical is None:
                problems.append(
                    f"Invalid {name}: {_show(value)} (valid options: {', '.join(choices)})"
                )
            else:
                values[name] = canonical
        elif kind is ID_LIST or kind is STR_LIST:
            items, err = _check_list(name, value, kind is ID_LIST)
            if err is None:
                values[name] = items
            else:
                problems.append(err)
        elif kind is CONTEXT:
            ctx, err = _check_context(value)
            if err is None:
                values[name] = ctx
            else:
                problems.append(err)

    event_type = fields.get("event_type")
    if event_type is None:
        event_type = compiled.default_event_type
        if event_type is None:
            missing.insert(0, "event_type")
    else:
        canonical_type = (
            compiled.event_types.get(event_type) if isinstance(event_type, str) else None
        )
        if canonical_type is None:
            problems.insert(
                0,
                f"Invalid event_type: {_show(event_type)} is not allowed for "
                f"{compiled.spec.function} (valid options: {', '.join(compiled.event_types)})",
            )
        event_type = canonical_type

    if not compiled.allowed.issuperset(fields):
        extra = [k for k in fields if k not in compiled.allowed]
        generated = sorted(k for k in extra if k in GENERATED_FIELDS)
        unknown = sorted(
            k if isinstance(k, str) and k.isidentifier() and k.isascii() else _show(k)
            for k in extra
            if k not in GENERATED_FIELDS and k not in CONTEXT_HELPER_FIELDS
        )
        if generated:
            problems.append(f"Fields set by the library cannot be supplied: {', '.join(generated)}")
        if unknown:
            problems.append(f"Unknown fields for {compiled.spec.function}: {', '.join(unknown)}")

    if missing or problems:
        parts = ([f"Missing required fields: {', '.join(missing)}"] if missing else []) + problems
        return values, "", "; ".join(parts)
    return values, event_type or "", None
