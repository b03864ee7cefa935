"""End to end through the product's capture reader and TCP pipeline (analyzer.pipeline)."""

from __future__ import annotations

from pathlib import Path

import dpkt
import pytest
from ocpp_streams import dissect, stream_events

pipeline_mod = pytest.importorskip("chargescope.analyzer.pipeline")
capture_mod = pytest.importorskip("chargescope.analyzer.capture")

from chargescope.analyzer.ocpp import analyze  # noqa: E402
from chargescope.dissectors.ocpp import payload_handoff  # noqa: E402
from chargescope.dissectors.websocket import stream_factory  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "ocpp"


def through_pipeline(path: Path):
    pipeline = pipeline_mod.Pipeline()  # the built-in handoff tables
    out = []
    with capture_mod.open_capture(path) as cap:
        out = [m for m in pipeline.run(cap.frames()) if hasattr(m, "protocol")]
    return out


def key(m):
    f = m.fields
    return (m.protocol, m.name, f.get("unique_id"), f.get("direction"), repr(f.get("payload")),
            tuple(p.kind for p in m.problems), m.refs[0].frame if m.refs else 0)


@pytest.mark.parametrize("name", ["ocpp16_basic", "ocpp201_deflate", "ocpp21_nocontext",
                                  "ocpp16_unauthorized", "ocpp16_badframe"])
def test_pipeline_gives_the_same_messages(name):
    ours = [m for m in through_pipeline(DATA / f"{name}.pcap") if m.protocol in ("ocpp", "websocket")]
    helper = dissect(stream_events(DATA / f"{name}.pcap"), stream_factory([payload_handoff()]))
    assert [key(m) for m in ours if m.protocol == "ocpp"] == \
        [key(m) for m in helper if m.protocol == "ocpp"]
    assert [m.name for m in ours].count("Connection closed") == 1
    report = analyze(ours)
    assert report.chargers and report.messages == len(ours)


def test_pipeline_on_a_capture_starting_mid_connection(tmp_path):
    src = DATA / "ocpp16_basic.pcap"
    cut = tmp_path / "mid.pcap"
    with open(src, "rb") as fh, open(cut, "wb") as out:
        reader = dpkt.pcap.Reader(fh)
        writer = dpkt.pcap.Writer(out, linktype=reader.datalink())
        for i, (ts, buf) in enumerate(reader):
            if i >= 12:  # SYNs, handshake and the first exchanges are not captured
                writer.writepkt(buf, ts)
    msgs = through_pipeline(cut)
    ocpp = [m for m in msgs if m.protocol == "ocpp"]
    assert len(ocpp) >= 20
    assert {m.fields["ocpp_version"] for m in ocpp[-5:]} == {"1.6"}
    stop = next(m for m in ocpp if m.name == "StopTransaction Request")
    assert stop.fields["payload"]["transactionId"] == 42
    report = analyze(msgs)
    started = any(m.name == "StartTransaction Response" for m in ocpp)
    assert ("ocpp.tx.stop_without_start" in {f.code for f in report.findings}) == (not started)
    (tx,) = [t for c in report.chargers for t in c.transactions]
    assert tx.meter_stop_wh == 2500
