"""Live analysis snapshots: the last one is the offline analysis, earlier ones report
findings as they become certain (and withdraw those later messages resolve)."""

from __future__ import annotations

from pathlib import Path

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.live.incremental import (
    END_OF_INPUT_CODES,
    LiveAnalysis,
    LiveChanges,
    Snapshotter,
    finding_key,
)
from chargescope.analyzer.report import render_json

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "captures" / "demo" / "cablecheck-failure-linkA-plc.pcapng"
CSMS = REPO / "captures" / "demo" / "cablecheck-failure-linkB-csms.pcapng"


def _items(path: Path):
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline

    with open_capture(path) as cap:
        return list(Pipeline().run(cap.frames()))


def _json(analysis, source: str) -> dict:
    doc = render_json(analysis.correlation, analysis.link_findings)
    return _renamed(doc, source)


def _renamed(value, source: str):
    if isinstance(value, dict):
        return {k: _renamed(v, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, source) for v in value]
    return "SOURCE" if value == source else value


def test_final_snapshot_is_the_offline_analysis() -> None:
    for path in (DEMO, CSMS):
        live = LiveAnalysis("iface0")
        for item in _items(path):
            live.add(item)
        # byte references name the file the frames came from; the source, the interface
        assert _renamed(_json(live.snapshot(), "iface0"), str(path)) == \
            _json(analyze([path]), str(path))


def test_snapshots_leave_the_capture_going() -> None:
    # a snapshot in the middle changes nothing for the ones after it
    items = _items(DEMO)
    live = LiveAnalysis("x")
    for n, item in enumerate(items):
        live.add(item)
        if n == len(items) // 2:
            live.snapshot()
    once = LiveAnalysis("x")
    for item in items:
        once.add(item)
    assert _json(live.snapshot(), "x") == _json(once.snapshot(), "x")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_findings_reported_while_capturing() -> None:
    items = _items(DEMO)
    live = LiveAnalysis("x")
    clock = _Clock()
    reported: list[tuple[int, str]] = []
    withdrawn: list[str] = []
    sessions: list[str] = []

    def on_changes(changes, _analysis) -> None:
        reported.extend((live.messages, f.code) for f in changes.new_findings)
        withdrawn.extend(f.code for f in changes.withdrawn)
        sessions.extend(changes.sessions)

    snap = Snapshotter(live, on_changes, interval_s=0.2, clock=clock)
    for item in items[:-1]:
        live.add(item)
        clock.now += 0.1  # ten messages a second: a snapshot every other message
        snap.poll()
    for _ in range(3):  # the capture idles before its last message (LiveCapture.on_idle)
        clock.now += 0.2
        snap.poll()
    live.add(items[-1])
    total = live.messages
    final = live.snapshot()
    final_codes = {f.code for f in final.findings}
    assert snap.snapshots >= total // 3  # (float clock steps: some every third)
    # the CableCheck failure is reported before the last message arrived
    early = [code for seen, code in reported if seen < total]
    assert "v2g.response.failed" in early
    assert sessions and sessions[0].startswith("session 1 [A]")
    # what stays reported is what the final analysis says (end-of-input ones excepted)
    still = [c for _, c in reported]
    for code in withdrawn:
        still.remove(code)
    assert set(still) <= final_codes - END_OF_INPUT_CODES


def test_a_finding_needs_two_snapshots_and_can_be_withdrawn() -> None:
    full = LiveAnalysis("x")
    for item in _items(DEMO):
        full.add(item)
    analysis = full.snapshot()
    finding = next(f for f in analysis.findings if f.code not in END_OF_INPUT_CODES)

    class _Fake:
        def __init__(self, findings) -> None:
            self.findings = findings
            self.sessions = ()

    changes = LiveChanges()
    assert changes.update(_Fake([finding])).new_findings == ()
    assert changes.unconfirmed
    assert [finding_key(f) for f in changes.update(_Fake([finding])).new_findings] == \
        [finding_key(finding)]
    assert not changes.unconfirmed
    gone = changes.update(_Fake([]))
    assert gone.withdrawn == (finding,)
    assert "live: withdrawn" in gone.lines()[0]


