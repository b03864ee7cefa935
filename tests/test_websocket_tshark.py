"""Golden: our WebSocket layer against tshark's, frame by frame, on the recorded captures.

For every frame tshark shows as WebSocket we must have a Message whose first byte
range is in that frame, with the same opcode, and for text the same (inflated) JSON.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ocpp_streams import dissect, stream_events

from chargescope.dissectors.ocpp import payload_handoff
from chargescope.dissectors.ocpp.codec import rpc_array
from chargescope.dissectors.websocket import stream_factory

DATA = Path(__file__).resolve().parent / "data" / "ocpp"
TSHARK = shutil.which("tshark")


def tshark_frames(pcap: Path) -> list[tuple[int, int, str, str]]:
    out = subprocess.run(
        [TSHARK, "-r", str(pcap), "-Y", "websocket", "-T", "fields", "-E", "separator=\x1f",
         "-e", "frame.number", "-e", "websocket.opcode", "-e", "websocket.payload.text",
         "-e", "websocket.payload.close.status_code"],
        check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        number, opcode, text, close = (line.split("\x1f") + ["", "", ""])[:4]
        rows.append((int(number), int(opcode), text, close))
    return rows


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
@pytest.mark.parametrize("name", ["ocpp16_basic", "ocpp201_deflate", "ocpp21_nocontext",
                                  "ocpp16_badframe"])
def test_frames_agree_with_tshark(name):
    pcap = DATA / f"{name}.pcap"
    ours = {}
    for msg in dissect(stream_events(pcap), stream_factory([payload_handoff()])):
        if msg.refs and msg.name not in ("Handshake Request", "Handshake Response"):
            ours[msg.refs[-1].frame] = msg
    rows = tshark_frames(pcap)
    assert rows
    for number, opcode, text, close in rows:
        msg = ours[number]
        if opcode == 1:
            assert msg.protocol == "ocpp"
            try:
                expected = json.loads(text)
            except ValueError:
                assert [p.kind for p in msg.problems] == ["ocpp.json.syntax"]
                continue
            assert rpc_array(msg.fields) == expected
        elif opcode == 8:
            assert msg.name == "Close" and msg.fields.get("code") == (int(close) if close else None)
        else:
            assert msg.fields["opcode"] == opcode
