"""OCPP-J RPC framing: one WebSocket text message -> its parts, never an exception.

OCPP-J puts every message in a JSON array whose first element is the MessageTypeId:
CALL `[2, id, action, payload]`, CALLRESULT `[3, id, payload]`, CALLERROR
`[4, id, code, description, details]`, and in OCPP 2.1 CALLRESULTERROR
`[5, id, code, description, details]` and SEND `[6, id, action, payload]`.
Whatever breaks those shapes is reported as (kind, detail, offset) and the parts that
could be read are kept.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any, NamedTuple

from chargescope.dissectors.ocpp.versions import MessageType


def _pick_loads() -> tuple[Any, type[Exception]]:
    """orjson when it bounds nesting depth, else the standard library.

    Old orjson releases (e.g. 3.8) recurse without limit and crash the process (C stack
    overflow) on a hostile `[[[[...` payload; current ones stop at depth 1024 with a
    JSONDecodeError. One cheap probe at import tells which we have.
    """
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is optional
        return json.loads, json.JSONDecodeError
    try:
        orjson.loads(b"[" * 1100 + b"]" * 1100)
    except orjson.JSONDecodeError:
        return orjson.loads, orjson.JSONDecodeError
    return json.loads, json.JSONDecodeError


_loads, _DecodeError = _pick_loads()

_TYPE_NAMES = {int(t): t.name for t in MessageType}
MAX_UNIQUE_ID = 36  # OCPP-J: "maximum of 36 characters, to allow for GUIDs"

_CALL, _CALLRESULT, _SEND = int(MessageType.CALL), int(MessageType.CALLRESULT), int(MessageType.SEND)
_SHAPES: dict[int, tuple[int, str]] = {
    2: (4, "[2, uniqueId, action, payload]"),
    3: (3, "[3, uniqueId, payload]"),
    4: (5, "[4, uniqueId, errorCode, errorDescription, errorDetails]"),
    5: (5, "[5, uniqueId, errorCode, errorDescription, errorDetails]"),
    6: (4, "[6, uniqueId, action, payload]"),
}


class RpcFrame(NamedTuple):
    """The parts of one OCPP-J message (an immutable tuple: built once per message on the
    hot path, where a frozen dataclass's field assignments would cost more than parsing)."""

    message_type_id: int | None
    unique_id: str | None
    action: str | None  # CALL and SEND only; results get theirs from pairing
    payload: Any  # the payload object, or errorDetails for errors
    error_code: str | None = None
    error_description: str | None = None
    problems: tuple[tuple[str, str, int], ...] = ()  # (kind, detail, byte offset)

    @property
    def message_type(self) -> str:
        return _TYPE_NAMES.get(self.message_type_id, "UNKNOWN")  # type: ignore[arg-type]


_new_rpc = partial(tuple.__new__, RpcFrame)  # RpcFrame from one tuple, skipping its __new__


def parse_rpc(text: bytes | str) -> RpcFrame:
    """The OCPP-J parts of one message; problems name what was expected."""
    try:
        doc = _loads(text)
    except _DecodeError as exc:
        pos = getattr(exc, "pos", 0) or 0
        return RpcFrame(None, None, None, None,
                        problems=(("ocpp.json.syntax", f"not JSON: {exc}", pos),))
    except (TypeError, ValueError, RecursionError) as exc:
        return RpcFrame(None, None, None, None,
                        problems=(("ocpp.json.syntax", f"not JSON: {exc}", 0),))
    return parse_rpc_value(doc)


def parse_rpc_value(doc: Any) -> RpcFrame:
    """As `parse_rpc`, for an already-decoded JSON value (log files carry arrays)."""
    # Fast path: a well-formed CALL or CALLRESULT (nearly every message) is answered
    # here; anything else, or any doubt, takes the general checks below.
    if type(doc) is list:
        n = len(doc)
        if n == 4:
            mtype, unique_id, action, payload = doc
            if (mtype == _CALL and type(mtype) is int and type(unique_id) is str
                    and 0 < len(unique_id) <= MAX_UNIQUE_ID and type(action) is str and action
                    and type(payload) is dict):
                return _new_rpc((_CALL, unique_id, action, payload, None, None, ()))
        elif n == 3:
            mtype, unique_id, payload = doc
            if (mtype == _CALLRESULT and type(mtype) is int and type(unique_id) is str
                    and 0 < len(unique_id) <= MAX_UNIQUE_ID and type(payload) is dict):
                return _new_rpc((_CALLRESULT, unique_id, None, payload, None, None, ()))
    if not isinstance(doc, list) or not doc:
        return RpcFrame(None, None, None, doc, problems=(
            ("ocpp.rpc.not_array", "expected a JSON array starting with a MessageTypeId, "
             f"found {type(doc).__name__}", 0),))
    problems: list[tuple[str, str, int]] = []
    mtype = doc[0]
    if type(mtype) is not int or mtype not in _SHAPES:
        return RpcFrame(mtype if type(mtype) is int else None,
                        doc[1] if len(doc) > 1 and isinstance(doc[1], str) else None,
                        None, None, problems=(
                            ("ocpp.rpc.type_unknown",
                             f"MessageTypeId {mtype!r} is not 2, 3, 4, 5 or 6", 0),))
    length, shape = _SHAPES[mtype]
    if len(doc) != length:
        problems.append(("ocpp.rpc.shape", f"expected {shape}, found {len(doc)} elements", 0))
    unique_id = doc[1] if len(doc) > 1 else None
    if not isinstance(unique_id, str):
        problems.append(("ocpp.rpc.unique_id", f"uniqueId must be a string, found {unique_id!r}"[:200], 0))
        unique_id = None if unique_id is None else str(unique_id)
    elif len(unique_id) > MAX_UNIQUE_ID or not unique_id:
        problems.append(("ocpp.rpc.unique_id",
                         f"uniqueId must be 1..{MAX_UNIQUE_ID} characters, found {len(unique_id)}", 0))
    action = error_code = error_description = None
    payload: Any = None
    if mtype == _CALL or mtype == _SEND:
        action = doc[2] if len(doc) > 2 else None
        if not isinstance(action, str) or not action:
            problems.append(("ocpp.rpc.action", f"action must be a non-empty string, found {action!r}"[:200], 0))
            action = None if action is None else str(action)
        payload = doc[3] if len(doc) > 3 else None
    elif mtype == _CALLRESULT:
        payload = doc[2] if len(doc) > 2 else None
    else:
        error_code = doc[2] if len(doc) > 2 else None
        error_description = doc[3] if len(doc) > 3 else None
        payload = doc[4] if len(doc) > 4 else None
        if not isinstance(error_code, str):
            problems.append(("ocpp.rpc.error_code", f"errorCode must be a string, found {error_code!r}"[:200], 0))
            error_code = None if error_code is None else str(error_code)
        if not isinstance(error_description, str):
            problems.append(("ocpp.rpc.error_description",
                             f"errorDescription must be a string, found {error_description!r}"[:200], 0))
            error_description = None if error_description is None else str(error_description)
    if not isinstance(payload, dict):
        what = "errorDetails" if error_code is not None or mtype in (4, 5) else "payload"
        problems.append(("ocpp.rpc.payload", f"{what} must be a JSON object, found "
                         f"{type(payload).__name__}", 0))
    return RpcFrame(mtype, unique_id, action, payload, error_code, error_description,
                    tuple(problems))


def rpc_array(fields: dict[str, Any]) -> list[Any]:
    """The OCPP-J array an OCPP Message's fields stand for (inverse of the decode).

    For exports, anonymised re-encoding and tests comparing against the wire.
    """
    t = fields["message_type_id"]
    if t in (_CALL, _SEND):
        return [t, fields["unique_id"], fields["action"], fields["payload"]]
    if t == _CALLRESULT:
        return [t, fields["unique_id"], fields["payload"]]
    return [t, fields["unique_id"], fields["error_code"], fields["error_description"],
            fields["error_details"]]
