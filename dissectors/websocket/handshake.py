"""The HTTP/1.1 upgrade handshake of RFC 6455 section 4, parsed from one header block.

Pure functions over bytes: the stream object finds the header block, these turn it
into the fields a Message carries. Basic-auth passwords are masked unless the caller
asks for them (security profile 1/2 credentials must not leak into reports).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

# RFC 6455 section 1.3: the GUID concatenated to Sec-WebSocket-Key before hashing.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SECRET_MASK = "********"


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    start_line: str
    headers: tuple[tuple[str, str], ...]  # (lower-case name, value), in order

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def get_list(self, name: str) -> list[str]:
        """All comma-separated tokens of every occurrence of a header."""
        out: list[str] = []
        for key, value in self.headers:
            if key == name:
                out.extend(token.strip() for token in value.split(",") if token.strip())
        return out


class HandshakeError(ValueError):
    """The header block is not an HTTP/1.1 message we can read."""


def parse_header_block(block: bytes) -> HeaderBlock:
    """Start line and headers of an HTTP message; `block` excludes the final CRLFCRLF."""
    text = block.decode("latin-1")
    lines = text.split("\r\n")
    if not lines or not lines[0]:
        raise HandshakeError("empty HTTP start line")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise HandshakeError(f"header line without a name and colon: {line[:60]!r}")
        headers.append((name.strip().lower(), value.strip()))
    return HeaderBlock(lines[0], tuple(headers))


def accept_for_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer to `key` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii", "replace") + _ACCEPT_GUID).digest()).decode()


def _basic_auth(value: str, show_secrets: bool) -> dict[str, str]:
    scheme, _, credentials = value.partition(" ")
    out = {"scheme": scheme}
    if scheme.lower() != "basic":
        out["credentials"] = credentials.strip() if show_secrets else SECRET_MASK
        return out
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        out["problem"] = "credentials are not valid base64"
        return out
    user, _, password = decoded.partition(":")
    out["user"] = user
    out["password"] = password if show_secrets else SECRET_MASK
    return out


_SECRET_PARAMS = ("token", "password", "passwd", "pass", "secret", "key", "auth", "apikey")


def _mask_query(query: str) -> str:
    """Query parameters that look like credentials (`?token=...`) masked, others kept."""
    out = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if sep and any(word in name.lower() for word in _SECRET_PARAMS):
            value = SECRET_MASK
        out.append(f"{name}{sep}{value}")
    return "&".join(out)


def request_fields(head: HeaderBlock, show_secrets: bool = False) -> dict:
    """Fields of the client's upgrade request (method, path, identity, offers, auth)."""
    parts = head.start_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HandshakeError(f"not an HTTP request line: {head.start_line[:80]!r}")
    method, target, version = parts
    url = urlsplit(target)
    path = url.path
    if url.query and not show_secrets:
        target = url._replace(query=_mask_query(url.query)).geturl()
    segments = [unquote(s) for s in path.split("/") if s]
    fields: dict = {
        "http": "request",
        "method": method,
        "path": target,
        "http_version": version,
        # OCPP-J: the charge point identity is the last path segment of the URL.
        "charge_point_id": segments[-1] if segments else "",
        "host": head.get("host") or "",
        "upgrade": head.get("upgrade") or "",
        "subprotocols_offered": head.get_list("sec-websocket-protocol"),
        "extensions_offered": head.get_list("sec-websocket-extensions"),
        "websocket_key": head.get("sec-websocket-key") or "",
        "websocket_version": head.get("sec-websocket-version") or "",
    }
    auth = head.get("authorization")
    fields["authorization"] = _basic_auth(auth, show_secrets) if auth else None
    return fields


def response_fields(head: HeaderBlock) -> dict:
    """Fields of the server's answer: status, selected subprotocol and extensions."""
    version, _, rest = head.start_line.partition(" ")
    status_text, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not status_text.isdigit():
        raise HandshakeError(f"not an HTTP status line: {head.start_line[:80]!r}")
    return {
        "http": "response",
        "status": int(status_text),
        "reason": reason,
        "http_version": version,
        "subprotocol": head.get("sec-websocket-protocol") or "",
        "extensions": head.get_list("sec-websocket-extensions"),
        "websocket_accept": head.get("sec-websocket-accept") or "",
        "content_length": _int_or_none(head.get("content-length")),
        "www_authenticate": head.get("www-authenticate") or "",
    }


def _int_or_none(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())


def looks_like_upgrade_request(first_bytes: bytes) -> bool:
    """Heuristic probe: an HTTP GET carrying `Upgrade: websocket`."""
    if not first_bytes.startswith(b"GET "):
        return False
    head = first_bytes.split(b"\r\n\r\n", 1)[0].lower()
    return b"\r\nupgrade:" in head and b"websocket" in head
