"""Live SocketCAN input: real `struct can_frame` bytes through a socketpair standing in for
the CAN_RAW socket (no vcan on CI machines), into pcapng and the CHAdeMO pipeline; plus
the round trip over a real vcan interface where the kernel has one."""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from pathlib import Path

import pytest

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.chademo.analyze import analyze_recording
from chargescope.analyzer.chademo.can import (
    CAN_EFF_FLAG,
    LINKTYPE_CAN_SOCKETCAN,
    can_from_frame,
)
from chargescope.analyzer.chademo.simulate import scenario, simulate, write_pcap
from chargescope.analyzer.live import StopRule
from chargescope.analyzer.live.socketcan import (
    SocketCanCapture,
    is_can_interface,
    linktype_record,
    open_can_socket,
    open_live_capture,
)
from chargescope.analyzer.pipeline import Pipeline

FRAMES = list(simulate(scenario("happy")))


def kernel_can_frame(can_id: int, data: bytes, extended: bool = False) -> bytes:
    """struct can_frame as the kernel hands it out: host-order id, len, 3 pad, 8 data."""
    return struct.pack("=IB3x8s", can_id | (CAN_EFF_FLAG if extended else 0), len(data), data)


def kernel_canfd_frame(can_id: int, data: bytes) -> bytes:
    """struct canfd_frame: host-order id, len, flags, 2 reserved, 64 data."""
    return struct.pack("=IBB2x64s", can_id, len(data), 0x04, data)


def _feed(sock: socket.socket, records: list[bytes]) -> threading.Thread:
    def send() -> None:
        for record in records:
            sock.send(record)

    sender = threading.Thread(target=send)
    sender.start()
    return sender


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def test_linktype_record_puts_the_id_in_network_order():
    raw = kernel_can_frame(0x102, bytes([2, 0x9A, 1, 0, 0, 0x09, 30, 0]))
    record = linktype_record(raw)
    assert record[:4] == (0x102).to_bytes(4, "big") and record[4:] == raw[4:]
    if sys.byteorder == "little":
        assert raw[:4] == (0x102).to_bytes(4, "little")


def test_socket_frames_reach_pcapng_and_the_chademo_pipeline(tmp_path):
    ours, kernel_side = _pair()
    out = tmp_path / "live.pcapng"
    capture = SocketCanCapture("can-test", sock=ours, write=out, stop=StopRule(count=len(FRAMES)))
    sender = _feed(kernel_side, [kernel_can_frame(f.can_id, f.data) for f in FRAMES])
    with capture:
        messages = [m for m in Pipeline().run(capture.frames()) if getattr(m, "protocol", "") == "chademo"]
    sender.join()
    kernel_side.close()
    assert capture.frames_seen == len(FRAMES) and not capture.error
    assert [(m.fields["can_id"], m.fields["raw"]) for m in messages] == \
        [(f.can_id, f.data.hex()) for f in FRAMES]
    # the pcapng written as it went: link type 227, same frames, same session verdict
    with open_capture(out) as written:
        frames = list(written.frames())
    assert {f.linktype for f in frames} == {LINKTYPE_CAN_SOCKETCAN}
    assert [(c.can_id, c.data) for c in map(can_from_frame, frames)] == \
        [(f.can_id, f.data) for f in FRAMES]
    [live] = analyze_recording(out).sessions
    write_pcap(tmp_path / "sim.pcap", FRAMES)
    [offline] = analyze_recording(tmp_path / "sim.pcap").sessions
    assert (live.verdict, live.stop_event, [p.phase for p in live.phases]) == \
        (offline.verdict, offline.stop_event, [p.phase for p in offline.phases])


def test_fd_extended_and_odd_sized_reads(tmp_path):
    ours, kernel_side = _pair()
    records = [kernel_canfd_frame(0x123, bytes(range(12))),
               kernel_can_frame(0x18DAF110, b"\x01\x02", extended=True),
               b"\x01\x02\x03"]  # neither CAN_MTU nor CANFD_MTU: decoded as a problem
    capture = SocketCanCapture("can-test", sock=ours, write=tmp_path / "fd.pcapng",
                               stop=StopRule(count=3))
    sender = _feed(kernel_side, records)
    with capture:
        got = list(capture.frames())
    sender.join()
    kernel_side.close()
    fd, ext, odd = (can_from_frame(f) for f in got)
    assert fd.fd and fd.can_id == 0x123 and fd.data == bytes(range(12))
    assert ext.extended and ext.can_id == 0x18DAF110 and ext.data == b"\x01\x02"
    assert not hasattr(odd, "can_id")  # a Problem, not a frame


