"""tshark as the reference for link/IP/transport fields and TCP stream bytes.

`tshark_frames` reads per-frame fields with ``-T fields``; `tshark_follow` parses the
output of ``-q -z follow,tcp,raw,N`` (several streams in one run); `our_view` runs
chargescope's decode + reassembly over the same frames and gathers the same facts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chargescope import backends
from chargescope.analyzer.net import DECODED, IPPROTO_TCP, Packet
from chargescope.analyzer.reassembly import IpDefragmenter, TcpReassembler
from chargescope.analyzer.records import Frame, StreamData, StreamGap

TSHARK = shutil.which("tshark")
FIELDS = ("frame.number", "eth.src", "eth.dst", "sll.src.eth", "ieee8021ad.id", "vlan.id", "ip.src", "ip.dst",
          "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
          "tcp.stream", "tcp.seq_raw", "tcp.flags", "tcp.len")


def need_tshark() -> str:
    if TSHARK is None:
        pytest.skip("tshark not installed")
    return TSHARK


def _run(args: list[str]) -> str:
    return subprocess.run([need_tshark(), *args], check=False, capture_output=True,
                          text=True).stdout


def tshark_frames(path: Path) -> dict[int, dict[str, list[str]]]:
    """frame number -> field name -> all occurrences (tunnels, ICMP errors repeat fields)."""
    args = ["-r", str(path), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
            "-E", "separator=|"]
    for name in FIELDS:
        args += ["-e", name]
    rows: dict[int, dict[str, list[str]]] = {}
    for line in _run(args).splitlines():
        values = line.split("|")
        row = {name: [v for v in value.split(";") if v] for name, value in zip(FIELDS, values,
                                                                              strict=True)}
        rows[int(row["frame.number"][0])] = row
    return rows


GAP_MARK = re.compile(rb"^\[(\d+) bytes missing in capture file\][\s\x00]*$")


@dataclass
class FollowSide:
    data: bytearray = field(default_factory=bytearray)
    gaps: list[int] = field(default_factory=list)  # lengths, in order


def tshark_follow(path: Path, streams: list[int]) -> dict[int, tuple[FollowSide, FollowSide]]:
    """stream index -> (unindented lines, tab-indented lines) with tshark's gap markers
    (``[N bytes missing in capture file]``, which raw mode writes as hex) set apart."""
    if not streams:
        return {}
    args = ["-r", str(path), "-q"]
    for index in streams:
        args += ["-z", f"follow,tcp,raw,{index}"]
    out: dict[int, tuple[FollowSide, FollowSide]] = {}
    current: int | None = None
    for line in _run(args).splitlines():
        if line.startswith("Filter: tcp.stream eq "):
            current = int(line.rsplit(" ", 1)[1])
            out[current] = (FollowSide(), FollowSide())
            continue
        if current is None or not line.strip() or line.startswith(("=", "Follow:", "Node ")):
            continue
        side = out[current][1 if line.startswith("\t") else 0]
        chunk = bytes.fromhex(line.strip())
        mark = GAP_MARK.match(chunk)
        if mark:
            side.gaps.append(int(mark.group(1)))
        else:
            side.data += chunk
    return out


@dataclass
class OurView:
    packets: dict[int, Packet] = field(default_factory=dict)  # frame number -> final decode
    conn_of: dict[int, int] = field(default_factory=dict)  # frame number -> connection index
    streams: dict[int, list[bytearray]] = field(default_factory=lambda: defaultdict(
        lambda: [bytearray(), bytearray()]))
    gaps: dict[int, list[StreamGap]] = field(default_factory=lambda: defaultdict(list))
    events: list = field(default_factory=list)


def our_view(frames: list[Frame], impl: str = "python") -> OurView:
    decode = (backends.load_twin("netdecode") if impl == "python"
              else backends.load_extension("netdecode")).decode
    defrag = IpDefragmenter(decode)
    tcp = TcpReassembler()
    view = OurView()

    by_number = {frame.number: frame for frame in frames}

    def take(events: list) -> None:
        for event in events:
            view.events.append(event)
            if isinstance(event, StreamData):
                # every byte maps back to the frame it came in
                assert event.data == b"".join(by_number[r.frame].data[r.start:r.start + r.length]
                                              for r in event.refs)
                view.streams[event.conn.index][event.direction] += event.data
            elif isinstance(event, StreamGap):
                view.gaps[event.conn.index].append(event)

    for frame in frames:
        packet = decode(frame)
        view.packets[frame.number] = packet
        if packet.status != DECODED:
            continue
        origin = ()
        if packet.frag is not None:
            whole, problems = defrag.feed(packet)
            view.events.extend(problems)
            if whole is None:
                continue
            view.packets[frame.number] = packet = whole.packet
            origin = whole.origin
        if packet.l4_offset >= 0 and packet.ip_proto == IPPROTO_TCP:
            take(tcp.feed(packet, origin))
            conn = tcp.connection_of(packet)
            if conn is not None:
                view.conn_of[frame.number] = conn.index
    view.events.extend(defrag.finish())
    take(tcp.finish())
    return view


def compare_fields(path: Path, view: OurView) -> int:
    """Assert per-frame addresses, ports, TCP fields and stream index equal tshark's."""
    theirs = tshark_frames(path)
    assert len(theirs) == len(view.packets)
    checked = 0
    for number, packet in view.packets.items():
        row = theirs.get(number)
        if row is None:
            continue
        if packet.status != DECODED:
            continue
        checked += 1
        if packet.frame.linktype == 1:
            assert packet.eth_src == row["eth.src"][0], number
            assert packet.eth_dst == row["eth.dst"][0], number
        if packet.vlans:
            # scapy-made and corpus stacks put 802.1ad (S-tag) outside 802.1Q (C-tag)
            assert [str(v) for v in packet.vlans] == row["ieee8021ad.id"] + row["vlan.id"], \
                number
        if packet.ip_version == 4:
            assert packet.ip_src == row["ip.src"][0], number
            assert packet.ip_dst == row["ip.dst"][0], number
        elif packet.ip_version == 6:
            assert packet.ip_src == row["ipv6.src"][0], number
            assert packet.ip_dst == row["ipv6.dst"][0], number
        if packet.l4_offset < 0:
            continue
        if packet.ip_proto == IPPROTO_TCP:
            assert str(packet.sport) == row["tcp.srcport"][0], number
            assert str(packet.dport) == row["tcp.dstport"][0], number
            assert str(packet.tcp_seq) == row["tcp.seq_raw"][0], number
            assert int(row["tcp.flags"][0], 16) == packet.tcp_flags, number
            assert str(packet.payload_length) == row["tcp.len"][0], number
            assert str(view.conn_of[number]) == row["tcp.stream"][0], number
        elif packet.ip_proto == 17 and row["udp.srcport"]:
            assert str(packet.sport) == row["udp.srcport"][0], number
            assert str(packet.dport) == row["udp.dstport"][0], number
    return checked


def compare_follow(path: Path, view: OurView) -> int:
    """Assert each connection's bytes per direction equal tshark's follow,tcp,raw."""
    indexes = sorted(view.streams)
    theirs = tshark_follow(path, indexes)
    for index in indexes:
        ours = sorted((bytes(view.streams[index][d]),
                       [g.length for g in view.gaps[index] if g.direction == d]) for d in (0, 1))
        tshark = sorted((bytes(side.data), side.gaps) for side in theirs[index])
        assert tshark == ours, f"stream {index}"
    return len(indexes)
