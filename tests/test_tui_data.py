"""The TUI's data layer: frame bytes by seeking an index, session messages by bisecting."""

import gzip

import pytest

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.correlate import SiteMap
from chargescope.tui.data import FrameStore, MessageIndex, message_source, offset_of
from tests.conftest import REPO

DEMO = REPO / "captures" / "demo"


@pytest.mark.parametrize("name", ["dc-pnc-happy-linkA-plc.pcapng",
                                  "dc-pnc-happy-linkC-ocpi.pcap"])
def test_indexed_frames_are_the_frames_the_reader_gives(name):
    path = str(DEMO / name)
    store = FrameStore(capacity=1)  # no cache help: every get seeks
    assert store.index(path)
    with open_capture(path) as capture:
        frames = list(capture.frames())
    for frame in reversed(frames):
        assert store._seek(path, frame.number) == frame.data
        assert store.get(path, frame.number) == frame.data
    assert store._seek(path, len(frames) + 1) is None


def test_a_compressed_capture_is_read_in_order_instead(tmp_path):
    source = DEMO / "auth-rejected-b-linkC-ocpi.pcap"
    packed = tmp_path / "c.pcap.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    store = FrameStore()
    assert not store.index(str(packed))
    with open_capture(source) as capture:
        last = list(capture.frames())[-1]
    assert store.get(str(packed), last.number) == last.data


def test_session_messages_by_bisection_match_a_full_scan():
    paths = sorted(p for p in DEMO.iterdir() if p.suffix in (".pcap", ".pcapng"))
    analysis = analyze(paths, SiteMap.load(DEMO / "site.toml"), keep_messages=True)
    index = MessageIndex(analysis)
    for session in analysis.sessions:
        sources = {p.source for p in session.parts}
        own = {id(m) for p in session.parts for m in p.messages}
        lo, hi = session.start_ns - 5_000_000_000, session.end_ns + 5_000_000_000
        expected = set()
        for m in analysis.messages:
            ts = m.ts_ns + offset_of(analysis, message_source(m))
            if id(m) in own or message_source(m) in sources and lo <= ts <= hi:
                expected.add(id(m))
        got = index.session(session)
        assert {id(m) for _ts, m in got} == expected
        assert [ts for ts, _m in got] == sorted(ts for ts, _m in got)


def test_failure_marks_agree_with_searching_the_whole_tree():
    """is_failure looks where a FAILED response code sits; on the demo captures it marks
    exactly the messages whose printed fields mention FAILED (or that have problems)."""
    from chargescope.tui.data import is_failure

    paths = sorted(p for p in DEMO.iterdir() if p.suffix in (".pcap", ".pcapng"))
    analysis = analyze(paths, SiteMap.load(DEMO / "site.toml"), keep_messages=True)
    marked = [m for m in analysis.messages if is_failure(m)]
    assert marked
    for m in analysis.messages:
        assert is_failure(m) == (bool(m.problems) or "FAILED" in str(m.fields)), m.name


def test_a_session_streamed_in_chunks_is_its_messages_in_time_order():
    """Chunks of the merged windows and strays, joined, are the session; the demo sessions
    have strays (OCPP boot messages before the session's window) and all come first."""
    from chargescope.tui.data import SessionStream

    paths = sorted(p for p in DEMO.iterdir() if p.suffix in (".pcap", ".pcapng"))
    analysis = analyze(paths, SiteMap.load(DEMO / "site.toml"), keep_messages=True)
    index = MessageIndex(analysis)
    assert any(index.strays.values())
    for session in analysis.sessions:
        stream = SessionStream(index, session)
        chunks = []
        while chunk := stream.take(7):
            assert len(chunk) <= 7
            chunks += chunk
        whole = index.session(session)
        assert [id(m) for _ts, m in chunks] == [id(m) for _ts, m in whole]
        assert len(whole) == stream.expected
        assert stream.span() == ((whole[0][0], whole[-1][0]) if whole else (0, 0))
        times = [ts for ts, _m in whole]
        assert times == sorted(times)
        for ts, message in index.strays[session.index]:
            assert any(m is message for p in session.parts for m in p.messages)
            assert ts == index.reference_ns(message)


def _live_session(outcome: str, *findings):
    from chargescope.analyzer.correlate.model import ChargingSession, LinkSession
    from chargescope.analyzer.correlate.session import judge

    parts = [LinkSession("B", "ocpp.transaction", "7", "b.pcap", 0, 10, outcome=outcome)]
    findings = tuple(sorted(findings, key=lambda f: f.ts_ns))
    verdict, reason = judge(parts, tuple(findings))
    return ChargingSession(1, tuple(parts), (), 1.0, 0, 10, verdict, reason, tuple(findings))


@pytest.mark.parametrize(("outcome", "codes", "verdict", "provisional"), [
    # an error judged only because the input ended decides "failed": provisional
    ("incomplete", ["at_end_error"], "failed", True),
    # another error decides it as well: the verdict stands without the end-of-input one
    ("incomplete", ["at_end_error", "error"], "failed", False),
    ("incomplete", ["pending_at_end"], "inconclusive", True),
    ("incomplete", [], "inconclusive", False),
    ("failed", ["at_end_error"], "failed", False),  # the part failed on its own
    ("success", ["at_end_error"], "success", False),
])
def test_provisional_verdicts(outcome, codes, verdict, provisional):
    from types import SimpleNamespace

    from chargescope.analyzer.records import Finding, Severity
    from chargescope.tui.data import all_findings, session_rows
    from chargescope.tui.data import provisional as is_provisional

    made = {"at_end_error": Finding("ocpp.call.unanswered", Severity.ERROR, "", 5, link="B",
                                    extra={"at_end": True}),
            "error": Finding("ocpp.call.unanswered", Severity.ERROR, "", 3, link="B"),
            "pending_at_end": Finding("ocpp.call.pending_at_end", Severity.NOTE, "", 5,
                                      link="B")}
    session = _live_session(outcome, *(made[c] for c in codes))
    assert session.verdict == verdict
    assert is_provisional(session) is provisional

    # the parts of an Analysis the rows read
    snapshot = SimpleNamespace(sessions=(session,), link_findings=[],
                               correlation=SimpleNamespace(findings=()))
    (live,), (ended,) = session_rows(snapshot, live=True), session_rows(snapshot)
    assert (live.provisional, ended.provisional) == (provisional, False)
    assert [f for _i, f in all_findings(snapshot)] == list(session.findings)
    assert [f for _i, f in all_findings(snapshot, live=True)] == [
        made[c] for c in codes if c == "error"]
