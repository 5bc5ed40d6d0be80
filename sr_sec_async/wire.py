"""From validated values to the exact bytes published: timestamp, UUID4,
compact JSON, SNS size accounting and record-access splitting.

Sizes follow AWS, not moto: a message counts in UTF-8 bytes, plus each
message attribute's name, data type and value.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from typing import Any

import msgspec

from .events import CATEGORY_OF, RecordAccessEvent, SecurityEvent

__all__ = [
    "MAX_BATCH_ENTRIES",
    "MAX_MESSAGE_BYTES",
    "MAX_REQUEST_BYTES",
    "attributes_of",
    "attributes_size",
    "encode_event",
    "new_event_uuid",
    "utc_timestamp",
]

MAX_MESSAGE_BYTES = 262_144
MAX_REQUEST_BYTES = 262_144
MAX_BATCH_ENTRIES = 10

ENCODER = msgspec.json.Encoder()
_encode = ENCODER.encode


class _Clock:
    """Fixed-width UTC timestamps, formatting the date part once per second."""

    __slots__ = ("prefix", "second")

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def now(self) -> str:
        micros = time.time_ns() // 1000
        second, fraction = divmod(micros, 1_000_000)
        if second != self.second:
            t = time.gmtime(second)
            self.prefix = (
                f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}."
            )
            self.second = second
        return f"{self.prefix}{fraction:06d}+00:00"


utc_timestamp = _Clock().now


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


class _UuidSource:
    """Random (version 4, RFC 4122 variant) UUIDs from ``os.urandom``, read
    4 KiB at a time so that one system call serves 128 UUIDs. The buffer is
    dropped in a forked child, which must not repeat its parent's UUIDs."""

    __slots__ = ("hex", "pos")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.hex = ""
        self.pos = 0

    def new(self) -> str:
        pos = self.pos
        h = self.hex
        if pos >= len(h):
            h = self.hex = os.urandom(4096).hex()
            pos = 0
        self.pos = pos + 32
        return (
            f"{h[pos : pos + 8]}-{h[pos + 8 : pos + 12]}-4{h[pos + 13 : pos + 16]}-"
            f"{_VARIANT[h[pos + 16]]}{h[pos + 17 : pos + 20]}-{h[pos + 20 : pos + 32]}"
        )


_uuids = _UuidSource()
os.register_at_fork(after_in_child=_uuids.reset)

#: A random (version 4, RFC 4122 variant) UUID in canonical lowercase form.
new_event_uuid = _uuids.new


_ATTRIBUTES: dict[str, tuple[dict[str, Any], int]] = {}


def attributes_of(event_type: str) -> dict[str, Any]:
    """SNS message attributes that let subscribers filter without parsing."""
    return _attributes(event_type)[0]


def attributes_size(event_type: str) -> int:
    return _attributes(event_type)[1]


def _attributes(event_type: str) -> tuple[dict[str, Any], int]:
    cached = _ATTRIBUTES.get(event_type)
    if cached is None:
        attrs = {
            "event_type": {"DataType": "String", "StringValue": event_type},
            "log_category": {"DataType": "String", "StringValue": CATEGORY_OF[event_type]},
        }
        size = sum(
            len(name.encode()) + len(a["DataType"].encode()) + len(a["StringValue"].encode())
            for name, a in attrs.items()
        )
        cached = _ATTRIBUTES[event_type] = (attrs, size)
    return cached


class EncodeError(ValueError):
    """The event cannot be put on the wire (bad text, unencodable extras, too big)."""


def _locate_bad_text(values: dict[str, Any]) -> list[str]:
    bad = []
    for name, value in values.items():
        try:
            _encode(value)
        except (UnicodeEncodeError, TypeError, ValueError, OverflowError, RecursionError):
            bad.append(name)
    return bad


def encode_event(struct: type[SecurityEvent], fields: dict[str, Any]) -> list[bytes]:
    """Encode one event; a record-access event too large for one message is
    split into parts. Raises ``EncodeError`` with a caller-facing message."""
    if struct is RecordAccessEvent:
        fields["record_count"] = len(fields["id_list"])
    try:
        body = _encode(struct(**fields))
    except (UnicodeEncodeError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        bad = _locate_bad_text(fields)
        where = ", ".join(bad) if bad else "the event"
        raise EncodeError(f"Cannot encode {where} as UTF-8 JSON: {exc}") from None
    limit = MAX_MESSAGE_BYTES - attributes_size(fields["event_type"])
    if len(body) <= limit:
        return [body]
    if struct is RecordAccessEvent:
        return _split_record_access(fields, limit)
    sizes = sorted(
        ((len(_encode(v)), k) for k, v in fields.items() if k != "event_type"), reverse=True
    )
    largest = ", ".join(f"{k} ({n:,} bytes)" for n, k in sizes[:3])
    raise EncodeError(
        f"Event too large: {len(body):,} bytes with attributes exceeds the SNS limit of "
        f"{MAX_MESSAGE_BYTES:,} bytes; largest fields: {largest}"
    )


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_MIN_ID_BUDGET = 256  # room a part needs for at least one (stand-in) id


def oversized_id_stand_in(item: str) -> str:
    """What replaces an id that cannot fit in a message even alone: its SHA-256
    and byte length, so the id stays countable, ordered and verifiable."""
    data = item.encode("utf-8", "surrogatepass")
    return f"<oversized id sha256={hashlib.sha256(data).hexdigest()} bytes={len(data)}>"


def _split_record_access(fields: dict[str, Any], limit: int) -> list[bytes]:
    ids: list[str] = fields["id_list"]
    total = len(ids)
    # Overhead with every counter at its widest possible value: the parts can
    # only be smaller, so each part's actual size is within the budget.
    skeleton = dict(
        fields,
        id_list=[],
        record_count=total,
        part=total,
        total_parts=total,
        total_record_count=total,
    )
    budget = limit - len(_encode(RecordAccessEvent(**skeleton)))
    if budget < _MIN_ID_BUDGET:
        raise EncodeError(
            "Event too large: the fields other than id_list leave no room for ids "
            f"within the SNS limit of {MAX_MESSAGE_BYTES:,} bytes"
        )
    groups: list[list[str]] = []
    current: list[str] = []
    used = 0
    # When no id needs escaping (the usual case), an id's JSON is the id in
    # quotes: one scan of all ids instead of encoding each.
    joined = "".join(ids)
    plain = joined.isascii() and _NEEDS_ESCAPE.search(joined) is None
    for item in ids:
        cost = len(item) + 2 if plain else len(_encode(item))
        if cost > budget:
            item = oversized_id_stand_in(item)
            cost = len(item) + 2
        extra = cost if not current else cost + 1
        if current and used + extra > budget:
            groups.append(current)
            current, used = [], 0
            extra = cost
        current.append(item)
        used += extra
    if current:
        groups.append(current)
    parts = []
    n = len(groups)
    for index, group in enumerate(groups, start=1):
        part_fields = dict(
            fields,
            id_list=group,
            record_count=len(group),
            part=index,
            total_parts=n,
            total_record_count=total,
        )
        body = _encode(RecordAccessEvent(**part_fields))
        if len(body) > limit:  # pragma: no cover - the budget above rules this out
            raise EncodeError(f"internal error: part {index} is {len(body)} bytes")
        parts.append(body)
    return parts
