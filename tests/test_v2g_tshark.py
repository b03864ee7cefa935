"""Cross-check against tshark where it can: tshark 4.0 has no SDP/V2GTP dissector, but it
knows exactly which frames carry UDP 15118 payloads and how many TCP payload bytes each frame
brings. Our SDP Messages must come from those frames and bytes, and the V2GTP units' byte
refs must cover every new TCP payload byte of the V2G stream exactly once."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import pytest
from v2g_helpers import CORPUS, link_a_engine

from chargescope.dissectors import sdp

CAPTURES = [
    "uhi22+pyPLC/2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng",
    "dspace-group+dsV2Gshark/ISO-2_DC_Pause_DS5366.pcapng",
    "EVerest+logfiles/MG/MG4_electric/iso-2-DC.dump",
]


def _tshark(path, display_filter: str, *fields: str) -> list[list[str]]:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    args = ["tshark", "-r", str(path), "-Y", display_filter, "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def _path(rel):
    path = CORPUS / "pcaps" / rel
    if not path.exists():
        pytest.skip("corpus not present")
    return path


@pytest.mark.parametrize("rel", CAPTURES)
def test_sdp_frames_and_bytes_match_tshark(rel):
    path = _path(rel)
    report, _ = link_a_engine()(path)
    rows = _tshark(path, "udp.port==15118", "frame.number", "udp.payload", "udp.srcport")
    assert len(report.discovery) == len(rows)
    for msg, (frame, payload, sport) in zip(report.discovery, rows, strict=True):
        (ref,) = msg.refs
        assert ref.frame == int(frame) and ref.length == len(payload) // 2
        assert msg.src.endswith(f":{sport}")
        again = sdp.decode(sdp.Datagram(bytes.fromhex(payload)))
        assert (again.name, again.fields) == (msg.name, msg.fields)


@pytest.mark.parametrize("rel", CAPTURES)
def test_v2gtp_units_cover_every_new_tcp_payload_byte(rel):
    path = _path(rel)
    report, _ = link_a_engine()(path)
    covered: Counter = Counter()
    streams = set()
    for s in report.sessions:
        for m in s.messages:
            for r in m.refs:
                covered[r.frame] += r.length
        streams.update(s.connections)
    rows = _tshark(path, "tcp.len>0 && !tcp.analysis.retransmission && "
                   "!tcp.analysis.spurious_retransmission", "frame.number", "tcp.stream",
                   "tcp.len")
    expected = Counter({int(f): int(n) for f, st, n in rows if int(st) in streams})
    assert covered == expected
