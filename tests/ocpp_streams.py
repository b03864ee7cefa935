"""Test helper: TCP stream events from the small, clean loopback fixtures of tests/data/ocpp.

Only for captures without loss or reordering (tools/make_ocpp_captures.py output):
the product's reassembly is `chargescope.analyzer.pipeline`; this helper lets the
WebSocket/OCPP tests run on real bytes without depending on it.
"""

from __future__ import annotations

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


def stream_events(path: Path) -> list:
    events: list = []
    conns: dict[tuple, tuple[Connection, list[int]]] = {}
    with open(path, "rb") as fh:
        for number, (ts, buf) in enumerate(dpkt.pcap.Reader(fh), start=1):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            src = (ip.src, tcp.sport)
            dst = (ip.dst, tcp.dport)
            ts_ns = int(round(ts * 1e9))
            key = (src, dst)
            if key not in conns and (dst, src) not in conns:
                if not (tcp.flags & dpkt.tcp.TH_SYN) or tcp.flags & dpkt.tcp.TH_ACK:
                    continue
                conn = Connection(len(conns), Endpoint(dpkt.utils.inet_to_str(ip.src), tcp.sport),
                                  Endpoint(dpkt.utils.inet_to_str(ip.dst), tcp.dport), path.name)
                conns[key] = (conn, [tcp.seq + 1, 0])
                events.append(StreamOpen(conn, ts_ns, True))
                continue
            if key in conns:
                conn, isn = conns[key]
                direction = 0
            else:
                conn, isn = conns[(dst, src)]
                direction = 1
            if tcp.flags & dpkt.tcp.TH_SYN:
                isn[1] = tcp.seq + 1
                continue
            if tcp.data:
                offset = (tcp.seq - isn[direction]) % (1 << 32)
                start = len(buf) - len(tcp.data)
                events.append(StreamData(conn, direction, offset, bytes(tcp.data), ts_ns,
                                         (ByteRef(path.name, number, start, len(tcp.data)),)))
            if tcp.flags & (dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST):
                events.append(StreamClose(conn, direction, ts_ns,
                                          "fin" if tcp.flags & dpkt.tcp.TH_FIN else "rst"))
    return events


def dissect(events: list, factory) -> list:
    """Feed events to one dissector per connection (what the pipeline does)."""
    out: list = []
    dissectors: dict[int, object] = {}
    for ev in events:
        idx = ev.conn.index
        if isinstance(ev, StreamOpen):
            dissectors[idx] = factory(ev.conn)
        elif isinstance(ev, StreamData):
            out.extend(dissectors[idx].on_data(ev))
        elif isinstance(ev, StreamClose):
            out.extend(dissectors[idx].on_close(ev))
    return out
