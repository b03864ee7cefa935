"""Test-only: stream events from a small, clean pcap (loopback recordings), via dpkt.

The product's capture engine and TCP reassembly live in `chargescope.analyzer`
(built by other components); this helper only turns the in-order loopback
captures under tests/data/ocpi/ into the same StreamData/StreamClose records, so
the HTTP/OCPI stream dissectors can be checked end to end against them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import dpkt

from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
    StreamClose,
    StreamData,
    StreamOpen,
)


def stream_events(path: Path) -> Iterator[object]:
    # key -> (connection, next sequence number per direction, sequence of byte 0 per direction)
    conns: dict[tuple, tuple[Connection, list, list]] = {}
    with path.open("rb") as handle:
        reader = dpkt.pcap.Reader(handle)
        linktype = reader.datalink()
        for number, (ts, buf) in enumerate(reader, start=1):
            if linktype == dpkt.pcap.DLT_EN10MB:
                eth = dpkt.ethernet.Ethernet(buf)
                ip, ip_offset = eth.data, 14
            else:  # DLT_NULL / LINUX_SLL on some loopbacks
                sll = dpkt.sll.SLL(buf) if linktype == 113 else None
                ip, ip_offset = (sll.data, 16) if sll else (dpkt.ethernet.Ethernet(buf).data, 14)
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            src = Endpoint(socket.inet_ntoa(ip.src), tcp.sport)
            dst = Endpoint(socket.inet_ntoa(ip.dst), tcp.dport)
            key = tuple(sorted([(src.ip, src.port), (dst.ip, dst.port)]))
            ts_ns = int(round(ts * 1e9))
            if key not in conns:
                syn_only = tcp.flags & dpkt.tcp.TH_SYN and not tcp.flags & dpkt.tcp.TH_ACK
                client, server = (src, dst) if syn_only or src.port > dst.port else (dst, src)
                conn = Connection(len(conns), client, server, source=path.name)
                conns[key] = (conn, [None, None], [None, None])
                yield StreamOpen(conn, ts_ns, bool(syn_only))
            conn, next_seq, isn = conns[key]
            direction = 0 if src == conn.client else 1
            if tcp.flags & dpkt.tcp.TH_SYN:
                next_seq[direction] = isn[direction] = (tcp.seq + 1) & 0xFFFFFFFF
                continue
            data = bytes(tcp.data)
            if data:
                if next_seq[direction] is None:
                    next_seq[direction] = isn[direction] = tcp.seq
                skip = (next_seq[direction] - tcp.seq) & 0xFFFFFFFF
                if skip < len(data):  # drop what a retransmission repeats
                    piece = data[skip:]
                    start = ip_offset + ip.hl * 4 + tcp.off * 4 + skip
                    offset = (tcp.seq + skip - isn[direction]) & 0xFFFFFFFF
                    yield StreamData(conn, direction, offset, piece, ts_ns,
                                     (ByteRef(path.name, number, start, len(piece)),))
                    next_seq[direction] = (tcp.seq + len(data)) & 0xFFFFFFFF
            if tcp.flags & (dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST):
                reason = "rst" if tcp.flags & dpkt.tcp.TH_RST else "fin"
                yield StreamClose(conn, direction, ts_ns, reason)
    for conn, _, _ in conns.values():
        yield StreamClose(conn, -1, 0, "end-of-capture")

