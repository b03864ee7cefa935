"""The cipher suites chargescope can decrypt, and the names of those it only recognises.

ISO 15118-2 [V2G2-602]: TLS 1.2 with TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 or
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256. ISO 15118-20 requires TLS 1.3 with
TLS_AES_128_GCM_SHA256 / TLS_AES_256_GCM_SHA384 (ChaCha20 optional). OCPP security
profiles 2/3 ask for TLS 1.2+ with ECDHE AES-GCM suites.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CipherSuite:
    code: int
    name: str
    mode: str  # "cbc" (MAC-then-encrypt, TLS 1.2), "gcm", "chacha"
    key_len: int
    iv_len: int  # fixed IV bytes from the key block (GCM salt 4, ChaCha 12, CBC 0)
    mac_len: int  # HMAC key/tag length for CBC suites, 0 for AEAD
    hash_name: str  # PRF / HKDF hash: "sha256" or "sha384"
    tls13: bool = False


def _suite(code: int, name: str) -> CipherSuite:
    hash_name = "sha384" if name.endswith("SHA384") else "sha256"
    tls13 = not name.startswith("TLS_") or "_WITH_" not in name
    if "CHACHA20" in name:
        return CipherSuite(code, name, "chacha", 32, 12, 0, hash_name, tls13)
    key_len = 32 if "AES_256" in name else 16
    if "GCM" in name:
        return CipherSuite(code, name, "gcm", key_len, 12 if tls13 else 4, 0, hash_name, tls13)
    mac_len = 48 if hash_name == "sha384" else 32
    return CipherSuite(code, name, "cbc", key_len, 0, mac_len, hash_name, tls13)


DECRYPTABLE: dict[int, CipherSuite] = {s.code: s for s in (
    _suite(0x1301, "TLS_AES_128_GCM_SHA256"),
    _suite(0x1302, "TLS_AES_256_GCM_SHA384"),
    _suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    _suite(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    _suite(0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"),
    _suite(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    _suite(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    _suite(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    _suite(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    _suite(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    _suite(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    _suite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    _suite(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    _suite(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    _suite(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    _suite(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    _suite(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    _suite(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    _suite(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
)}

# suites the standards allow (checked by analyzer.tls.checks)
ISO15118_2_SUITES = frozenset({0xC023, 0xC025})
ISO15118_20_SUITES = frozenset({0x1301, 0x1302, 0x1303})

VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
            0x0304: "TLS 1.3"}


def suite_name(code: int) -> str:
    suite = DECRYPTABLE.get(code)
    return suite.name if suite else f"0x{code:04X}"


def version_name(code: int) -> str:
    if (code & 0x0F0F) == 0x0A0A:
        return "GREASE"
    return VERSIONS.get(code, f"0x{code:04X}")
