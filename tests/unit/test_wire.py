"""Timestamps, UUIDs, compact JSON and record-access splitting."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async import wire
from sr_sec_async.events import CATEGORY_OF, RecordAccessEvent

from ..conftest import AWS_MAX_BYTES
from ..samples import ENV, call_kwargs

pytestmark = pytest.mark.anyio

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")


def test_timestamp_is_fixed_width_utc_with_six_fraction_digits() -> None:
    from datetime import UTC, datetime

    before = datetime.now(UTC)
    stamps = [wire.utc_timestamp() for _ in range(2000)]
    after = datetime.now(UTC)
    for ts in stamps:
        assert TIMESTAMP.match(ts), ts
        parsed = datetime.fromisoformat(ts)
        assert before.replace(microsecond=0) <= parsed <= after
    assert stamps == sorted(stamps)


def test_timestamp_formats_microseconds_with_leading_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2025-12-13T04:33:12.000042 UTC
    monkeypatch.setattr(wire.time, "time_ns", lambda: 1765600392_000042_000)
    clock = wire._Clock()
    assert clock.now() == "2025-12-13T04:33:12.000042+00:00"


def test_event_uuid_is_random_uuid4_canonical() -> None:
    seen = set()
    for _ in range(5000):
        text = wire.new_event_uuid()
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text and len(text) == 36
        seen.add(text)
    assert len(seen) == 5000


def test_every_event_type_has_its_category() -> None:
    expected = {
        "authn_n_session": {"login_attempt", "mfa_challenge", "user_logout"},
        "authz_n_access": {
            "permission_change",
            "role_assign",
            "role_revoke",
            "permission_grant",
            "permission_revoke",
            "group_membership_add",
            "group_membership_remove",
            "user_status_change",
            "impersonation_event",
            "user_invite_event",
        },
        "api_endpoint_access": {"api_request_processed"},
        "customer_data_actions": {"record_access"},
        "key_config_changes": {
            "mfa_status_change",
            "password_change_reset",
            "api_key_lifecycle",
            "auth_mechanism_modification",
        },
    }
    got: dict[str, set[str]] = {}
    for event_type, category in CATEGORY_OF.items():
        got.setdefault(category, set()).add(event_type)
    assert got == expected
    assert set(CATEGORY_OF) == {e.value for e in s.EventType}


async def test_output_is_compact_flat_json(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await s.log_user_login(**call_kwargs("log_user_login"))).ok
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n")
    line = out[:-1]
    assert line == json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False)
    msg = json.loads(line)
    assert all(not isinstance(v, dict) for v in msg.values())
    assert TIMESTAMP.match(msg["timestamp"])


def _parts(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in lines]


def _aws_size(body: str, event_type: str = "record_access") -> int:
    return len(body.encode()) + wire.attributes_size(event_type)


@pytest.mark.parametrize(
    "ids",
    [
        [f"cust_{i:07d}" for i in range(50_000)],
        [f"клиент-{i}-名前-😀" for i in range(20_000)],  # multi-byte characters
        [f'q"uote\\{i}\n' for i in range(30_000)],  # characters JSON escapes
    ],
    ids=["ascii", "multibyte", "escaped"],
)
async def test_split_parts_hold_exactly_the_ids_in_order_within_the_limit(
    ids: list[str], test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await s.log_record_access(**call_kwargs("log_record_access", id_list=ids))
    assert result.ok, result.message
    raw = capsys.readouterr().out.splitlines()
    parts = _parts(raw)
    assert len(parts) == result.parts > 1
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))
    assert {p["total_parts"] for p in parts} == {len(parts)}
    assert {p["event_uuid"] for p in parts} == {result.event_uuid}
    assert {p["total_record_count"] for p in parts} == {len(ids)}
    assert all(p["record_count"] == len(p["id_list"]) for p in parts)
    joined = [i for p in parts for i in p["id_list"]]
    assert joined == ids
    for body in raw:
        assert _aws_size(body) <= AWS_MAX_BYTES
    # Greedy packing: each part but the last is nearly full.
    assert all(_aws_size(b) > AWS_MAX_BYTES - 2_000 for b in raw[:-1])


async def test_single_id_too_large_is_replaced_by_its_digest(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "x" * 300_000
    ids = ["before", huge, "after"]
    result = await s.log_record_access(**call_kwargs("log_record_access", id_list=ids))
    assert result.ok, result.message
    raw = capsys.readouterr().out.splitlines()
    joined = [i for p in _parts(raw) for i in p["id_list"]]
    digest = hashlib.sha256(huge.encode()).hexdigest()
    assert joined == ["before", f"<oversized id sha256={digest} bytes=300000>", "after"]
    assert all(_aws_size(b) <= AWS_MAX_BYTES for b in raw)


async def test_event_fitting_exactly_is_not_split() -> None:
    fields: dict[str, Any] = {
        **call_kwargs("log_record_access"),
        **ENV,
        "timestamp": wire.utc_timestamp(),
        "event_uuid": wire.new_event_uuid(),
        "event_type": "record_access",
        "log_category": "customer_data_actions",
        "caller_function": "f",
        "caller_file": "f.py",
    }
    fields = {k: (str(v) if not isinstance(v, list) else v) for k, v in fields.items()}
    limit = AWS_MAX_BYTES - wire.attributes_size("record_access")
    base = len(wire.encode_event(RecordAccessEvent, dict(fields, id_list=["a"]))[0])
    pad = limit - base
    exact = wire.encode_event(RecordAccessEvent, dict(fields, id_list=["a" * (1 + pad)]))
    assert len(exact) == 1 and len(exact[0]) == limit
    over = wire.encode_event(RecordAccessEvent, dict(fields, id_list=["a" * (2 + pad)]))
    assert len(over) == 1  # a lone id too large becomes its digest, never two parts
    assert b"<oversized id sha256=" in over[0]


async def test_too_large_ordinary_event_is_rejected_naming_the_field(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await s.log_user_login(**call_kwargs("log_user_login", user_agent="u" * 300_000))
    assert result.status == "failure"
    assert "exceeds the SNS limit of 262,144 bytes" in result.message
    assert "user_agent (300,002 bytes)" in result.message
    assert capsys.readouterr().out == ""


async def test_lone_surrogate_is_rejected_naming_the_field(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await s.log_user_login(**call_kwargs("log_user_login", user_agent="bad \ud800"))
    assert result.status == "failure"
    assert "Cannot encode user_agent as UTF-8 JSON" in result.message
    assert capsys.readouterr().out == ""


def test_message_attributes_allow_filtering() -> None:
    attrs = wire.attributes_of("role_assign")
    assert attrs == {
        "event_type": {"DataType": "String", "StringValue": "role_assign"},
        "log_category": {"DataType": "String", "StringValue": "authz_n_access"},
    }
    assert wire.attributes_size("role_assign") == len(
        "event_type" + "String" + "role_assign" + "log_category" + "String" + "authz_n_access"
    )


def test_forked_child_does_not_repeat_parent_uuids() -> None:
    wire.new_event_uuid()  # the random buffer is now filled in the parent
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next UUIDs and leave at once
        os.write(write_end, ",".join(wire.new_event_uuid() for _ in range(20)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = set(pipe.read().decode().split(","))
    os.waitpid(pid, 0)
    parent = {wire.new_event_uuid() for _ in range(20)}
    assert len(child) == 20 and not child & parent


def test_ids_needing_no_escape_are_exactly_those_msgspec_leaves_alone() -> None:
    """The splitter counts a plain id as ``len(id) + 2`` bytes without encoding it."""
    for char in map(chr, range(128)):
        plain = wire._NEEDS_ESCAPE.search(char) is None
        assert (len(wire._encode(char)) == 3) == plain, repr(char)
