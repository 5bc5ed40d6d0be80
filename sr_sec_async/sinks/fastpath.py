"""Make an aiobotocore SNS client cheap to call for the requests this library builds.

Stock botocore spends most of a ``PublishBatch``'s CPU on four things this
library does not need, all on the application's event loop:

* percent-encoding the form body in pure Python (``urllib.parse.urlencode``,
  about 50 ns per byte) — and doing it twice, once to sign the request and once
  to send it;
* rebuilding the ``User-Agent`` string for every request, twice;
* validating the parameters against the service model, although the library
  built them itself from events it had already validated;
* walking the service model to serialize every ``PublishBatch`` entry.

A request's CPU also arrives in one piece: aiobotocore runs everything from
building the parameters to writing the socket without giving the loop back,
so one ``PublishBatch`` shows up as a millisecond of latency for every other
coroutine. The tuned client yields to the loop at four points of a request
(before endpoint resolution and serializing, before signing, before sending,
and after parsing the response), so the application's callbacks run between.

``tune_client`` removes those costs without changing what goes on the wire:
``PublishBatch`` bodies are built straight from the parameters and other
bodies are form-encoded once by a ``before-call`` handler, to exactly the
bytes stock botocore would send (the encoder is checked at import against
``urllib.parse.quote_plus`` itself, the rest by the tests); the user agent is
computed once per client; and ``client_config_overrides`` turns parameter
validation off.

Every piece is guarded. On an aiobotocore or botocore release outside the
range the library was checked against, or when the client lacks the internals
the tuning relies on, nothing is changed and the stock path runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import aiobotocore
import botocore
from botocore.validate import ParamValidationDecorator

__all__ = [
    "DISABLE_ENV",
    "client_config_overrides",
    "form_encode",
    "supported",
    "tune_client",
]

log = logging.getLogger("sr_sec_async")

#: Set to ``0`` to run the stock botocore path (for comparison or diagnosis).
DISABLE_ENV = "SR_SEC_ASYNC_FASTPATH"

#: Releases the tuning was checked against (the wire-equivalence and moto
#: tests pass on aiobotocore 2.15.2 / botocore 1.35.36 and 2.25.1 / 1.40.61):
#: ``(major, minor)`` inclusive bounds. Widen only after running those tests.
AIOBOTOCORE_RANGE = ((2, 15), (2, 25))
BOTOCORE_RANGE = ((1, 35), (1, 40))

#: Operations whose serialized body this module encodes.
OPERATIONS = ("Publish", "PublishBatch")


def _major_minor(version: str) -> tuple[int, int]:
    try:
        major, minor = version.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def _in_range(version: str, bounds: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    low, high = bounds
    return low <= _major_minor(version) <= high


def supported() -> bool:
    """Whether the installed aiobotocore and botocore are releases the tuning
    was checked against, and it is not disabled through ``SR_SEC_ASYNC_FASTPATH=0``."""
    if os.environ.get(DISABLE_ENV, "1").strip() in {"0", "false", "off", "no"}:
        return False
    return _in_range(aiobotocore.__version__, AIOBOTOCORE_RANGE) and _in_range(
        botocore.__version__, BOTOCORE_RANGE
    )


# -- form encoding ------------------------------------------------------------

_STOCK_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_BYTE_ESCAPES = {chr(b): "+" if b == 32 else f"%{b:02X}" for b in range(256)}


def _python_quote(text: str) -> str:
    """``quote_plus(text.encode(), safe="")`` with one C-speed ``replace`` per
    distinct unsafe character instead of a Python call per byte."""
    latin = text.encode("utf-8").decode("latin-1")  # one char per UTF-8 byte
    unsafe = set(latin).difference(_STOCK_SAFE)
    if not unsafe:
        return latin
    if "%" in unsafe:  # first: later replacements introduce "%"
        latin = latin.replace("%", "%25")
        unsafe.discard("%")
    space = " " in unsafe
    unsafe.discard(" ")
    for char in unsafe:  # "+" is among these, so it is escaped before spaces become "+"
        latin = latin.replace(char, _BYTE_ESCAPES[char])
    return latin.replace(" ", "+") if space else latin


def _yarl_quote() -> Callable[[str], str] | None:
    """yarl's C quoter (yarl ships with aiohttp, which aiobotocore needs),
    completed to stock botocore's safe set; ``None`` if unavailable."""
    try:
        from yarl._quoting import _Quoter

        quoter: Callable[[str], str] = _Quoter(safe="", qs=True, requote=False)
        left_as_is = [
            c for c in map(chr, range(32, 127)) if c not in _STOCK_SAFE and quoter(c) == c
        ]
    except Exception:
        return None
    fixups = [(c, _BYTE_ESCAPES[c]) for c in left_as_is]

    def quote(text: str) -> str:
        if not text.isascii():
            text.encode("utf-8")  # yarl drops lone surrogates: raise as botocore does
        out = quoter(text)
        for char, escape in fixups:
            if char in out:
                out = out.replace(char, escape)
        return out

    return quote


