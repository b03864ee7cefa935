"""CAN recordings: the three corpus formats, candump -l, SocketCAN and cooked pcaps."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.chademo.can import (
    LINKTYPE_CAN_SOCKETCAN,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    CanFrame,
    can_from_frame,
    socketcan_bytes,
)
from chargescope.analyzer.chademo.canlog import (
    NotACanRecording,
    is_can_log,
    read_recording,
)
from chargescope.analyzer.chademo.simulate import (
    candump_lines,
    scenario,
    simulate,
    write_candump,
    write_pcap,
)
from chargescope.analyzer.records import Frame, Problem
from tests.conftest import corpus_path

# (file, format, frames, CHAdeMO id counts) as listed in corpus/can/README.md
CORPUS = [
    ("chademo-rs_nissan-leaf-chademo-start-stop.csv", "savvycan-csv", 4072,
     {0x100: 507, 0x101: 507, 0x102: 507, 0x108: 511, 0x109: 511, 0x200: 507, 0x208: 511,
      0x209: 511}),
    ("F1atline_start.candump", "candump-ascii", 548,
     {0x100: 55, 0x101: 55, 0x102: 55, 0x108: 54, 0x109: 54, 0x110: 55, 0x200: 55}),
    ("LeafLogs_aero3.txt", "candue", 1598,
     {0x100: 161, 0x101: 183, 0x102: 191, 0x108: 208, 0x109: 295}),
]


@pytest.mark.parametrize(("name", "fmt", "frames", "ids"), CORPUS)
def test_corpus_recordings_read_completely(name, fmt, frames, ids):
    rec = read_recording(corpus_path("can", name))
    assert rec.format == fmt
    assert len(rec.frames) == frames
    counts = Counter(f.can_id for f in rec.frames)
    assert {k: counts[k] for k in ids} == ids
    assert all(p.kind in ("can.log.text_line", "can.log.bad_line") for p in rec.problems)


def test_corpus_annotations_are_reported_not_dropped():
    rec = read_recording(corpus_path("can", "F1atline_start.candump"))
    assert rec.problems and all(p.kind == "can.log.text_line" for p in rec.problems)
    first = rec.frames[0]
    assert first.can_id == 0x100 and first.data == bytes.fromhex("06000000B301F000")
    assert first.interface == "can1"
    # -tA date read as UTC
    assert first.ts_ns == 1654210198125771000


def test_candue_corrupt_line_is_a_bad_line():
    rec = read_recording(corpus_path("can", "LeafLogs_aero3.txt"))
    kinds = Counter(p.kind for p in rec.problems)
    assert kinds["can.log.bad_line"] == 1  # "dRcvd msgID: ..." (a stray key press)
    assert rec.frames[0].ts_ns == 41_611_000_000


def test_candump_l_variants(tmp_path):
    path = tmp_path / "x.log"
    path.write_text("(1436509052.249713) vcan0 100#0600000000B301F0\n"
                    "(1436509052.250000) vcan0 12345678#DEAD\n"
                    "(1436509052.260000) vcan0 123#R\n"
                    "(1436509052.270000) vcan0 109##1" + "00" * 12 + "\n"
                    "(1436509052.280000) vcan0 10G#00\n")
    rec = read_recording(path)
    assert rec.format == "candump-l"
    a, b, c, d = rec.frames
    assert (a.can_id, a.extended, a.ts_ns) == (0x100, False, 1436509052249713000)
    assert (b.can_id, b.extended, b.data) == (0x12345678, True, b"\xde\xad")
    assert c.rtr and c.data == b""
    assert d.fd and len(d.data) == 12
    assert [p.kind for p in rec.problems] == ["can.log.bad_line"]


def test_not_a_recording(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    assert not is_can_log(path)
    with pytest.raises(NotACanRecording):
        read_recording(path)


@pytest.mark.parametrize("cooked", [False, True])
def test_pcap_round_trip_matches_candump(tmp_path, cooked):
    frames = list(simulate(scenario("happy")))
    write_pcap(tmp_path / "s.pcap", frames, cooked=cooked)
    write_candump(tmp_path / "s.log", frames)
    from_pcap = read_recording(tmp_path / "s.pcap")
    from_log = read_recording(tmp_path / "s.log")
    assert not from_pcap.problems and not from_log.problems
    strip = [(f.ts_ns, f.can_id, f.data) for f in frames]
    assert [(f.ts_ns, f.can_id, f.data) for f in from_pcap.frames] == strip
    assert [(f.ts_ns, f.can_id, f.data) for f in from_log.frames] == strip
    assert candump_lines(from_log.frames) == candump_lines(frames)


def test_sll2_and_extended_ids():
    body = socketcan_bytes(0x18DAF110, b"\x01\x02", extended=True)
    host = body[:4][::-1] + body[4:]
    sll2 = (0x000C).to_bytes(2, "big") + b"\0\0" + b"\0\0\0\3" + (280).to_bytes(2, "big") \
        + b"\0\0" + b"\0" * 8
    got = can_from_frame(Frame(1, 5, LINKTYPE_LINUX_SLL2, sll2 + host, 30))
    assert isinstance(got, CanFrame)
    assert (got.can_id, got.extended, got.data, got.offset) == (0x18DAF110, True, b"\1\2", 28)


def test_non_can_frames_are_not_can():
    assert can_from_frame(Frame(1, 0, 1, b"\0" * 60, 60)) is None
    sll_ip = b"\0" * 14 + b"\x08\x00" + b"\0" * 20
    assert can_from_frame(Frame(1, 0, LINKTYPE_LINUX_SLL, sll_ip, len(sll_ip))) is None


def test_bad_length_is_a_problem():
    data = (0x100).to_bytes(4, "big") + bytes([9, 0, 0, 0]) + b"\0" * 9
    got = can_from_frame(Frame(3, 0, LINKTYPE_CAN_SOCKETCAN, data, len(data), source="x"))
    assert isinstance(got, Problem) and got.kind == "can.frame.bad_length" and got.frame == 3
    got = can_from_frame(Frame(4, 0, LINKTYPE_CAN_SOCKETCAN, b"\1\0", 2))
    assert isinstance(got, Problem) and got.kind == "can.frame.truncated"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([LINKTYPE_CAN_SOCKETCAN, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2]),
       st.binary(max_size=90))
def test_hostile_capture_frames_never_raise(linktype, data):
    got = can_from_frame(Frame(1, 0, linktype, data, len(data)))
    assert got is None or isinstance(got, (CanFrame, Problem))
    if isinstance(got, CanFrame):
        assert len(got.data) <= 64


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="()0123456789.#abcdefABCDEF RGvcan[];:xmsgIDRcvd,\t",
                        max_size=60), max_size=20))
def test_hostile_text_logs_never_raise(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("h") / "h.log"
    path.write_text("(1.000000) can0 100#00\n" + "\n".join(lines) + "\n")
    rec = read_recording(path)
    assert rec.frames
    assert all(isinstance(p, Problem) for p in rec.problems)


def test_candump_ascii_variants(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(" (1654210198.125771)  can1  RX - -  100   [8]  06 00 00 00 B3 01 F0 00\n"
                    "  can1  18DAF110   [2]  01 02\n"
                    " (1654210198.200000)  can1  101   [3]  01 02\n")
    rec = read_recording(path)
    assert rec.format == "candump-ascii"
    a, b = rec.frames
    assert (a.can_id, a.ts_ns, len(a.data)) == (0x100, 1654210198125771000, 8)
    assert (b.can_id, b.extended, b.ts_ns) == (0x18DAF110, True, a.ts_ns)
    assert [p.kind for p in rec.problems] == ["can.log.bad_line"]  # [3] with 2 bytes


def test_pcapng_with_socketcan_and_sll2_interfaces(tmp_path):
    from chargescope.analyzer.capture.writer import PcapngWriter

    frames = list(simulate(scenario("happy")))[:20]
    path = tmp_path / "two.pcapng"
    with PcapngWriter(path) as out:
        raw = out.add_interface(LINKTYPE_CAN_SOCKETCAN, name="can0")
        cooked = out.add_interface(LINKTYPE_LINUX_SLL2, name="any")
        for n, f in enumerate(frames):
            body = socketcan_bytes(f.can_id, f.data)
            if n % 2:
                sll2 = (0x000C).to_bytes(2, "big") + b"\0\0" + b"\0\0\0\1" \
                    + (280).to_bytes(2, "big") + b"\0\0" + b"\0" * 8
                out.write(sll2 + body[:4][::-1] + body[4:], f.ts_ns, cooked)
            else:
                out.write(body, f.ts_ns, raw)
    rec = read_recording(path)
    assert rec.format == "pcapng" and not rec.problems
    assert [(f.ts_ns, f.can_id, f.data) for f in rec.frames] == [
        (f.ts_ns, f.can_id, f.data) for f in frames]
    assert {f.interface for f in rec.frames} == {"0", "1"}
