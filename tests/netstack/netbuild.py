"""Byte builders for link/IP/transport headers, for tests that need exact frames."""

from __future__ import annotations

import struct


def eth(ethertype: int, payload: bytes, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    out = bytes.fromhex("020000000002020000000001")
    for tpid, vid in tags:
        out += struct.pack(">HH", tpid, vid)
    return out + struct.pack(">H", ethertype) + payload


def ipv4(proto: int, payload: bytes, *, ihl: int = 5, total: int | None = None,
         flags_frag: int = 0, ident: int = 1, src: bytes = bytes([10, 0, 0, 1]),
         dst: bytes = bytes([10, 0, 0, 2])) -> bytes:
    options = b"\x01" * (ihl * 4 - 20)
    total = 20 + len(options) + len(payload) if total is None else total
    return struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, flags_frag, 64, proto, 0,
                       src, dst) + options + payload


def ipv6(nxt: int, payload: bytes) -> bytes:
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), nxt, 64,
                       bytes.fromhex("fe800000000000000000000000000001"),
                       bytes.fromhex("20010db8000000000000000000000002")) + payload


def tcp(payload: bytes = b"", *, flags: int = 0x18, offset_words: int = 5,
        sport: int = 40000, dport: int = 15118, seq: int = 0xFFFFFFF0, ack: int = 7) -> bytes:
    options = b"\x01" * (offset_words * 4 - 20)
    return struct.pack(">HHIIBBHHH", sport, dport, seq % (1 << 32), ack, offset_words << 4,
                       flags, 512, 0, 0) + options + payload


def udp(payload: bytes, length: int | None = None) -> bytes:
    return struct.pack(">HHHH", 15118, 49152, 8 + len(payload) if length is None else length,
                       0) + payload
