"""Record decryption with `cryptography`: one `RecordDecryptor` per direction and key epoch.

TLS 1.2: AES-CBC with HMAC (MAC-then-encrypt, or encrypt-then-MAC when RFC 7366 was
negotiated), AES-GCM (4-byte salt + 8-byte explicit nonce), ChaCha20-Poly1305 (RFC 7905).
TLS 1.3: AEAD with the per-record nonce, the record header as additional data, and the
real content type at the end of the inner plaintext (RFC 8446 §5.2).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from chargescope.dissectors.tls.keyschedule import TrafficKeys
from chargescope.dissectors.tls.suites import CipherSuite


class DecryptError(Exception):
    """A record did not authenticate or decode under the keys (wrong key, corrupt record)."""


class RecordDecryptor:
    """Decrypts one direction's protected records in order (the sequence number counts)."""

    def __init__(self, suite: CipherSuite, keys: TrafficKeys, *, tls13: bool,
                 encrypt_then_mac: bool = False) -> None:
        self.suite = suite
        self.keys = keys
        self.tls13 = tls13
        self.encrypt_then_mac = encrypt_then_mac
        self.seq = 0
        if suite.mode == "gcm":
            self._aead = AESGCM(keys.key)
        elif suite.mode == "chacha":
            self._aead = ChaCha20Poly1305(keys.key)
        else:
            self._aead = None

    def decrypt(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes, int]:
        """(content type, plaintext, offset of plaintext[0] in the fragment).

        The offset lets callers map plaintext bytes onto the ciphertext bytes in the frames
        (stream ciphers and CBC keep positions: byte i of the plaintext sits at offset + i).
        Raises DecryptError; the sequence number advances only on success.
        """
        if self.tls13:
            out = self._tls13(content_type, version, fragment)
        elif self._aead is not None:
            out = self._tls12_aead(content_type, version, fragment)
        else:
            out = self._tls12_cbc(content_type, version, fragment)
        self.seq += 1
        return out

    def _nonce(self, iv: bytes) -> bytes:
        seq = self.seq.to_bytes(len(iv), "big")
        return bytes(a ^ b for a, b in zip(iv, seq, strict=True))

    def _tls13(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes, int]:
        header = bytes([content_type]) + version.to_bytes(2, "big") + len(fragment).to_bytes(2,
                                                                                            "big")
        try:
            inner = self._aead.decrypt(self._nonce(self.keys.iv), fragment, header)
        except (InvalidTag, ValueError) as exc:
            raise DecryptError("record did not authenticate (TLS 1.3 AEAD)") from exc
        end = len(inner)
        while end and inner[end - 1] == 0:  # padding zeros, then the real content type
            end -= 1
        if not end:
            raise DecryptError("TLS 1.3 inner plaintext has no content type")
        return inner[end - 1], inner[:end - 1], 0

    def _aad(self, content_type: int, version: int, length: int) -> bytes:
        return (self.seq.to_bytes(8, "big") + bytes([content_type]) + version.to_bytes(2, "big")
                + length.to_bytes(2, "big"))

    def _tls12_aead(self, content_type: int, version: int, fragment: bytes
                    ) -> tuple[int, bytes, int]:
        if self.suite.mode == "gcm":
            if len(fragment) < 8 + 16:
                raise DecryptError("GCM record shorter than explicit nonce and tag")
            nonce, body, start = self.keys.iv + fragment[:8], fragment[8:], 8
        else:
            nonce, body, start = self._nonce(self.keys.iv), fragment, 0
        if len(body) < 16:
            raise DecryptError("AEAD record shorter than its tag")
        try:
            plain = self._aead.decrypt(nonce, body,
                                       self._aad(content_type, version, len(body) - 16))
        except (InvalidTag, ValueError) as exc:
            raise DecryptError("record did not authenticate (TLS 1.2 AEAD)") from exc
        return content_type, plain, start

    def _tls12_cbc(self, content_type: int, version: int, fragment: bytes
                   ) -> tuple[int, bytes, int]:
        mac_len = self.suite.mac_len
        digest = getattr(hashlib, self.suite.hash_name)
        if self.encrypt_then_mac:
            body, tag = fragment[:-mac_len], fragment[-mac_len:]
            expected = hmac.new(self.keys.mac_key, self._aad(content_type, version, len(body))
                                + body, digest).digest()
            if len(fragment) < mac_len or not hmac.compare_digest(tag, expected):
                raise DecryptError("record MAC does not verify (encrypt-then-MAC)")
        else:
            body = fragment
        if len(body) < 32 or len(body) % 16:
            raise DecryptError("CBC record is not IV plus whole cipher blocks")
        decryptor = Cipher(algorithms.AES(self.keys.key), modes.CBC(body[:16])).decryptor()
        padded = decryptor.update(body[16:]) + decryptor.finalize()
        pad = padded[-1]
        if pad + 1 > len(padded) or any(b != pad for b in padded[len(padded) - pad - 1:]):
            raise DecryptError("CBC padding is malformed")
        plain = padded[:len(padded) - pad - 1]
        if not self.encrypt_then_mac:
            if len(plain) < mac_len:
                raise DecryptError("CBC record shorter than its MAC")
            plain, tag = plain[:-mac_len], plain[-mac_len:]
            expected = hmac.new(self.keys.mac_key, self._aad(content_type, version, len(plain))
                                + plain, digest).digest()
            if not hmac.compare_digest(tag, expected):
                raise DecryptError("record MAC does not verify")
        return content_type, plain, 16
