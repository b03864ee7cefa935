"""The records every layer of chargescope passes around.

Facts, not behaviour (h11's events): frozen, slotted, never subclassed. A dissector
turns bytes into `Message`s; a check turns sessions into `Finding`s; a reader turns a
file into `Frame`s and `Problem`s. Anything that could not be decoded becomes a
`Problem` naming source, frame and offset: nothing read is dropped silently.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Link(enum.StrEnum):
    """The three machine links of a charging session (see DESIGN.md)."""

    A = "A"  # EV <-> charger: SLAC, SDP, V2GTP, EXI, TLS
    B = "B"  # charger <-> CSMS: OCPP over WebSocket
    C = "C"  # CPO <-> EMSP: OCPI over HTTP


class Severity(enum.IntEnum):
    """Like Wireshark's expert info severities; ordered so max() is the worst."""

    NOTE = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that could not be read or decoded as expected.

    `source` is the capture file (or log) name, `frame` the 1-based frame number in
    that source (0 when the problem is in the file structure before any frame),
    `offset` the byte offset: in the file for capture-structure problems, in the
    frame or the protocol unit otherwise (`where` says which).
    """

    kind: str  # stable code, e.g. "pcap.record.truncated", "exi.event.unknown"
    detail: str  # a human sentence: what was expected, what was found
    source: str = ""
    frame: int = 0
    offset: int = 0
    where: str = "file"  # "file", "frame", "stream" or "unit"

    def __str__(self) -> str:
        place = f"{self.source or '-'}"
        if self.frame:
            place += f" frame {self.frame}"
        place += f" {self.where} offset {self.offset}"
        return f"{place}: {self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame, exactly as the capture holds it.

    `number` is 1-based within its source; `ts_ns` the capture's own timestamp in
    nanoseconds since the Unix epoch (if_tsresol/if_tsoffset already applied);
    `wirelen` the original length (`len(data) < wirelen` means snaplen-cut);
    `offset` the byte offset of the record in the (decompressed) file.
    """

    number: int
    ts_ns: int
    linktype: int
    data: bytes
    wirelen: int
    interface: int = 0
    source: str = ""
    offset: int = 0

    @property
    def truncated(self) -> bool:
        return len(self.data) < self.wirelen


