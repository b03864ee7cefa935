"""OCPP-J Call/CallResult pairing: every transition lives in the tables of this file.

Rule 1 (after h11's `_state.py`): everything that decides whether a CALL and its
answer fit together is here; other modules feed events and read findings.
Rule 2: the tables do not know which side is the charge point; a *side* is just the
caller (direction of the CALL) and ids are per connection and per calling side.

Two tables: `ID_TRANSITIONS` follows one unique id through its life, and
`SIDE_TRANSITIONS` follows a calling side (OCPP-J allows one outstanding CALL per
side). A transition the protocol forbids yields a finding code; the tracker goes on.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from chargescope.analyzer.records import Message

DEFAULT_TIMEOUT_NS = 30 * 10**9  # OCPP 2.x MessageTimeout default practice; 1.6 leaves it open
MAX_REMEMBERED_IDS = 4096  # finished ids kept per side for duplicate detection


def _group(conn: Hashable) -> Hashable:
    """The capture source of a connection key `(capture, connection)`: one clock."""
    return conn[0] if isinstance(conn, tuple) and conn else None


class IdState(enum.Enum):
    NONE = "none"
    OPEN = "open"
    ANSWERED = "answered"
    TIMED_OUT = "timed-out"
    ABANDONED = "abandoned"  # connection closed before the answer
    IN_GAP = "in-gap"  # open, and the answer may have been in bytes the capture lost
    NOT_CAPTURED = "not-captured"  # never answered in the capture, but a gap could hold it


class IdEvent(enum.Enum):
    CALL = "call"
    RESULT = "result"  # CALLRESULT or CALLERROR from the other side
    TIMEOUT = "timeout"
    CLOSE = "close"  # connection closed
    END = "end"  # capture ended
    GAP = "gap"  # bytes of the answering side were lost from the capture
    SUPERSEDED = "superseded"  # the caller sent its next CALL
    RESULT_AFTER_GAP = "result-after-gap"  # an answer while the caller's bytes had a gap


# (state, event) -> (next state, finding code or None)
ID_TRANSITIONS: dict[tuple[IdState, IdEvent], tuple[IdState, str | None]] = {
    (IdState.NONE, IdEvent.CALL): (IdState.OPEN, None),
    (IdState.OPEN, IdEvent.CALL): (IdState.OPEN, "ocpp.call.duplicate_id"),
    (IdState.ANSWERED, IdEvent.CALL): (IdState.OPEN, "ocpp.call.duplicate_id"),
    (IdState.TIMED_OUT, IdEvent.CALL): (IdState.OPEN, "ocpp.call.duplicate_id"),
    (IdState.ABANDONED, IdEvent.CALL): (IdState.OPEN, "ocpp.call.duplicate_id"),
    (IdState.NONE, IdEvent.RESULT): (IdState.NONE, "ocpp.result.unknown_id"),
    (IdState.OPEN, IdEvent.RESULT): (IdState.ANSWERED, None),
    (IdState.ANSWERED, IdEvent.RESULT): (IdState.ANSWERED, "ocpp.result.duplicate"),
    (IdState.TIMED_OUT, IdEvent.RESULT): (IdState.ANSWERED, "ocpp.result.late"),
    (IdState.ABANDONED, IdEvent.RESULT): (IdState.ANSWERED, "ocpp.result.late"),
    (IdState.OPEN, IdEvent.TIMEOUT): (IdState.TIMED_OUT, "ocpp.call.unanswered"),
    (IdState.OPEN, IdEvent.CLOSE): (IdState.ABANDONED, "ocpp.call.unanswered"),
    (IdState.OPEN, IdEvent.END): (IdState.OPEN, "ocpp.call.pending_at_end"),
    # Capture loss: an answer that may sit in a gap is not a protocol error, and an
    # answer whose CALL was in a gap is not one for an unknown id.
    (IdState.OPEN, IdEvent.GAP): (IdState.IN_GAP, None),
    (IdState.IN_GAP, IdEvent.CALL): (IdState.OPEN, "ocpp.call.duplicate_id"),
    (IdState.IN_GAP, IdEvent.RESULT): (IdState.ANSWERED, None),
    (IdState.IN_GAP, IdEvent.TIMEOUT): (IdState.NOT_CAPTURED, "ocpp.call.not_captured"),
    (IdState.IN_GAP, IdEvent.CLOSE): (IdState.NOT_CAPTURED, "ocpp.call.not_captured"),
    (IdState.IN_GAP, IdEvent.END): (IdState.NOT_CAPTURED, "ocpp.call.not_captured"),
    (IdState.IN_GAP, IdEvent.SUPERSEDED): (IdState.NOT_CAPTURED, "ocpp.call.not_captured"),
    (IdState.NOT_CAPTURED, IdEvent.CALL): (IdState.OPEN, "ocpp.call.duplicate_id"),
    (IdState.NOT_CAPTURED, IdEvent.RESULT): (IdState.ANSWERED, "ocpp.result.late"),
    (IdState.NONE, IdEvent.RESULT_AFTER_GAP): (IdState.ANSWERED, "ocpp.call.not_captured"),
    (IdState.OPEN, IdEvent.SUPERSEDED): (IdState.OPEN, None),  # concurrency: SIDE_TRANSITIONS
}
# After a gap in the caller's bytes an answer to a known id is an answer like any other.
for (_state, _event), _next in list(ID_TRANSITIONS.items()):
    if _event is IdEvent.RESULT:
        ID_TRANSITIONS.setdefault((_state, IdEvent.RESULT_AFTER_GAP), _next)
_OUTSTANDING = (IdState.OPEN, IdState.IN_GAP)


class SideState(enum.Enum):
    IDLE = "idle"
    AWAITING = "awaiting"  # one CALL outstanding


class SideEvent(enum.Enum):
    CALL = "call"
    SETTLED = "settled"  # the last outstanding CALL got answered, timed out or was dropped


SIDE_TRANSITIONS: dict[tuple[SideState, SideEvent], tuple[SideState, str | None]] = {
    (SideState.IDLE, SideEvent.CALL): (SideState.AWAITING, None),
    (SideState.AWAITING, SideEvent.CALL): (SideState.AWAITING, "ocpp.call.concurrent"),
    (SideState.AWAITING, SideEvent.SETTLED): (SideState.IDLE, None),
    (SideState.IDLE, SideEvent.SETTLED): (SideState.IDLE, None),
}


@dataclass(frozen=True, slots=True)
class PairingFinding:
    code: str
    ts_ns: int
    evidence: tuple[Message, ...]
    unique_id: str
    action: str | None
    conn: Hashable = None  # the connection the finding is about
    at_end: bool = False  # holds only because the input ended (the CALL was still open)


class _Side:
    __slots__ = ("state", "ids", "calls", "lost_ns")

    def __init__(self) -> None:
        self.state = SideState.IDLE
        self.ids: OrderedDict[str, IdState] = OrderedDict()
        self.calls: dict[str, Message] = {}  # open and timed-out ids -> their CALL
        self.lost_ns: int | None = None  # when this caller's bytes last had a capture gap


class PairingTracker:
    """Applies the tables to a stream of OCPP Messages (any number of connections)."""

    def __init__(self, timeout_ns: int = DEFAULT_TIMEOUT_NS) -> None:
        self.timeout_ns = timeout_ns
        self._sides: dict[tuple[Hashable, int], _Side] = {}
        self._deadlines: dict[tuple[Hashable, int, str], int] = {}

    def _side(self, conn: Hashable, direction: int) -> _Side:
        key = (conn, direction)
        side = self._sides.get(key)
        if side is None:
            side = self._sides[key] = _Side()
        return side

    def _id_step(self, side: _Side, uid: str, event: IdEvent) -> str | None:
        state = side.ids.get(uid, IdState.NONE)
        transition = ID_TRANSITIONS.get((state, event))
        if transition is None:
            return None  # the event does not concern an id in this state
        nxt, code = transition
        side.ids[uid] = nxt
        side.ids.move_to_end(uid)
        while len(side.ids) > MAX_REMEMBERED_IDS:
            old, _ = side.ids.popitem(last=False)
            side.calls.pop(old, None)
        return code

    def _side_step(self, side: _Side, event: SideEvent) -> str | None:
        nxt, code = SIDE_TRANSITIONS[(side.state, event)]
        side.state = nxt
        return code

    def _settle(self, side: _Side) -> None:
        if not any(s in _OUTSTANDING for s in side.ids.values()):
            self._side_step(side, SideEvent.SETTLED)

    def feed(self, msg: Message, conn: Hashable) -> list[PairingFinding]:
        f = msg.fields
        uid = f.get("unique_id")
        mtype = f.get("message_type")
        direction = f.get("direction", 0)
        out = self.expire(msg.ts_ns, _group(conn))
        if uid is None or mtype not in ("CALL", "CALLRESULT", "CALLERROR"):
            return out
        if mtype == "CALL":
            side = self._side(conn, direction)
            out.extend(self._supersede(side, conn, direction, msg.ts_ns))
            code = self._side_step(side, SideEvent.CALL)
            if code:
                open_ids = [u for u, s in side.ids.items() if s is IdState.OPEN and u != uid]
                evidence = tuple(side.calls[u] for u in open_ids if u in side.calls) + (msg,)
                out.append(PairingFinding(code, msg.ts_ns, evidence, uid, f.get("action"), conn))
            code = self._id_step(side, uid, IdEvent.CALL)
            if code:
                out.append(PairingFinding(code, msg.ts_ns, (side.calls.get(uid, msg), msg)
                                          if uid in side.calls else (msg,), uid, f.get("action"),
                                          conn))
            side.calls[uid] = msg
            self._deadlines[(conn, direction, uid)] = msg.ts_ns + self.timeout_ns
            return out
        side = self._side(conn, 1 - direction)
        event = IdEvent.RESULT
        if side.lost_ns is not None and msg.ts_ns - side.lost_ns <= self.timeout_ns:
            event = IdEvent.RESULT_AFTER_GAP  # an unknown id's CALL was likely in the loss
        code = self._id_step(side, uid, event)
        call = side.calls.pop(uid, None)
        self._deadlines.pop((conn, 1 - direction, uid), None)
        if code:
            evidence = (call, msg) if call is not None else (msg,)
            out.append(PairingFinding(code, msg.ts_ns, evidence, uid, f.get("action"), conn))
        self._settle(side)
        return out

    def gap(self, conn: Hashable, direction: int, ts_ns: int) -> list[PairingFinding]:
        """Bytes sent in `direction` on `conn` were lost from the capture (seen at `ts_ns`).

        The other side's open CALLs may have had their answer in those bytes, and this
        side's CALLs may be missing: answers to ids it never showed are not orphans.
        """
        out = self.expire(ts_ns, _group(conn))
        self._side(conn, direction).lost_ns = ts_ns
        callee = self._sides.get((conn, 1 - direction))
        if callee is not None:
            for uid in [u for u, s in callee.ids.items() if s is IdState.OPEN]:
                self._id_step(callee, uid, IdEvent.GAP)
        return out

    def _supersede(self, side: _Side, conn: Hashable, direction: int,
                   ts_ns: int) -> list[PairingFinding]:
        """The caller moved on: a CALL whose answer may be in a gap was not captured."""
        out: list[PairingFinding] = []
        for uid in [u for u, s in side.ids.items() if s is IdState.IN_GAP]:
            code = self._id_step(side, uid, IdEvent.SUPERSEDED)
            self._deadlines.pop((conn, direction, uid), None)
            call = side.calls.pop(uid, None)
            if code:
                out.append(PairingFinding(code, ts_ns, (call,) if call else (), uid,
                                          call.fields.get("action") if call else None, conn))
        if out:
            self._settle(side)
        return out

    def expire(self, now_ns: int, group: Hashable) -> list[PairingFinding]:
        """TIMEOUT events for every open CALL whose deadline passed before `now_ns`.

        Only connections of the same capture source (`group`, its clock) are judged:
        another file's timestamps say nothing about this one's silence.
        """
        out: list[PairingFinding] = []
        if not self._deadlines:
            return out
        due = [k for k, t in self._deadlines.items() if t < now_ns and _group(k[0]) == group]
        for key in due:
            conn, direction, uid = key
            del self._deadlines[key]
            side = self._side(conn, direction)
            code = self._id_step(side, uid, IdEvent.TIMEOUT)
            if code:
                call = side.calls.get(uid)
                out.append(PairingFinding(code, now_ns, (call,) if call else (), uid,
                                          call.fields.get("action") if call else None, conn))
            self._settle(side)
        return out

    def close(self, conn: Hashable, ts_ns: int) -> list[PairingFinding]:
        """The connection ended: open CALLs on it will never be answered."""
        out = self.expire(ts_ns, _group(conn))
        for direction in (0, 1):
            side = self._sides.get((conn, direction))
            if side is None:
                continue
            for uid in [u for u, s in side.ids.items() if s in _OUTSTANDING]:
                code = self._id_step(side, uid, IdEvent.CLOSE)
                self._deadlines.pop((conn, direction, uid), None)
                call = side.calls.get(uid)
                if code:
                    out.append(PairingFinding(code, ts_ns, (call,) if call else (), uid,
                                              call.fields.get("action") if call else None, conn))
            # ids are per connection: once it is closed nothing can refer to them again
            del self._sides[(conn, direction)]
        return out

    def finish(self, end_by_group: dict[Hashable, int]) -> list[PairingFinding]:
        """End of input: expire what is due (each source at its own last timestamp),
        note what is still pending."""
        out: list[PairingFinding] = []
        for group, end_ns in end_by_group.items():
            out.extend(self.expire(end_ns, group))
        for (conn, _direction), side in self._sides.items():
            end_ns = end_by_group.get(_group(conn), 0)
            for uid, state in list(side.ids.items()):
                if state in _OUTSTANDING:
                    code = self._id_step(side, uid, IdEvent.END)
                    call = side.calls.get(uid)
                    if code:
                        out.append(PairingFinding(code, end_ns, (call,) if call else (), uid,
                                                  call.fields.get("action") if call else None,
                                                  conn, at_end=True))
        self._deadlines.clear()
        return out
