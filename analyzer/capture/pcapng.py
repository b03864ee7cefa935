"""pcapng files: sections, interfaces, packet blocks and the side blocks around them.

The hot path (`walk_pcapng`) handles runs of well-formed Enhanced Packet Blocks; every
other block, and any EPB it declines, comes here one at a time. Bad blocks become
Problems, then reading resumes at the next plausible block (or stops, with a Problem).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chargescope.analyzer.capture import model as m
from chargescope.analyzer.capture.linktypes import is_known, linktype_name
from chargescope.analyzer.capture.walk import NEED_DATA, OTHER_BLOCK
from chargescope.analyzer.records import Frame

if TYPE_CHECKING:
    from chargescope.analyzer.capture.reader import CaptureFile
    from chargescope.analyzer.capture.source import ChunkReader

RESYNC_WINDOW = 8 * 1024 * 1024
PACKET_BLOCKS = (m.BLOCK_EPB, m.BLOCK_SPB, m.BLOCK_PB)
KNOWN_BLOCKS = frozenset((m.PCAPNG_SHB, m.BLOCK_IDB, m.BLOCK_PB, m.BLOCK_SPB, m.BLOCK_NRB,
                          m.BLOCK_ISB, m.BLOCK_EPB, m.BLOCK_DSB, m.BLOCK_CUSTOM,
                          m.BLOCK_CUSTOM_NOCOPY))
# if_tsoffset beyond this many ns is left to exact (big integer) arithmetic
_FAST_OFFSET_LIMIT = 1 << 62

OPT_END = 0
IF_NAME, IF_DESCRIPTION, IF_TSRESOL, IF_TSOFFSET = 2, 3, 9, 14
ISB_IFRECV, ISB_IFDROP = 4, 5
NRB_IPV4, NRB_IPV6 = 1, 2


@dataclass
class _Section:
    """What the block walk needs to know about the current section."""

    index: int = -1
    little: bool = True
    first_iface: int = 0
    fast: list[tuple[int, int, int]] = field(default_factory=list)  # (linktype, ns/unit, off ns)
    exact: list[tuple[int, int]] = field(default_factory=list)  # (units per second, offset ns)
    snaplens: list[int] = field(default_factory=list)


class _BadBlock(Exception):
    """A block whose body contradicts its type (raised and caught inside this module)."""


def read_pcapng(cap: CaptureFile, rd: ChunkReader) -> Iterator[list[Frame]]:
    """Batches of frames (one per buffer walk or slow block) of a pcapng file."""
    sec = _Section()
    walk = cap.impl.walk_pcapng
    source = cap.source
    pos = 0
    number = 0
    status = OTHER_BLOCK  # the first block is the Section Header: not for the fast path
    while True:
        if sec.index >= 0:
            out: list[Frame] = []
            pos, number, status, size, cut = walk(rd.buf, pos, sec.little, sec.fast,
                                                  sec.first_iface, number, rd.base, source, out)
            if out:
                cap.frames_read += len(out)
                cap.bytes_read += size
                cap.truncated += cut
                yield out
        if status == NEED_DATA and not rd.eof:
            pos = rd.more(pos)
            continue
        if status == NEED_DATA and rd.available(pos) == 0:
            if rd.error:
                cap.problem(m.P_GZIP, f"decompression stopped: {rd.error}", frame=number + 1,
                            offset=rd.base + pos)
            return
        slow: list[Frame] = []
        pos, number = _block(cap, rd, sec, pos, number, slow)
        if slow:
            cap.count(slow)
            yield slow
        if pos < 0:
            if rd.error:
                cap.problem(m.P_GZIP, f"decompression stopped: {rd.error}", frame=number + 1,
                            offset=rd.base + len(rd.buf))
            return
        status = OTHER_BLOCK


def _block(cap: CaptureFile, rd: ChunkReader, sec: _Section, pos: int, number: int,
           out: list[Frame]) -> tuple[int, int]:
    """Read the one block at `pos`; returns (position after it or -1 to stop, number)."""
    pos = rd.fill(pos, 12)
    buf = rd.buf
    left = rd.available(pos)
    offset = rd.base + pos
    if left < 12:
        cap.problem(m.P_GARBAGE, f"{left} bytes at offset {offset} after the last block are too "
                    "short for a pcapng block (12 bytes at least)", frame=number + 1,
                    offset=offset)
        return -1, number
    little = sec.little
    if buf[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
        bom = buf[pos + 8:pos + 12]
        if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
            cap.problem(m.P_PCAPNG_BLOCK_BODY, f"section header at offset {offset}: byte-order "
                        f"magic {bom.hex()} is neither 1a2b3c4d nor 4d3c2b1a", frame=number + 1,
                        offset=offset)
            return _resync(cap, rd, sec, pos, number), number
        little = bom == b"\x4d\x3c\x2b\x1a"
    e = "<" if little else ">"
    btype, total = struct.unpack_from(e + "II", buf, pos)
    packet = btype in PACKET_BLOCKS
    if total < 12 or total & 3 or total > m.MAX_BLOCK:
        pos = rd.fill(pos, 1 << 20)
        if btype not in KNOWN_BLOCKS and _nothing_after(rd, sec, pos):
            cap.problem(m.P_GARBAGE, f"{rd.available(pos)} bytes after the last block at offset "
                        f"{offset} are not a pcapng block", frame=number + 1, offset=offset)
            return -1, number
        cap.problem(m.P_PCAPNG_BLOCK_LENGTH, f"block type 0x{btype:08x} at offset {offset}: "
                    f"total length {total}, expected a multiple of 4 from 12 to {m.MAX_BLOCK}",
                    frame=number + 1, offset=offset)
        cap.malformed += packet
        return _resync(cap, rd, sec, pos, number), number
    pos = rd.fill(pos, total)
    buf = rd.buf
    if rd.available(pos) < total:
        if btype in KNOWN_BLOCKS:
            cap.problem(m.P_PCAPNG_BLOCK_TRUNCATED, f"block type 0x{btype:08x} at offset {offset} "
                        f"declares {total} bytes, only {rd.available(pos)} remain",
                        frame=number + 1, offset=offset)
            cap.malformed += packet
        else:
            cap.problem(m.P_GARBAGE, f"{rd.available(pos)} bytes after the last block at offset "
                        f"{offset} are not a pcapng block", frame=number + 1, offset=offset)
        return -1, number
    (trailer,) = struct.unpack_from(e + "I", buf, pos + total - 4)
    if trailer != total:
        cap.problem(m.P_PCAPNG_BLOCK_TRAILER, f"block type 0x{btype:08x} at offset {offset}: "
                    f"trailing total length {trailer} differs from leading {total}",
                    frame=number + 1, offset=offset)
        cap.malformed += packet
        return _resync(cap, rd, sec, pos, number), number
    body = buf[pos + 8:pos + total - 4]
    try:
        number = _dispatch(cap, sec, btype, little, body, offset, number, out)
    except _BadBlock as exc:
        cap.problem(m.P_PCAPNG_BLOCK_BODY, f"block type 0x{btype:08x} at offset {offset}: {exc}",
                    frame=number + 1, offset=offset)
        cap.malformed += packet
    return pos + total, number


def _dispatch(cap: CaptureFile, sec: _Section, btype: int, little: bool, body: bytes,
              offset: int, number: int, out: list[Frame]) -> int:
    e = "<" if little else ">"
    if btype == m.PCAPNG_SHB:
        _section_header(cap, sec, little, body, offset)
    elif sec.index < 0:
        raise _BadBlock("comes before any section header")
    elif btype == m.BLOCK_IDB:
        _interface(cap, sec, e, body, offset)
    elif btype in (m.BLOCK_EPB, m.BLOCK_PB):
        if len(body) < 20:
            raise _BadBlock(f"packet block body of {len(body)} bytes, expected at least 20")
        if btype == m.BLOCK_EPB:
            iface, ts_high, ts_low, caplen, wirelen = struct.unpack_from(e + "IIIII", body)
        else:
            iface, _drops, ts_high, ts_low, caplen, wirelen = struct.unpack_from(e + "HHIIII", body)
        if iface >= len(sec.fast):
            cap.problem(m.P_PCAPNG_INTERFACE, f"packet block at offset {offset} names interface "
                        f"{iface}, the section has {len(sec.fast)}", frame=number + 1,
                        offset=offset)
            cap.malformed += 1
            return number
        if caplen > len(body) - 20:
            raise _BadBlock(f"captured length {caplen} exceeds the {len(body) - 20} bytes of data")
        units, offset_ns = sec.exact[iface]
        ts_ns = ((ts_high << 32) | ts_low) * 1_000_000_000 // units + offset_ns
        number += 1
        out.append(Frame(number, ts_ns, sec.fast[iface][0], body[20:20 + caplen], wirelen,
                         sec.first_iface + iface, cap.source, offset))
    elif btype == m.BLOCK_SPB:
        if len(body) < 4:
            raise _BadBlock(f"simple packet block body of {len(body)} bytes, expected at least 4")
        if not sec.fast:
            cap.problem(m.P_PCAPNG_INTERFACE, f"simple packet block at offset {offset} needs "
                        "interface 0, the section has none", frame=number + 1, offset=offset)
            cap.malformed += 1
            return number
        (wirelen,) = struct.unpack_from(e + "I", body)
        caplen = min(wirelen, len(body) - 4, sec.snaplens[0] or wirelen)
        number += 1
        # an SPB carries no timestamp: 0, as tshark shows it
        out.append(Frame(number, 0, sec.fast[0][0], body[4:4 + caplen], wirelen,
                         sec.first_iface, cap.source, offset))
    elif btype == m.BLOCK_NRB:
        _names(cap, sec, e, body)
    elif btype == m.BLOCK_ISB:
        _statistics(cap, sec, e, body)
    elif btype == m.BLOCK_DSB:
        if len(body) < 8:
            raise _BadBlock(f"decryption secrets body of {len(body)} bytes, expected at least 8")
        stype, length = struct.unpack_from(e + "II", body)
        if length > len(body) - 8:
            raise _BadBlock(f"secrets length {length} exceeds the {len(body) - 8} bytes present")
        cap.secrets.append(m.Secret(stype, body[8:8 + length], sec.index, offset))
    elif btype in (m.BLOCK_CUSTOM, m.BLOCK_CUSTOM_NOCOPY):
        # Wireshark lists custom blocks as records, so they take a frame number: our
        # numbers stay the ones a user sees in Wireshark, with a gap where the block was
        number += 1
        cap.skipped_blocks += 1
    else:  # block types we do not know: skipped by length
        cap.skipped_blocks += 1
    return number


def _section_header(cap: CaptureFile, sec: _Section, little: bool, body: bytes,
                    offset: int) -> None:
    if len(body) < 16:
        raise _BadBlock(f"section header body of {len(body)} bytes, expected at least 16")
    major, minor = struct.unpack_from(("<" if little else ">") + "HH", body, 4)
    sec.index += 1
    sec.little = little
    sec.first_iface = len(cap.interfaces)
    sec.fast, sec.exact, sec.snaplens = [], [], []
    cap.sections += 1
    cap.version = f"{major}.{minor}"
    if major != 1:
        cap.problem(m.P_PCAPNG_SECTION_VERSION, f"section header at offset {offset}: version "
                    f"{major}.{minor}, expected 1.x; reading it as 1.0", offset=offset)


def _interface(cap: CaptureFile, sec: _Section, e: str, body: bytes, offset: int) -> None:
    if len(body) < 8:
        raise _BadBlock(f"interface description body of {len(body)} bytes, expected at least 8")
    linktype, _reserved, snaplen = struct.unpack_from(e + "HHI", body)
    name = description = ""
    units, tsoffset = 1_000_000, 0
    for code, value in _options(cap, e, body, 8, offset):
        if code == IF_NAME:
            name = value.decode("utf-8", "replace").rstrip("\0")
        elif code == IF_DESCRIPTION:
            description = value.decode("utf-8", "replace").rstrip("\0")
        elif code == IF_TSRESOL and len(value) >= 1:
            exponent = value[0] & 0x7F
            units = (2 if value[0] & 0x80 else 10) ** exponent
        elif code == IF_TSOFFSET and len(value) >= 8:
            (tsoffset,) = struct.unpack_from(e + "q", value)
    index = len(cap.interfaces)
    cap.add_interface(m.Interface(index, linktype, snaplen, name, units, tsoffset, sec.index,
                                  description))
    offset_ns = tsoffset * 1_000_000_000
    ns_per_unit = 1_000_000_000 // units if 1_000_000_000 % units == 0 else 0
    if abs(offset_ns) >= _FAST_OFFSET_LIMIT:  # exact arithmetic only; keep C ints in range
        ns_per_unit = 0
    sec.fast.append((linktype, ns_per_unit, offset_ns if ns_per_unit else 0))
    sec.exact.append((units, offset_ns))
    sec.snaplens.append(snaplen)
    if not is_known(linktype):
        cap.problem(m.P_PCAPNG_LINKTYPE, f"interface {index} at offset {offset}: link type "
                    f"{linktype} ({linktype_name(linktype)}) is not one chargescope decodes; its "
                    "frames are read but counted out of scope", offset=offset)


def _options(cap: CaptureFile, e: str, body: bytes, start: int,
             offset: int) -> Iterator[tuple[int, bytes]]:
    """(code, value) pairs of a block's options; a malformed option ends the list with a Problem."""
    pos = start
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(e + "HH", body, pos)
        if code == OPT_END:
            return
        if pos + 4 + length > len(body):
            cap.problem(m.P_PCAPNG_OPTION, f"block at offset {offset}: option {code} of length "
                        f"{length} runs past the block end", offset=offset + 8 + pos)
            return
        yield code, body[pos + 4:pos + 4 + length]
        pos += 4 + ((length + 3) & ~3)


