"""Golden test: HTTP fields against tshark on the recorded OCPI captures.

Per TCP connection, the sequence of requests (method, target), responses (status) and
decoded bodies (de-chunked, gunzipped; compared as JSON) must match tshark's HTTP
dissector. Skipped where tshark is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.handoff import StreamHandoff
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Message
from chargescope.dissectors.http.probe import probe
from chargescope.dissectors.http.stream import HttpStream

DATA = Path(__file__).resolve().parent / "data" / "ocpi"
pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _tshark(pcap: Path) -> dict[int, list[tuple]]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "http.request or http.response",
                          "-T", "json", "-e", "tcp.stream", "-e", "http.request.method",
                          "-e", "http.request.uri", "-e", "http.response.code",
                          "-e", "http.file_data"], capture_output=True, text=True, check=True)
    streams: dict[int, list[tuple]] = {}
    for packet in json.loads(out.stdout):
        layers = packet["_source"]["layers"]
        stream = int(layers["tcp.stream"][0])
        body = _json(layers.get("http.file_data", [""])[0])
        if "http.request.method" in layers:
            row = ("request", layers["http.request.method"][0], layers["http.request.uri"][0],
                   body)
        else:
            row = ("response", int(layers["http.response.code"][0]), None, body)
        streams.setdefault(stream, []).append(row)
    return streams


def _json(text: str):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _ours(pcap: Path) -> dict[int, list[tuple]]:
    """The HTTP layer alone (no OCPI decode), through the product's capture pipeline."""
    handoff = StreamHandoff(name="http", tcp_ports=(), probe=probe,
                            factory=lambda conn: HttpStream(conn, show_secrets=True))
    streams: dict[int, list[tuple]] = {}
    conn_of: dict[tuple[str, str], int] = {}
    with open_capture(pcap) as capture:
        for m in Pipeline(frame_handoffs=(), stream_handoffs=(handoff,)).run(capture.frames()):
            if not isinstance(m, Message) or m.fields.get("kind") not in ("request", "response"):
                continue
            if m.problems:  # tshark does not list messages cut short
                continue
            f = m.fields
            key = (m.src, m.dst) if f["kind"] == "request" else (m.dst, m.src)
            conn = conn_of.setdefault(key, len(conn_of))
            body = _json(f.get("body", ""))
            row = (("request", f["method"], f["target"], body) if f["kind"] == "request"
                   else ("response", f["status"], None, body))
            streams.setdefault(conn, []).append(row)
    return streams


@pytest.mark.parametrize("name", ["ocpi221-extrawest.pcap", "ocpi211-extrawest.pcap"])
def test_http_matches_tshark(name):
    theirs = _tshark(DATA / name)
    ours = _ours(DATA / name)
    assert sorted(len(v) for v in ours.values()) == sorted(len(v) for v in theirs.values())
    for rows in ours.values():
        assert rows in list(theirs.values())
