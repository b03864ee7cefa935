# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython hot path "ocppdecode": the common OCPP message, decoded in one go.

Twin of `chargescope.dissectors.ocpp.fastpath` (same functions and classes, same
Messages, same decisions to hand over to the general path; see there). One
implementation serves both entries: `OcppHandler._common`, over the decoder's hot state
copied into C fields (version, its source, charge point id, the pending/answered/check
tables), with the fields dict copied from per-connection templates whose keys are in the
general path's order, checks and Message names cached per action, and the Message built
through its slots. `decode_common(decoder, ...)` keeps such a handler on the decoder and
makes it again when the decoder's state changed.
"""

from chargescope import backends
from chargescope.analyzer.records import Link, Message
from chargescope.dissectors.ocpp.codec import MAX_UNIQUE_ID, _DecodeError, _loads

include "_records.pxi"

cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(object mp, object key) except? NULL

_new_message = backends.load("recordbuild").builder(Message)
cdef Py_ssize_t _ANSWERED_MAX = 256  # results remembered for a 2.1 CALLRESULTERROR
cdef Py_ssize_t _MAX_UID = MAX_UNIQUE_ID
_LINK_B = Link.B
# Message slot offsets, for building it without a call (all 0: through _new_message)
cdef Py_ssize_t _MSG[9]
cdef bint _MSG_OK = _plain_record(Message, ("link", "protocol", "name", "ts_ns", "src", "dst",
                                            "fields", "refs", "problems"), _MSG)
cdef tuple _NO_PROBLEMS = ()


cdef inline object _ocpp_message(name, ts_ns, src, dst, dict fields, refs):
    """Message(Link.B, "ocpp", name, ts_ns, src, dst, fields, refs, ()), slots filled."""
    if not _MSG_OK:
        return _new_message(_LINK_B, "ocpp", name, ts_ns, src, dst, fields, refs, ())
    message = PyType_GenericAlloc(Message, 0)
    _fill(message, _MSG[0], _LINK_B)
    _fill(message, _MSG[1], "ocpp")
    _fill(message, _MSG[2], name)
    _fill(message, _MSG[3], ts_ns)
    _fill(message, _MSG[4], src)
    _fill(message, _MSG[5], dst)
    _fill(message, _MSG[6], fields)
    _fill(message, _MSG[7], refs)
    _fill(message, _MSG[8], _NO_PROBLEMS)
    return message


def decode_common(dec, text, int direction, ts_ns, src, dst, refs, websocket):
    """The Message of a common CALL/CALLRESULT, or None (the general path decides).

    The work is the handler's (`OcppHandler._common`): the decoder keeps one in
    `_common_state`, made again whenever the state it copied has changed."""
    state = dec._common_state
    if type(state) is not OcppHandler or (<OcppHandler> state).decoder is not dec \
            or (<OcppHandler> state)._stale():
        state = OcppHandler(dec)
        dec._common_state = state
    return (<OcppHandler> state)._common(text, direction, ts_ns, src, dst, refs, websocket)


cdef class OcppHandler:
    """The OCPP payload handler of one WebSocket connection (twin: `fastpath.OcppHandler`).

    The decoder's hot state lives here in C fields (version, its source, the guessing
    flag, the pending/answered/check tables, the cap), read from the decoder once and again
    after anything that may change it (a new subprotocol, a general-path decode); the
    common message's fields dict is a copy of a per-connection template with its keys in
    the order the general path writes them, so only the varying values are set.
    """

    cdef readonly object decoder
    cdef object _applied, _cpid, _version, _version_source, _capture, _connection
    cdef object _decode_general
    cdef bint _guessing
    cdef object _pending, _answered
    cdef dict _checks
    cdef Py_ssize_t _max_pending
    cdef dict _call_fields, _result_fields
    # action -> compiled check / Message name, per message type, for the current version
    cdef dict _call_checks, _result_checks, _call_names, _result_names

    def __init__(self, decoder):
        self.decoder = decoder
        self._applied = ""
        self._pending = decoder._pending
        self._answered = decoder._answered
        self._checks = decoder._checks
        self._max_pending = decoder.max_pending
        self._decode_general = decoder.decode_general
        self._refresh()

    cdef _refresh(self):
        """Read the decoder's state again and rebuild the templates from it."""
        dec = self.decoder
        self._version = dec.version
        self._version_source = dec.version_source
        self._guessing = dec._guessing
        self._cpid = dec.charge_point_id
        self._capture = dec.capture
        self._connection = dec.connection
        head = {"capture": self._capture, "connection": self._connection,
                "charge_point_id": self._cpid, "direction": 0, "ocpp_version": self._version,
                "version_source": self._version_source}
        self._call_fields = {**head, "message_type": "CALL", "message_type_id": 2,
                             "unique_id": None, "action": None, "payload": None,
                             "schema": "valid", "websocket": None}
        self._result_fields = {**head, "message_type": "CALLRESULT", "message_type_id": 3,
                               "unique_id": None, "action": None, "paired": True,
                               "payload": None, "schema": "valid", "websocket": None}
        self._call_checks, self._result_checks = {}, {}
        self._call_names, self._result_names = {}, {}

    cdef bint _stale(self) except -1:
        """Has the decoder's state changed since it was copied (by someone else)?"""
        dec = self.decoder
        return not (dec.version is self._version and dec.version_source is self._version_source
                    and dec.charge_point_id is self._cpid and dec._guessing == self._guessing
                    and dec.capture is self._capture and dec.connection is self._connection
                    and dec.max_pending == self._max_pending)

    cdef inline _context(self, subprotocol, charge_point_id):
        """What `handle` gave the decoder before each message (no-ops when unchanged)."""
        if subprotocol and subprotocol != self._applied:
            self.decoder.set_subprotocol(subprotocol)
            self._applied = subprotocol
            self._refresh()
        if charge_point_id is not self._cpid:
            self.decoder.charge_point_id = charge_point_id
            self._refresh()

    cdef object _common(self, text, int direction, ts_ns, src, dst, refs, websocket):
        """`decode_common` over the C fields, or None (the general path decides)."""
        if self._guessing or self._version is None:
            return None
        try:
            doc = _loads(text)
        except (_DecodeError, TypeError, ValueError, RecursionError):
            return None
        if type(doc) is not list:
            return None
        cdef Py_ssize_t n = len(<list>doc)
        cdef bint known = False
        cdef dict fields
        cdef object pending = self._pending
        cdef int mtype
        if n == 4:
            m, unique_id, action, payload = doc
            if not (type(m) is int and m == 2 and type(unique_id) is str
                    and 0 < len(<str>unique_id) <= _MAX_UID and type(action) is str and action
                    and type(payload) is dict):
                return None
            key = (direction, unique_id)
            known = key in pending
            if not known and len(pending) >= self._max_pending:
                return None
            mtype = 2
            role = " Request"
        elif n == 3:
            m, unique_id, payload = doc
            if not (type(m) is int and m == 3 and type(unique_id) is str
                    and 0 < len(<str>unique_id) <= _MAX_UID and type(payload) is dict):
                return None
            key = (1 - direction, unique_id)
            # a read of the OrderedDict's own dict (no method lookup); writes go through it
            found = PyDict_GetItemWithError(pending, key)
            if found == NULL:
                return None
            action = <object> found
            mtype = 3
            role = " Response"
        else:
            return None
        if action == "DataTransfer":
            return None
        checks = self._call_checks if mtype == 2 else self._result_checks
        check = checks.get(action)
        if check is None:
            # the decoder's table only grows (a check once there stays): cache what it has
            check = self._checks.get((self._version, action, m))
            if check is None:
                return None
            checks[action] = check
        # decided: from here on the decoder's state changes exactly as in the general path
        if mtype == 2:
            pending[key] = action
            if known:
                pending.move_to_end(key)
        else:
            del pending[key]
            answered = self._answered
            answered[key] = action
            if len(answered) > _ANSWERED_MAX:
                answered.popitem(False)  # the oldest (positional: no keyword dict per call)
        try:
            valid = check(payload)
        except (ValueError, RecursionError):
            valid = False
        if valid:
            fields = (self._call_fields if mtype == 2 else self._result_fields).copy()
            fields["direction"] = direction
            fields["unique_id"] = unique_id
            fields["action"] = action
            fields["payload"] = payload
            if websocket is not None:
                fields["websocket"] = websocket
            else:
                del fields["websocket"]
        else:
            fields = {
                "capture": self._capture,
                "connection": self._connection,
                "charge_point_id": self._cpid,
                "direction": direction,
                "ocpp_version": self._version,
                "version_source": self._version_source,
                "message_type": "CALL" if mtype == 2 else "CALLRESULT",
                "message_type_id": m,
                "unique_id": unique_id,
                "action": action,
            }
            if mtype == 3:
                fields["paired"] = True
            fields["payload"] = payload
            fields.update(self.decoder._invalid(self._version, action, m, payload))
            if websocket is not None:
                fields["websocket"] = websocket
        names = self._call_names if mtype == 2 else self._result_names
        name = names.get(action)
        if name is None:
            name = names[action] = action + role
        return _ocpp_message(name, ts_ns, src, dst, fields, refs)

    def __call__(self, payload, info):
        (_conn, direction, ts_ns, src, dst, refs, subprotocol, charge_point_id, websocket,
         problems) = info
        self._context(subprotocol, charge_point_id)
        if not problems:
            message = self._common(payload, direction, ts_ns, src, dst, refs, websocket)
            if message is not None:
                return message
        message = self._decode_general(payload, direction, ts_ns, src, dst, refs, websocket,
                                       problems)
        self._refresh()  # a guessed version, say
        return message

    def deliver(self, payload, int direction, ts_ns, src, dst, refs, subprotocol,
                charge_point_id, websocket):
        """A message without problems, from the WebSocket fast path (no WsMessageInfo)."""
        self._context(subprotocol, charge_point_id)
        message = self._common(payload, direction, ts_ns, src, dst, refs, websocket)
        if message is None:
            message = self._decode_general(payload, direction, ts_ns, src, dst, refs,
                                           websocket, ())
            self._refresh()
        return message
