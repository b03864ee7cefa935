"""Write the deliberately corrupted capture set under tests/data/hostile/.

`python -m tools.make_hostile [OUT_DIR]` rebuilds every case from the clean OCPP test
capture (tests/data/ocpp/ocpp16_basic.pcap, classic pcap, Ethernet, OCPP 1.6 over
WebSocket). Each case is a capture file and a `<name>.expected.json` listing the exact
problem records the analyser must report, ``{"kind", "where", "frame", "offset"}``:
offset is the byte position in the file for the capture reader's problems, in the
frame for the link/IP decode's, in the TCP direction's byte stream for the stream
dissectors', in the unit for OCPP's.

The clean capture already holds one deliberate error (frame 40: a JSON text cut at char
24, `ocpp.json.syntax`); it stays in every case unless the damage swallows it, and its
frame number moves when the damage costs a record.

The expectations follow from how each file was damaged (which record, which byte), not
from running the analyser: `CASES` states them next to the damage.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLEAN = REPO / "tests" / "data" / "ocpp" / "ocpp16_basic.pcap"
OUT = REPO / "tests" / "data" / "hostile"
GLOBAL = 24  # pcap file header
RECORD = 16  # pcap record header


@dataclass(frozen=True, slots=True)
class Record:
    offset: int  # of the record header in the file
    ts_sec: int
    ts_frac: int
    wirelen: int
    data: bytes


def read_pcap(raw: bytes) -> tuple[bytes, list[Record]]:
    """The clean little-endian pcap: (file header, records). Only for our own seed."""
    records, pos = [], GLOBAL
    while pos + RECORD <= len(raw):
        sec, frac, incl, orig = struct.unpack_from("<IIII", raw, pos)
        records.append(Record(pos, sec, frac, orig, raw[pos + RECORD:pos + RECORD + incl]))
        pos += RECORD + incl
    return raw[:GLOBAL], records


def write_pcap(header: bytes, records: list[Record]) -> bytes:
    return header + b"".join(struct.pack("<IIII", r.ts_sec, r.ts_frac, len(r.data), r.wirelen)
                             + r.data for r in records)


def _frames(header: bytes, records: list[Record]) -> list[int]:
    """File offset of each record header when written back."""
    out, pos = [], len(header)
    for r in records:
        out.append(pos)
        pos += RECORD + len(r.data)
    return out


def _tcp_payload_at(data: bytes) -> int:
    """Offset of the TCP payload in an untagged Ethernet/IPv4 frame."""
    ihl = (data[14] & 0x0F) * 4
    return 14 + ihl + (data[14 + ihl + 12] >> 4) * 4


def _stream_offset(recs: list[Record], i: int) -> int:
    """Where record i's TCP payload sits in its direction's byte stream (seq - ISN - 1)."""
    def endpoint(data: bytes) -> tuple[bytes, int, int, int]:
        ihl = (data[14] & 0x0F) * 4
        tcp = 14 + ihl
        sport, seq, flags = (struct.unpack_from(">H", data, tcp)[0],
                             struct.unpack_from(">I", data, tcp + 4)[0], data[tcp + 13])
        return data[26:30], sport, seq, flags

    src, sport, seq, _ = endpoint(recs[i].data)
    for r in recs:
        s_ip, s_port, isn, flags = endpoint(r.data)
        if (s_ip, s_port) == (src, sport) and flags & 0x02:  # that side's SYN
            return (seq - isn - 1) & 0xFFFFFFFF
    raise ValueError("no SYN for that direction in the seed capture")


def _clean_error(frame: int = 40) -> dict:
    return {"kind": "ocpp.json.syntax", "where": "unit", "frame": frame, "offset": 24}


# --------------------------------------------------------------------------- cases

def truncated_mid_record(header: bytes, recs: list[Record]) -> tuple[bytes, list[dict]]:
    """The file ends 10 bytes into the last record's data (a capture cut by a crash)."""
    raw = write_pcap(header, recs)
    last = _frames(header, recs)[-1]
    return raw[:last + RECORD + 10], [
        {"kind": "pcap.record.truncated", "where": "file", "frame": len(recs), "offset": last},
        _clean_error()]


def truncated_in_header(header: bytes, recs: list[Record]) -> tuple[bytes, list[dict]]:
    """The file ends 7 bytes into the last record header."""
    raw = write_pcap(header, recs)
    last = _frames(header, recs)[-1]
    return raw[:last + 7], [
        {"kind": "pcap.record.truncated", "where": "file", "frame": len(recs), "offset": last},
        _clean_error()]


