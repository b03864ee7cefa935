"""The analysis orchestration with stand-in readers and link analyzers."""

import json

import pytest
from click.testing import CliRunner

from chargescope.analyzer.analysis import SourceReader, UnreadableSource, analyze
from chargescope.analyzer.correlate import LinkEvent, LinkSession
from chargescope.analyzer.export import rows, write
from chargescope.analyzer.links import LinkResult
from chargescope.analyzer.records import Link, Message, Problem
from chargescope.analyzer.report import render_json, render_text

S = 1_000_000_000


def fake_reader(tmp_path):
    """Files named *.fake hold lines 'link,ts_seconds,name'."""

    def read(path):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            link, ts, name = line.split(",")
            if name == "BROKEN":
                yield Problem("fake.broken", "broken line", str(path), n, 0, "frame")
                continue
            yield Message(Link(link), "fake", name, int(float(ts) * S), "x", "y", {})

    return SourceReader("fake", lambda p: p.suffix == ".fake", read)


class FakeLinkAnalyzer:
    """One LinkSession per link seen, with each message as a milestone."""

    def __init__(self, source):
        self.source = source
        self.seen: dict[str, list[Message]] = {}

    def feed(self, message):
        self.seen.setdefault(str(message.link), []).append(message)

    def finish(self):
        out = []
        for link, msgs in self.seen.items():
            events = tuple(LinkEvent(m.ts_ns, m.name, {}, m) for m in msgs)
            out.append(LinkSession(link, f"fake{link}", "1", self.source, msgs[0].ts_ns,
                                   msgs[-1].ts_ns, {"id_token": "T1"} if link != "A" else {},
                                   "success", events=events))
        return LinkResult(out)


def run(tmp_path, files):
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(path)
    return analyze(paths, readers=(fake_reader(tmp_path),), analyzers=(FakeLinkAnalyzer,),
                   keep_messages=True)


def test_sources_are_read_summarised_and_joined(tmp_path):
    result = run(tmp_path, {
        "b.fake": "B,100,ocpp.tx_started\nB,100.5,BROKEN\nB,400,ocpp.tx_ended\n",
        "c.fake": ("C,101,ocpi.session_active\nC,402,ocpi.session_completed\n"
                   "C,1200,ocpi.token_known\n"),
    })
    assert [s.messages for s in result.sources] == [2, 3]
    assert [p.kind for p in result.problems] == ["fake.broken"]
    assert len(result.sessions) == 1 and result.sessions[0].links == "BC"
    # C was watched until 1200 s, long after B's end: the missing CDR is a finding
    assert "xlink.ocpi.cdr_missing" in {f.code for f in result.findings}
    text = render_text(result.correlation)
    assert "Session 1" in text and "xlink.ocpi.cdr_missing" in text
    doc = render_json(result.correlation)
    json.dumps(doc)
    assert doc["summary"]["sessions"] == 1


def test_unreadable_source_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(UnreadableSource, match="notes.txt"):
        analyze([path], readers=(fake_reader(tmp_path),), analyzers=())


def test_export_tables(tmp_path):
    result = run(tmp_path, {"b.fake": "B,100,ocpp.tx_started\nB,400,ocpp.tx_ended\n"})
    tables = rows(result)
    assert set(tables) == {"sessions", "link_sessions", "findings", "messages", "problems",
                           "frames"}
    assert len(tables["messages"]) == 2 and tables["link_sessions"][0]["session"] == 1
    pd = pytest.importorskip("pandas")
    for fmt in ("csv", "json"):
        written = write(result, tmp_path / fmt, fmt)
        assert {p.name for p in written} >= {f"sessions.{fmt}", f"findings.{fmt}"}
    frame = pd.read_csv(tmp_path / "csv" / "sessions.csv")
    assert list(frame["verdict"]) == ["success"]


def test_analyze_cli_bad_input_exits_2(tmp_path):
    from chargescope.cli import cli

    pytest.importorskip("chargescope.analyzer.capture")
    path = tmp_path / "x.pcap"
    path.write_bytes(b"not a capture at all")
    result = CliRunner().invoke(cli, ["analyze", str(path)])
    assert result.exit_code == 2


def test_byte_progress_reaches_the_total():
    from tests.conftest import REPO

    paths = sorted((REPO / "captures" / "demo").glob("*.pcap*"))
    seen = []
    analyze(paths, on_bytes=lambda done, total: seen.append((done, total)))
    total = sum(p.stat().st_size for p in paths)
    assert seen[-1] == (total, total)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))
