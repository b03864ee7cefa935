"""LiveCapture without a network: a stand-in for scapy's AsyncSniffer replays a capture.

Checks what needs no root: frames reach the pipeline in order, the pcapng is written as
they come, stop rules end the capture, and `analyze` over the live source equals the
offline analysis of the same frames.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.capture.reader import open_capture
from chargescope.analyzer.live import LiveCapture, StopRule, live_reader

DEMO = Path(__file__).resolve().parent.parent / "captures" / "demo"
CAPTURE = DEMO / "auth-rejected-b-linkB-csms.pcapng"


class _Packet:
    def __init__(self, data: bytes, ts_ns: int) -> None:
        self._data, self.time = data, ts_ns / 1e9

    def __bytes__(self) -> bytes:
        return self._data


def _fake_sniffer(frames: list):
    class FakeSniffer:
        def __init__(self, *, prn, started_callback, **_kw) -> None:
            self._prn, self._started, self.running = prn, started_callback, False

        def start(self) -> None:
            self.running = True
            self._started()
            threading.Thread(target=self._run, daemon=True).start()

        def _run(self) -> None:
            for frame in frames:
                self._prn(_Packet(frame.data, frame.ts_ns))

        def stop(self) -> None:
            self.running = False

    return FakeSniffer


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> list:
    with open_capture(CAPTURE) as cap:
        frames = list(cap.frames())
    monkeypatch.setattr("scapy.sendrecv.AsyncSniffer", _fake_sniffer(frames))
    return frames


def test_live_analysis_equals_offline_and_file_is_written(frames: list, tmp_path: Path) -> None:
    written = tmp_path / "live.pcapng"
    started = []
    seen = []
    capture = LiveCapture("fake0", backend="scapy", write=written, stop=StopRule(count=len(frames)),
                          on_started=lambda: started.append(True), on_frame=seen.append)
    with capture:
        live = analyze([Path("fake0")], keep_messages=True,
                       readers=(live_reader(capture),))
    assert started and len(seen) == len(frames) == capture.frames_seen
    with open_capture(written) as cap:
        assert [f.data for f in cap.frames()] == [f.data for f in frames]
    offline = analyze([CAPTURE], keep_messages=True)
    assert [(m.protocol, m.name) for m in live.messages] == \
        [(m.protocol, m.name) for m in offline.messages]
    assert Counter(f.code for f in live.findings) == Counter(f.code for f in offline.findings)
    assert [s.verdict for s in live.sessions] == [s.verdict for s in offline.sessions]


def test_idle_rule_ends_capture(frames: list) -> None:
    capture = LiveCapture("fake0", backend="scapy", stop=StopRule(idle_s=0.3, duration_s=30))
    with capture:
        got = list(capture.frames())
    assert len(got) == len(frames)


def test_count_rule_stops_early(frames: list) -> None:
    capture = LiveCapture("fake0", backend="scapy", stop=StopRule(count=5))
    with capture:
        got = list(capture.frames())
    assert [f.number for f in got] == [1, 2, 3, 4, 5]


def test_ring_buffer_rotates_and_keeps_the_newest(frames: list, tmp_path: Path) -> None:
    written = tmp_path / "ring.pcapng"
    capture = LiveCapture("fake0", backend="scapy", write=written, stop=StopRule(count=len(frames)),
                          ring_bytes=1000, ring_files=3)
    with capture:
        list(capture.frames())
    files = sorted(tmp_path.iterdir())
    assert [p.name for p in files] == ["ring.pcapng", "ring.pcapng.1", "ring.pcapng.2"]
    kept = []
    for path in (written.with_name("ring.pcapng.2"), written.with_name("ring.pcapng.1"), written):
        with open_capture(path) as cap:  # each file is a complete pcapng of its own
            kept.extend(f.data for f in cap.frames())
    assert kept == [f.data for f in frames][-len(kept):]
    assert len(kept) < len(frames)


TLS = (Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "pcaps"
       / "dspace-group+dsV2Gshark" / "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng")


@pytest.mark.skipif(not TLS.exists(), reason="corpus TLS capture not present")
def test_live_keylog_decrypts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`live --keylog`: TLS is decrypted with a key log file, as `analyze --keylog` does
    (the capture's in-band key log datagrams are left out of the replay)."""
    import json

    from click.testing import CliRunner

    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.cli import cli

    with open_capture(TLS) as cap:
        frames = list(cap.frames())
    in_band = {ref.frame for m in Pipeline().run(iter(frames))
               if getattr(m, "protocol", "") == "tls-keylog" for ref in m.refs}
    assert in_band
    frames = [f for f in frames if f.number not in in_band]
    keylog = tmp_path / "keys.log"
    exported = CliRunner().invoke(cli, ["tls", "--export-keylog", str(keylog), str(TLS)])
    assert exported.exit_code == 0 and keylog.read_text().strip(), exported.output
    monkeypatch.setattr("scapy.sendrecv.AsyncSniffer", _fake_sniffer(frames))

    def live(*extra: str) -> dict:
        out = CliRunner().invoke(cli, ["live", "--iface", "fake0", "--backend", "scapy",
                                       "--count", str(len(frames)), "--json", *extra])
        return json.loads(out.stdout)

    assert not [m for m in live()["messages"] if m["protocol"] == "exi"]
    decrypted = [m["name"] for m in live("--keylog", str(keylog))["messages"]
                 if m["protocol"] == "exi"]
    assert "PaymentDetailsReq" in decrypted and "AuthorizationReq" in decrypted
