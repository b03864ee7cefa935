"""Rewriting frames: addresses in headers, identifiers in payloads, checksums after.

All replacements are same-length, so TCP sequence numbers and every length field stay
valid. Payload identifiers are replaced byte-aligned everywhere, inside WebSocket
frames after unmasking (client frames are XOR-masked), and at any bit offset inside
V2GTP payloads, because EXI bit-packs strings and binaries without byte alignment.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from chargescope.analyzer import net
from chargescope.analyzer.anonymize.checksum import fix_checksums, l4_checksum_ok
from chargescope.analyzer.anonymize.pseudonym import Pseudonymizer
from chargescope.analyzer.anonymize.streams import TcpStreams
from chargescope.analyzer.anonymize.tls import looks_like_tls, scrub_tls
from chargescope.analyzer.anonymize.xmldsig import Resigner
from chargescope.analyzer.live.plc import nid_from_nmk
from chargescope.analyzer.records import Frame

ETH_HOMEPLUG = 0x88E1
# MMTYPE -> ((offset, length) of the NID, of the NMK) in the frame, Ethernet header included
MME_SECRETS: dict[int, tuple[tuple[int, int], ...]] = {
    0x607D: ((85, 7), (93, 16)),  # CM_SLAC_MATCH.CNF: NID, NMK
    0x6008: ((33, 7), (41, 16)),  # CM_SET_KEY.REQ: NID, new key (NMK)
}
_V2GTP = re.compile(rb"^\x01\xfe")
_AUTH = re.compile(rb"(?im)^(authorization:[ \t]*)(?:(\w+)[ \t]+)?([^\r\n]+)")


@dataclass(slots=True)
class FrameRewriter:
    """Rewrites frames of one run; `plan` maps original byte strings to replacements."""

    pseudo: Pseudonymizer
    plan: dict[bytes, bytes]
    bit_patterns: dict[bytes, bytes]
    parties: dict[bytes, bytes] = field(default_factory=dict)
    keep: frozenset[str] = frozenset()
    _pattern: re.Pattern[bytes] | None = None
    _party: re.Pattern[bytes] | None = None
    streams: TcpStreams = field(default_factory=TcpStreams)
    ws_lost: int = 0
    certificates: dict[bytes, bytes] = field(default_factory=dict)  # DER -> re-issued DER
    resigner: Resigner | None = None  # xmldsig signatures made again with the new keys

    def __post_init__(self) -> None:
        keys = sorted(self.plan, key=len, reverse=True)
        if keys:
            self._pattern = re.compile(b"|".join(re.escape(k) for k in keys))
        if self.parties:  # short: only where OCPI puts them (paths, JSON, headers)
            alternatives = b"|".join(re.escape(k) for k in self.parties)
            self._party = re.compile(rb"(?<=[/\":\s])(" + alternatives + rb")(?=[/\"\r\n,])")

    def substitute(self, data: bytes) -> bytes:
        if self._pattern is not None:
            data = self._pattern.sub(lambda m: self.plan[m.group(0)], data)
        if self._party is not None:
            data = self._party.sub(lambda m: self.parties[m.group(0)], data)
        return data

    def rewrite(self, frame: Frame) -> bytes:
        pkt = net.decode(frame)
        data = bytearray(frame.data)
        l4_ok = l4_checksum_ok(frame.data, pkt)
        if "mac" not in self.keep:
            for at in (pkt.l2_src_offset, pkt.l2_dst_offset):
                if at >= 0 and at + 6 <= len(data):
                    data[at:at + 6] = self.pseudo.mac(bytes(data[at:at + 6]))
        if "ip" not in self.keep and pkt.l3_offset >= 0:
            self._addresses(data, pkt)
        if pkt.ethertype == ETH_HOMEPLUG and "keys" not in self.keep:
            self._mme_secrets(data, pkt)
        if pkt.payload_offset >= 0 and pkt.payload_length > 0:
            start, end = pkt.payload_offset, pkt.payload_offset + pkt.payload_length
            end = min(end, len(data))
            payload = self._payload(bytes(data[start:end]), pkt, frame.source)
            data[start:end] = payload
        fix_checksums(data, pkt, l4_ok)
        return bytes(data)

    def _addresses(self, data: bytearray, pkt: net.Packet) -> None:
        if pkt.ip_version == 4:
            for at in (pkt.l3_offset + 12, pkt.l3_offset + 16):
                data[at:at + 4] = self.pseudo.ipv4(bytes(data[at:at + 4]))
        elif pkt.ip_version == 6:
            for at in (pkt.l3_offset + 8, pkt.l3_offset + 24):
                data[at:at + 16] = self.pseudo.ipv6(bytes(data[at:at + 16]))

    def _mme_secrets(self, data: bytearray, pkt: net.Packet) -> None:
        base = pkt.payload_offset - 14 if pkt.payload_offset >= 14 else 0
        if len(data) < base + 17:
            return
        mmtype = int.from_bytes(data[base + 15:base + 17], "little")
        spots = MME_SECRETS.get(mmtype)
        if spots is None or base + spots[1][0] + spots[1][1] > len(data):
            return
        (nid_at, nid_len), (nmk_at, nmk_len) = ((base + o, n) for o, n in spots)
        nid, nmk = bytes(data[nid_at:nid_at + nid_len]), bytes(data[nmk_at:nmk_at + nmk_len])
        new_nmk = self.pseudo.opaque(nmk)
        level = (nid[-1] >> 4) & 0x03
        # where the NID is the one HomePlug AV derives from the NMK, keep it so
        derived = nid == nid_from_nmk(nmk, level)
        data[nid_at:nid_at + nid_len] = (nid_from_nmk(new_nmk, level) if derived
                                         else self.pseudo.opaque(nid))
        data[nmk_at:nmk_at + nmk_len] = new_nmk

    def _payload(self, payload: bytes, pkt: net.Packet, source: str) -> bytes:
        if pkt.is_tcp:
            held = self.streams.segment(source, pkt)
            return held if held is not None else self.transform(payload)
        return self.transform(payload)

    def transform(self, data: bytes) -> bytes:
        """Same-length rewrite of one payload or one whole TCP stream."""
        if "tls" not in self.keep and looks_like_tls(data):
            return scrub_tls(data, self.certificates)
        data = self.substitute(data)
        if "auth" not in self.keep:
            data = _AUTH.sub(lambda m: m.group(1) + (m.group(2) + b" " if m.group(2) else b"")
                             + self._credential(m.group(3)), data)
        if _V2GTP.match(data):
            return self._v2gtp(data)
        return self._websocket(data)

    def _credential(self, value: bytes) -> bytes:
        """Same length and same encoding: base64 stays valid base64 of text as printable
        as before (Basic's "user:password" keeps its colon), so checks on the token's
        encoding judge the pseudonym as they judged the original."""
        try:
            clear = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            clear = None
        if clear is not None and len(value) % 4 == 0:
            if clear.isascii() and clear.decode("ascii").isprintable():
                new = self.pseudo.secret_text(clear.decode("ascii")).encode("ascii")
            else:
                new = self.pseudo.opaque(clear)
            return base64.b64encode(new)
        return self.pseudo.secret_text(value.decode("latin-1")).encode("latin-1")

    def _v2gtp(self, data: bytes) -> bytes:
        """Each V2GTP message's payload searched at every bit offset (EXI is unaligned)."""
        out = bytearray(data)
        pos = 0
        while pos + 8 <= len(out) and out[pos:pos + 2] == b"\x01\xfe":
            length = int.from_bytes(out[pos + 4:pos + 8], "big")
            end = min(pos + 8 + length, len(out))
            body = self._bits(bytes(out[pos + 8:end]))
            if self.resigner is not None and end == pos + 8 + length:
                body = self.resigner.resign(body)
            out[pos + 8:end] = body
            pos = end
        if pos < len(out):  # not V2GTP after all, or cut: search the rest as one unit
            out[pos:] = self._bits(bytes(out[pos:]))
        return bytes(out)

    def _bits(self, payload: bytes) -> bytes:
        """Replace identifiers at any bit offset (EXI packs them unaligned)."""
        if not payload or not self.bit_patterns:
            return payload
        n = len(payload) * 8
        bits = format(int.from_bytes(payload, "big"), f"0{n}b")
        changed = False
        for old, new in self.bit_patterns.items():
            at = bits.find(old)
            while at >= 0:
                bits = bits[:at] + new + bits[at + len(new):]
                changed = True
                at = bits.find(old, at + len(new))
        return int(bits, 2).to_bytes(len(payload), "big") if changed else payload

    def _websocket(self, data: bytes) -> bytes:
        """After an HTTP Upgrade to WebSocket: unmask each frame, substitute, mask again
        with the same key (client-to-server frames are XOR-masked, RFC 6455 5.3)."""
        head = data[:8192]
        if b"upgrade: websocket" not in head.lower() or b"\r\n\r\n" not in head:
            return data
        out = bytearray(data)
        pos = data.index(b"\r\n\r\n") + 4
        while pos < len(out):
            header = _ws_header(bytes(out[pos:pos + 14]))
            if header is None:
                self.ws_lost += 1
                break
            size, length, mask = header
            pos += size
            end = min(pos + length, len(out))
            if mask:
                clear = _xor(bytes(out[pos:end]), mask, 0)
                out[pos:end] = _xor(self.substitute(clear), mask, 0)
            pos = end
        return bytes(out)


def _ws_header(buf: bytes) -> tuple[int, int, bytes] | None:
    """(header size, payload length, mask key) of a WebSocket frame header, or None."""
    if len(buf) < 2 or buf[0] & 0x70:
        return None
    masked, length, size = buf[1] & 0x80, buf[1] & 0x7F, 2
    if length == 126:
        length, size = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        length, size = int.from_bytes(buf[2:10], "big"), 10
    mask = b""
    if masked:
        mask = buf[size:size + 4]
        size += 4
    if len(buf) < size or (masked and len(mask) < 4):
        return None
    return size, length, mask


def _xor(data: bytes, mask: bytes, start: int) -> bytes:
    return bytes(b ^ mask[(start + i) % 4] for i, b in enumerate(data))


def bit_text(raw: bytes) -> str:
    return format(int.from_bytes(raw, "big"), f"0{len(raw) * 8}b")
