"""Every validation rule, for every function, through the public API (test mode)."""

from __future__ import annotations

import json
from enum import EnumType
from typing import Any

import pytest

import sr_sec_async as s
from sr_sec_async.events import SPECS

from ..samples import BASE, ENV, EVENT_TYPE, VALID, call_kwargs, expected_wire

pytestmark = pytest.mark.anyio
FUNCTIONS = sorted(VALID)


async def call(function: str, **kwargs: Any) -> s.LogResult:
    result: s.LogResult = await getattr(s, function)(**kwargs)
    return result


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines()]


def test_thirteen_functions_are_exported() -> None:
    assert sorted(SPECS) == FUNCTIONS
    assert len(FUNCTIONS) == 13
    for name in FUNCTIONS:
        assert callable(getattr(s, name)) and callable(getattr(s.SecurityLogger, name))


@pytest.mark.parametrize("function", FUNCTIONS)
async def test_valid_call_succeeds_and_prints_its_message(
    function: str, test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    kwargs = call_kwargs(function)
    result = await call(function, **kwargs)
    assert result.status == "success", result.message
    [msg] = lines(capsys)
    for key, value in expected_wire(function, kwargs).items():
        assert msg[key] == value, key
    assert msg["event_uuid"] == result.event_uuid
    assert msg["caller_function"] == "call"  # the helper above is the app's caller
    assert msg["caller_file"] == "test_validation.py"


@pytest.mark.parametrize("function", FUNCTIONS)
async def test_missing_fields_are_all_named_in_one_message(
    function: str, test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = SPECS[function]
    result = await call(function)  # nothing at all; environment comes from init
    assert result.status == "failure"
    assert result.event_uuid is None
    required = ["status", "actor_identifier", "actor_type", "session_id", *spec.required]
    if len(spec.event_types) > 1:
        required.insert(0, "event_type")
    assert result.message.startswith("Missing required fields: ")
    named = result.message.split(";")[0].removeprefix("Missing required fields: ").split(", ")
    assert sorted(named) == sorted(required)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("function", FUNCTIONS)
async def test_each_missing_required_field_alone(
    function: str, test_mode_logger: s.SecurityLogger
) -> None:
    spec = SPECS[function]
    for field in ("actor_identifier", "actor_type", "session_id", "status", *spec.required):
        kwargs = call_kwargs(function)
        kwargs.pop(field)
        result = await call(function, **kwargs)
        assert result.message == f"Missing required fields: {field}", field


@pytest.mark.parametrize("function", FUNCTIONS)
async def test_every_enum_field_rejects_other_values_with_options(
    function: str, test_mode_logger: s.SecurityLogger
) -> None:
    from sr_sec_async.events import FIELD_KINDS

    spec = SPECS[function]
    enum_fields = [
        f
        for f in spec.fields
        if isinstance(FIELD_KINDS[f], EnumType) and f in call_kwargs(function)
    ]
    assert enum_fields
    bad = {f: "not-a-value" for f in enum_fields}
    result = await call(function, **call_kwargs(function, **bad))
    assert result.status == "failure"
    for f in enum_fields:
        options = ", ".join(m.value for m in FIELD_KINDS[f])
        assert f"Invalid {f}: 'not-a-value' (valid options: {options})" in result.message


@pytest.mark.parametrize("function", FUNCTIONS)
async def test_event_type_not_allowed_for_function(
    function: str, test_mode_logger: s.SecurityLogger
) -> None:
    other = "record_access" if function != "log_record_access" else "login_attempt"
    result = await call(function, **call_kwargs(function, event_type=other))
    assert result.status == "failure"
    assert f"Invalid event_type: '{other}' is not allowed for {function}" in result.message
    assert EVENT_TYPE[function] in result.message


async def test_permission_change_needs_event_type_and_accepts_all_seven(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    kwargs = call_kwargs("log_permission_role_change")
    kwargs.pop("event_type")
    result = await s.log_permission_role_change(**kwargs)
    assert result.message == "Missing required fields: event_type"
    for et in SPECS["log_permission_role_change"].event_types:
        result = await s.log_permission_role_change(**kwargs, event_type=et)
        assert result.ok, result.message
        assert lines(capsys)[0]["log_category"] == "authz_n_access"


async def test_text_fields_must_be_non_blank_strings(test_mode_logger: s.SecurityLogger) -> None:
    result = await s.log_user_login(
        **call_kwargs("log_user_login", actor_identifier="   ", session_id=42, user_agent=b"ua")
    )
    assert result.status == "failure"
    assert "Invalid actor_identifier: must not be blank" in result.message
    assert "Invalid session_id: expected a non-blank string, got int" in result.message
    assert "Invalid user_agent: expected a non-blank string, got bytes" in result.message


async def test_exact_strings_are_accepted_like_members(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    kwargs = {k: str(v) for k, v in call_kwargs("log_user_login").items()}
    assert (await s.log_user_login(**kwargs)).ok
    assert lines(capsys)[0]["user_role"] == "role.classification.admin"


@pytest.mark.parametrize(
    "field", ["timestamp", "event_uuid", "log_category", "caller_function", "caller_file"]
)
async def test_generated_fields_cannot_be_supplied(
    field: str, test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await s.log_user_login(**call_kwargs("log_user_login"), **{field: "forged"})
    assert result.status == "failure"
    assert f"Fields set by the library cannot be supplied: {field}" in result.message
    assert capsys.readouterr().out == ""


async def test_record_count_and_parts_cannot_be_supplied(
    test_mode_logger: s.SecurityLogger,
) -> None:
    result = await s.log_record_access(
        **call_kwargs("log_record_access"), record_count=99, part=1, total_parts=1
    )
    assert "cannot be supplied: part, record_count, total_parts" in result.message


@pytest.mark.parametrize("key", ["event_type", "log_category", "status", "actor_identifier"])
async def test_context_cannot_overwrite_reserved_fields(
    key: str, test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await s.log_user_login(**call_kwargs("log_user_login"), context={key: "x"})
    assert result.status == "failure"
    assert f"reserved field names ({key})" in result.message
    assert capsys.readouterr().out == ""


async def test_context_extras_are_nested_and_kept(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    extras = {"ticket": "SEC-1", "attempt": 3, "tags": ["a", "b"]}
    assert (await s.log_user_login(**call_kwargs("log_user_login"), context=extras)).ok
    msg = lines(capsys)[0]
    assert msg["context"] == extras
    assert msg["event_type"] == "login_attempt"


async def test_context_must_be_an_object_with_string_keys(
    test_mode_logger: s.SecurityLogger,
) -> None:
    r1 = await s.log_user_login(**call_kwargs("log_user_login"), context=["x"])
    assert "Invalid context: expected a JSON object (dict), got list" in r1.message
    r2 = await s.log_user_login(**call_kwargs("log_user_login"), context={1: "x"})
    assert "Invalid context: keys must be strings (1)" in r2.message


async def test_unknown_fields_are_named(test_mode_logger: s.SecurityLogger) -> None:
    result = await s.log_user_login(**call_kwargs("log_user_login"), usr_agent="typo")
    assert result.message == "Unknown fields for log_user_login: usr_agent"


async def test_context_helper_fields_are_ignored_where_not_taken(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    # create_security_context yields user_agent/http_method for every request;
    # log_record_access does not take them and must not reject them.
    kwargs = call_kwargs("log_record_access", user_agent="ua", http_method="http.method.GET")
    assert (await s.log_record_access(**kwargs)).ok
    msg = lines(capsys)[0]
    assert "user_agent" not in msg and "http_method" not in msg


async def test_id_list_rules(test_mode_logger: s.SecurityLogger) -> None:
    empty = await s.log_record_access(**call_kwargs("log_record_access", id_list=[]))
    assert "Invalid id_list: must contain at least one id" in empty.message
    not_list = await s.log_record_access(**call_kwargs("log_record_access", id_list="cust_1"))
    assert "Invalid id_list: expected a non-empty list of strings, got str" in not_list.message
    bad_items = await s.log_record_access(
        **call_kwargs("log_record_access", id_list=["a", 2, "", None, " \t"])
    )
    assert (
        "every item must be a non-blank string ([1]=2, [2]='', [3]=None, [4]=' \\t')"
        in bad_items.message
    )


async def test_record_count_is_derived(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [f"id-{i}" for i in range(7)]
    assert (await s.log_record_access(**call_kwargs("log_record_access", id_list=ids))).ok
    msg = lines(capsys)[0]
    assert msg["record_count"] == 7 and msg["id_list"] == ids
    assert "part" not in msg and "total_parts" not in msg


async def test_problems_of_every_kind_in_one_message(test_mode_logger: s.SecurityLogger) -> None:
    result = await s.log_user_login(
        actor_identifier=" ", actor_type="robot", status=1, usr="x", timestamp="t"
    )
    m = result.message
    assert m.startswith("Missing required fields: session_id, user_agent, user_role")
    for piece in (
        "Invalid actor_identifier",
        "Invalid actor_type: 'robot'",
        "Invalid status: 1",
        "cannot be supplied: timestamp",
        "Unknown fields for log_user_login: usr",
    ):
        assert piece in m


async def test_long_bad_values_are_shortened_in_messages(
    test_mode_logger: s.SecurityLogger,
) -> None:
    result = await s.log_user_login(**call_kwargs("log_user_login", user_role="x" * 100_000))
    assert len(result.message) < 1000
    assert "..." in result.message


# -- environment fields: per call > init > environment variables ---------------


async def test_environment_fields_are_optional_per_call_once_set_at_init(
    capsys: pytest.CaptureFixture[str],
) -> None:
    s.init_security_logging(test_mode=True, **ENV)
    assert (await s.log_user_logout(**call_kwargs("log_user_logout"))).ok
    msg = lines(capsys)[0]
    assert {k: msg[k] for k in ENV} == ENV


async def test_per_call_beats_init_beats_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SERVICE_NAME", "from-env")
    monkeypatch.setenv("CLOUD_ENV_NAME", "env-name")
    monkeypatch.setenv("CLOUD_ENV_TYPE", "staging")
    monkeypatch.setenv("CLOUD_ENV_UNIQUE_ID", "111111111111")
    monkeypatch.setenv("SERVICE_ACCOUNT_ID", "env-role")
    s.init_security_logging(test_mode=True, service_name="from-init", cloud_env_name="init-name")
    kwargs = call_kwargs("log_user_logout")
    assert (await s.log_user_logout(**kwargs, service_name="per-call")).ok
    assert (await s.log_user_logout(**kwargs)).ok
    first, second = lines(capsys)
    assert first["service_name"] == "per-call"
    assert second["service_name"] == "from-init"
    assert second["cloud_env_name"] == "init-name"
    assert second["cloud_env_type"] == "stage"  # "staging" normalised
    assert second["cloud_env_unique_id"] == "111111111111"
    assert second["service_account_id"] == "env-role"


async def test_missing_environment_fields_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    s.init_security_logging(test_mode=True)
    result = await s.log_user_logout(**call_kwargs("log_user_logout"))
    assert result.message == (
        "Missing required fields: cloud_env_type, cloud_env_unique_id, cloud_env_name, "
        "service_account_id, service_name"
    )


async def test_invalid_environment_type_from_init_is_reported_per_call() -> None:
    s.init_security_logging(test_mode=True, **{**ENV, "cloud_env_type": "qa-cluster"})
    result = await s.log_user_logout(**call_kwargs("log_user_logout"))
    assert "Invalid cloud_env_type: 'qa-cluster' (valid options: prod, stage, test, dev)" in (
        result.message
    )


async def test_none_means_not_given(
    test_mode_logger: s.SecurityLogger, capsys: pytest.CaptureFixture[str]
) -> None:
    kwargs = call_kwargs("log_user_login", device_id=None, service_name=None)
    assert (await s.log_user_login(**kwargs)).ok
    msg = lines(capsys)[0]
    assert "device_id" not in msg
    assert msg["service_name"] == ENV["service_name"]


def test_base_sample_is_complete() -> None:
    assert set(BASE) == {"actor_identifier", "actor_type", "session_id", "status"}
