"""TLS findings: alerts, version/cipher policy on link A, certificate validity and key usage."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargescope.analyzer.records import Link, Message
from chargescope.analyzer.tls.checks import TLS_FINDINGS, TlsChecker
from chargescope.dissectors.tls.handshake import describe_certificate

HANDSHAKE_AT = datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC)
TS = int(HANDSHAKE_AT.timestamp()) * 1_000_000_000


def _msg(name: str, fields: dict, link: Link = Link.A) -> Message:
    return Message(link, "tls", name, TS, "[fe80::2]:61000", "[fe80::1]:50000",
                   {"tls": {"tcp_stream": 0, **fields}})


def _cert(days_from: int, days_to: int, *, digital_signature: bool = True) -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SECC")])
    usage = x509.KeyUsage(digital_signature, False, False, False, not digital_signature,
                          False, False, False, False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(HANDSHAKE_AT + datetime.timedelta(days=days_from))
            .not_valid_after(HANDSHAKE_AT + datetime.timedelta(days=days_to))
            .add_extension(usage, critical=True).sign(key, hashes.SHA256()))
    from cryptography.hazmat.primitives.serialization import Encoding

    return describe_certificate(cert.public_bytes(Encoding.DER))


def _codes(*messages: Message) -> list[str]:
    checker = TlsChecker()
    for message in messages:
        checker.feed(message)
    return sorted(f.code for f in checker.finish())


def test_codes_are_unique_and_registered():
    codes = [s.code for s in TLS_FINDINGS]
    assert len(codes) == len(set(codes)) and all(c.startswith("tls.") for c in codes)


def test_iso15118_2_suite_is_accepted_and_others_flagged_on_link_a_only():
    ok = _msg("ServerHello", {"version": "TLS 1.2", "cipher_suite_code": 0xC023})
    gcm = _msg("ServerHello", {"version": "TLS 1.2", "cipher_suite_code": 0xC02B})
    assert _codes(ok) == []
    assert _codes(gcm) == ["tls.cipher.not_iso15118_2"]
    assert _codes(_msg("ServerHello", {"version": "TLS 1.2", "cipher_suite_code": 0xC02B},
                       Link.B)) == []
    assert _codes(_msg("ServerHello", {"version": "TLS 1.3", "cipher_suite_code": 0xC023})
                  ) == ["tls.cipher.not_iso15118_20"]
    assert _codes(_msg("ServerHello", {"version": "TLS 1.1", "cipher_suite_code": 0xC023},
                       Link.B)) == ["tls.version.outdated"]


def test_alerts():
    assert _codes(_msg("Alert", {"level": "warning", "description": "close_notify"})) == []
    assert _codes(_msg("Alert", {"level": "fatal", "description": "unknown_ca"})
                  ) == ["tls.alert.fatal"]
    assert _codes(_msg("Alert", {"level": "warning", "description": "user_canceled"})
                  ) == ["tls.alert.warning"]


def test_certificate_validity_and_key_usage():
    assert _codes(_msg("Certificate", {"certificates": [_cert(-10, 10)]})) == []
    assert _codes(_msg("Certificate", {"certificates": [_cert(-10, -1)]})
                  ) == ["tls.certificate.expired"]
    assert _codes(_msg("Certificate", {"certificates": [_cert(1, 10)]})
                  ) == ["tls.certificate.not_yet_valid"]
    assert _codes(_msg("Certificate", {"certificates": [
        _cert(-10, 10, digital_signature=False)]})) == ["tls.certificate.key_usage"]
    assert _codes(_msg("Certificate", {"certificates": [describe_certificate(b"\x30\x03junk")]})
                  ) == ["tls.certificate.unparsable"]


def test_unset_device_clock_does_not_judge_validity():
    boot = _msg("Certificate", {"certificates": [_cert(-10, -1)]})
    boot = Message(boot.link, boot.protocol, boot.name, 5_000_000_000, boot.src, boot.dst,
                   boot.fields)
    assert _codes(boot) == []
    bad_usage = _msg("Certificate", {"certificates": [_cert(-10, 10, digital_signature=False)]})
    bad_usage = Message(bad_usage.link, "tls", "Certificate", 5_000_000_000, "a", "b",
                        bad_usage.fields)
    assert _codes(bad_usage) == ["tls.certificate.key_usage"]
