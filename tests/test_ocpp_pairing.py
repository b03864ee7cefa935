"""The Call/CallResult pairing tables, transition by transition."""

from __future__ import annotations

from ocpp_builder import BASE, Ocpp, S

from chargescope.analyzer.ocpp.pairing import (
    ID_TRANSITIONS,
    SIDE_TRANSITIONS,
    IdEvent,
    IdState,
    PairingTracker,
)

HB = {"currentTime": "2024-01-01T00:00:00Z"}


def codes(tracker, msgs):
    out = []
    for m in msgs:
        out += [f.code for f in tracker.feed(m, 0)]
    return out


def test_tables_cover_every_open_state():
    for event in IdEvent:
        assert (IdState.OPEN, event) in ID_TRANSITIONS
    assert all(code is None or code.startswith("ocpp.") for _, code in ID_TRANSITIONS.values())
    assert all(code is None or code.startswith("ocpp.") for _, code in SIDE_TRANSITIONS.values())


def test_happy_pairs_make_no_findings():
    o = Ocpp()
    t = PairingTracker()
    msgs = [o.call("Heartbeat", {}, 1, uid="a"), o.result("a", HB, 1.1),
            o.call("Heartbeat", {}, 2, uid="b"), o.result("b", HB, 2.1)]
    assert codes(t, msgs) == []
    assert t.finish((BASE + 3) * S) == []


def test_duplicate_id_unknown_and_duplicate_results():
    o = Ocpp()
    t = PairingTracker()
    msgs = [o.call("Heartbeat", {}, 1, uid="a"), o.result("a", HB, 1.1),
            o.result("a", HB, 1.2),  # answered twice
            o.result("zz", HB, 1.3),  # nobody asked
            o.call("Heartbeat", {}, 2, uid="a"), o.result("a", HB, 2.1)]  # id reused
    assert codes(t, msgs) == ["ocpp.result.duplicate", "ocpp.result.unknown_id",
                              "ocpp.call.duplicate_id"]


def test_concurrent_calls_from_one_side_but_not_across_sides():
    o = Ocpp()
    t = PairingTracker()
    msgs = [o.call("Heartbeat", {}, 1, uid="a"),
            o.call("Reset", {"type": "Soft"}, 1.05, direction=1, uid="x"),  # other side: fine
            o.call("Heartbeat", {}, 1.1, uid="b")]  # same side, "a" outstanding
    assert codes(t, msgs) == ["ocpp.call.concurrent"]


def test_timeout_then_late_answer():
    o = Ocpp()
    t = PairingTracker(timeout_ns=5 * 10**9)
    msgs = [o.call("Heartbeat", {}, 1, uid="a"), o.call("Heartbeat", {}, 10, uid="b"),
            o.result("a", HB, 10.5), o.result("b", HB, 10.6)]
    assert codes(t, msgs) == ["ocpp.call.unanswered", "ocpp.result.late"]


def test_close_and_end_of_capture():
    o = Ocpp()
    t = PairingTracker()
    codes(t, [o.call("Heartbeat", {}, 1, uid="a")])
    assert [f.code for f in t.close(0, (BASE + 2) * S)] == ["ocpp.call.unanswered"]
    t2 = PairingTracker()
    codes(t2, [o.call("Heartbeat", {}, 1, uid="a")])
    assert [f.code for f in t2.finish((BASE + 2) * S)] == ["ocpp.call.pending_at_end"]
    t3 = PairingTracker(timeout_ns=10**9)
    codes(t3, [o.call("Heartbeat", {}, 1, uid="a")])
    assert [f.code for f in t3.finish((BASE + 5) * S)] == ["ocpp.call.unanswered"]


def test_callerror_settles_a_call():
    o = Ocpp()
    t = PairingTracker()
    msgs = [o.call("DataTransfer", {"vendorId": "x"}, 1, uid="a"), o.error("a", "NotImplemented", 1.1),
            o.call("Heartbeat", {}, 2, uid="b")]
    assert codes(t, msgs) == []


def test_closed_connections_release_their_ids():
    o = Ocpp()
    t = PairingTracker()
    codes(t, [o.call("Heartbeat", {}, 1, uid="a"), o.result("a", HB, 1.1)])
    t.close(0, (BASE + 2) * S)
    assert t._sides == {}
    # the same id on a new connection is not a duplicate
    assert codes(t, [o.call("Heartbeat", {}, 3, uid="a")]) == []