def test_reader_end_is_reported_not_hung():
    ours, kernel_side = _pair()
    kernel_side.close()
    capture = SocketCanCapture("can-test", sock=ours, stop=StopRule(duration_s=5))
    with capture:
        assert list(capture.frames()) == []
    assert capture.error


def test_bpf_is_refused_and_plain_interfaces_keep_the_sniffer():
    with pytest.raises(ValueError, match="BPF"):
        SocketCanCapture("can0", bpf="port 22")
    assert not is_can_interface("lo") and not is_can_interface("no-such-iface")
    assert type(open_live_capture("lo")).__name__ == "LiveCapture"


def _vcan() -> str | None:
    name = os.environ.get("CHARGESCOPE_VCAN", "vcan0")
    return name if is_can_interface(name) else None


@pytest.mark.skipif(_vcan() is None, reason="no vcan interface (needs the vcan kernel module "
                    "and `ip link add vcan0 type vcan`; set CHARGESCOPE_VCAN to name another)")
def test_vcan_round_trip_through_socketcan_capture(tmp_path):
    iface = _vcan()
    out = tmp_path / "vcan.pcapng"
    capture = open_live_capture(iface, write=out, stop=StopRule(count=50, duration_s=10))
    assert isinstance(capture, SocketCanCapture)
    with capture:
        tx = open_can_socket(iface)
        sender = _feed(tx, [kernel_can_frame(f.can_id, f.data) for f in FRAMES[:50]])
        got = [can_from_frame(f) for f in capture.frames()]
        sender.join()
        tx.close()
    assert [(c.can_id, c.data) for c in got] == [(f.can_id, f.data) for f in FRAMES[:50]]
    assert Path(out).stat().st_size > 0


def test_run_live_judges_what_the_socket_delivered(tmp_path):
    from chargescope.analyzer.chademo.live import run_live

    ours, kernel_side = _pair()
    shown = []
    capture = SocketCanCapture("can-test", sock=ours, stop=StopRule(count=len(FRAMES)))
    sender = _feed(kernel_side, [kernel_can_frame(f.can_id, f.data) for f in FRAMES])
    with capture:
        result = run_live(capture, on_message=shown.append)
    sender.join()
    kernel_side.close()
    assert len(shown) == len(FRAMES) and result.frames == len(FRAMES)
    [session] = result.sessions
    assert session.verdict == "ok" and result.format == "SocketCAN live"


def test_chademo_live_cli_without_socketcan_exits_2():
    from click.testing import CliRunner

    from chargescope.cli.chademo import command

    got = CliRunner().invoke(command, ["--live", "no-such-can9", "--count", "1"])
    assert got.exit_code == 2


def test_live_reader_feeds_analyze_with_a_chademo_session():
    """What `chargescope live --iface can0 --analyze` runs, minus the CLI."""
    from chargescope.analyzer.analysis import analyze
    from chargescope.analyzer.live import live_reader

    ours, kernel_side = _pair()
    capture = SocketCanCapture("can-test", sock=ours, stop=StopRule(count=len(FRAMES)))
    sender = _feed(kernel_side, [kernel_can_frame(f.can_id, f.data) for f in FRAMES])
    with capture:
        result = analyze([Path("can-test")], None, keep_messages=False,
                         readers=(live_reader(capture),))
    sender.join()
    kernel_side.close()
    chademo = [s for s in result.link_sessions if s.kind == "chademo"]
    assert len(chademo) == 1 and chademo[0].outcome == "success"
    assert chademo[0].protocol == "CHAdeMO 1.0 (protocol number 2)"


def test_live_analysis_snapshot_over_socketcan():
    """What `chargescope live --iface can0 --analyze` runs since the incremental analysis."""
    from chargescope.analyzer.live.incremental import LiveAnalysis

    ours, kernel_side = _pair()
    live = LiveAnalysis("can-test", None)
    capture = SocketCanCapture("can-test", sock=ours, stop=StopRule(count=len(FRAMES)),
                               backend="dumpcap")  # the engine is SocketCAN whatever is asked
    assert capture.backend == "socketcan"
    sender = _feed(kernel_side, [kernel_can_frame(f.can_id, f.data) for f in FRAMES])
    with capture:
        for item in Pipeline().run(capture.frames()):
            live.add(item)
    sender.join()
    kernel_side.close()
    result = live.snapshot()
    chademo = [s for s in result.link_sessions if s.kind == "chademo"]
    assert len(chademo) == 1 and chademo[0].outcome == "success"
