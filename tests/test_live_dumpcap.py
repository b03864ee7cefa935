"""The dumpcap capture engine: pcapng read from its pipe as it grows (a stand-in
dumpcap writes a capture in odd pieces), its errors reported, `live --backend dumpcap`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chargescope.analyzer.capture.reader import open_capture
from chargescope.analyzer.live.capture import resolve_backend
from chargescope.analyzer.live.dumpcap import DumpcapSniffer

REPO = Path(__file__).resolve().parent.parent
CAPTURE = REPO / "captures" / "demo" / "auth-rejected-b-linkA-plc.pcapng"
CHARGESCOPE = Path(sys.executable).with_name("chargescope")

# what dumpcap does, as far as we use it: "Capturing on" on stderr, pcapng on stdout in
# pieces that end inside blocks, running until terminated (or failing with status 1)
FAKE_DUMPCAP = """#!{python}
import sys, time, signal
args = sys.argv[1:]
iface = args[args.index("-i") + 1]
if iface == "nosuch0":
    print("dumpcap: There is no device named \\"nosuch0\\".", file=sys.stderr, flush=True)
    sys.exit(1)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print(f"Capturing on '{{iface}}'", file=sys.stderr, flush=True)
data = open({capture!r}, "rb").read()
for i in range(0, len(data), 777):
    sys.stdout.buffer.write(data[i:i + 777])
    sys.stdout.buffer.flush()
    time.sleep(0.002)
while True:
    time.sleep(1)
"""


@pytest.fixture
def fake_dumpcap(tmp_path: Path) -> str:
    path = tmp_path / "dumpcap"
    path.write_text(FAKE_DUMPCAP.format(python=sys.executable, capture=str(CAPTURE)))
    path.chmod(0o755)
    return str(path)


def test_frames_read_from_the_pipe_as_it_grows(fake_dumpcap: str) -> None:
    with open_capture(CAPTURE) as cap:
        expected = [(f.data, f.ts_ns, f.linktype) for f in cap.frames()]
    got: list[tuple[bytes, int, int]] = []
    started = threading.Event()
    sniffer = DumpcapSniffer("fake0", lambda *frame: got.append(frame), bpf="not port 22",
                             on_started=started.set, executable=fake_dumpcap)
    assert sniffer.command()[-2:] == ["-f", "not port 22"]
    sniffer.start()
    assert started.wait(10)
    deadline = time.monotonic() + 20
    while len(got) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sniffer.running  # dumpcap still capturing: the reader waits for more
    sniffer.stop()
    assert not sniffer.running
    assert got == expected
    assert sniffer.exception is None


def test_dumpcap_failure_is_reported(fake_dumpcap: str) -> None:
    sniffer = DumpcapSniffer("nosuch0", lambda *frame: None, executable=fake_dumpcap)
    sniffer.start()
    deadline = time.monotonic() + 10
    while sniffer.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sniffer.running
    assert "no device named" in str(sniffer.exception)


def test_backend_choice() -> None:
    assert resolve_backend("scapy") == "scapy"
    assert resolve_backend("auto") == ("dumpcap" if shutil.which("dumpcap") else "scapy")
    with pytest.raises(ValueError):
        resolve_backend("pcap")


@pytest.mark.skipif(shutil.which("dumpcap") is None,
                    reason="dumpcap is not installed (Debian package tshark)")
def test_live_on_a_missing_interface_exits_2() -> None:
    out = subprocess.run([str(CHARGESCOPE), "live", "--iface", "chargescope-none0",
                          "--backend", "dumpcap", "--duration", "10"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "cannot capture on chargescope-none0" in out.stderr
