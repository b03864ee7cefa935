"""Keyed, deterministic, format- and length-preserving pseudonyms.

Every replacement has the length of the original so that no length field (IP total
length, TCP sequence numbers, HTTP Content-Length, WebSocket and V2GTP lengths, EXI
string lengths) needs to change. Structured identifiers (eMAID, EVSEID, charge point
ids) are mapped component by component so that a party id maps the same way inside an
eMAID, an EVSEID and an OCPI header, which keeps cross-link joins intact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

_SEPARATORS = re.compile(r"([-*_/:. ])")
# eMAID without separators (ISO 15118-2 Annex H): CC PPP IIIIIIIII [check]
_EMAID_COMPACT = re.compile(r"^([A-Z]{2})([A-Z0-9]{3})([A-Z0-9]{9})([A-Z0-9]?)$")
_ALPHABETS = (string.ascii_uppercase, string.ascii_lowercase, string.digits)
_KEEP_MACS = {b"\xff" * 6, b"\0" * 6}
CERT_MARKER = b"ANONYMISED-CERTIFICATE."  # what replaces a certificate, repeated


@dataclass(slots=True)
class Pseudonymizer:
    """One anonymisation run's mapping; `save`/`load` make it repeatable across runs."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    table: dict[str, str] = field(default_factory=dict)  # original text -> pseudonym (audit)

    @classmethod
    def load(cls, path: Path) -> Pseudonymizer:
        doc = json.loads(path.read_text())
        return cls(bytes.fromhex(doc["key"]), dict(doc.get("table", {})))

    def save(self, path: Path) -> None:
        doc = {"key": self.key.hex(), "table": dict(sorted(self.table.items()))}
        path.write_text(json.dumps(doc, indent=1) + "\n")

    def _digest(self, kind: str, value: bytes) -> bytes:
        return hmac.new(self.key, kind.encode() + b"\0" + value, hashlib.sha256).digest()

    def _stream(self, kind: str, value: bytes, n: int) -> bytes:
        out = b""
        counter = 0
        while len(out) < n:
            out += self._digest(f"{kind}#{counter}", value)
            counter += 1
        return out[:n]

    # --- addresses -------------------------------------------------------------------
    def mac(self, raw: bytes) -> bytes:
        """Group (multicast/broadcast) and zero MACs kept: they name no device, and IPv6
        multicast MACs follow from the group address. The local bit is kept too."""
        if raw in _KEEP_MACS or len(raw) != 6 or raw[0] & 0x01:
            return raw
        d = self._stream("mac", raw, 6)
        first = (raw[0] & 0x03) | (d[0] & 0xFC)  # raw[0] & 1 is 0 here: stays unicast
        out = bytes([first]) + d[1:]
        if out == raw:  # vanishingly rare; never hand back the original
            out = bytes([first]) + bytes([d[1] ^ 1]) + d[2:]
        self.table[_mac_text(raw)] = _mac_text(out)
        return out

    def ipv4(self, raw: bytes) -> bytes:
        """Prefix-preserving per octet, each octet keeping its count of decimal digits
        (so the dotted text form keeps its length); the first octet is kept (private,
        loopback and multicast ranges stay what they are)."""
        if len(raw) != 4 or raw in (b"\0" * 4, b"\xff" * 4) or raw[0] in (0, 127) or raw[0] >= 224:
            return raw
        out = bytearray(raw[:1])
        for i in range(1, 4):
            lo, hi = _digit_range(raw[i])
            span = hi - lo + 1
            shift = int.from_bytes(self._digest("ipv4", raw[:i]), "big") % span
            out.append(lo + (raw[i] - lo + shift) % span)
        self.table[_ipv4_text(raw)] = _ipv4_text(bytes(out))
        return bytes(out)

    def ipv6(self, raw: bytes) -> bytes:
        """Multicast, loopback and unspecified kept; link-local keeps fe80::/64 and gets
        a keyed interface id (an EUI-64 one: that of the MAC's pseudonym); other addresses keep their first 16 bits (prefix-preserving
        beyond them by per-bit keyed flips, as Crypto-PAn does)."""
        if len(raw) != 16 or raw[0] == 0xFF or raw in (b"\0" * 16, b"\0" * 15 + b"\1"):
            return raw
        keep = 64 if raw[:8] == b"\xfe\x80" + b"\0" * 6 else 16
        if keep == 64 and raw[11:13] == b"\xff\xfe":
            # modified EUI-64 (RFC 4291 App. A): the interface id is the MAC; derive it
            # from the MAC's pseudonym so address and MAC still belong together
            mac = bytes([raw[8] ^ 0x02]) + raw[9:11] + raw[13:16]
            new = self.mac(mac)
            return raw[:8] + bytes([new[0] ^ 0x02]) + new[1:3] + b"\xff\xfe" + new[3:6]
        bits = int.from_bytes(raw, "big")
        out = bits
        for i in range(keep, 128):
            prefix = (bits >> (128 - i)).to_bytes(16, "big") + bytes([i])
            if self._digest("ipv6", prefix)[0] & 1:
                out ^= 1 << (127 - i)
        return out.to_bytes(16, "big")

    # --- identifiers -----------------------------------------------------------------
    def identifier(self, text: str) -> str:
        """Same length, same character classes, separators kept, components of up to
        two characters (country codes, "CP") kept; each component keyed on its own."""
        if text in self.table:
            return self.table[text]
        compact = _EMAID_COMPACT.match(text)
        if compact and not _SEPARATORS.search(text):
            out = "".join(self._component(part) for part in compact.groups())
        else:
            out = "".join(part if _SEPARATORS.fullmatch(part) else self._component(part)
                          for part in _SEPARATORS.split(text))
        self.table[text] = out
        return out

    def _component(self, part: str) -> str:
        if len(part) <= 2:
            return part
        d = self._stream("id", part.encode(), len(part))
        return "".join(_same_class(c, b) for c, b in zip(part, d, strict=True))

    def secret_text(self, text: str) -> str:
        """Credentials (Authorization values): same length and classes, never tabled."""
        d = self._stream("secret", text.encode(), len(text))
        return "".join(_same_class(c, b) for c, b in zip(text, d, strict=True))

    def opaque(self, raw: bytes) -> bytes:
        """Keys, NIDs and certificates: keyed bytes of the same length, never tabled."""
        return self._stream("opaque", raw, len(raw))


def _same_class(c: str, b: int) -> str:
    for alphabet in _ALPHABETS:
        if c in alphabet:
            out = alphabet[b % len(alphabet)]
            return alphabet[(b + 1) % len(alphabet)] if out == c else out
    return c


def _digit_range(octet: int) -> tuple[int, int]:
    if octet < 10:
        return 1, 9
    if octet < 100:
        return 10, 99
    return 100, 254


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _ipv4_text(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)
