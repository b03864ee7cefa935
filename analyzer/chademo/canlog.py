"""CAN recordings in, `CanFrame`s and `Problem`s out, whatever the recording format.

Formats, sniffed from the content (never the file name):

- pcap / pcapng with SocketCAN link types (see `can.py`), through the capture reader;
- `candump -l` log lines: ``(1436509052.249713) can0 100#0600000000B301F0``
  (``##<flags>`` for CAN FD, ``R`` for remote frames);
- candump ASCII output (``-ta``, ``-tA``, ``-td``, ``-tz`` or no timestamp):
  `` (2022-06-02 22:49:58.125771)  can1  100   [8]  06 00 00 00 B3 01 F0 00``;
- SavvyCAN CSV: ``Time Stamp,ID,Extended,Dir,Bus,LEN,D1..D8`` with µs time stamps;
- the CANDue text log: ``Rcvd msgID: 0x100; 06; 00; ...; 00  00:00:41.611``.

Text lines that match none of the line grammars of the sniffed format become
`can.log.bad_line` Problems (header and comment lines of candump output excepted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from chargescope.analyzer.chademo.can import CAN_LINKTYPES, CanFrame, can_from_frame
from chargescope.analyzer.records import Problem

P_BAD_LINE = "can.log.bad_line"  # looks like a frame line but does not parse
P_TEXT_LINE = "can.log.text_line"  # free text between frames (annotations, logger chatter)
_FRAME_LIKE = re.compile(r"^\s*(\(|\S*Rcvd msgID|\S+\s+[0-9A-Fa-f]{1,8}\s+\[|\d+,)")
P_NOT_CAN = "can.capture.no_can"

_CANDUMP_L = re.compile(
    r"^\((?P<ts>\d+\.\d+)\)\s+(?P<iface>\S+)\s+(?P<id>[0-9A-Fa-f]{1,8})"
    r"(?P<sep>##?)(?P<data>[0-9A-Fa-f.]*|R\d?)(?:\s+[RT])?\s*$")  # python-can adds R/T
_CANDUMP_ASCII = re.compile(
    r"^\s*(?:\((?P<ts>[^)]*)\)\s+)?(?P<iface>\S+)\s+(?:[RT]X\s+\S+\s+\S+\s+)?"  # -x: RX - -
    r"(?P<id>[0-9A-Fa-f]{1,8})\s+"
    r"\[(?P<len>\d{1,2})\]\s*(?P<data>(?:[0-9A-Fa-f]{2}\s*)*|remote request)\s*(?:'.*')?$")
_CANDUE = re.compile(
    r"^Rcvd msgID:\s*0x(?P<id>[0-9A-Fa-f]{1,8})(?P<data>(?:;\s*[0-9A-Fa-f]{1,2})*)\s+"
    r"(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<ms>\d{1,6}))?\s*$")
_SAVVY_HEADER = "time stamp,id,extended,dir,bus,len"


@dataclass(slots=True)
class CanRecording:
    """What one recording held: frames in file order, problems, the format read."""

    source: str
    format: str
    frames: list[CanFrame] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class NotACanRecording(Exception):
    """Neither a capture nor a CAN text log this module reads."""


def _seconds_ns(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


def _ascii_ts_ns(text: str) -> int:
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _seconds_ns(text)
    # -tA: local wall-clock date without zone; read as UTC (the log does not say)
    date = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(date.timestamp()) * 1_000_000_000 + date.microsecond * 1000


def sniff_text(head: list[str]) -> str | None:
    """The text log format of these first lines, or None."""
    for line in head:
        s = line.strip()
        if not s:
            continue
        if s.lower().startswith(_SAVVY_HEADER):
            return "savvycan-csv"
        if _CANDUMP_L.match(s):
            return "candump-l"
        if _CANDUE.match(s):
            return "candue"
        if _CANDUMP_ASCII.match(line.rstrip("\n")):
            return "candump-ascii"
    return None


def _parse_candump_l(m: re.Match, number: int, source: str) -> CanFrame:
    raw_id, data = m["id"], m["data"]
    extended = len(raw_id) > 3
    fd = m["sep"] == "##"
    if fd:
        data = data[1:]  # the flags nibble after ##
    rtr = data.startswith("R")
    payload = b"" if rtr else bytes.fromhex(data.replace(".", ""))
    return CanFrame(number, _seconds_ns(m["ts"]), int(raw_id, 16), payload, extended, rtr,
                    False, fd, m["iface"], source)


def _parse_candump_ascii(m: re.Match, number: int, source: str, last_ns: int) -> CanFrame:
    raw_id = m["id"]
    rtr = m["data"] == "remote request"
    payload = b"" if rtr else bytes.fromhex(m["data"].replace(" ", ""))
    if not rtr and len(payload) != int(m["len"]):
        raise ValueError(f"[{m['len']}] announced, {len(payload)} data bytes present")
    ts = m["ts"]
    # no timestamp (plain candump): frames keep the previous time; -td/-tz stay relative
    ts_ns = last_ns if ts is None else _ascii_ts_ns(ts)
    return CanFrame(number, ts_ns, int(raw_id, 16), payload, len(raw_id) > 3, rtr, False,
                    False, m["iface"], source)


def _parse_candue(m: re.Match, number: int, source: str) -> CanFrame:
    data = bytes(int(b, 16) for b in m["data"].replace(";", " ").split())
    ms = int(((m["ms"] or "0") + "000000")[:6])
    ts_ns = ((int(m["h"]) * 60 + int(m["m"])) * 60 + int(m["s"])) * 1_000_000_000 + ms * 1000
    return CanFrame(number, ts_ns, int(m["id"], 16), data, len(m["id"]) > 3, source=source)


def _parse_savvy(cells: list[str], number: int, source: str) -> CanFrame:
    length = int(cells[5])
    data = bytes(int(c, 16) for c in cells[6:6 + length])
    if len(data) != length:
        raise ValueError(f"LEN {length}, {len(data)} data columns present")
    return CanFrame(number, int(cells[0]) * 1000, int(cells[1], 16), data,
                    cells[2].strip().lower() == "true", interface=cells[4].strip(), source=source)


def read_text_log(path: Path) -> CanRecording:
    """A CAN text log; raises NotACanRecording when no line matches a known format."""
    source = str(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
    fmt = sniff_text(lines[:50])
    if fmt is None:
        raise NotACanRecording(f"{source}: no candump, SavvyCAN or CANDue line in the first 50")
    rec = CanRecording(source, fmt)
    last_ns = 0
    seen_frame = False
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        number = len(rec.frames) + 1
        try:
            if fmt == "savvycan-csv":
                if text.lower().startswith(_SAVVY_HEADER):
                    continue
                frame = _parse_savvy(text.rstrip(",").split(","), number, source)
            else:
                grammar = {"candump-l": _CANDUMP_L, "candue": _CANDUE,
                           "candump-ascii": _CANDUMP_ASCII}[fmt]
                m = grammar.match(line.rstrip("\n") if fmt == "candump-ascii" else text)
                if m is None:
                    # candump -ta files often carry a text header before the first frame
                    if fmt == "candump-ascii" and not seen_frame:
                        continue
                    raise ValueError("line matches no frame grammar of " + fmt)
                if fmt == "candump-l":
                    frame = _parse_candump_l(m, number, source)
                elif fmt == "candue":
                    frame = _parse_candue(m, number, source)
                else:
                    frame = _parse_candump_ascii(m, number, source, last_ns)
        except (ValueError, IndexError) as exc:
            kind = P_BAD_LINE if _FRAME_LIKE.match(line) else P_TEXT_LINE
            rec.problems.append(Problem(kind, f"line {lineno}: {exc}: {text[:60]!r}", source,
                                        0, 0, "file"))
            continue
        seen_frame = True
        last_ns = frame.ts_ns
        rec.frames.append(frame)
    return rec


def read_capture(path: Path) -> CanRecording:
    """The CAN frames of a pcap/pcapng (SocketCAN or cooked-CAN link types)."""
    from chargescope.analyzer.capture import open_capture

    with open_capture(path) as cap:
        rec = CanRecording(str(path), cap.format)
        others = 0
        for frame in cap.frames():
            got = can_from_frame(frame) if frame.linktype in CAN_LINKTYPES else None
            if got is None:
                others += 1
            elif isinstance(got, Problem):
                rec.problems.append(got)
            else:
                rec.frames.append(got)
        rec.problems.extend(p for p in cap.problems if p.kind not in (
            "pcap.linktype.unknown", "pcapng.linktype.unknown"))
    if others and not rec.frames:
        rec.problems.append(Problem(P_NOT_CAN, f"{others} frames, none of them CAN "
                                    "(SocketCAN or Linux cooked CAN)", str(path)))
    return rec


def is_capture(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                    b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a") or head[:2] == b"\x1f\x8b"


def read_recording(path: str | Path) -> CanRecording:
    """Any supported recording: capture when the magic says so, text log otherwise."""
    path = Path(path)
    if is_capture(path):
        return read_capture(path)
    return read_text_log(path)


def is_can_log(path: Path) -> bool:
    """A CAN text log this module reads (cheap: the first lines only)."""
    try:
        if is_capture(path):
            return False
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = [fh.readline() for _ in range(50)]
    except OSError:
        return False
    return sniff_text(head) is not None


def iter_frames(path: str | Path) -> Iterator[CanFrame | Problem]:
    rec = read_recording(path)
    yield from rec.frames
    yield from rec.problems