def _names(cap: CaptureFile, sec: _Section, e: str, body: bytes) -> None:
    pos = 0
    while pos + 4 <= len(body):
        rtype, length = struct.unpack_from(e + "HH", body, pos)
        value = body[pos + 4:pos + 4 + length]
        if rtype == 0 or len(value) < length:
            return
        size = 4 if rtype == NRB_IPV4 else 16 if rtype == NRB_IPV6 else 0
        if size and length > size:
            address = str(ipaddress.ip_address(value[:size]))
            names = tuple(n.decode("utf-8", "replace") for n in value[size:].split(b"\0") if n)
            cap.names.append(m.NameRecord(address, names, sec.index))
        pos += 4 + ((length + 3) & ~3)


def _statistics(cap: CaptureFile, sec: _Section, e: str, body: bytes) -> None:
    if len(body) < 12:
        raise _BadBlock(f"interface statistics body of {len(body)} bytes, expected at least 12")
    iface, ts_high, ts_low = struct.unpack_from(e + "III", body)
    received = dropped = None
    for code, value in _options(cap, e, body, 12, 0):
        if code == ISB_IFRECV and len(value) >= 8:
            (received,) = struct.unpack_from(e + "Q", value)
        elif code == ISB_IFDROP and len(value) >= 8:
            (dropped,) = struct.unpack_from(e + "Q", value)
    ts_ns = 0
    if iface < len(sec.exact):
        units, offset_ns = sec.exact[iface]
        ts_ns = ((ts_high << 32) | ts_low) * 1_000_000_000 // units + offset_ns
    cap.stats.append(m.InterfaceStats(sec.first_iface + iface, ts_ns, received, dropped,
                                      sec.index))


