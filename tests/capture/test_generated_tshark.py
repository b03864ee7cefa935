"""Generated captures (scapy and our writer) read exactly as tshark reads them:
several interfaces and sections, both byte orders, ns / µs / 2^-k resolutions, if_tsoffset,
obsolete packet blocks, snaplen-cut frames, gzip."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import pytest
from conftest import load_impl, twin_params
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.utils import PcapNgWriter, wrpcap

from capture.samples import read
from capture.tshark import needs_tshark, section_local, tshark_frames
from chargescope.analyzer.capture import SECRETS_TLS_KEY_LOG, NotACaptureError, open_capture
from chargescope.analyzer.capture.writer import PcapngWriter, PcapWriter

T0 = 1_700_000_000_000_000_000


def ours(path, which):
    frames, problems, cap = read(path, load_impl("capture", which))
    return [(f.number, f.ts_ns, len(f.data), f.wirelen, f.interface) for f in frames], problems


def scapy_packets(n: int = 12):
    pkts = []
    for i in range(n):
        p = Ether(src="00:01:87:00:00:01", dst="00:01:87:00:00:02")
        if i % 3 == 0:
            p = p / Dot1Q(vlan=7)
        p = p / IP(src="10.0.0.1", dst="10.0.0.2")
        p = p / (TCP(sport=50000, dport=15118) if i % 2 else UDP(sport=15118, dport=15118))
        p = p / (b"x" * (i * 13))
        p.time = 1_700_000_000 + i / 7  # float seconds, scapy's own
        p.sniffed_on = f"eth{i % 3}"
        pkts.append(p)
    return pkts


@needs_tshark
@pytest.mark.parametrize("which", twin_params("capture"))
@pytest.mark.parametrize("nano", [False, True])
def test_scapy_pcap(tmp_path, which, nano):
    path = tmp_path / "scapy.pcap"
    wrpcap(str(path), scapy_packets(), nano=nano)
    rows, problems = ours(path, which)
    assert problems == []
    assert rows == tshark_frames(path) and len(rows) == 12


@needs_tshark
@pytest.mark.parametrize("which", twin_params("capture"))
def test_scapy_pcapng_interfaces(tmp_path, which):
    path = tmp_path / "scapy.pcapng"
    with PcapNgWriter(str(path)) as w:
        for p in scapy_packets():
            w.write(p)
    rows, problems = ours(path, which)
    assert problems == []
    assert rows == tshark_frames(path)
    assert len({r[4] for r in rows}) == 3


@needs_tshark
@pytest.mark.parametrize("which", twin_params("capture"))
@pytest.mark.parametrize("little", [True, False])
def test_pcap_snaplen_cut_ns(tmp_path, which, little):
    path = tmp_path / "cut.pcap"
    with PcapWriter(path, nano=True, little=little, snaplen=64) as w:
        for i in range(6):
            w.write(bytes(Ether() / IP() / UDP() / (b"y" * 100))[:64], T0 + i * 123_456_789 + 1,
                    wirelen=142)
    rows, problems = ours(path, which)
    assert rows == tshark_frames(path)
    assert all(r[2] == 64 and r[3] == 142 for r in rows)


def multi_section(path, gz: bool = False) -> None:
    """Three sections: LE ns+µs, BE with 2^-30 and an if_tsoffset, LE with an obsolete PB."""
    raw = path.with_suffix(".raw") if gz else path
    frame = bytes(Ether() / IP(src="192.168.1.1", dst="192.168.1.2") / TCP(dport=443) / b"hi")
    with PcapngWriter(raw) as w:
        w.add_interface(1, name="eth0")
        w.add_interface(1, name="eth1", tsresol=1_000_000, description="charger side")
        w.write_secret(SECRETS_TLS_KEY_LOG, b"CLIENT_RANDOM aa bb\n")
        w.write_names([("192.168.1.1", ["charger.local"]), ("fe80::1", ["ev"])])
        for i in range(4):
            w.write(frame, T0 + i * 1_000_001, interface=i % 2)
        w.write_stats(0, T0 + 10_000_000, received=4, dropped=0)
        w.write_block(0x00000BAD, b"\x00\x00\x7f\x7fcustom data")  # custom block: skipped
        w.write_block(0x12345678, b"future block type")  # unknown block: skipped by length
        w.new_section(little=False)
        w.add_interface(1, name="plc0", tsresol=2 ** 30)
        w.add_interface(1, name="wan0", tsoffset=3600)
        for i in range(4):
            w.write(frame, T0 + 20_000_000 + i * 999, interface=i % 2)
        w.new_section(little=True)
        w.add_interface(1, name="old0")
        w.write_obsolete(frame, T0 + 40_000_000)
        w.write(frame[:20], T0 + 41_000_000, wirelen=len(frame))
    if gz:
        path.write_bytes(gzip.compress(raw.read_bytes()))


@needs_tshark
@pytest.mark.parametrize("which", twin_params("capture"))
@pytest.mark.parametrize("gz", [False, True])
def test_multi_section_pcapng(tmp_path, which, gz):
    path = tmp_path / ("multi.pcapng.gz" if gz else "multi.pcapng")
    multi_section(path, gz)
    frames, problems, cap = read(path, load_impl("capture", which))
    rows = [(f.number, f.ts_ns, len(f.data), f.wirelen, section_local(cap, f.interface))
            for f in frames]
    assert problems == []
    assert rows == tshark_frames(path)
    assert cap.sections == 3 and cap.skipped_blocks == 2
    assert [(i.name, i.section, i.tsresol, i.tsoffset) for i in cap.interfaces] == [
        ("eth0", 0, 10 ** 9, 0), ("eth1", 0, 10 ** 6, 0), ("plc0", 1, 2 ** 30, 0),
        ("wan0", 1, 10 ** 9, 3600), ("old0", 2, 10 ** 9, 0)]
    assert cap.interfaces[1].description == "charger side"
    assert [(s.type_name, s.data) for s in cap.secrets] == [("tls-key-log",
                                                             b"CLIENT_RANDOM aa bb\n")]
    assert [(n.address, n.names) for n in cap.names] == [("192.168.1.1", ("charger.local",)),
                                                         ("fe80::1", ("ev",))]
    assert [(s.interface, s.received, s.dropped) for s in cap.stats] == [(0, 4, 0)]
    assert cap.truncated == 1
    assert cap.counters == {"frames": 10, "bytes": 524, "truncated": 1, "malformed": 0}
    assert cap.tls_key_log() == b"CLIENT_RANDOM aa bb\n"


@needs_tshark
@pytest.mark.parametrize("which", twin_params("capture"))
def test_simple_packet_blocks(tmp_path, which):
    path = tmp_path / "spb.pcapng"
    with PcapngWriter(path, little=False) as w:
        w.add_interface(1, snaplen=30)
        w.write(b"a" * 20, T0)
        w.write_simple(b"b" * 30, wirelen=50)  # cut by the interface's snaplen
        w.write_simple(b"c" * 20)
        w.write(b"d" * 20, T0 + 5)
    rows, problems = ours(path, which)
    assert problems == []
    assert rows == tshark_frames(path)
    assert [r[1] for r in rows] == [T0, 0, 0, T0 + 5]


@needs_tshark
@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap not installed")
def test_other_formats_through_tshark(tmp_path):
    """A snoop file (not read natively) comes through tshark with a capture.converted note."""
    original = tmp_path / "a.pcap"
    with PcapWriter(original, nano=False) as w:
        for i in range(5):
            w.write(bytes(Ether() / IP() / UDP(dport=15118) / (b"z" * i)), T0 + i * 1000)
    snoop = tmp_path / "a.snoop"
    subprocess.run(["editcap", "-F", "snoop", str(original), str(snoop)], check=True,
                   capture_output=True)
    with pytest.raises(NotACaptureError):
        open_capture(snoop)
    with open_capture(snoop, convert=True) as cap:
        frames = list(cap.frames())
    assert cap.converted_from == "tshark"
    assert [p.kind for p in cap.problems] == ["capture.converted"]
    with open_capture(original) as cap:
        assert [(f.ts_ns, f.data) for f in frames] == [(f.ts_ns, f.data) for f in cap.frames()]
    text = tmp_path / "notes.snoop"
    text.write_text("just some text\n" * 20)
    with pytest.raises(NotACaptureError, match="tshark"):
        open_capture(text, convert=True)
