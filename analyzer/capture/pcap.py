"""Classic libpcap files: header, record loop, diagnosis and resync of bad records."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING

from chargescope.analyzer.capture import model as m
from chargescope.analyzer.capture.linktypes import is_known, linktype_name
from chargescope.analyzer.capture.walk import NEED_DATA
from chargescope.analyzer.records import Frame

if TYPE_CHECKING:
    from chargescope.analyzer.capture.reader import CaptureFile
    from chargescope.analyzer.capture.source import ChunkReader

# How far a resync may look for the next plausible record before giving up.
RESYNC_WINDOW = 8 * 1024 * 1024
# A resynced record's timestamp must lie within this many seconds of the last good one.
RESYNC_TIME_SLACK = 366 * 86400



def pcap_byte_order(magic4: bytes) -> tuple[bool, bool] | None:
    """(little-endian, nanosecond) for a pcap magic, None if it is not one."""
    for little, fmt in ((True, "<I"), (False, ">I")):
        value = struct.unpack(fmt, magic4)[0]
        if value == m.PCAP_MAGIC_US:
            return little, False
        if value == m.PCAP_MAGIC_NS:
            return little, True
    return None


def read_pcap(cap: CaptureFile, rd: ChunkReader) -> Iterator[list[Frame]]:
    """Batches of frames (one per buffer walk) of a pcap file; problems go to `cap`."""
    pos = rd.fill(0, 24)
    order = pcap_byte_order(rd.buf[:4])
    assert order is not None  # sniffed by the caller
    little, nano = order
    if rd.available(pos) < 24:
        cap.problem(m.P_PCAP_HEADER, f"pcap file header needs 24 bytes, file has {rd.available(pos)}",
                    offset=0)
        return
    e = "<" if little else ">"
    _magic, major, minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(
        e + "IHHiIII", rd.buf, pos)
    linktype = network & 0xFFFF
    cap.version = f"{major}.{minor}"
    cap.add_interface(m.Interface(0, linktype, snaplen,
                                  tsresol=1_000_000_000 if nano else 1_000_000))
    if not is_known(linktype):
        cap.problem(m.P_PCAP_LINKTYPE, f"link type {linktype} ({linktype_name(linktype)}) is not "
                    "one chargescope decodes; its frames are read but counted out of scope",
                    offset=20)
    walk = cap.impl.walk_pcap
    source = cap.source
    frac_limit = 1_000_000_000 if nano else 1_000_000
    header = struct.Struct(e + "IIII")
    pos += 24
    number = 0
    last_sec: int | None = None
    out: list[Frame] = []
    while True:
        pos, number, status, size, cut = walk(rd.buf, pos, little, nano, linktype, number,
                                              rd.base, source, out)
        if out:
            last_sec = out[-1].ts_ns // 1_000_000_000
            cap.frames_read += len(out)
            cap.bytes_read += size
            cap.truncated += cut
            yield out
            out = []
        if status == NEED_DATA:
            if not rd.eof:
                pos = rd.more(pos)
                continue
            _at_end(cap, rd, pos, number, header, frac_limit, last_sec)
            return
        # BAD_RECORD: say what is wrong, then look for the next plausible record
        offset = rd.base + pos
        caplen = header.unpack_from(rd.buf, pos)[2]
        pos = _resync(rd, pos, header, frac_limit, last_sec)
        if pos < 0 and rd.eof:
            cap.problem(m.P_GARBAGE, f"{rd.base + len(rd.buf) - offset} bytes after the last "
                        f"record at offset {offset} are not a pcap record", frame=number + 1,
                        offset=offset)
            return
        cap.problem(m.P_PCAP_RECORD_LENGTH, f"record header at offset {offset}: captured length "
                    f"{caplen} exceeds the maximum {m.MAX_CAPLEN}", frame=number + 1,
                    offset=offset)
        cap.malformed += 1
        if pos < 0:
            cap.problem(m.P_PCAP_RESYNC, f"no plausible record header within {RESYNC_WINDOW} "
                        f"bytes after offset {offset}; reading stopped", frame=number + 1,
                        offset=offset)
            return
        cap.problem(m.P_PCAP_RESYNC, f"skipped {rd.base + pos - offset} bytes from offset "
                    f"{offset} to the next plausible record at offset {rd.base + pos}",
                    frame=number + 1, offset=rd.base + pos)


def _plausible(header: struct.Struct, buf: bytes, at: int, frac_limit: int,
               last_sec: int | None) -> int:
    """Length of the record at `at` if its header looks real, else -1."""
    sec, frac, caplen, wirelen = header.unpack_from(buf, at)
    if (frac >= frac_limit or wirelen == 0 or caplen > wirelen or caplen > m.MAX_CAPLEN
            or wirelen > 4 * m.MAX_CAPLEN):
        return -1
    if last_sec is not None and abs(sec - last_sec) > RESYNC_TIME_SLACK:
        return -1
    return 16 + caplen


def _resync(rd: ChunkReader, pos: int, header: struct.Struct, frac_limit: int,
            last_sec: int | None) -> int:
    """Position of the next record whose header and successor both look real, or -1."""
    start = rd.base + pos
    cand = rd.fill(pos, 2 * m.MAX_CAPLEN + 64) + 1
    while rd.base + cand - start <= RESYNC_WINDOW:
        if rd.available(cand) < 2 * m.MAX_CAPLEN + 48 and not rd.eof:
            cand = rd.fill(cand, 2 * m.MAX_CAPLEN + 64)
        if rd.available(cand) < 16:
            return -1
        length = _plausible(header, rd.buf, cand, frac_limit, last_sec)
        if length > 0:
            left = len(rd.buf) - (cand + length)
            if left == 0 or (left >= 16 and _plausible(header, rd.buf, cand + length,
                                                       frac_limit, last_sec) > 0):
                return cand
        cand += 1
    return -1


def _at_end(cap: CaptureFile, rd: ChunkReader, pos: int, number: int, header: struct.Struct,
            frac_limit: int, last_sec: int | None) -> None:
    """The file ended inside a record: truncated last record, or garbage after the end."""
    left = rd.available(pos)
    if rd.error:
        cap.problem(m.P_GZIP, f"decompression stopped: {rd.error}", frame=number + 1,
                    offset=rd.base + pos)
    if left == 0:
        return
    offset = rd.base + pos
    if left < 16:
        cap.problem(m.P_PCAP_RECORD_TRUNCATED, f"record header at offset {offset} needs 16 bytes, "
                    f"only {left} remain", frame=number + 1, offset=offset)
        cap.malformed += 1
        return
    sec, frac, caplen, wirelen = header.unpack_from(rd.buf, pos)
    if _plausible(header, rd.buf, pos, frac_limit, last_sec) < 0:
        cap.problem(m.P_GARBAGE, f"{left} bytes after the last record at offset {offset} are not "
                    "a pcap record", frame=number + 1, offset=offset)
        return
    cap.problem(m.P_PCAP_RECORD_TRUNCATED, f"record at offset {offset} declares {caplen} "
                f"captured bytes, only {left - 16} remain", frame=number + 1, offset=offset)
    cap.malformed += 1