def test_end_of_input_findings_are_not_reported_live() -> None:
    items = _items(DEMO)
    live = LiveAnalysis("x")
    for item in items[: len(items) // 2]:
        live.add(item)
    changes = LiveChanges()
    analysis = live.snapshot()
    assert any(f.code in END_OF_INPUT_CODES for f in analysis.findings)
    changes.update(analysis)
    again = changes.update(analysis)
    assert not {f.code for f in again.new_findings} & END_OF_INPUT_CODES


def _gap_then(later: list) -> tuple[LiveAnalysis, LiveChanges, list]:
    """A charge point's CALL, then the CSMS's bytes lost from the capture: the answer may
    have been in them, or may still come."""
    from ocpp_builder import Ocpp

    o = Ocpp()
    live = LiveAnalysis("x")
    live.add(o.call("Heartbeat", {}, 1, uid="a"))
    live.add(o.ws("Gap", 1.5, event="gap", direction=1, offset=0, length=100))
    changes = LiveChanges()
    reported = []
    for _ in range(2):
        reported += [f.code for f in changes.update(live.snapshot()).new_findings]
    for make in later:
        live.add(make(o))
    for _ in range(2):
        reported += [f.code for f in changes.update(live.snapshot()).new_findings]
    return live, changes, reported


HB = {"currentTime": "2024-01-01T00:00:00Z"}


def test_a_call_open_across_a_gap_is_pending_while_capturing() -> None:
    live, _, reported = _gap_then([lambda o: o.result("a", HB, 9)])
    assert reported == []  # neither before the answer arrived nor after
    assert "ocpp.call.not_captured" not in {f.code for f in live.snapshot().findings}


def test_a_call_open_across_a_gap_is_judged_once_the_caller_moves_on() -> None:
    _, _, reported = _gap_then([lambda o: o.call("Heartbeat", {}, 3, uid="b"),
                                lambda o: o.result("b", HB, 3.1)])
    assert reported == ["ocpp.call.not_captured"]


def test_the_final_analysis_keeps_the_not_captured_verdict() -> None:
    live, _, _ = _gap_then([])
    assert [f.code for f in live.snapshot().findings] == ["ocpp.call.not_captured"]


def _session_resting_on_the_end(*extra):
    from chargescope.analyzer.correlate.model import ChargingSession, LinkSession
    from chargescope.analyzer.correlate.session import judge
    from chargescope.analyzer.records import Finding, Severity

    at_end = Finding("ocpp.call.unanswered", Severity.ERROR, "", 5, link="B",
                     extra={"at_end": True})
    findings = tuple(sorted((at_end, *extra), key=lambda f: f.ts_ns))
    parts = [LinkSession("B", "ocpp.transaction", "7", "b.pcap", 0, 10, outcome="incomplete")]
    verdict, reason = judge(parts, findings)
    return ChargingSession(1, tuple(parts), (), 1.0, 0, 10, verdict, reason, findings)


def test_live_session_lines_mark_a_verdict_only_the_end_decided() -> None:
    from chargescope.analyzer.live.incremental import session_line
    from chargescope.analyzer.records import Finding, Severity

    session = _session_resting_on_the_end()
    assert session.verdict == "failed"
    assert session_line(session, live=True).startswith("session 1 [B] failed so far: ")
    assert session_line(session).startswith("session 1 [B] failed: ")  # the final report

    # an error of its own decides it as well: nothing provisional about it
    decided = _session_resting_on_the_end(
        Finding("ocpp.call.unanswered", Severity.ERROR, "", 3, link="B"))
    assert session_line(decided, live=True).startswith("session 1 [B] failed: ")

    class _Snapshot:
        findings = ()
        sessions = (session,)

    changes = LiveChanges()
    changes.update(_Snapshot())
    assert changes.update(_Snapshot()).lines() == [f"live: {session_line(session, live=True)}"]
