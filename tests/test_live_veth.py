"""`chargescope live` on one end of a veth pair (in a network namespace the test makes)
sees a corpus capture replayed into the other end exactly as offline analysis does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chargescope.analyzer.capture.reader import open_capture

REPO = Path(__file__).resolve().parent.parent
CAPTURE = REPO / "captures" / "demo" / "auth-rejected-b-linkA-plc.pcapng"
CHARGESCOPE = Path(sys.executable).with_name("chargescope")

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="needs root: creates a network namespace and a veth pair"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2 (`ip`)"),
]

# sends every frame of a capture on an interface, keeping the capture's own pacing
SENDER = """
import socket, sys, time
from chargescope.analyzer.capture.reader import open_capture
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((sys.argv[2], 0))
with open_capture(sys.argv[1]) as cap:
    frames = list(cap.frames())
start, first = time.monotonic(), frames[0].ts_ns
for frame in frames:
    delay = (frame.ts_ns - first) / 1e9 - (time.monotonic() - start)
    if delay > 0:
        time.sleep(delay)
    sock.send(frame.data)
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def netns():
    name = f"csfk{os.getpid()}"
    try:
        _ip("netns", "add", name)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create a network namespace here: {exc.stderr.decode().strip()}")
    try:
        run = ["ip", "netns", "exec", name]
        subprocess.run(run + ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                              "net.ipv6.conf.default.disable_ipv6=1"], check=True)
        _ip("-n", name, "link", "add", "fkA", "type", "veth", "peer", "name", "fkB")
        for dev in ("fkA", "fkB"):
            _ip("-n", name, "link", "set", dev, "up")
        yield run
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _offline(path: Path) -> dict:
    out = subprocess.run([str(CHARGESCOPE), "analyze", "--json", str(path)],
                         capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout)


