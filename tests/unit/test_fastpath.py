"""The botocore fast path sends exactly what stock botocore sends, and steps
aside on versions it does not know.

Requests go over real HTTP to a capturing SNS endpoint on 127.0.0.1
(``benchmarks.fake_sns``), once through a stock aiobotocore client and once
through a tuned one, and the raw bodies are compared.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import aioboto3
import botocore.exceptions
import botocore.session
import pytest
from aiobotocore.config import AioConfig
from botocore.awsrequest import AWSRequest, AWSRequestPreparer
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.fake_sns import FakeSns, parse_publish_batch, serve
from sr_sec_async.sinks import fastpath
from sr_sec_async.wire import attributes_of

ARN = "arn:aws:sns:us-west-2:123456789012:capture"
TRICKY = [
    '{"a":"b c+d%20e&f=g;h","n":1}',
    "ünïcødé € 😀 \n\t\r \u2028",
    "~-._*'()!$,/:?@[]#",
    "%41%zz%",
    "+ + +",
    "x" * 5000,
]


def batch_params(fifo: bool = False) -> dict[str, Any]:
    entries = []
    for i, message in enumerate(TRICKY):
        entry: dict[str, Any] = {
            "Id": str(i),
            "Message": message,
            "MessageAttributes": attributes_of("login_attempt"),
        }
        if fifo:
            entry["MessageGroupId"] = "login_attempt"
            entry["MessageDeduplicationId"] = f"uuid-{i}"
        entries.append(entry)
    return {"TopicArn": ARN + (".fifo" if fifo else ""), "PublishBatchRequestEntries": entries}


PUBLISH = {"TopicArn": ARN, "Message": TRICKY[0], "MessageAttributes": attributes_of("user_logout")}


@contextlib.asynccontextmanager
async def capturing() -> AsyncIterator[tuple[FakeSns, str]]:
    runner, fake, url = await serve(capture=True)
    try:
        yield fake, url
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def sns_client(url: str, tuned: bool) -> AsyncIterator[Any]:
    session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    overrides = fastpath.client_config_overrides() if tuned else {}
    config = AioConfig(retries={"total_max_attempts": 1}, **overrides)
    async with session.client(
        "sns", region_name="us-west-2", endpoint_url=url, config=config
    ) as client:
        installed = fastpath.tune_client(client) if tuned else False
        assert installed is tuned
        assert isinstance(client._serializer, fastpath._FastSerializer) is tuned
        yield client


@pytest.fixture
def quote_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every string the fast path's encoder handled (empty: it never ran)."""
    calls: list[str] = []
    original = fastpath._quote

    def counting(text: str) -> str:
        calls.append(text)
        return original(text)

    monkeypatch.setattr(fastpath, "_quote", counting)
    return calls


async def send_all(client: Any) -> None:
    for fifo in (False, True):
        response = await client.publish_batch(**batch_params(fifo))
        assert [ok["Id"] for ok in response["Successful"]] == [str(i) for i in range(len(TRICKY))]
    assert (await client.publish(**PUBLISH))["MessageId"]


@pytest.mark.anyio
async def test_fast_path_sends_the_bytes_stock_botocore_sends(quote_calls: list[str]) -> None:
    async with capturing() as (fake, url):
        async with sns_client(url, tuned=False) as stock:
            await send_all(stock)
        assert quote_calls == []  # the stock client never touched the fast path
        async with sns_client(url, tuned=True) as tuned:
            await send_all(tuned)
        assert quote_calls, "the tuned client did not encode through the fast path"
    assert fake.captured is not None and len(fake.captured) == 6
    stock_bodies, fast_bodies = fake.captured[:3], fake.captured[3:]
    for stock_body, fast_body in zip(stock_bodies, fast_bodies, strict=True):
        assert fast_body == stock_body
        assert parse_qsl(fast_body.decode()) == parse_qsl(stock_body.decode())
    # ... and they decode to exactly the parameters the library passed.
    for body, fifo in ((fast_bodies[0], False), (fast_bodies[1], True)):
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        assert (
            form["Action"] == "PublishBatch" and form["TopicArn"] == batch_params(fifo)["TopicArn"]
        )
        assert parse_publish_batch(form) == batch_params(fifo)["PublishBatchRequestEntries"]
    publish = dict(parse_qsl(fast_bodies[2].decode(), keep_blank_values=True))
    assert publish["Action"] == "Publish" and publish["Message"] == PUBLISH["Message"]
    assert fake.rejected == 0


