"""Test helpers for link A: an EXI oracle built from the reference vectors, stream builders,
and a small dpkt-based reader that turns real captures into the stream events the pipeline
produces (test scaffolding only; the product uses chargescope.analyzer.pipeline)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import dpkt

from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
    StreamData,
    StreamGap,
)

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
REFERENCE = CORPUS / "exi-reference"


@lru_cache(maxsize=1)
def reference_vectors() -> dict[tuple[str, str, str], dict]:
    """(schema, message, variant) -> vector, from EXIficient's reference output."""
    out = {}
    for path in sorted(REFERENCE.glob("*/*.jsonl")):
        for line in path.read_text().splitlines():
            vec = json.loads(line)
            out[(path.parent.name, vec["message"], vec["variant"])] = vec
    return out


class OracleDecoder:
    """decode(data, schema) answering from the reference vectors: exactly what EXIficient
    decoded for those bytes; anything else raises like a codec would."""

    def __init__(self) -> None:
        self.table = {(bytes.fromhex(v["hex"]), schema): v["json"]
                      for (schema, _m, _v), v in reference_vectors().items()}
        self.calls: list[str] = []

    def __call__(self, data: bytes, schema: str) -> dict:
        self.calls.append(schema)
        try:
            return json.loads(json.dumps(self.table[(bytes(data), schema)]))
        except KeyError:
            raise ValueError(f"not decodable as {schema}") from None


def vector(schema: str, message: str, variant: str = "min") -> dict:
    return reference_vectors()[(schema, message, variant)]


CONN = Connection(0, Endpoint("fe80::2", 50000), Endpoint("fe80::1", 15118), "test.pcap")


def data_events(chunks: list[bytes], direction: int = 0, conn: Connection = CONN,
                start: int = 0, ts0: int = 1_000) -> list[StreamData]:
    """StreamData events for consecutive chunks, each chunk one frame (numbered from 1)."""
    out, offset = [], start
    for i, chunk in enumerate(chunks):
        ref = ByteRef(conn.source, i + 1, 54, len(chunk))
        out.append(StreamData(conn, direction, offset, chunk, ts0 + i, (ref,)))
        offset += len(chunk)
    return out


# --- real captures -------------------------------------------------------------------------

def _packets(path: Path) -> Iterator[tuple[int, int, bytes]]:
    with path.open("rb") as fh:
        magic = fh.read(4)
        fh.seek(0)
        reader = dpkt.pcapng.Reader(fh) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(fh)
        for number, (ts, buf) in enumerate(reader, start=1):
            yield number, int(round(ts * 1e9)), buf


class Segment(NamedTuple):
    frame: int
    ts_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    proto: str  # "tcp" or "udp"
    payload: bytes
    offset: int  # of the payload in the frame
    seq: int = 0
    flags: int = 0


def ipv6_segments(path: Path) -> Iterator[Segment]:
    """Every IPv6 TCP/UDP segment of an Ethernet capture, in file order."""
    for number, ts_ns, buf in _packets(path):
        try:
            eth = dpkt.ethernet.Ethernet(buf)
        except (dpkt.UnpackError, IndexError):
            continue
        ip = eth.data
        if not isinstance(ip, dpkt.ip6.IP6):
            continue
        l4 = ip.data
        if not isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
            continue
        payload = bytes(l4.data)
        src = socket.inet_ntop(socket.AF_INET6, ip.src)
        dst = socket.inet_ntop(socket.AF_INET6, ip.dst)
        if isinstance(l4, dpkt.tcp.TCP):
            yield Segment(number, ts_ns, src, l4.sport, dst, l4.dport, "tcp", payload,
                          len(buf) - len(payload), l4.seq, l4.flags)
        else:
            yield Segment(number, ts_ns, src, l4.sport, dst, l4.dport, "udp", payload,
                          len(buf) - len(payload))


def tcp_events(path: Path, source: str = "") -> list[StreamData | StreamGap]:
    """In-order TCP payload per connection (retransmissions dropped, holes as gaps)."""
    conns: dict[frozenset, Connection] = {}
    nxt: dict[tuple, int] = {}
    out: list[StreamData | StreamGap] = []
    for seg in ipv6_segments(path):
        if seg.proto != "tcp":
            continue
        ckey = frozenset({(seg.src, seg.sport), (seg.dst, seg.dport)})
        if ckey not in conns:
            if seg.flags & dpkt.tcp.TH_SYN and not seg.flags & dpkt.tcp.TH_ACK:
                client, server = Endpoint(seg.src, seg.sport), Endpoint(seg.dst, seg.dport)
            elif seg.sport > seg.dport:
                client, server = Endpoint(seg.src, seg.sport), Endpoint(seg.dst, seg.dport)
            else:
                client, server = Endpoint(seg.dst, seg.dport), Endpoint(seg.src, seg.sport)
            conns[ckey] = Connection(len(conns), client, server, source)
        conn = conns[ckey]
        direction = 0 if (seg.src, seg.sport) == (conn.client.ip, conn.client.port) else 1
        key = (conn.index, direction)
        if seg.flags & dpkt.tcp.TH_SYN:
            nxt[key] = seg.seq + 1
            continue
        if key not in nxt:
            nxt[key] = seg.seq
        origin_key = ("origin",) + key
        if origin_key not in nxt:
            nxt[origin_key] = nxt[key]
        origin = nxt[origin_key]
        payload, offset = seg.payload, seg.offset
        if not payload:
            continue
        rel = (seg.seq - origin) % (1 << 32)
        expected = (nxt[key] - origin) % (1 << 32)
        if rel + len(payload) <= expected:
            continue  # retransmission
        if rel < expected:
            cut = expected - rel
            payload, offset, rel = payload[cut:], offset + cut, expected
        if rel > expected:
            out.append(StreamGap(conn, direction, expected, rel - expected, seg.ts_ns))
        out.append(StreamData(conn, direction, rel, payload, seg.ts_ns,
                              (ByteRef(source, seg.frame, offset, len(payload)),)))
        nxt[key] = (origin + rel + len(payload)) % (1 << 32)
    return out
