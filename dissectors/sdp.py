"""SDP, the SECC Discovery Protocol (ISO 15118-2 §7.10.1, DIN 70121 §8.7.3.2, ISO 15118-20 §7.10.1.3).

The EVCC multicasts an SDP request (V2GTP payload type 0x9000) to ff02::1 UDP 15118 asking for
a security mode and transport; each SECC answers (0x9001) with the IPv6 address and TCP port of
its V2G server. The port is dynamic, so the analyser learns V2G TCP ports from these responses.
Layouts are `construct` Structs: the readable specification and the builder for `simulate`.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Any

from construct import Bytes, Int8ub, Int16ub, Struct

from chargescope.analyzer.handoff import FrameHandoff
from chargescope.analyzer.records import ByteRef, Link, Message, Problem
from chargescope.dissectors import v2gtp

SDP_PORT = 15118

SECURITY = {0x00: "TLS", 0x10: "NoTLS"}
TRANSPORT = {0x00: "TCP", 0x10: "UDP"}

REQUEST = Struct(
    "security" / Int8ub,
    "transport" / Int8ub,
)
RESPONSE = Struct(
    "secc_ip" / Bytes(16),
    "secc_port" / Int16ub,
    "security" / Int8ub,
    "transport" / Int8ub,
)
REQUEST_LEN = REQUEST.sizeof()
RESPONSE_LEN = RESPONSE.sizeof()

PAYLOADS = {0x9000: ("SDPRequest", REQUEST), 0x9001: ("SDPResponse", RESPONSE)}
# The same layouts for `struct`, on the hot path (construct's parse costs ~30 us a datagram):
# payload type -> (size, unpack giving (secc_ip, secc_port,) security, transport)
_FAST = {0x9000: (REQUEST_LEN, struct.Struct(">BB").unpack_from),
         0x9001: (RESPONSE_LEN, struct.Struct(">16sHBB").unpack_from)}
WIRELESS = {0x9002: "SDPRequestWireless", 0x9003: "SDPResponseWireless"}


@dataclass(frozen=True, slots=True)
class Datagram:
    """What the caller knows about the UDP datagram an SDP unit came in."""

    data: bytes
    ts_ns: int = 0
    src: str = ""
    dst: str = ""
    source: str = ""
    frame: int = 0
    offset: int = 0  # offset of the UDP payload within the frame


def _enum(table: dict[int, str], value: int) -> str:
    return table.get(value, f"reserved(0x{value:02X})")


def decode(dgram: Datagram) -> Message:
    """One SDP datagram -> one Message (problems attached, never raised)."""
    data = dgram.data
    refs = (ByteRef(dgram.source, dgram.frame, dgram.offset, len(data)),) if dgram.frame else ()

    def problem(kind: str, detail: str, at: int, name: str = "SDP",
                fields: dict[str, Any] | None = None) -> Message:
        p = Problem(kind=kind, detail=detail, source=dgram.source, frame=dgram.frame,
                    offset=dgram.offset + at, where="frame")
        return Message(Link.A, "sdp", name, dgram.ts_ns, dgram.src, dgram.dst,
                       fields or {"payload": data.hex().upper()}, refs, (p,))

    if len(data) < v2gtp.HEADER_LEN:
        return problem("sdp.truncated",
                       f"expected an 8-byte V2GTP header, found {len(data)} bytes", 0)
    header = v2gtp.parse_header(data)
    fields: dict[str, Any] = {"v2gtp": header.as_fields()}
    bad = v2gtp.header_problem(header, tcp=False)
    if bad is not None:
        fields["payload"] = data[v2gtp.HEADER_LEN:].hex().upper()
        return problem(bad[0], bad[1], 0, fields=fields)
    payload = data[v2gtp.HEADER_LEN:]
    if header.payload_type in WIRELESS:
        fields["payload"] = payload.hex().upper()
        return Message(Link.A, "sdp", WIRELESS[header.payload_type], dgram.ts_ns, dgram.src,
                       dgram.dst, fields, refs)
    if header.payload_type not in PAYLOADS:
        fields["payload"] = payload.hex().upper()
        return problem("sdp.payload_type",
                       f"expected payload type 0x9000 or 0x9001 on UDP {SDP_PORT}, "
                       f"found 0x{header.payload_type:04X}", 2, fields=fields)
    name, _layout = PAYLOADS[header.payload_type]
    size, unpack = _FAST[header.payload_type]
    problems: list[Problem] = []
    if header.payload_length != size:
        problems.append(Problem(
            kind="sdp.length", detail=f"{name} payload length must be {size}, header says "
            f"{header.payload_length}", source=dgram.source, frame=dgram.frame,
            offset=dgram.offset + 4, where="frame"))
    if len(payload) < size:
        fields["payload"] = payload.hex().upper()
        return problem("sdp.truncated", f"{name} needs {size} payload bytes, found "
                       f"{len(payload)}", v2gtp.HEADER_LEN, name, fields)
    if len(data) > v2gtp.HEADER_LEN + max(size, header.payload_length):
        problems.append(Problem(
            kind="sdp.trailing", detail=f"{len(data) - v2gtp.HEADER_LEN - size} bytes after "
            f"the {name} payload", source=dgram.source, frame=dgram.frame,
            offset=dgram.offset + v2gtp.HEADER_LEN + size, where="frame"))
    *address, security, transport = unpack(payload)
    fields["Security"] = _enum(SECURITY, security)
    fields["TransportProtocol"] = _enum(TRANSPORT, transport)
    if header.payload_type == 0x9001:
        fields["SECCIPAddress"] = str(ipaddress.IPv6Address(address[0]))
        fields["SECCPort"] = address[1]
    for key, table in (("Security", SECURITY), ("TransportProtocol", TRANSPORT)):
        raw = security if key == "Security" else transport
        if raw not in table:
            problems.append(Problem(
                kind="sdp.value", detail=f"{key} 0x{raw:02X} is reserved (expected "
                + " or ".join(f"0x{k:02X}" for k in table) + ")", source=dgram.source,
                frame=dgram.frame, offset=dgram.offset + v2gtp.HEADER_LEN
                + (size - 2 if key == "Security" else size - 1), where="frame"))
    return Message(Link.A, "sdp", name, dgram.ts_ns, dgram.src, dgram.dst, fields, refs,
                   tuple(problems))


def build_request(security: int = 0x10, transport: int = 0x00) -> bytes:
    return v2gtp.build(0x9000, REQUEST.build({"security": security, "transport": transport}))


def build_response(ip: str, port: int, security: int = 0x10, transport: int = 0x00) -> bytes:
    return v2gtp.build(0x9001, RESPONSE.build({
        "secc_ip": ipaddress.IPv6Address(ip).packed, "secc_port": port,
        "security": security, "transport": transport}))


def announced_endpoint(msg: Message) -> tuple[str, int] | None:
    """(SECC IPv6 address, TCP port) of a decoded SDP response: where V2G TCP will go."""
    if msg.name == "SDPResponse" and "SECCPort" in msg.fields:
        return msg.fields["SECCIPAddress"], msg.fields["SECCPort"]
    return None


def frame_dissector(packet: Any) -> list[Message]:
    """FrameDissector for UDP 15118: adapts the pipeline's decoded packet to `decode`."""
    return [decode(datagram_of(packet))]


def datagram_of(packet: Any) -> Datagram:
    """The SDP-relevant view of a decoded packet (`chargescope.analyzer.net.Packet`)."""
    frame = packet.frame
    src = _endpoint(packet.ip_src, packet.sport)
    dst = _endpoint(packet.ip_dst, packet.dport)
    return Datagram(bytes(packet.payload), frame.ts_ns, src, dst, frame.source, frame.number,
                    packet.payload_offset)


def _endpoint(ip: Any, port: int) -> str:
    ip = str(ip)
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# Where SDP attaches (read by analyzer.handoff.frame_handoffs): UDP 15118, either side.
HANDOFF = FrameHandoff(name="sdp", ethertype=None, udp_port=SDP_PORT, dissector=frame_dissector)
