"""Any JSON shape in an OCPP payload reaches the link analyzers and the correlator without
stopping the analysis; a link analyzer that still raises is reported, not fatal."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.analysis import SourceAnalysis, assemble
from chargescope.analyzer.links import LinkResult, link_analyzers
from chargescope.analyzer.records import Message
from chargescope.analyzer.report import render_json, render_text
from chargescope.dissectors.ocpp.conversation import OcppDecoder

DATA = Path(__file__).parent / "data" / "ocpp"
CAPTURES = ("ocpp16_basic.pcap", "ocpp16_unauthorized.pcap", "ocpp201_deflate.pcap",
            "ocpp21_nocontext.pcap")
SHAPES = st.sampled_from([True, False, 0, 5, -1, 1.5, 1e308, "x", "", None, [], {}, [1],
                          [True], {"a": 1}, [{"a": True}], [[]], {"value": True},
                          "2024-01-01T00:00:00Z"])


@cache
def _ocpp_messages(name: str) -> tuple[Message, ...]:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline

    with open_capture(DATA / name) as cap:
        return tuple(m for m in Pipeline().run(cap.frames())
                     if isinstance(m, Message) and m.protocol == "ocpp")


def _reshaped(value, draw, rate: float):
    if draw(st.floats(0, 1)) < rate:
        return draw(SHAPES)
    if isinstance(value, dict):
        return {k: _reshaped(v, draw, rate) for k, v in value.items()}
    if isinstance(value, list):
        return [_reshaped(v, draw, rate) for v in value]
    return value


def _analysis(messages, analyzers=None):
    source = SourceAnalysis("x.pcap", "capture", analyzers or link_analyzers(), True)
    for message in messages:
        source.add(message)
    return assemble([source])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(CAPTURES), st.sampled_from([0.05, 0.3]), st.data())
def test_any_payload_shape_is_analysed_without_an_analyzer_error(name, rate, data):
    out, decoders = [], {}
    for m in _ocpp_messages(name):
        f = m.fields
        dec = decoders.setdefault(f["connection"], OcppDecoder(
            f["connection"], version=f["ocpp_version"], version_source="option",
            charge_point_id=f.get("charge_point_id", "")))
        payload = _reshaped(f.get("payload"), data.draw, rate)
        kind = f["message_type_id"]
        doc = ([2, f["unique_id"], f["action"], payload] if kind == 2 else
               [3, f["unique_id"], payload] if kind == 3 else
               [kind, f["unique_id"], f.get("error_code", "GenericError"), "", {}])
        out.append(dec.decode(json.dumps(doc).encode(), direction=f["direction"],
                              ts_ns=m.ts_ns, src=m.src, dst=m.dst, refs=m.refs))
    analysis = _analysis(out)
    assert [p for p in analysis.problems if p.kind == "analysis.analyzer.error"] == []
    json.dumps(render_json(analysis.correlation, analysis.link_findings), default=str)
    render_text(analysis.correlation, other_findings=analysis.link_findings)


class _Broken:
    """A link analyzer with a bug: raises on its second message and at the end."""

    def __init__(self, source: str) -> None:
        self.seen = 0

    def feed(self, message: Message) -> None:
        self.seen += 1
        if self.seen == 2:
            raise KeyError("boom")

    def finish(self) -> LinkResult:
        raise ValueError("end")


def test_a_link_analyzer_that_raises_is_reported_and_the_others_go_on():
    messages = _ocpp_messages("ocpp16_basic.pcap")
    good = _analysis(messages)
    analysis = _analysis(messages, (*link_analyzers(), _Broken))
    errors = [p for p in analysis.problems if p.kind == "analysis.analyzer.error"]
    assert len(errors) == 2
    second = messages[1]
    assert (errors[0].source, errors[0].frame, errors[0].offset) == (
        second.refs[0].source, second.refs[0].frame, second.refs[0].start)
    assert "_Broken raised KeyError('boom')" in errors[0].detail
    assert errors[1].frame == 0 and "its sessions are missing" in errors[1].detail
    # the other analyzers saw every message: the same sessions as without the broken one
    assert [s.verdict for s in analysis.sessions] == [s.verdict for s in good.sessions]
    assert len(analysis.sessions) == len(good.sessions) > 0


OCPI_CAPTURES = ("captures/demo/energy-mismatch-linkC-ocpi.pcap",
                 "captures/demo/auth-rejected-b-linkC-ocpi.pcap",
                 "tests/data/ocpi/ocpi211-extrawest.pcap", "tests/data/ocpi/ocpi221-extrawest.pcap")
REPO = Path(__file__).resolve().parent.parent


@cache
def _messages(path: str) -> tuple[Message, ...]:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline

    with open_capture(REPO / path) as cap:
        return tuple(m for m in Pipeline().run(cap.frames()) if isinstance(m, Message))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(OCPI_CAPTURES), st.sampled_from([0.05, 0.3]), st.data())
def test_any_ocpi_object_shape_is_analysed_without_an_analyzer_error(path, rate, data):
    # the request body and response data are the wire's JSON, passed on as they came
    from dataclasses import replace

    out = [replace(m, fields={k: _reshaped(v, data.draw, rate) if k in ("body", "data") else v
                              for k, v in m.fields.items()}) if m.protocol == "ocpi" else m
           for m in _messages(path)]
    analysis = _analysis(out)
    assert [p for p in analysis.problems if p.kind == "analysis.analyzer.error"] == []
    json.dumps(render_json(analysis.correlation, analysis.link_findings), default=str)
