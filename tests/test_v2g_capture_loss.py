"""A PLC sniffer loses frames: the V2G ladder must stay in time order and say so.

A demo capture with one TCP segment taken out (a request or a response) must give the
same verdict, every message in capture-time order, a `v2gtp.stream.gap` problem at the
frame where the loss showed, and a `not_captured` note instead of the false
`v2g.response.missing` / `v2g.response.unsolicited` pair the late release used to cause.
"""

from __future__ import annotations

import pytest
from conftest import twin_params
from lossy import demo_frames, payload_frames, reassembly_twin

from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Frame, Message
from chargescope.analyzer.v2g import V2GAnalyser
from chargescope.analyzer.v2g.records import LinkAReport

CAPTURE = "energy-mismatch-linkA-plc.pcapng"  # ISO 15118-2 DC, a successful session
SECC_PORT = 61341


def _analyse(frames: list[Frame]) -> tuple[LinkAReport, list[Message]]:
    analyser = V2GAnalyser()
    messages = []
    for item in Pipeline().run(frames):
        if isinstance(item, Message) and item.protocol in ("sdp", "v2gtp", "exi"):
            analyser.feed(item)
            messages.append(item)
    return analyser.finish(), messages


def _codes(report: LinkAReport) -> set[str]:
    return {f.code for s in report.sessions for f in s.findings}


@pytest.fixture(params=twin_params("tcpreassembly"))
def impl(request, monkeypatch) -> str:
    return reassembly_twin(request, monkeypatch)


@pytest.mark.parametrize("to_secc", [False, True], ids=["response-lost", "request-lost"])
@pytest.mark.parametrize("which", [0, 1, 8, 60, -1])  # handshake, setup, auth, loop, stop
def test_one_lost_segment_keeps_the_ladder_in_order(impl: str, to_secc: bool,
                                                    which: int) -> None:
    frames = demo_frames(CAPTURE)
    whole, _ = _analyse(frames)
    lost = payload_frames(frames, SECC_PORT, to_secc)[which]
    report, messages = _analyse([f for f in frames if f.number != lost])
    (session,) = report.sessions
    assert whole.sessions[0].outcome.status == "success"
    if which == -1 and not to_secc:  # SessionStopRes lost: no verdict on what was not seen
        assert (session.outcome.status, session.outcome.code) == (
            "incomplete", "v2g.response.not_captured")
    else:
        assert session.outcome.status == "success"
    stream = [m for m in messages if m.protocol != "sdp"]
    assert [m.ts_ns for m in stream] == sorted(m.ts_ns for m in stream)
    gaps = [p for m in stream for p in m.problems if p.kind == "v2gtp.stream.gap"]
    assert len(gaps) == 1
    assert gaps[0].frame > lost and gaps[0].source.endswith(CAPTURE)
    codes = _codes(report)
    assert ("v2g.request.not_captured" if to_secc else "v2g.response.not_captured") in codes
    assert codes - {"v2g.request.not_captured", "v2g.response.not_captured",
                    "v2g.decode.problem"} == _codes(whole)  # no false sequence findings
