"""Handshake message decoding (RFC 5246 §7.4, RFC 8446 §4) into plain `fields` dicts.

Every read is bounds-checked through `_Reader`; a short or inconsistent message raises
`HandshakeError` naming what was expected and where, which the stream dissector turns into
a Problem on that message (decoding goes on with the next one).
"""

from __future__ import annotations

from typing import Any

from chargescope.dissectors.tls.suites import suite_name, version_name

HANDSHAKE_TYPES = {
    0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket",
    5: "EndOfEarlyData", 8: "EncryptedExtensions", 11: "Certificate", 12: "ServerKeyExchange",
    13: "CertificateRequest", 14: "ServerHelloDone", 15: "CertificateVerify",
    16: "ClientKeyExchange", 20: "Finished", 24: "KeyUpdate", 254: "MessageHash",
}
ALERT_LEVELS = {1: "warning", 2: "fatal"}
ALERT_DESCRIPTIONS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
    80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
    109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 115: "unknown_psk_identity",
    116: "certificate_required", 120: "no_application_protocol",
}
EXT_SERVER_NAME = 0
EXT_ALPN = 16
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SUPPORTED_VERSIONS = 43
EXT_RENEGOTIATION_INFO = 0xFF01  # RFC 5746 secure renegotiation
SCSV_EMPTY_RENEGOTIATION_INFO = 0x00FF  # RFC 5746 §3.3: the extension as a cipher suite
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")


class HandshakeError(ValueError):
    def __init__(self, detail: str, offset: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.offset = offset


class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise HandshakeError(f"expected {what} ({n} bytes), {self.end - self.pos} left",
                                 self.pos)
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")

    def vector(self, len_bytes: int, what: str) -> _Reader:
        n = self.uint(len_bytes, f"{what} length")
        body = _Reader(self.data, self.pos, self.pos + n)
        self.take(n, what)
        return body

    @property
    def left(self) -> int:
        return self.end - self.pos


def _extensions(r: _Reader) -> list[tuple[int, _Reader]]:
    if not r.left:
        return []
    block = r.vector(2, "extensions")
    out = []
    while block.left:
        ext_type = block.uint(2, "extension type")
        out.append((ext_type, block.vector(2, f"extension {ext_type}")))
    return out


def _sni(r: _Reader) -> list[str]:
    names = r.vector(2, "server name list")
    out = []
    while names.left:
        kind = names.uint(1, "server name type")
        value = names.vector(2, "server name")
        raw = value.take(value.left, "server name")
        if kind == 0:
            out.append(raw.decode("ascii", errors="replace"))
    return out


def _alpn(r: _Reader) -> list[str]:
    protos = r.vector(2, "ALPN list")
    out = []
    while protos.left:
        p = protos.vector(1, "ALPN protocol")
        out.append(p.take(p.left, "ALPN protocol").decode("ascii", errors="replace"))
    return out


def _hello_start(r: _Reader) -> tuple[int, bytes]:
    """legacy_version and random of a Client/ServerHello; the session id is skipped."""
    legacy = r.uint(2, "legacy_version")
    random = r.take(32, "random")
    session = r.vector(1, "session_id")
    session.take(session.left, "session_id")
    return legacy, random


def parse_client_hello(body: bytes) -> dict[str, Any]:
    r = _Reader(body)
    legacy, random = _hello_start(r)
    suites_r = r.vector(2, "cipher_suites")
    suites = []
    while suites_r.left:
        suites.append(suites_r.uint(2, "cipher suite"))
    comp = r.vector(1, "compression_methods")
    comp.take(comp.left, "compression methods")
    fields: dict[str, Any] = {
        "legacy_version": version_name(legacy), "random": random.hex(),
        "cipher_suites": [suite_name(s) for s in suites], "cipher_suite_codes": suites,
        "extensions": [], "server_name": [], "supported_versions": [], "alpn": [],
        "secure_renegotiation": SCSV_EMPTY_RENEGOTIATION_INFO in suites,
    }
    for ext_type, ext in _extensions(r):
        fields["extensions"].append(ext_type)
        if ext_type == EXT_SERVER_NAME and ext.left:
            fields["server_name"] = _sni(ext)
        elif ext_type == EXT_ALPN:
            fields["alpn"] = _alpn(ext)
        elif ext_type == EXT_RENEGOTIATION_INFO:
            fields["secure_renegotiation"] = True
        elif ext_type == EXT_SUPPORTED_VERSIONS:
            versions = ext.vector(1, "supported_versions")
            while versions.left:
                fields["supported_versions"].append(version_name(versions.uint(2, "version")))
    return fields


def parse_server_hello(body: bytes) -> dict[str, Any]:
    r = _Reader(body)
    legacy, random = _hello_start(r)
    suite = r.uint(2, "cipher_suite")
    r.uint(1, "compression_method")
    version = legacy
    extensions = []
    for ext_type, ext in _extensions(r):
        extensions.append(ext_type)
        if ext_type == EXT_SUPPORTED_VERSIONS:
            version = ext.uint(2, "selected_version")
    return {"legacy_version": version_name(legacy), "version": version_name(version),
            "version_code": version, "random": random.hex(), "cipher_suite": suite_name(suite),
            "cipher_suite_code": suite, "extensions": extensions,
            "hello_retry_request": random == HRR_RANDOM,
            "encrypt_then_mac": EXT_ENCRYPT_THEN_MAC in extensions,
            "secure_renegotiation": EXT_RENEGOTIATION_INFO in extensions}


def parse_certificate(body: bytes, tls13: bool) -> dict[str, Any]:
    """The DER certificates of a Certificate message, in sent order (leaf first)."""
    r = _Reader(body)
    if tls13:
        context = r.vector(1, "certificate_request_context")
        context.take(context.left, "certificate_request_context")
    chain = r.vector(3, "certificate_list")
    certs = []
    while chain.left:
        cert = chain.vector(3, "certificate")
        certs.append(cert.take(cert.left, "certificate"))
        if tls13:
            ext = chain.vector(2, "certificate extensions")
            ext.take(ext.left, "certificate extensions")
    return {"certificates": [describe_certificate(der) for der in certs], "der": certs}


def describe_certificate(der: bytes) -> dict[str, Any]:
    """Subject, issuer, validity and key usage of one DER certificate (or why not)."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        info: dict[str, Any] = {
            "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "X"),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
        }
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            info["key_usage"] = [name for name in (
                "digital_signature", "content_commitment", "key_encipherment",
                "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")
                if getattr(ku, name)]
        except x509.ExtensionNotFound:
            info["key_usage"] = None
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            info["ca"] = bc.ca
        except x509.ExtensionNotFound:
            info["ca"] = None
        return info
    except Exception as exc:  # hostile DER: report, never raise
        return {"error": f"not a DER X.509 certificate: {exc}"[:200], "length": len(der)}


def parse_handshake(msg_type: int, body: bytes, *, tls13: bool) -> dict[str, Any]:
    """Fields of one handshake message body; HandshakeError if it is malformed."""
    if msg_type == 1:
        return parse_client_hello(body)
    if msg_type == 2:
        return parse_server_hello(body)
    if msg_type == 11:
        fields = parse_certificate(body, tls13)
        fields.pop("der")
        return fields
    return {"length": len(body)}


def parse_alert(body: bytes) -> dict[str, Any]:
    if len(body) != 2:
        raise HandshakeError(f"expected a 2-byte alert, got {len(body)} bytes", 0)
    return {"level": ALERT_LEVELS.get(body[0], str(body[0])), "level_code": body[0],
            "description": ALERT_DESCRIPTIONS.get(body[1], str(body[1])),
            "description_code": body[1]}