def stock_request(operation: str, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The request botocore's own serializer builds for ``params``, and the
    body text its own request preparer sends for it."""
    model = botocore.session.get_session().get_service_model("sns").operation_model(operation)
    request = create_serializer("query", include_validation=False).serialize_to_request(
        params, model
    )
    sent = AWSRequestPreparer()._prepare_body(AWSRequest(data=request["body"]))
    return request, sent


def fast_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model("sns").operation_model(operation)
    serializer = fastpath._FastSerializer(create_serializer("query", include_validation=False))
    request: dict[str, Any] = serializer.serialize_to_request(params, model)
    return request


def stock_body(operation: str, params: dict[str, Any]) -> tuple[dict[str, str], str]:
    request, sent = stock_request(operation, params)
    return request["body"], sent


entry_text = st.text(max_size=300)


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(st.tuples(entry_text, entry_text, entry_text), min_size=1, max_size=10),
    fifo=st.booleans(),
)
def test_publish_batch_request_equals_botocore_for_any_text(
    messages: list[tuple[str, str, str]], fifo: bool
) -> None:
    entries = []
    for i, (message, value, dedup) in enumerate(messages):
        entry: dict[str, Any] = {
            "Id": f"id-{i}",
            "Message": message,
            "MessageAttributes": {
                "event_type": {"DataType": "String", "StringValue": value or "x"},
                "log_category": {"DataType": "String", "StringValue": "authn"},
            },
        }
        if fifo:
            entry["MessageGroupId"] = value or "g"
            entry["MessageDeduplicationId"] = dedup or "d"
        entries.append(entry)
    params = {"TopicArn": ARN, "PublishBatchRequestEntries": entries}
    stock, sent = stock_request("PublishBatch", params)
    fast = fast_request("PublishBatch", params)
    assert fast["body"] == sent  # built straight from the parameters
    assert fastpath.form_encode(stock["body"]) == sent  # encoded from botocore's dict
    assert {k: v for k, v in fast.items() if k != "body"} == {
        k: v for k, v in stock.items() if k != "body"
    }


@pytest.mark.parametrize(
    "params",
    [
        {"TopicArn": ARN, "PublishBatchRequestEntries": []},
        {"PublishBatchRequestEntries": [{"Id": "0", "Message": "m"}], "TopicArn": ARN},
        {"TopicArn": ARN, "PublishBatchRequestEntries": [{"Id": "0", "Message": 5}]},
        {
            "TopicArn": ARN,
            "PublishBatchRequestEntries": [
                {
                    "Id": "0",
                    "Message": "m",
                    "MessageAttributes": {"n": {"DataType": "Binary", "BinaryValue": b"x"}},
                }
            ],
        },
        {
            "TopicArn": ARN,
            "PublishBatchRequestEntries": [{"Id": "0", "Message": "m", "Other": "x"}],
        },
    ],
)
def test_unusual_publish_batch_parameters_go_to_botocore(params: dict[str, Any]) -> None:
    assert fastpath.publish_batch_form(params) is None
    try:
        stock, _sent = stock_request("PublishBatch", params)
    except Exception as exc:  # botocore rejects it: so must the wrapped serializer
        with pytest.raises(type(exc)):
            fast_request("PublishBatch", params)
    else:
        assert fast_request("PublishBatch", params) == stock  # stock serializer, untouched


def test_both_encoders_match_botocore_on_every_byte_value() -> None:
    text = "".join(map(chr, range(1, 0x800))) + "😀\U0010ffff"
    body, sent = stock_body("Publish", {"TopicArn": ARN, "Message": text})
    assert fastpath.form_encode(body) == sent
    expected = fastpath._reference(text)
    assert fastpath._python_quote(text) == expected
    yarl_quote = fastpath._yarl_quote()
    assert yarl_quote is None or yarl_quote(text) == expected
    for quote in (fastpath._quote, fastpath._python_quote, yarl_quote):
        if quote is not None:
            with pytest.raises(UnicodeEncodeError):
                quote("lone \ud800 surrogate")


def test_encode_handler_leaves_unknown_bodies_to_botocore() -> None:
    for body in ({"Action": "Publish", "Count": 3}, b"raw", "text", {"k": "\ud800"}):
        params = {"body": body}
        fastpath._encode_body(params)
        assert params["body"] is body


@pytest.mark.parametrize(
    ("attribute", "bounds"),
    [("AIOBOTOCORE_RANGE", ((9, 0), (9, 99))), ("BOTOCORE_RANGE", ((0, 1), (0, 2)))],
)
@pytest.mark.anyio
async def test_unrecognised_versions_fall_back_to_stock(
    monkeypatch: pytest.MonkeyPatch, quote_calls: list[str], attribute: str, bounds: Any
) -> None:
    assert fastpath.supported()
    monkeypatch.setattr(fastpath, attribute, bounds)
    assert not fastpath.supported()
    assert fastpath.client_config_overrides() == {}
    async with capturing() as (fake, url):
        async with sns_client(url, tuned=False) as client:
            assert fastpath.tune_client(client) is False
            assert "to_string" not in vars(client._user_agent_creator)
            assert client.meta.config.parameter_validation is True
            await send_all(client)
    assert quote_calls == []
    assert fake.captured is not None and len(fake.captured) == 3 and fake.rejected == 0


@pytest.mark.anyio
async def test_disabled_by_environment(
    monkeypatch: pytest.MonkeyPatch, quote_calls: list[str]
) -> None:
    monkeypatch.setenv(fastpath.DISABLE_ENV, "0")
    assert not fastpath.supported()
    async with capturing() as (_fake, url), sns_client(url, tuned=False) as client:
        assert fastpath.tune_client(client) is False
        await send_all(client)
    assert quote_calls == []


def test_client_without_the_expected_internals_is_left_alone() -> None:
    class Bare:
        meta = None

    assert fastpath.tune_client(Bare()) is False


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2.25.1", (2, 25)), ("1.40.61", (1, 40)), ("3", (0, 0)), ("2.x", (0, 0))],
)
def test_version_parsing(version: str, expected: tuple[int, int]) -> None:
    assert fastpath._major_minor(version) == expected


def test_user_agent_is_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    class Creator:
        def to_string(self) -> str:
            calls.append(1)
            return "Botocore/1 ua/2.1"

    class Events:
        def __init__(self) -> None:
            self.registered: list[tuple[str, Callable[..., Any]]] = []

        def register(self, name: str, handler: Callable[..., Any], unique_id: str) -> None:
            self.registered.append((name, handler))

    class ServiceId:
        def hyphenize(self) -> str:
            return "sns"

    class Serializer:
        def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
            return {}

    class Client:
        def __init__(self) -> None:
            self._user_agent_creator = Creator()
            self._serializer = Serializer()
            self.meta = type(
                "Meta",
                (),
                {
                    "events": Events(),
                    "service_model": type("M", (), {"service_id": ServiceId()}),
                },
            )()

    client = Client()
    assert fastpath.tune_client(client)
    assert isinstance(client._serializer, fastpath._FastSerializer)
    for _ in range(3):
        assert client._user_agent_creator.to_string() == "Botocore/1 ua/2.1"
    assert len(calls) == 1
    assert [name for name, _ in client.meta.events.registered] == [
        f"{event}.sns.{operation}"
        for operation in ("Publish", "PublishBatch")
        for event in ("before-parameter-build", "before-call", "before-send", "after-call")
    ]


@pytest.mark.anyio
async def test_tuned_client_yields_to_the_loop_during_a_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[int] = []
    original = fastpath._pause

    async def counting() -> None:
        pauses.append(1)
        await original()

    monkeypatch.setattr(fastpath, "_pause", counting)
    async with capturing() as (_fake, url):
        async with sns_client(url, tuned=False) as stock:
            await stock.publish_batch(**batch_params())
        assert pauses == []
        async with sns_client(url, tuned=True) as tuned:
            await tuned.publish_batch(**batch_params())
            assert len(pauses) == len(fastpath._HANDLERS)
            await tuned.publish(**PUBLISH)
            assert len(pauses) == 2 * len(fastpath._HANDLERS)


@pytest.mark.anyio
async def test_validating_client_keeps_botocore_serializer() -> None:
    """The direct ``PublishBatch`` serializer skips validation, so it is only
    installed where the client's parameter validation is off."""
    async with capturing() as (fake, url):
        session = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        config = AioConfig(retries={"total_max_attempts": 1}, parameter_validation=True)
        async with session.client(
            "sns", region_name="us-west-2", endpoint_url=url, config=config
        ) as client:
            assert fastpath.tune_client(client)
            assert not isinstance(client._serializer, fastpath._FastSerializer)
            await send_all(client)
            with pytest.raises(botocore.exceptions.ParamValidationError):
                await client.publish_batch(TopicArn=ARN, PublishBatchRequestEntries=[{"Id": 1}])
    assert fake.captured is not None and len(fake.captured) == 3 and fake.rejected == 0
