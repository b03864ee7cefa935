"""Key log parsing, key schedule against `cryptography`'s HKDF, and hostile bytes."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.records import Connection, Endpoint, Message, StreamClose, StreamData
from chargescope.analyzer.tls.keylog import KeyLog, looks_like_inband_key_log, parse_key_log
from chargescope.dissectors.tls import records as rl
from chargescope.dissectors.tls.keyschedule import hkdf_expand_label, prf_tls12
from chargescope.dissectors.tls.stream import PROBLEM_KINDS, TlsStream

RANDOM = "ab" * 32
CONN = Connection(1, Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 443), "fuzz")


def test_key_log_lines_and_rejections():
    text = (f"# comment\nCLIENT_RANDOM {RANDOM} {'11' * 48}\n"
            f"SERVER_TRAFFIC_SECRET_0 {RANDOM} {'22' * 32}\n"
            f"CLIENT_RANDOM {RANDOM[:10]} 00\nBOGUS_LABEL {RANDOM} 00\nnot a line\n")
    entries, errors = parse_key_log(text, "t")
    assert [e.label for e in entries] == ["CLIENT_RANDOM", "SERVER_TRAFFIC_SECRET_0"]
    assert [e.line for e in errors] == [4, 5, 6]
    log = KeyLog(entries)
    assert set(log.secrets_for(bytes.fromhex(RANDOM))) == {"CLIENT_RANDOM",
                                                           "SERVER_TRAFFIC_SECRET_0"}
    assert log.secrets_for(b"\0" * 32) == {}


def test_inband_detection():
    assert looks_like_inband_key_log(f"CLIENT_RANDOM {RANDOM} 00".encode())
    assert not looks_like_inband_key_log(b"\x01\xfe\x90\x00")
    assert not looks_like_inband_key_log(b"CLIENT")


@given(secret=st.binary(min_size=1, max_size=64), label=st.text("abcdefghij ", max_size=20),
       context=st.binary(max_size=48), length=st.integers(1, 100),
       hash_name=st.sampled_from(["sha256", "sha384"]))
def test_hkdf_expand_label_matches_cryptography(secret, label, context, length, hash_name):
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    algorithm = hashes.SHA256() if hash_name == "sha256" else hashes.SHA384()
    expected = HKDFExpand(algorithm, length, info).derive(secret)
    assert hkdf_expand_label(secret, label, context, length, hash_name) == expected


def test_prf_is_p_hash_of_rfc5246():
    import hmac

    secret, seed = b"s" * 48, b"label" + b"x" * 64
    a1 = hmac.new(secret, seed, hashlib.sha256).digest()
    a2 = hmac.new(secret, a1, hashlib.sha256).digest()
    expected = (hmac.new(secret, a1 + seed, hashlib.sha256).digest()
                + hmac.new(secret, a2 + seed, hashlib.sha256).digest())[:40]
    assert prf_tls12(secret, b"label", b"x" * 64, 40, "sha256") == expected


def _feed_all(chunks: list[tuple[int, bytes]]) -> list[Message]:
    stream = TlsStream(CONN, KeyLog())
    offsets = [0, 0]
    out: list[Message] = []
    for direction, data in chunks:
        out += stream.on_data(StreamData(CONN, direction, offsets[direction], data, 0))
        offsets[direction] += len(data)
    out += stream.on_close(StreamClose(CONN, -1, 0, "end-of-capture"))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=300)), max_size=12))
def test_hostile_bytes_never_raise(chunks):
    for message in _feed_all(chunks):
        assert message.protocol == "tls"
        assert all(p.kind in PROBLEM_KINDS for p in message.problems)


def _record(ctype: int, body: bytes) -> bytes:
    return bytes([ctype, 3, 3]) + len(body).to_bytes(2, "big") + body


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 255))
def test_hostile_handshake_bodies_become_problems(body, msg_type):
    hs = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
    out = _feed_all([(0, _record(rl.HANDSHAKE, hs))])
    assert len(out) == 1
    assert out[0].problems == () or out[0].problems[0].kind == "tls.handshake.malformed"


def test_garbage_between_records_is_skipped_and_reported():
    alert = _record(rl.ALERT, b"\x02\x28")
    out = _feed_all([(1, alert + b"\xff" * 10 + alert)])
    assert [m.name for m in out].count("Alert") == 2
    assert any(p.kind == "tls.record.malformed" for m in out for p in m.problems)
    assert out[0].fields["tls"]["description"] == "handshake_failure"


def test_inband_datagram_with_a_bad_line_keeps_the_good_ones():
    from types import SimpleNamespace

    from chargescope.analyzer.records import Frame
    from chargescope.analyzer.tls.inband import PROBLEM_KINDS as INBAND_KINDS
    from chargescope.analyzer.tls.inband import inband_key_log

    payload = f"CLIENT_RANDOM {RANDOM} {'11' * 48}\nCLIENT_RANDOM zz\n".encode()
    frame = Frame(9, 5, 1, b"\0" * 62 + payload, 62 + len(payload), 0, "cap")
    packet = SimpleNamespace(frame=frame, payload=payload, payload_offset=62,
                             payload_length=len(payload), ip_src="fe80::2", ip_dst="fe80::1",
                             sport=52345, dport=52345)
    log = KeyLog()
    message = inband_key_log(packet, log)
    assert len(log) == 1 and message.link == "A"
    assert [p.kind for p in message.problems] == ["tls.keylog.line"]
    assert all(p.kind in INBAND_KINDS for p in message.problems)
    assert "11" * 48 not in str(message.fields)  # the secret itself is never in a Message


def test_application_data_without_a_handshake_is_reported_never_passed_on():
    fed = []

    class Inner:
        def on_data(self, event):
            fed.append(event)
            return []

        def on_gap(self, event):
            return []

        def on_close(self, event):
            return []

    from chargescope.analyzer.handoff import StreamHandoff

    inner = StreamHandoff("any", (), lambda data, direction: True, lambda conn: Inner())
    stream = TlsStream(CONN, KeyLog(), (inner,))
    data = _record(rl.APPLICATION_DATA, b"\x01\xfe\x80\x01" + bytes(40))
    out = stream.on_data(StreamData(CONN, 0, 0, data, 0))
    out += stream.on_close(StreamClose(CONN, -1, 0, "end-of-capture"))
    assert fed == []
    assert [p.kind for m in out for p in m.problems] == ["tls.keys.missing"]
    assert "handshake is not in the capture" in out[0].problems[0].detail