def _reference(text: str) -> str:
    return quote_plus(text.encode("utf-8"), safe="")


_PROBE = (
    "".join(map(chr, range(1, 256)))
    + ' {"k":"v + w","p":"%41%zz","e":"ü€😀","s":"a;b&c=d"} '
    + "\u2028\ufeff\U0010ffff"
)


def _pick_quote() -> Callable[[str], str]:
    for candidate in (_yarl_quote(), _python_quote):
        if candidate is None:
            continue
        try:
            if candidate(_PROBE) == _reference(_PROBE) and candidate("") == "":
                candidate("\ud800")  # must raise UnicodeEncodeError, as botocore does
        except UnicodeEncodeError:
            return candidate
        except Exception:  # pragma: no cover - a broken quoter is skipped
            pass
    return _reference  # pragma: no cover - _python_quote always matches


_quote = _pick_quote()


def form_encode(body: dict[str, str]) -> str:
    """``application/x-www-form-urlencoded`` text of a serialized query-protocol
    body: exactly what botocore's ``urlencode(..., doseq=True)`` produces."""
    q = _quote
    return "&".join([f"{q(k)}={q(v)}" for k, v in body.items()])


_short: dict[str, str] = {}


def _quote_short(text: str) -> str:
    """``_quote`` for the few short strings that recur in every request
    (entry ids, attribute names and values), remembered."""
    quoted = _short.get(text)
    if quoted is None:
        quoted = _quote(text)
        if len(_short) < 4096:
            _short[text] = quoted
    return quoted


_ENTRY_TEXT = frozenset({"Id", "Message", "Subject", "MessageStructure", "MessageGroupId"})
_ATTRIBUTE_TEXT = ("DataType", "StringValue")


def publish_batch_form(params: dict[str, Any]) -> str | None:
    """The form-encoded parameters of a ``PublishBatch`` request, built straight
    from the parameters, in the order botocore's query serializer walks them.
    ``None`` for anything but the shapes this library sends (text values only),
    which is then left to botocore."""
    if list(params) != ["TopicArn", "PublishBatchRequestEntries"]:
        return None
    arn, entries = params["TopicArn"], params["PublishBatchRequestEntries"]
    if type(arn) is not str or type(entries) is not list or not entries:
        return None
    q, qs = _quote, _quote_short
    parts = [f"TopicArn={qs(arn)}"]
    for i, entry in enumerate(entries, 1):
        if type(entry) is not dict:
            return None
        prefix = f"PublishBatchRequestEntries.member.{i}."
        for key, value in entry.items():
            if key == "MessageAttributes":
                if type(value) is not dict or not value:
                    return None
                for j, (name, attribute) in enumerate(value.items(), 1):
                    if type(name) is not str or type(attribute) is not dict:
                        return None
                    at = f"{prefix}MessageAttributes.entry.{j}."
                    parts.append(f"{at}Name={qs(name)}")
                    for field, text in attribute.items():
                        if field not in _ATTRIBUTE_TEXT or type(text) is not str:
                            return None
                        parts.append(f"{at}Value.{field}={qs(text)}")
            elif key == "MessageDeduplicationId" and type(value) is str:
                parts.append(f"{prefix}{key}={q(value)}")
            elif key in _ENTRY_TEXT and type(value) is str:
                parts.append(f"{prefix}{key}={q(value) if key == 'Message' else qs(value)}")
            else:
                return None
    return "&".join(parts)


