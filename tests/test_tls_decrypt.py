"""TLS decryption against real sessions made on this machine with Python's `ssl`.

The oracle is the endpoints themselves: the plaintext the TLS dissector hands to the inner
dissector must equal, byte for byte, what each `ssl` endpoint read from the other.
"""

from __future__ import annotations

import ssl
import struct

import pytest

from chargescope.analyzer.handoff import StreamHandoff
from chargescope.analyzer.records import (
    Connection,
    Endpoint,
    Message,
    StreamClose,
    StreamData,
    StreamGap,
)
from chargescope.analyzer.tls.keylog import KeyLog
from chargescope.dissectors.tls.stream import TlsStream
from tests.tls_session import run_session

CONFIGS = [
    pytest.param((ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"),
                 id="tls12-aes128-cbc-sha256"),
    pytest.param((ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"), id="tls12-aes128-gcm"),
    pytest.param((ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES256-GCM-SHA384"), id="tls12-aes256-gcm"),
    pytest.param((ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305"), id="tls12-chacha20"),
    pytest.param((ssl.TLSVersion.TLSv1_3, None), id="tls13-default"),
]
EXCHANGE = [(0, b"\x01\xfe\x80\x01" + struct.pack("!I", 5) + b"hello"),
            (1, bytes(range(256)) * 90),  # larger than one record: several records
            (0, b"bye")]
CONN = Connection(3, Endpoint("fe80::1", 50123), Endpoint("fe80::2", 61000), "test")


class _Recorder:
    """An inner stream dissector that keeps what it was fed."""

    def __init__(self) -> None:
        self.data = [bytearray(), bytearray()]
        self.offsets_ok = True
        self.closed = False

    def on_data(self, event: StreamData) -> list[Message]:
        self.offsets_ok &= event.offset == len(self.data[event.direction])
        self.data[event.direction] += event.data
        return []

    def on_gap(self, event: StreamGap) -> list[Message]:
        return []

    def on_close(self, event: StreamClose) -> list[Message]:
        self.closed = True
        return []


def _feed(session, keylog: KeyLog, *, keys_after: int | None = None, split: int = 0):
    recorder = _Recorder()
    inner = StreamHandoff("recorder", (), lambda data, direction: True, lambda conn: recorder)
    stream = TlsStream(CONN, keylog if keys_after is None else KeyLog(), (inner,))
    offsets = [0, 0]
    out: list[Message] = []
    for index, (direction, data) in enumerate(session.chunks):
        if keys_after is not None and index == keys_after:
            stream.keylog.add_text(session.keylog, "late")
        pieces = [data[i:i + split] for i in range(0, len(data), split)] if split else [data]
        for piece in pieces:
            out += stream.on_data(StreamData(CONN, direction, offsets[direction], piece, 0))
            offsets[direction] += len(piece)
    out += stream.on_close(StreamClose(CONN, -1, 0, "end-of-capture"))
    return recorder, out


@pytest.fixture(scope="module", params=CONFIGS)
def session(request, tmp_path_factory):
    version, ciphers = request.param
    return run_session(tmp_path_factory.mktemp("tls"), EXCHANGE, version=version,
                       ciphers=ciphers)


def test_decrypted_bytes_equal_what_the_endpoints_read(session):
    keylog = KeyLog()
    assert keylog.add_text(session.keylog, "client.keylog") >= 1
    recorder, out = _feed(session, keylog)
    assert bytes(recorder.data[0]) == session.received[0] == b"".join(
        d for s, d in EXCHANGE if s == 0)
    assert bytes(recorder.data[1]) == session.received[1]
    assert recorder.offsets_ok and recorder.closed
    assert [p.kind for m in out for p in m.problems] == []
    names = [m.name for m in out]
    assert names[:2] == ["ClientHello", "ServerHello"]
    assert names.count("Finished") == 2
    assert names[-1] == "Alert"  # close_notify, decrypted
    assert out[-1].fields["tls"]["description"] == "close_notify"


@pytest.mark.parametrize("split", [1, 7], ids=["bytewise", "7-byte"])
def test_records_split_into_small_segments_decode_the_same(session, split):
    keylog = KeyLog()
    keylog.add_text(session.keylog, "client.keylog")
    recorder, out = _feed(session, keylog, split=split)
    assert bytes(recorder.data[1]) == session.received[1]
    assert [p.kind for m in out for p in m.problems] == []


def test_keys_arriving_after_the_handshake_still_decrypt_everything(session):
    recorder, out = _feed(session, KeyLog(), keys_after=4)
    assert bytes(recorder.data[0]) == session.received[0]
    assert bytes(recorder.data[1]) == session.received[1]
    assert [p.kind for m in out for p in m.problems] == []


def test_without_keys_the_handshake_is_decoded_and_the_rest_reported(session):
    recorder, out = _feed(session, KeyLog(), keys_after=len(session.chunks) + 1)
    assert recorder.data == [bytearray(), bytearray()]
    hello = next(m for m in out if m.name == "ClientHello").fields["tls"]
    assert hello["server_name"] == ["SECC.test"]
    server = next(m for m in out if m.name == "ServerHello").fields["tls"]
    assert server["version"] == session.version.replace("v", " ")
    assert server["cipher_suite_code"] in {0xC023, 0xC02B, 0xC02C, 0xCCA9, 0x1301, 0x1302, 0x1303}
    kinds = [p.kind for m in out for p in m.problems]
    assert kinds and set(kinds) == {"tls.keys.missing"}
    if session.version == "TLSv1.2":  # TLS 1.3 sends the certificate encrypted
        cert = next(m for m in out if m.name == "Certificate").fields["tls"]["certificates"][0]
        assert cert["subject"] == "CN=SECC.test"


def test_a_wrong_key_is_reported_not_raised(session):
    keylog = KeyLog()
    wrong = b"\n".join(line[:-4] + b"abcd" for line in session.keylog.splitlines()
                       if line and not line.startswith(b"#"))
    keylog.add_text(wrong, "wrong")
    recorder, out = _feed(session, keylog)
    kinds = {p.kind for m in out for p in m.problems}
    assert "tls.record.decrypt_failed" in kinds
    assert recorder.data[1] == bytearray()


def _seal(keys, seq: int, inner: bytes) -> bytes:
    """One TLS 1.3 record protected the way a sender would (RFC 8446 §5.2)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = bytes(a ^ b for a, b in zip(keys.iv, seq.to_bytes(12, "big"), strict=True))
    header = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    return header + AESGCM(keys.key).encrypt(nonce, inner, header)


def test_tls13_key_update_switches_to_the_next_secret(tmp_path):
    from chargescope.dissectors.tls.keyschedule import hkdf_expand_label, tls13_keys
    from chargescope.dissectors.tls.suites import DECRYPTABLE

    session = run_session(tmp_path, [(1, b"before")], version=ssl.TLSVersion.TLSv1_3)
    keylog = KeyLog()
    keylog.add_text(session.keylog, "k")
    recorder = _Recorder()
    inner = StreamHandoff("recorder", (), lambda data, direction: True, lambda conn: recorder)
    stream = TlsStream(CONN, keylog, (inner,))
    offsets = [0, 0]
    for direction, data in session.chunks:
        stream.on_data(StreamData(CONN, direction, offsets[direction], data, 0))
        offsets[direction] += len(data)
    server = stream.sides[1]
    suite = DECRYPTABLE[stream.suite_code]
    size = 48 if suite.hash_name == "sha384" else 32
    seq = server.decryptor.seq
    key_update = b"\x18\x00\x00\x01\x00" + b"\x16"  # KeyUpdate(update_not_requested), type 22
    updated = hkdf_expand_label(server.app_secret, "traffic upd", b"", size, suite.hash_name)
    wire = (_seal(tls13_keys(suite, server.app_secret), seq, key_update)
            + _seal(tls13_keys(suite, updated), 0, b"after\x17"))
    out = stream.on_data(StreamData(CONN, 1, offsets[1], wire, 0))
    assert [m.name for m in out] == ["KeyUpdate"]
    assert bytes(recorder.data[1]) == b"beforeafter"


_CHILD = """
import json, ssl, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tests.tls_session import run_session
s = run_session(Path(sys.argv[1]), [(0, b"ping" * 50), (1, bytes(range(256)) * 30)],
                version=ssl.TLSVersion.TLSv1_3)
print(json.dumps({"cipher": s.cipher, "keylog": s.keylog.decode(),
                  "chunks": [[d, c.hex()] for d, c in s.chunks],
                  "received": [r.hex() for r in s.received]}))
"""


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"])
def test_tls13_suites_python_cannot_select_in_process(tmp_path, suite):
    """Python's ssl cannot choose TLS 1.3 suites; an OpenSSL config in a child process can."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    conf = tmp_path / "openssl.cnf"
    conf.write_text("openssl_conf = default_conf\n[default_conf]\nssl_conf = ssl_sect\n"
                    "[ssl_sect]\nsystem_default = sys\n[sys]\nCiphersuites = " + suite + "\n")
    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path), repo],
                         capture_output=True, text=True, check=True, timeout=60,
                         env={**os.environ, "OPENSSL_CONF": str(conf)})
    child = json.loads(out.stdout)
    assert child["cipher"] == suite
    session = SimpleNamespace(chunks=[(d, bytes.fromhex(c)) for d, c in child["chunks"]])
    keylog = KeyLog()
    keylog.add_text(child["keylog"], "child")
    recorder, messages = _feed(session, keylog)
    assert [p.kind for m in messages for p in m.problems] == []
    assert bytes(recorder.data[0]) == bytes.fromhex(child["received"][0])
    assert bytes(recorder.data[1]) == bytes.fromhex(child["received"][1])
