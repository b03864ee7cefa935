# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython hot path "ocppdecode": the common OCPP message, decoded in one go.

Twin of `chargescope.dissectors.ocpp.fastpath` (same function, same Messages, same
decisions to hand over to the general path; see there). The code is the twin's, with
C types for the counters and the tuple/dict work done through the C API by Cython.
"""

from chargescope import backends
from chargescope.analyzer.records import Link, Message
from chargescope.dissectors.ocpp.codec import MAX_UNIQUE_ID, _DecodeError, _loads

_new_message = backends.load("recordbuild").builder(Message)
cdef dict _VALID = {"schema": "valid"}  # never mutated (fields.update copies it)
cdef Py_ssize_t _ANSWERED_MAX = 256  # results remembered for a 2.1 CALLRESULTERROR
cdef Py_ssize_t _MAX_UID = MAX_UNIQUE_ID
_LINK_B = Link.B


def decode_common(dec, text, int direction, ts_ns, src, dst, refs, websocket):
    """The Message of a common CALL/CALLRESULT, or None (the general path decides)."""
    if dec._guessing or dec.version is None:
        return None
    try:
        doc = _loads(text)
    except (_DecodeError, TypeError, ValueError, RecursionError):
        return None
    if type(doc) is not list:
        return None
    cdef Py_ssize_t n = len(<list>doc)
    cdef bint known = False  # a CALL's id already waiting (a duplicate)
    cdef dict fields
    if n == 4:
        mtype, unique_id, action, payload = doc
        if not (mtype == 2 and type(mtype) is int and type(unique_id) is str
                and 0 < len(unique_id) <= _MAX_UID and type(action) is str and action
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
                and 0 < len(unique_id) <= _MAX_UID and type(payload) is dict):
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
    fields = {
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
