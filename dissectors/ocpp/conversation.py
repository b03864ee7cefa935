"""One OCPP-J conversation (a WebSocket connection or a log's charge point).

Turns each OCPP-J text into a Message: parses the RPC frame, names results after the
CALL they answer (unique ids are per connection and per calling side), picks the
schema of the negotiated version and validates the payload. Pairing *findings*
(duplicates, unanswered calls, ...) are the analyzer's job (`analyzer.ocpp.pairing`);
this object only remembers which action each outstanding id belongs to.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from chargescope import backends
from chargescope.analyzer.records import ByteRef, Link, Message, Problem
from chargescope.dissectors.ocpp.codec import _TYPE_NAMES, parse_rpc, parse_rpc_value
from chargescope.dissectors.ocpp.schemas import SchemaStore, default_store
from chargescope.dissectors.ocpp.versions import (
    ERROR_CODES,
    VERSIONS,
    version_for_subprotocol,
)

MAX_PENDING = 4096  # outstanding ids remembered per conversation (bounded memory)
PNC_VENDOR_ID = "org.openchargealliance.iso15118pnc"  # OCA 1.6 PnC whitepaper

# MessageTypeId -> role in a Message name (ints on the hot path; see versions.MessageType)
_ROLE = {
    2: "Request",
    3: "Response",
    4: "Error",
    5: "ResultError",
    6: "Send",
}
_TYPES_OF = {v.name: v.message_types for v in VERSIONS}
# Message(...) positionally, with the slots filled directly when the extension is built
_new_message = backends.load("recordbuild").builder(Message)
_LINK_B = Link.B  # an Enum member lookup per message costs ~0.1 us
_MISSING = object()
_UNKNOWN_ACTION = object()
_VALID = {"schema": "valid"}  # shared, never mutated (fields.update copies it)

# When the version must be guessed, prefer the earliest 2.x that validates (2.1 is
# mostly a superset of 2.0.1), then 1.6.
_GUESS_ORDER = ("2.0.1", "2.1", "1.6")


class OcppDecoder:
    def __init__(self, connection: Any, *, version: str | None = None,
                 version_source: str = "", charge_point_id: str = "",
                 store: SchemaStore | None = None, validate: bool | frozenset[str] = True,
                 capture: str = "", max_pending: int = MAX_PENDING) -> None:
        """`validate`: True, False, or the set of actions *not* to validate (lenient
        validation per message, as CSMSs offer for known-broken firmware)."""
        self.connection = connection
        self.capture = capture  # the capture file: connection indexes are unique within it
        self.version = version
        self.version_source = version_source if version else ""
        self.charge_point_id = charge_point_id
        self.store = store or default_store()
        self.validate = validate
        self._pending: OrderedDict[tuple[int, str], str] = OrderedDict()
        self.max_pending = max_pending  # Limits.ocpp_pending
        self._validators: dict[tuple[str, str, bool], Any] = {}
        # (version, action, MessageTypeId) -> the compiled schema's bare is_valid, filled
        # by `_validation` once it has decided that such messages get validated
        self._checks: dict[tuple[str, str, int], Any] = {}
        self._answered: OrderedDict[tuple[int, str], str] = OrderedDict()
        self._plausible: list[str] = list(_GUESS_ORDER)
        self._guessing = version is None
        # a well-formed CALL / paired CALLRESULT of an action validated before, or None
        # (looked up here, not at import: the extension imports this package's codec)
        self._decode_common = backends.load("ocppdecode").decode_common
        self._common_state: Any = None  # what the extension's decode_common keeps here

    # ------------------------------------------------------------------ version

    def set_subprotocol(self, subprotocol: str) -> None:
        if self.version_source in ("handshake", "option"):
            return
        v = version_for_subprotocol(subprotocol)
        if v is not None:
            self.version, self.version_source = v.name, "handshake"
            self._guessing = False

    def _guess_version(self, action: str, payload: Any) -> None:
        """Narrow the plausible versions with every CALL until one remains.

        A version stays plausible while each CALL seen names one of its actions and
        validates against its schema; the current guess is the first plausible one in
        `_GUESS_ORDER`. (Heartbeat `{}` fits every version; StartTransaction only 1.6.)
        """
        fits = [v for v in self._plausible if action in self.store.actions(v)
                and (len(self._plausible) == 1 or self.store.validate(v, action, False, payload) == [])]
        if not fits:
            fits = [v for v in self._plausible if action in self.store.actions(v)]
        if fits:
            self._plausible = fits
            self.version, self.version_source = fits[0], "guessed"
        if len(self._plausible) == 1:
            self._guessing = False

    # ------------------------------------------------------------------ decode

    def decode(self, text: bytes | str | list, direction: int, ts_ns: int, src: str,
               dst: str, refs: tuple[ByteRef, ...] = (), websocket: dict | None = None,
               problems: Sequence[Problem] = (), source: str = "", frame: int = 0) -> Message:
        """`direction` 0 = charge point -> CSMS, 1 = CSMS -> charge point.

        Name the arguments after `text` (callers do); the WebSocket handler alone passes
        them by position, once per message, where keyword binding costs ~0.2 us."""
        if not problems:  # the common CALL/CALLRESULT in one go (hot path "ocppdecode")
            message = self._decode_common(self, text, direction, ts_ns, src, dst, refs,
                                          websocket)
            if message is not None:
                return message
        return self.decode_general(text, direction, ts_ns, src, dst, refs, websocket, problems,
                                   source, frame)

    def decode_general(self, text: bytes | str | list, direction: int, ts_ns: int, src: str,
                       dst: str, refs: tuple[ByteRef, ...] = (), websocket: dict | None = None,
                       problems: Sequence[Problem] = (), source: str = "",
                       frame: int = 0) -> Message:
        """`decode` without its common-message attempt (for a caller that made its own:
        the WebSocket handler of hot path "ocppdecode"); the same Message either way."""
        # General path: everything in locals, the RpcFrame unpacked once, validators
        # looked up in a flat per-decoder cache.
        (mtype, unique_id, action, payload, error_code, error_description,
         rpc_problems) = parse_rpc_value(text) if isinstance(text, list) else parse_rpc(text)
        all_problems = tuple(problems)
        if rpc_problems:
            all_problems += tuple(Problem(kind, detail, refs[0].source if refs else source,
                                          refs[0].frame if refs else frame, off, "unit")
                                  for kind, detail, off in rpc_problems)
        paired = False
        if self._guessing and action and (mtype == 2 or mtype == 6):
            self._guess_version(action, payload)
        version = self.version
        if mtype == 2:
            if action and unique_id is not None:
                forgotten = self._remember(direction, unique_id, action)
                if forgotten:
                    all_problems += (Problem(
                        "limit.ocpp.pending", f"{self.max_pending} CALLs waiting for their "
                        f"answer on this connection (ocpp-pending cap): the oldest {forgotten} "
                        "forgotten; a late answer to it shows as unpaired",
                        refs[0].source if refs else source, refs[0].frame if refs else frame, 0,
                        "unit"),)
        elif (mtype == 3 or mtype == 4) and unique_id is not None:
            key = (1 - direction, unique_id)
            action = self._pending.pop(key, None)
            paired = action is not None
            if paired and mtype == 3:  # a 2.1 CALLRESULTERROR may still name this id
                answered = self._answered
                answered[key] = action
                if len(answered) > 256:
                    answered.popitem(last=False)
        elif mtype == 5 and unique_id is not None:
            # CALLRESULTERROR: the caller objects to the result it got for its CALL
            action = self._answered.pop((direction, unique_id), None)
        if version is not None and mtype is not None and mtype not in _TYPES_OF[version]:
            all_problems += (Problem(
                "ocpp.rpc.type_unsupported",
                f"MessageTypeId {mtype} is not defined in OCPP {version}",
                refs[0].source if refs else source, refs[0].frame if refs else frame, 0,
                "unit"),)
        fields: dict[str, Any] = {
            "capture": self.capture,
            "connection": self.connection,
            "charge_point_id": self.charge_point_id,
            "direction": direction,
            "ocpp_version": version,
            "version_source": self.version_source,
            "message_type": _TYPE_NAMES.get(mtype, "UNKNOWN"),
            "message_type_id": mtype,
            "unique_id": unique_id,
            "action": action,
        }
        if mtype == 3 or mtype == 4:
            fields["paired"] = paired
        if error_code is not None or mtype == 4 or mtype == 5:
            fields["error_code"] = error_code
            fields["error_description"] = error_description
            fields["error_details"] = payload
            if version is not None and error_code is not None:
                fields["error_code_known"] = error_code in ERROR_CODES[version]
        else:
            fields["payload"] = payload
        # the common case: a known action's compiled schema, a payload object
        check = self._checks.get((version, action, mtype)) if type(payload) is dict else None
        if check is not None:
            # the compiled schema's proof of validity; a False is confirmed by the
            # general validator (the compiled one cannot prove some exotic values)
            try:
                valid = check(payload)
            except (ValueError, RecursionError):  # nested deeper than the validator recurses
                valid = False
            fields.update(_VALID if valid else self._invalid(version, action, mtype, payload))
        else:
            validation = self._validation(mtype, payload, action, version)
            if validation:
                fields.update(validation)
        if action == "DataTransfer" and isinstance(payload, dict):
            pnc = _pnc_data_transfer(payload)
            if pnc is not None:
                fields["iso15118_pnc"] = pnc
        if websocket is not None:
            fields["websocket"] = websocket
        role = _ROLE.get(mtype, "Unknown") if mtype is not None else "Malformed"
        name = f"{action} {role}" if action else role
        return _new_message(_LINK_B, "ocpp", name, ts_ns, src, dst, fields, refs, all_problems)

    def _invalid(self, version: str, action: str, mtype: int, payload: dict) -> dict:
        compiled = self._validators[(version, action, mtype == 3)]
        if compiled.is_valid(payload):
            return _VALID
        return {"schema": "invalid",
                "schema_errors": [v.as_dict() for v in compiled.violations(payload)]}

    def _remember(self, direction: int, unique_id: str, action: str) -> int:
        """Note a CALL awaiting its answer; returns how many old ones the cap forgot."""
        key = (direction, unique_id)
        self._pending[key] = action
        self._pending.move_to_end(key)
        forgotten = 0
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
            forgotten += 1
        return forgotten

    def _validation(self, mtype: int | None, payload: Any, action: str | None,
                    version: str | None) -> dict:
        if mtype not in (2, 3, 6):
            return {}
        if self.validate is False or (action is not None and not isinstance(self.validate, bool)
                                      and action in self.validate):
            return {"schema": "not-validated"}
        if version is None:
            return {"schema": "unknown-version"}
        if action is None:
            return {"schema": "unknown-action" if mtype != 3 else "unpaired"}
        key = (version, action, mtype == 3)
        compiled = self._validators.get(key, _MISSING)
        if compiled is _MISSING:
            compiled = self._validators[key] = (
                self.store.validator(version, action, mtype == 3)
                if action in self.store.actions(version) else _UNKNOWN_ACTION)
        if compiled is _UNKNOWN_ACTION:
            return {"schema": "unknown-action"}
        if compiled is None:
            return {"schema": "no-schema"}
        if self.validate is True:  # validated alike next time, without this walk
            self._checks[(version, action, mtype)] = compiled.fast
        if not isinstance(payload, dict):
            return {"schema": "invalid", "schema_errors": [
                {"pointer": "", "rule": "type", "detail": "payload is not an object"}]}
        if compiled.is_valid(payload):
            return _VALID
        return {"schema": "invalid",
                "schema_errors": [v.as_dict() for v in compiled.violations(payload)]}


def _pnc_data_transfer(payload: dict) -> dict | None:
    """OCPP 1.6 PnC: ISO 15118 messages tunnelled in DataTransfer (OCA whitepaper)."""
    if payload.get("vendorId") != PNC_VENDOR_ID:
        return None
    out: dict[str, Any] = {"message_id": payload.get("messageId")}
    data = payload.get("data")
    if isinstance(data, str):
        try:
            import json

            out["data"] = json.loads(data)
        except (ValueError, RecursionError):
            out["data_problem"] = "data is not a JSON string"
    return out


def known_subprotocols() -> tuple[str, ...]:
    return tuple(v.subprotocol for v in VERSIONS) + ("ocpp2.0", "ocpp1.5", "ocpp1.2")
