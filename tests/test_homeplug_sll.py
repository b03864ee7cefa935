"""HomePlug MMEs in a Linux cooked capture (SLL) decode like the same MMEs on Ethernet."""

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Frame
from tests.conftest import REPO

LINKTYPE_SLL = 113


def as_sll(frame: Frame) -> Frame:
    eth = frame.data
    header = (b"\x00\x00" + b"\x00\x01" + b"\x00\x06" + eth[6:12] + b"\x00\x00"
              + eth[12:14])
    data = header + eth[14:]
    return Frame(frame.number, frame.ts_ns, LINKTYPE_SLL, data, len(data), source=frame.source)


def test_sll_mmes_match_ethernet():
    path = REPO / "captures" / "demo" / "dc-pnc-happy-linkA-plc.pcapng"
    with open_capture(path) as capture:
        frames = [f for f in capture.frames() if f.data[12:14] == b"\x88\xe1"][:30]
    assert frames
    ether = [m for m in Pipeline().run(frames) if getattr(m, "protocol", "") == "homeplug"]
    cooked = [m for m in Pipeline().run([as_sll(f) for f in frames])
              if getattr(m, "protocol", "") == "homeplug"]
    assert [m.name for m in cooked] == [m.name for m in ether]
    assert [m.src for m in cooked] == [m.src for m in ether]
    assert [m.fields for m in cooked] == [m.fields for m in ether]
    assert all(not m.problems for m in cooked)
