"""Several captures merged in timestamp order, streaming, like mergecap."""

from __future__ import annotations

from chargescope.analyzer.capture import iter_frames, merge_frames, open_capture
from chargescope.analyzer.capture.writer import PcapngWriter, PcapWriter


def test_iter_frames_orders_by_time_and_keeps_numbers(tmp_path):
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcapng"
    with PcapWriter(a) as w:
        for t in (10, 30, 50):
            w.write(b"A%d" % t, t)
    with PcapngWriter(b) as w:
        w.add_interface(1)
        for t in (20, 30, 40, 60):
            w.write(b"B%d" % t, t)
    merged = [(f.ts_ns, f.source, f.number) for f in iter_frames([a, b])]
    assert merged == [(10, str(a), 1), (20, str(b), 1), (30, str(a), 2), (30, str(b), 2),
                      (40, str(b), 3), (50, str(a), 3), (60, str(b), 4)]


def test_merge_frames_leaves_problems_on_each_capture(tmp_path):
    a = tmp_path / "a.pcap"
    with PcapWriter(a) as w:
        w.write(b"x" * 10, 1)
        w.write(b"y" * 10, 2)
    a.write_bytes(a.read_bytes()[:-3])
    with open_capture(a) as cap:
        assert [f.ts_ns for f in merge_frames([cap])] == [1]
        assert [p.kind for p in cap.problems] == ["pcap.record.truncated"]