def bitflip_ip_version(header: bytes, recs: list[Record]) -> tuple[bytes, list[dict]]:
    """Frame 5's IP version nibble flipped from 4 to 6 (0x45 -> 0x65) under EtherType IPv4."""
    recs = list(recs)
    data = bytearray(recs[4].data)
    data[14] ^= 0x20
    recs[4] = Record(0, recs[4].ts_sec, recs[4].ts_frac, recs[4].wirelen, bytes(data))
    return write_pcap(header, recs), [
        {"kind": "net.ipv4.version", "where": "frame", "frame": 5, "offset": 14},
        _clean_error()]


def spliced(header: bytes, recs: list[Record]) -> tuple[bytes, list[dict]]:
    """300 bytes of another file (an ASCII log) spliced in between records 20 and 21.

    The log text read as a record header gives an impossible length; the reader finds
    the next real record header right after the 300 bytes and loses no frame."""
    junk = (b"2026-11-25 15:00:00 INFO charger booted; " * 8)[:300]
    raw = write_pcap(header, recs)
    at = _frames(header, recs)[20]
    return raw[:at] + junk + raw[at:], [
        {"kind": "pcap.record.bad_length", "where": "file", "frame": 21, "offset": at},
        {"kind": "pcap.resync", "where": "file", "frame": 21, "offset": at + len(junk)},
        _clean_error()]


def wrong_linktype(header: bytes, recs: list[Record]) -> tuple[bytes, list[dict]]:
    """The file header says LINKTYPE_RAW (101) for what are Ethernet frames."""
    bad = header[:20] + struct.pack("<I", 101)
    return write_pcap(bad, recs), [
        {"kind": "net.raw.version", "where": "frame", "frame": n + 1, "offset": 0}
        for n in range(len(recs))]


def giant_caplen(header: bytes, recs: list[Record]) -> tuple[bytes, list[dict]]:
    """Record 10's captured length field is 0xFFFFFFF0 (no such record can exist).

    The reader skips to the next record header (record 10 is lost, later frames number
    one lower); the TCP data record 10 carried becomes a gap in the WebSocket stream."""
    raw = bytearray(write_pcap(header, recs))
    at = _frames(header, recs)[9]
    struct.pack_into("<I", raw, at + 8, 0xFFFFFFF0)
    return bytes(raw), [
        {"kind": "pcap.record.bad_length", "where": "file", "frame": 10, "offset": at},
        {"kind": "pcap.resync", "where": "file", "frame": 10, "offset": _frames(header, recs)[10]},
        # the lost bytes show at the next record (now frame 10): the server's segment
        # acknowledging them, so the gap is declared there, before the server's bytes
        {"kind": "websocket.stream.gap", "where": "stream", "frame": 10,
         "offset": _stream_offset(recs, 9)},
        _clean_error(39)]


def giant_websocket_length(header: bytes, recs: list[Record]) -> tuple[bytes, list[dict]]:
    """The first WebSocket frame after the handshake claims a 2^63-1 byte payload.

    Its length byte becomes 127 and the next 8 bytes (overwritten, so TCP sequence
    numbers stay right) the 64-bit length; the stream dissector refuses the frame and
    cannot find its way back in that direction, so frame 40's error is never reached."""
    recs = list(recs)
    for i, r in enumerate(recs):
        start = _tcp_payload_at(r.data)
        payload = r.data[start:]
        if payload[:1] in (b"\x81", b"\x82") and i > 3:
            patched = payload[:1] + bytes([payload[1] & 0x80 | 127]) + b"\x7f" + b"\xff" * 7
            data = r.data[:start] + patched + payload[len(patched):]
            recs[i] = Record(0, r.ts_sec, r.ts_frac, r.wirelen, data)
            return write_pcap(header, recs), [
                {"kind": "websocket.frame.too_large", "where": "stream", "frame": i + 1,
                 "offset": _stream_offset(recs, i)}]
    raise ValueError("no WebSocket frame in the seed capture")


CASES: dict[str, Callable[[bytes, list[Record]], tuple[bytes, list[dict]]]] = {
    "truncated-mid-record": truncated_mid_record,
    "truncated-in-header": truncated_in_header,
    "bitflip-ip-version": bitflip_ip_version,
    "spliced-log-text": spliced,
    "wrong-linktype-raw": wrong_linktype,
    "giant-caplen": giant_caplen,
    "giant-websocket-length": giant_websocket_length,
}


def build(out: Path = OUT) -> list[Path]:
    header, recs = read_pcap(CLEAN.read_bytes())
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in CASES.items():
        raw, expected = make(header, recs)
        path = out / f"{name}.pcap"
        path.write_bytes(raw)
        (out / f"{name}.expected.json").write_text(json.dumps(
            {"damage": (make.__doc__ or "").strip(), "problems": expected}, indent=1) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(p)
