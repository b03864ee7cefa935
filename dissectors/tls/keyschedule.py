"""Key derivation: the TLS 1.2 PRF key block (RFC 5246 §5, §6.3) and TLS 1.3
HKDF-Expand-Label traffic keys (RFC 8446 §7.1, §7.3)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from chargescope.dissectors.tls.suites import CipherSuite


@dataclass(frozen=True, slots=True)
class TrafficKeys:
    """One direction's keys: cipher key, fixed IV part, MAC key (CBC suites only)."""

    key: bytes
    iv: bytes
    mac_key: bytes = b""


def prf_tls12(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """P_hash of RFC 5246 §5 (the TLS 1.2 PRF)."""
    digest = getattr(hashlib, hash_name)
    seed = label + seed
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.new(secret, a, digest).digest()
        out += hmac.new(secret, a + seed, digest).digest()
    return bytes(out[:length])


def tls12_keys(suite: CipherSuite, master_secret: bytes, client_random: bytes,
               server_random: bytes) -> tuple[TrafficKeys, TrafficKeys]:
    """(client write keys, server write keys) from the key block (RFC 5246 §6.3)."""
    mac, key, iv = suite.mac_len, suite.key_len, suite.iv_len
    block = prf_tls12(master_secret, b"key expansion", server_random + client_random,
                      2 * (mac + key + iv), suite.hash_name)
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        pos += n
        return block[pos - n:pos]

    client_mac, server_mac = take(mac), take(mac)
    client_key, server_key = take(key), take(key)
    client_iv, server_iv = take(iv), take(iv)
    return (TrafficKeys(client_key, client_iv, client_mac),
            TrafficKeys(server_key, server_iv, server_mac))


def hkdf_expand_label(secret: bytes, label: str, context: bytes, length: int,
                      hash_name: str) -> bytes:
    """HKDF-Expand-Label of RFC 8446 §7.1 (HKDF-Expand of RFC 5869 §2.3)."""
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    digest = getattr(hashlib, hash_name)
    out = bytearray()
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), digest).digest()
        out += block
        counter += 1
    return bytes(out[:length])


def tls13_keys(suite: CipherSuite, traffic_secret: bytes) -> TrafficKeys:
    """The record key and IV of one TLS 1.3 traffic secret (RFC 8446 §7.3)."""
    return TrafficKeys(hkdf_expand_label(traffic_secret, "key", b"", suite.key_len,
                                         suite.hash_name),
                       hkdf_expand_label(traffic_secret, "iv", b"", 12, suite.hash_name))