def _candidate(rd: ChunkReader, sec: _Section, at: int) -> tuple[str, int]:
    """(byte order, total length) of a block header at `at` that looks sane, else ("", 0)."""
    buf = rd.buf
    little = sec.little
    if buf[at:at + 4] == b"\x0a\x0d\x0d\x0a":
        bom = buf[at + 8:at + 12]
        if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
            return "", 0
        little = bom == b"\x4d\x3c\x2b\x1a"
    e = "<" if little else ">"
    btype, total = struct.unpack_from(e + "II", buf, at)
    if btype not in KNOWN_BLOCKS or total < 12 or total & 3 or total > m.MAX_BLOCK:
        return "", 0
    return e, total


def _plausible_block(rd: ChunkReader, sec: _Section, at: int) -> bool:
    """A whole block at `at` (known type, sane and matching totals) within the buffer."""
    if rd.available(at) < 12:
        return False
    e, total = _candidate(rd, sec, at)
    if not total or rd.available(at) < total:
        return False
    return struct.unpack_from(e + "I", rd.buf, at + total - 4)[0] == total


def _resync(cap: CaptureFile, rd: ChunkReader, sec: _Section, pos: int, number: int) -> int:
    """Position of the next block that looks whole (known type, matching totals), or -1."""
    start = rd.base + pos
    cand = pos + 4
    while rd.base + cand - start <= RESYNC_WINDOW:
        cand = rd.fill(cand, 12)
        if rd.available(cand) < 12:
            break
        _e, total = _candidate(rd, sec, cand)
        if total:
            cand = rd.fill(cand, total)
            if _plausible_block(rd, sec, cand):
                cap.problem(m.P_PCAPNG_RESYNC, f"skipped {rd.base + cand - start} bytes from "
                            f"offset {start} to the next plausible block at offset "
                            f"{rd.base + cand}", frame=number + 1, offset=rd.base + cand)
                return cand
        cand += 4
    cap.problem(m.P_PCAPNG_RESYNC, f"no plausible block after offset {start}; reading stopped",
                frame=number + 1, offset=start)
    return -1


def _nothing_after(rd: ChunkReader, sec: _Section, pos: int) -> bool:
    """True when no plausible block follows `pos` before the end of the file's buffer."""
    if not rd.eof:
        return False
    return not any(_plausible_block(rd, sec, at) for at in range(pos + 4, len(rd.buf) - 11, 4))
