"""Our CAN readers and writers against reference implementations: tshark (pcap),
python-can (candump -l logs, and a real vcan round trip where the kernel has one)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chargescope.analyzer.chademo.canlog import read_recording
from chargescope.analyzer.chademo.simulate import scenario, simulate, write_candump, write_pcap

FRAMES = list(simulate(scenario("vehicle_fault")))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("cooked", [False, True])
def test_tshark_reads_our_pcaps_like_we_do(tmp_path, cooked):
    path = tmp_path / "s.pcap"
    write_pcap(path, FRAMES, cooked=cooked)
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e",
                          "frame.time_epoch", "-e", "can.id", "-e", "data.data"],
                         capture_output=True, text=True, check=True).stdout
    theirs = []
    for line in out.splitlines():
        epoch, can_id, data = line.split("\t")
        sec, frac = epoch.split(".")
        theirs.append((int(sec) * 10**9 + int(frac.ljust(9, "0")[:9]), int(can_id),
                       bytes.fromhex(data)))
    ours = [(f.ts_ns, f.can_id, f.data) for f in read_recording(path).frames]
    assert ours == theirs and len(ours) == len(FRAMES)


def test_python_can_reads_our_candump_log(tmp_path):
    can = pytest.importorskip("can")
    path = tmp_path / "s.log"
    write_candump(path, FRAMES)
    theirs = [(round(m.timestamp * 1e6), m.arbitration_id, bytes(m.data))
              for m in can.CanutilsLogReader(str(path))]
    assert theirs == [(f.ts_ns // 1000, f.can_id, f.data) for f in FRAMES]


def test_we_read_python_can_candump_log(tmp_path):
    can = pytest.importorskip("can")
    path = tmp_path / "theirs.log"
    with can.CanutilsLogWriter(str(path), channel="vcan0") as writer:
        for f in FRAMES:
            writer.on_message_received(can.Message(timestamp=f.ts_ns / 1e9,
                                                   arbitration_id=f.can_id, data=f.data,
                                                   is_extended_id=False))
    rec = read_recording(path)
    assert not rec.problems
    assert [(f.can_id, f.data) for f in rec.frames] == [(f.can_id, f.data) for f in FRAMES]
    assert all(abs(a.ts_ns - b.ts_ns) < 1000 for a, b in zip(rec.frames, FRAMES, strict=True))


def _vcan() -> str | None:
    name = os.environ.get("CHARGESCOPE_VCAN", "vcan0")
    return name if Path("/sys/class/net", name).exists() else None


@pytest.mark.skipif(_vcan() is None, reason="no vcan interface (needs the vcan kernel module "
                    "and `ip link add vcan0 type vcan`; set CHARGESCOPE_VCAN to name another)")
def test_vcan_round_trip(tmp_path):
    can = pytest.importorskip("can")
    channel = _vcan()
    with can.Bus(interface="socketcan", channel=channel) as rx, \
            can.Bus(interface="socketcan", channel=channel) as tx:
        for f in FRAMES[:50]:
            tx.send(can.Message(arbitration_id=f.can_id, data=f.data, is_extended_id=False))
        got = [rx.recv(timeout=1.0) for _ in range(50)]
    path = tmp_path / "live.log"
    with can.CanutilsLogWriter(str(path), channel=channel) as writer:
        for m in got:
            writer.on_message_received(m)
    rec = read_recording(path)
    assert [(f.can_id, f.data) for f in rec.frames] == [(f.can_id, f.data) for f in FRAMES[:50]]