@dataclass(frozen=True, slots=True)
class ByteRef:
    """A byte range inside one frame of one source: what the hex view highlights."""

    source: str
    frame: int
    start: int
    length: int


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded protocol data unit, uniform across links.

    `fields` is a plain nested dict (JSON-serialisable) using the field names of the
    protocol itself (EXI element names, OCPP `action`, `unique_id`, ...).
    `refs` are the frames and byte ranges it came from; `problems` its decode problems
    (a Message with problems is still a Message: the analyzer goes on).
    """

    link: Link
    protocol: str  # "homeplug", "sdp", "v2gtp", "exi", "websocket", "ocpp", "http", "ocpi", ...
    name: str  # e.g. "CM_SLAC_PARM.REQ", "SessionSetupReq", "BootNotification"
    ts_ns: int
    src: str
    dst: str
    fields: dict[str, Any]
    refs: tuple[ByteRef, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


# A stored Message may keep `refs` and `fields` as one compact byte form
# (`analyzer/store.py`: a few hundred bytes instead of kilobytes of nested dicts per message).
# The two attributes are read through descriptors (hot path "compact") that give back the
# same dicts and ByteRefs as the eager form, so every reader, `replace`, `==`, `repr` and
# pickling see no difference. The slots themselves hold a dict and a tuple (eager) or the
# byte form and `PACKED` (compacted); the last messages read keep their decoded form.
_FIELDS_SLOT = Message.fields
_REFS_SLOT = Message.refs
PACKED = ("packed",)  # in the refs slot: refs and fields are in the fields slot's bytes


def _attach_attributes():
    from chargescope import backends
    from chargescope.analyzer.compactcodec import TABLE

    fields, refs, decoded = backends.load("compact").attributes(
        _FIELDS_SLOT, _REFS_SLOT, PACKED, TABLE, ByteRef,
        (Message.src, Message.dst, Message.name))  # interned when compacting
    Message.fields = fields
    Message.refs = refs
    # the slots behind the two attributes, for constructors that fill slots directly
    # (hot path "recordbuild": writing a slot stores exactly what the attribute would)
    Message.__slot_members__ = {"fields": _FIELDS_SLOT, "refs": _REFS_SLOT}
    return fields, decoded


# FIELDS.compact(message) compacts in place (`store.compact`); DECODED.clear() forgets the
# decoded forms kept
FIELDS, DECODED = _attach_attributes()


def stored_fields(message: Message) -> Any:
    """What the fields slot holds: the dict, or the byte form of a compacted message."""
    return _FIELDS_SLOT.__get__(message, Message)


def stored_refs(message: Message) -> Any:
    """What the refs slot holds: the ByteRef tuple, or PACKED."""
    return _REFS_SLOT.__get__(message, Message)


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """A registered finding code (Wireshark's expert_field_info): stable, never renamed."""

    code: str  # e.g. "slac.match.timeout"
    severity: Severity
    group: str  # "protocol", "malformed", "sequence", "timing", "security", "interop", ...
    summary: str
    requirement: str = ""  # e.g. "[V2G3-A09-30]", "E01.FR.01"


@dataclass(frozen=True, slots=True)
class Finding:
    """A check's verdict on part of a session, with the evidence that supports it."""

    code: str
    severity: Severity
    text: str  # a human sentence specific to this occurrence
    ts_ns: int = 0
    evidence: tuple[Message, ...] = ()
    requirement: str = ""
    link: str = ""  # "A", "B", "C" or "X" for cross-link
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a conversation: IP address (text form) and port."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class Connection:
    """A TCP connection as the reassembler identifies it.

    `client` is the side that sent the SYN (or, for a connection already open when the
    capture starts, the side using the higher port); `index` is unique per pipeline
    run, like tshark's tcp.stream (0-based, in order of first appearance).
    """

    index: int
    client: Endpoint
    server: Endpoint
    source: str = ""


@dataclass(frozen=True, slots=True)
class StreamData:
    """In-order bytes of one direction of a TCP connection.

    `direction` is 0 for client->server, 1 for server->client. `offset` is the
    position of `data[0]` in that direction's byte stream (0 = first byte after the
    SYN, or the first byte seen). `refs` map the bytes back to frames, in order, and
    cover `data` exactly; `ts_ns` is the timestamp of the frame that completed it.
    """

    conn: Connection
    direction: int
    offset: int
    data: bytes
    ts_ns: int
    refs: tuple[ByteRef, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamGap:
    """Bytes of one direction that never arrived: parsers above must resynchronise.

    `frame` is where the gap became evident, for Problems to point at: the frame that
    carried the first bytes after the hole (Wireshark's "previous segment not
    captured"); with nothing after it yet, the frame whose ACK proved the bytes lost
    ("ACKed segment that wasn't captured"), else the connection's last frame (FIN/RST,
    idle timeout or end of capture). `ts_ns` is that frame's time (the end's time in
    the last case).

    `exact` is False when `length` is only an upper bound: the plaintext under TLS whose
    records were lost (their plaintext size is unknown). Offsets still follow on at
    `offset + length`; a parser resynchronises as after any gap.
    """

    conn: Connection
    direction: int
    offset: int
    length: int
    ts_ns: int
    frame: int = 0
    exact: bool = True


@dataclass(frozen=True, slots=True)
class StreamOpen:
    conn: Connection
    ts_ns: int
    handshake_seen: bool  # False when the connection was already open at capture start


@dataclass(frozen=True, slots=True)
class StreamClose:
    conn: Connection
    direction: int  # which side closed: 0 client, 1 server, -1 both/end of capture
    ts_ns: int
    reason: str  # "fin", "rst", "end-of-capture"
