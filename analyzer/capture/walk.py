"""Record walking, the hot path of capture reading: pure-Python twin of `ext/_capture.pyx`.

Both modules expose the same two functions with the same contract. They walk the
well-formed records of one buffer, append a `Frame` per record to `out`, and return
``(pos, number, status, captured_bytes, truncated)`` when they cannot go on (the last two
count the bytes and the snaplen-cut frames they appended, so callers need no second pass):

- ``NEED_DATA``: the record at `pos` is not complete in `buf` (the caller reads more);
- ``OTHER_BLOCK`` (pcapng only): the block at `pos` is not a fast-path EPB (another block
  type, an interface whose timestamps need exact big-integer arithmetic);
- ``BAD_RECORD``: the record at `pos` has implausible lengths or fields; the caller
  diagnoses it (one Python function for both twins, so Problems are identical) and resyncs.

Everything unusual is left to the caller; these loops only do the common case, fast.
"""

from __future__ import annotations

import struct

from chargescope.analyzer.capture.model import MAX_BLOCK, MAX_CAPLEN
from chargescope.analyzer.records import Frame

NEED_DATA = 0
OTHER_BLOCK = 1
BAD_RECORD = 2

_EPB = 6
_INT64_MAX = (1 << 63) - 1

_PCAP_LE = struct.Struct("<IIII")
_PCAP_BE = struct.Struct(">IIII")
_HEAD_LE = struct.Struct("<II")
_HEAD_BE = struct.Struct(">II")
_EPB_LE = struct.Struct("<IIIII")
_EPB_BE = struct.Struct(">IIIII")
_U32_LE = struct.Struct("<I")
_U32_BE = struct.Struct(">I")


def walk_pcap(buf: bytes, pos: int, little: bool, nano: bool, linktype: int,
              number: int, base: int, source: str,
              out: list) -> tuple[int, int, int, int, int]:
    """Frames of the complete pcap records in ``buf[pos:]`` (classic libpcap format)."""
    header = _PCAP_LE if little else _PCAP_BE
    unpack = header.unpack_from
    frac_scale = 1 if nano else 1000
    end = len(buf)
    append = out.append
    size = cut = 0
    while True:
        if end - pos < 16:
            return pos, number, NEED_DATA, size, cut
        sec, frac, caplen, wirelen = unpack(buf, pos)
        if caplen > MAX_CAPLEN:
            return pos, number, BAD_RECORD, size, cut
        start = pos + 16
        stop = start + caplen
        if stop > end:
            return pos, number, NEED_DATA, size, cut
        number += 1
        size += caplen
        cut += caplen < wirelen
        append(Frame(number, sec * 1_000_000_000 + frac * frac_scale, linktype,
                     buf[start:stop], wirelen, 0, source, base + pos))
        pos = stop


def walk_pcapng(buf: bytes, pos: int, little: bool, ifaces: list[tuple[int, int, int]],
                first_iface: int, number: int, base: int, source: str,
                out: list) -> tuple[int, int, int, int, int]:
    """Frames of consecutive Enhanced Packet Blocks in ``buf[pos:]``.

    `ifaces` holds, per interface of the current section, ``(linktype, ns_per_unit,
    offset_ns)``; ``ns_per_unit == 0`` means the resolution does not divide a second
    into whole nanoseconds and the caller converts. `first_iface` is the file-wide index
    of the section's interface 0.
    """
    head = _HEAD_LE if little else _HEAD_BE
    body = _EPB_LE if little else _EPB_BE
    u32 = _U32_LE if little else _U32_BE
    unpack_head = head.unpack_from
    unpack_body = body.unpack_from
    trailer = u32.unpack_from
    end = len(buf)
    count = len(ifaces)
    append = out.append
    size = cut = 0
    while True:
        if end - pos < 8:
            return pos, number, NEED_DATA, size, cut
        btype, total = unpack_head(buf, pos)
        if btype != _EPB:
            return pos, number, OTHER_BLOCK, size, cut
        if total < 32 or total & 3 or total > MAX_BLOCK:
            return pos, number, BAD_RECORD, size, cut
        if end - pos < total:
            return pos, number, NEED_DATA, size, cut
        iface, ts_high, ts_low, caplen, wirelen = unpack_body(buf, pos + 8)
        if trailer(buf, pos + total - 4)[0] != total or iface >= count or caplen > total - 32:
            return pos, number, BAD_RECORD, size, cut
        linktype, ns_per_unit, offset_ns = ifaces[iface]
        ts = (ts_high << 32) | ts_low
        if ns_per_unit == 0 or ts > (_INT64_MAX - offset_ns) // ns_per_unit:
            return pos, number, OTHER_BLOCK, size, cut
        number += 1
        size += caplen
        cut += caplen < wirelen
        append(Frame(number, ts * ns_per_unit + offset_ns, linktype,
                     buf[pos + 28:pos + 28 + caplen], wirelen, first_iface + iface, source,
                     base + pos))
        pos += total