class _FastSerializer:
    """Wraps a client's query serializer: ``PublishBatch`` bodies are built by
    ``publish_batch_form``; everything else goes to botocore's serializer.
    Installed only on clients whose parameter validation is off."""

    def __init__(self, stock: Any) -> None:
        self._stock = stock
        self._skeleton: dict[str, Any] | None = None

    def _request_skeleton(self, operation_model: Any) -> dict[str, Any]:
        """botocore's own request (method, headers, ...) with only ``Action``
        and ``Version`` in the body, made once from a probe request."""
        if self._skeleton is None:
            probe = {"TopicArn": "arn", "PublishBatchRequestEntries": [{"Id": "0", "Message": "m"}]}
            request = self._stock.serialize_to_request(probe, operation_model)
            request["body"] = form_encode(
                {k: v for k, v in request["body"].items() if k in ("Action", "Version")}
            )
            self._skeleton = request
        return self._skeleton

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        if operation_model.name == "PublishBatch" and type(parameters) is dict:
            try:
                form = publish_batch_form(parameters)
            except UnicodeEncodeError:
                form = None  # botocore reports it as it always does
            if form is not None:
                skeleton = self._request_skeleton(operation_model)
                request = dict(skeleton, headers=dict(skeleton["headers"]))
                request["body"] = f"{skeleton['body']}&{form}"
                return request
        return self._stock.serialize_to_request(parameters, operation_model)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stock, name)


def _encode_body(params: dict[str, Any], **_: Any) -> None:
    """Encode a serialized body once, here, instead of twice later."""
    body = params.get("body")
    if type(body) is not dict:
        return
    for key, value in body.items():
        if type(key) is not str or type(value) is not str:
            return  # not a shape this module knows: leave it to botocore
    try:
        params["body"] = form_encode(body)
    except UnicodeEncodeError:
        return  # botocore reports it as it always does


async def _pause() -> None:
    await asyncio.sleep(0)


async def _yield_to_loop(**_: Any) -> None:
    """Let the application's ready callbacks run between the steps of a request."""
    await _pause()


async def _encode_then_yield(params: dict[str, Any], **kwargs: Any) -> None:
    """``before-call`` handler: the body is serialized; encode it, then yield."""
    _encode_body(params)
    await _yield_to_loop()


#: ``(event, handler)`` pairs installed per operation: aiobotocore awaits
#: coroutine handlers, so each ``_yield_to_loop`` splits the request's CPU.
_HANDLERS = (
    ("before-parameter-build", _yield_to_loop),
    ("before-call", _encode_then_yield),
    ("before-send", _yield_to_loop),
    ("after-call", _yield_to_loop),
)


# -- the client -----------------------------------------------------------------


def client_config_overrides() -> dict[str, Any]:
    """``AioConfig`` keyword arguments for the library's own clients: parameter
    validation off, because every request is built by the library from events
    it has validated."""
    return {"parameter_validation": False} if supported() else {}


def tune_client(client: Any) -> bool:
    """Install the fast path on an aiobotocore SNS client; ``False`` (and the
    client untouched) when the versions or the client's internals are not the
    ones the tuning was checked against."""
    if not supported():
        return False
    try:
        events = client.meta.events
        service_id = client.meta.service_model.service_id.hyphenize()
        creator = client._user_agent_creator
        user_agent = creator.to_string()
        stock_serializer = client._serializer.serialize_to_request
        if service_id != "sns" or not isinstance(user_agent, str) or not callable(stock_serializer):
            return False
    except Exception as exc:
        log.info("botocore fast path not installed (%r): using the stock path", exc)
        return False
    # One string for the client's lifetime: the same value botocore computes,
    # without rebuilding it twice per request.
    creator.to_string = lambda: user_agent
    if not isinstance(client._serializer, ParamValidationDecorator):  # validation is off
        client._serializer = _FastSerializer(client._serializer)
    for operation in OPERATIONS:
        for event, handler in _HANDLERS:
            events.register(
                f"{event}.{service_id}.{operation}",
                handler,
                unique_id=f"sr_sec_async-{event}-{operation}",
            )
    return True
