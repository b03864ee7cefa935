"""Pure-Python twin of hot path "ocppdecode" (`ext/_ocppdecode.pyx`): the common OCPP
message, decoded in one go.

`decode_common(decoder, text, direction, ts_ns, src, dst, refs, websocket)` returns the
Message `OcppDecoder.decode` would return for a well-formed CALL, or a CALLRESULT
answering a CALL of this connection, of an action already validated once (its compiled
check cached by the decoder), when the version is known and no earlier layer reported a
problem. Anything else returns None *before* touching the decoder's state, and the
general path decides (same Message either way: the identity tests compare them).
"""

from __future__ import annotations

from typing import Any

from chargescope import backends
from chargescope.analyzer.records import ByteRef, Link, Message
from chargescope.dissectors.ocpp.codec import MAX_UNIQUE_ID, _DecodeError, _loads

_new_message = backends.load("recordbuild").builder(Message)
_VALID = {"schema": "valid"}  # never mutated (fields.update copies it)
_ANSWERED_MAX = 256  # results remembered for a 2.1 CALLRESULTERROR (as OcppDecoder)
_LINK_B = Link.B


def decode_common(dec: Any, text: Any, direction: int, ts_ns: int, src: str, dst: str,
                  refs: tuple[ByteRef, ...], websocket: dict | None) -> Message | None:
    """The Message of a common CALL/CALLRESULT, or None (the general path decides)."""
    if dec._guessing or dec.version is None:
        return None
    try:
        doc = _loads(text)
    except (_DecodeError, TypeError, ValueError, RecursionError):
        return None
    if type(doc) is not list:
        return None
    n = len(doc)
    known = False  # a CALL's id already waiting (a duplicate)
    if n == 4:
        mtype, unique_id, action, payload = doc
        if not (mtype == 2 and type(mtype) is int and type(unique_id) is str
                and 0 < len(unique_id) <= MAX_UNIQUE_ID and type(action) is str and action
                and type(payload) is dict):
            return None
        pending = dec._pending
        key = (direction, unique_id)
        known = key in pending
        if not known and len(pending) >= dec.max_pending:
            return None  # the cap would forget one: the general path reports it
        role = " Request"
    elif n == 3:
        mtype, unique_id, payload = doc
        if not (mtype == 3 and type(mtype) is int and type(unique_id) is str
                and 0 < len(unique_id) <= MAX_UNIQUE_ID and type(payload) is dict):
            return None
        pending = dec._pending
        key = (1 - direction, unique_id)
        action = pending.get(key)
        if action is None:
            return None  # unpaired: the general path says so
        role = " Response"
    else:
        return None
    version = dec.version
    if action == "DataTransfer":
        return None  # may carry ISO 15118 PnC: the general path decodes it
    check = dec._checks.get((version, action, mtype))
    if check is None:
        return None
    # decided: from here on the decoder's state changes exactly as in the general path
    if mtype == 2:
        pending[key] = action
        if known:  # a new key is appended last already
            pending.move_to_end(key)
    else:
        del pending[key]
        answered = dec._answered
        answered[key] = action
        if len(answered) > _ANSWERED_MAX:
            answered.popitem(last=False)
    fields: dict[str, Any] = {
        "capture": dec.capture,
        "connection": dec.connection,
        "charge_point_id": dec.charge_point_id,
        "direction": direction,
        "ocpp_version": version,
        "version_source": dec.version_source,
        "message_type": "CALL" if mtype == 2 else "CALLRESULT",
        "message_type_id": mtype,
        "unique_id": unique_id,
        "action": action,
    }
    if mtype == 3:
        fields["paired"] = True
    fields["payload"] = payload
    try:
        valid = check(payload)
    except (ValueError, RecursionError):  # nested deeper than the validator recurses
        valid = False
    fields.update(_VALID if valid else dec._invalid(version, action, mtype, payload))
    if websocket is not None:
        fields["websocket"] = websocket
    return _new_message(_LINK_B, "ocpp", action + role, ts_ns, src, dst, fields, refs, ())


class OcppHandler:
    """The OCPP payload handler of one WebSocket connection (PayloadHandler).

    `handler(payload, info)` takes a WsMessageInfo (any message); `handler.deliver(payload,
    direction, ts_ns, src, dst, refs, subprotocol, charge_point_id, websocket)` is the
    WebSocket fast path's entry for a message without problems (no WsMessageInfo built).
    Both return the Message `decoder.decode` returns, after giving the decoder the
    connection's subprotocol (when it changed) and charge point id. The extension keeps
    the decoder's hot state in C fields and builds fields from per-connection templates;
    this twin simply calls the decoder.
    """

    __slots__ = ("decoder", "_applied")

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self._applied = ""  # the subprotocol last given to the decoder (same one: no change)

    def __call__(self, payload: bytes, info: tuple) -> Message:
        (_conn, direction, ts_ns, src, dst, refs, subprotocol, charge_point_id, websocket,
         problems) = info
        dec = self.decoder
        if subprotocol and subprotocol != self._applied:
            dec.set_subprotocol(subprotocol)
            self._applied = subprotocol
        dec.charge_point_id = charge_point_id
        return dec.decode(payload, direction, ts_ns, src, dst, refs, websocket, problems)

    def deliver(self, payload: bytes, direction: int, ts_ns: int, src: str, dst: str,
                refs: tuple[ByteRef, ...], subprotocol: str, charge_point_id: str,
                websocket: dict) -> Message:
        dec = self.decoder
        if subprotocol and subprotocol != self._applied:
            dec.set_subprotocol(subprotocol)
            self._applied = subprotocol
        dec.charge_point_id = charge_point_id
        return dec.decode(payload, direction, ts_ns, src, dst, refs, websocket)
