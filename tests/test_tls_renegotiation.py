"""TLS 1.2 renegotiation: decryption across the key switch, RFC 5746 reporting, findings.

The capture is real traffic made with `openssl s_server`/`s_client` (Python's `ssl` cannot
renegotiate); how it was made and what each side sent: tests/data/tls/README.md.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.handoff import StreamHandoff
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Link, Message
from chargescope.analyzer.tls.checks import TlsChecker
from chargescope.analyzer.tls.keylog import KeyLog
from chargescope.cli import cli
from tests.conftest import DATA
from tests.test_tls_checks import _codes
from tests.test_tls_decrypt import _Recorder

CAPTURE = DATA / "tls" / "tls12_renegotiation.pcap"
KEYLOG = DATA / "tls" / "tls12_renegotiation.keylog"
SENT = (b"from client, first keys\nfrom client, renegotiated keys\n",
        b"from server, first keys\nfrom server, renegotiated keys\n")


def _run(keylog_text: bytes) -> tuple[_Recorder, list[Message]]:
    recorder = _Recorder()
    inner = StreamHandoff("recorder", (), lambda data, direction: True, lambda conn: recorder)
    keylog = KeyLog()
    keylog.add_text(keylog_text, "test")
    with open_capture(CAPTURE) as capture:
        items = list(Pipeline(stream_handoffs=(inner,), keylog=keylog).run(capture.frames()))
    return recorder, [i for i in items if isinstance(i, Message) and i.protocol == "tls"]


def test_decrypts_across_the_renegotiation():
    recorder, messages = _run(KEYLOG.read_bytes())
    assert (bytes(recorder.data[0]), bytes(recorder.data[1])) == SENT
    assert recorder.offsets_ok and recorder.closed
    assert [p.kind for m in messages for p in m.problems] == []
    names = [m.name for m in messages]
    assert names.count("ClientHello") == 2 and names.count("Finished") == 4
    assert names.count("ChangeCipherSpec") == 4
    assert [m.name for m in messages if m.name == "Alert"] == ["Alert", "Alert"]


def test_renegotiation_handshake_is_marked_and_rfc5746_reported():
    _, messages = _run(KEYLOG.read_bytes())
    hellos = [m.fields["tls"] for m in messages if m.name in ("ClientHello", "ServerHello")]
    assert [h.get("renegotiation", False) for h in hellos] == [False, False, True, True]
    assert all(h["secure_renegotiation"] for h in hellos)  # SCSV first, then the extension
    # the new client random is the second key log line: keys switched per handshake
    randoms = [line.split()[1] for line in KEYLOG.read_text().splitlines()]
    assert [h["random"] for h in hellos if "cipher_suites" in h] == randoms


def test_without_the_second_key_the_rest_is_reported_not_misdecrypted():
    first_line = KEYLOG.read_bytes().splitlines()[0]
    recorder, messages = _run(first_line)
    assert bytes(recorder.data[0]) == SENT[0].split(b"\n")[0] + b"\n"
    assert bytes(recorder.data[1]) == SENT[1].split(b"\n")[0] + b"\n"
    kinds = [p.kind for m in messages for p in m.problems]
    assert kinds == ["tls.keys.missing", "tls.keys.missing"]  # one per direction, counted
    assert "tls.record.decrypt_failed" not in kinds


def test_checker_reports_the_renegotiation_once():
    _, messages = _run(KEYLOG.read_bytes())
    checker = TlsChecker()
    for message in messages:
        checker.feed(message)
    assert [f.code for f in checker.finish()] == ["tls.renegotiation"]


def _msg(name: str, src: str, fields: dict) -> Message:
    other = "[fe80::1]:50000" if src != "[fe80::1]:50000" else "[fe80::2]:61000"
    return Message(Link.A, "tls", name, 0, src, other, {"tls": {"tcp_stream": 0, **fields}})


EV, SECC = "[fe80::1]:50000", "[fe80::2]:61000"
HELLO = {"version": "TLS 1.2", "cipher_suite_code": 0xC023}


def test_insecure_renegotiation_is_an_error_and_plain_handshakes_are_not_flagged():
    legacy = _msg("ServerHello", SECC, {**HELLO, "secure_renegotiation": False})
    secure = _msg("ServerHello", SECC, {**HELLO, "secure_renegotiation": True})
    again = _msg("ClientHello", EV, {"renegotiation": True})
    server_asks = _msg("HelloRequest", SECC, {"renegotiation": True})
    assert _codes(legacy) == [] and _codes(secure) == []
    assert _codes(secure, again) == ["tls.renegotiation"]
    assert _codes(legacy, again) == ["tls.renegotiation", "tls.renegotiation.insecure"]
    assert _codes(secure, server_asks, again) == ["tls.renegotiation"]  # once per connection


def test_cli_shows_the_renegotiation():
    result = CliRunner().invoke(cli, ["tls", "--json", "--keylog", str(KEYLOG), str(CAPTURE)])
    doc = json.loads(result.output)
    conn = doc["captures"][0]["connections"][0]
    assert (conn["renegotiations"], conn["secure_renegotiation"], conn["decrypted"]) == (
        1, True, True)
    assert [f["code"] for f in doc["captures"][0]["findings"]] == ["tls.renegotiation"]
    assert result.exit_code == 0  # a warning, not an error


def test_tls13_post_handshake_authentication_keeps_the_application_keys(tmp_path):
    """TLS 1.3 has no renegotiation; its post-handshake client authentication sends
    Certificate, CertificateVerify and Finished under the application keys, and that
    Finished must not reset the client's keys (the data after it still decrypts)."""
    import ssl

    from chargescope.analyzer.records import StreamClose, StreamData
    from chargescope.dissectors.tls.stream import TlsStream
    from tests.test_tls_decrypt import CONN
    from tests.tls_session import run_session

    exchange = [(0, b"before"), (1, b"server asks for the EV certificate"),
                (0, b"after authentication"), (1, b"and more")]
    session = run_session(tmp_path, exchange, version=ssl.TLSVersion.TLSv1_3,
                          post_handshake_auth=True)
    assert session.received == (b"beforeafter authentication",
                                b"server asks for the EV certificateand more")
    recorder = _Recorder()
    keylog = KeyLog()
    keylog.add_text(session.keylog, "client.keylog")
    inner = StreamHandoff("recorder", (), lambda data, direction: True, lambda conn: recorder)
    stream = TlsStream(CONN, keylog, (inner,))
    offsets, out = [0, 0], []
    for direction, data in session.chunks:
        out += stream.on_data(StreamData(CONN, direction, offsets[direction], data, 0))
        offsets[direction] += len(data)
    out += stream.on_close(StreamClose(CONN, -1, 0, "end-of-capture"))
    assert (bytes(recorder.data[0]), bytes(recorder.data[1])) == session.received
    assert [p.kind for m in out for p in m.problems] == []
    names = [m.name for m in out]
    assert names.count("Finished") == 3  # server, client, client's post-handshake one
    assert names.count("CertificateRequest") == 1 and names.count("CertificateVerify") == 2
    request = names.index("CertificateRequest")
    assert names.index("Finished") < request  # after the handshake, not inside it
    assert names[request + 1:request + 4] == ["Certificate", "CertificateVerify", "Finished"]