@pytest.mark.parametrize("backend", ["scapy", "dumpcap"])
def test_live_matches_offline(netns: list[str], tmp_path: Path, backend: str) -> None:
    if backend == "dumpcap" and shutil.which("dumpcap") is None:
        pytest.skip("dumpcap is not installed (Debian package tshark)")
    with open_capture(CAPTURE) as cap:
        frames = list(cap.frames())
    written = tmp_path / "live.pcapng"
    live = subprocess.Popen(netns + [str(CHARGESCOPE), "live", "--iface", "fkB",
                                     "--backend", backend, "--write",
                                     str(written), "--analyze", "--json",
                                     "--count", str(len(frames)), "--duration", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = live.stderr.readline()
        assert "listening on fkB" in ready, ready
        time.sleep(0.3)  # the sniffer's socket is bound before the callback; be generous
        subprocess.run(netns + [sys.executable, "-c", SENDER, str(CAPTURE), "fkA"],
                       check=True, timeout=60)
        stdout, stderr = live.communicate(timeout=90)
    finally:
        if live.poll() is None:
            live.kill()
    doc = json.loads(stdout)
    assert doc["frames"] == len(frames), stderr
    # the file written while capturing holds the very frames sent
    with open_capture(written) as cap:
        assert [f.data for f in cap.frames()] == [f.data for f in frames]
    # the same sessions and findings as offline analysis of the same frames (the file it
    # wrote: replay timing under load may differ from the original's by milliseconds,
    # which timing checks rightly notice), and the original capture's messages
    reference = _offline(written)
    live_analysis = doc["analysis"]
    assert [s["verdict"] for s in live_analysis["sessions"]] == \
        [s["verdict"] for s in reference["sessions"]]
    codes = sorted(f["code"] for s in live_analysis["sessions"] for f in s["findings"])
    assert codes == sorted(f["code"] for s in reference["sessions"] for f in s["findings"])
    assert sorted(f["code"] for f in live_analysis.get("findings", [])) == \
        sorted(f["code"] for f in reference.get("findings", []))
    assert [(m["protocol"], m["name"]) for m in doc["messages"]] == _offline_messages()


def _offline_messages() -> list[tuple[str, str]]:
    from chargescope.analyzer.analysis import analyze

    result = analyze([CAPTURE], keep_messages=True)
    return [(m.protocol, m.name) for m in result.messages]


# the same, timing compressed (gaps cut to at most 5 ms), holding the last frame back
# for a while; prints the monotonic time just before sending it
COMPRESSED_SENDER = """
import socket, sys, time
from chargescope.analyzer.capture.reader import open_capture
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((sys.argv[2], 0))
hold = float(sys.argv[3])
with open_capture(sys.argv[1]) as cap:
    frames = list(cap.frames())
previous = frames[0].ts_ns
for frame in frames[:-1]:
    time.sleep(min(max(frame.ts_ns - previous, 0) / 1e9, 0.005))
    previous = frame.ts_ns
    sock.send(frame.data)
time.sleep(hold)
print(time.monotonic(), flush=True)
sock.send(frames[-1].data)
"""

LIVE_CAPTURES = [
    CAPTURE.with_name("cablecheck-failure-linkA-plc.pcapng"),
    Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "pcaps"
    / "uhi22+pyPLC" / "2023-03-02_SuperCharger_CableCheck_error.pcapng",
]


def _reader(stream, lines: list[tuple[float, str]]) -> threading.Thread:
    def run() -> None:
        for line in stream:
            lines.append((time.monotonic(), line.rstrip("\n")))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("capture", LIVE_CAPTURES, ids=lambda p: p.stem)
def test_live_findings_before_the_capture_ends(netns: list[str], tmp_path: Path,
                                               capture: Path) -> None:
    if not capture.exists():
        pytest.skip(f"corpus capture missing: {capture.name}")
    with open_capture(capture) as cap:
        frames = list(cap.frames())
    written = tmp_path / "live.pcapng"
    live = subprocess.Popen(netns + [str(CHARGESCOPE), "live", "--iface", "fkB", "--write",
                                     str(written), "--analyze", "--update", "0.3",
                                     "--count", str(len(frames)), "--duration", "90"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[tuple[float, str]] = []
    try:
        ready = live.stderr.readline()
        assert "listening on fkB" in ready, ready
        reader = _reader(live.stdout, out)
        time.sleep(0.3)
        sent = subprocess.run(netns + [sys.executable, "-c", COMPRESSED_SENDER, str(capture),
                                       "fkA", "3"], check=True, timeout=90,
                              capture_output=True, text=True)
        last_sent = float(sent.stdout.strip())
        live.wait(timeout=90)
        reader.join(timeout=30)
    finally:
        if live.poll() is None:
            live.kill()
    early = [line for at, line in out if at < last_sent and line.startswith("live: finding")]
    sessions = [line for at, line in out if at < last_sent and line.startswith("live: session")]
    assert early, "no finding was reported while the capture ran"
    assert sessions, "no session was listed while the capture ran"
    # the final report is the offline analysis of the file the capture wrote
    text = "\n".join(line for _, line in out)
    offline = subprocess.run([str(CHARGESCOPE), "analyze", str(written)],
                             capture_output=True, text=True, timeout=120).stdout
    offline = offline.replace(str(written), "fkB")  # the live source is the interface
    assert text.endswith(offline.rstrip("\n")), text[-2000:]
    # every code reported live is one of the final report's (or withdrawn later)
    withdrawn = {line.split()[2].rstrip(":") for _, line in out
                 if line.startswith("live: withdrawn")}
    final = _offline(written)
    codes = {f["code"] for s in final["sessions"] for f in s["findings"]} | \
        {f["code"] for f in final.get("findings", [])}
    for line in early:
        code = line.split()[3].rstrip(":")
        assert code in codes or code in withdrawn, line


# `chargescope tui --live fkB`, headless (Textual's Pilot) inside the namespace: prints
# when the session table first had a row, then the sessions the capture ended with
TUI_LIVE = """
import asyncio, json, os, sys, time
from pathlib import Path
from chargescope.analyzer.live import LiveCapture, StopRule
from chargescope.tui.app import ChargescopeApp
written, count = Path(sys.argv[1]), int(sys.argv[2])
capture = LiveCapture("fkB", write=written, stop=StopRule(count=count, duration_s=90),
                      on_started=lambda: os.write(1, b"ready\\n"))
out = {}
async def main():
    app = ChargescopeApp([], live=capture, live_interval_s=0.2)
    async with app.run_test(size=(160, 50)) as pilot:
        deadline = time.monotonic() + 120
        while not app.live_done and time.monotonic() < deadline:
            if app.query_one("#session-table").row_count and "first_row" not in out:
                out["first_row"] = time.monotonic()
            await pilot.pause(0.05)
        out["sessions"] = [[s.verdict, sorted(f.code for f in s.findings)]
                           for s in app.analysis.sessions]
try:
    asyncio.run(main())
except Exception:  # reported to the test, which shows it
    import traceback
    out["error"] = traceback.format_exc()
os.write(1, (json.dumps(out) + "\\n").encode())
"""


def test_tui_live_on_the_interface(netns: list[str], tmp_path: Path) -> None:
    capture = LIVE_CAPTURES[0]
    with open_capture(capture) as cap:
        count = len(list(cap.frames()))
    written = tmp_path / "tui.pcapng"
    tui = subprocess.Popen(netns + [sys.executable, "-c", TUI_LIVE, str(written), str(count)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert tui.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        sent = subprocess.run(netns + [sys.executable, "-c", COMPRESSED_SENDER, str(capture),
                                       "fkA", "3"], check=True, timeout=90,
                              capture_output=True, text=True)
        last_sent = float(sent.stdout.strip())
        stdout, stderr = tui.communicate(timeout=120)
    finally:
        if tui.poll() is None:
            tui.kill()
    lines = stdout.strip().splitlines()
    assert lines, stderr[-3000:]
    doc = json.loads(lines[-1])
    assert "error" not in doc, doc["error"]
    assert doc["first_row"] < last_sent, "no session listed while the capture ran"
    reference = _offline(written)
    assert doc["sessions"] == [[s["verdict"], sorted(f["code"] for f in s["findings"])]
                               for s in reference["sessions"]]
