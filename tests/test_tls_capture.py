"""TLS through the whole pipeline: the three key sources, the CLI, and the corpus captures."""

from __future__ import annotations

import collections
import json
import ssl
import struct

import pytest
from click.testing import CliRunner

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Message
from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs
from chargescope.cli import cli
from tests.conftest import corpus_path
from tests.tls_session import run_session, to_capture

SAP_REQ = bytes.fromhex("8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040")
EXCHANGE = [(0, b"\x01\xfe\x80\x01" + struct.pack("!I", len(SAP_REQ)) + SAP_REQ),
            (1, b"\x01\xfe\x80\x01" + struct.pack("!I", 4) + b"\x80\x04\x00\x40")]


@pytest.fixture(scope="module", params=[ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                ids=["tls12", "tls13"])
def session(request, tmp_path_factory):
    ciphers = "ECDHE-ECDSA-AES128-SHA256" if request.param == ssl.TLSVersion.TLSv1_2 else None
    return run_session(tmp_path_factory.mktemp("tlscap"), EXCHANGE, version=request.param,
                       ciphers=ciphers)


def _run(path, keylog_files=()):
    keylog = load_key_logs(keylog_files)
    with open_capture(path) as capture:
        items = list(Pipeline(keylog=keylog).run(frames_with_secrets(capture, keylog)))
    return [i for i in items if isinstance(i, Message)], keylog


def _v2gtp(messages):
    return [m for m in messages if m.protocol == "v2gtp"]


@pytest.mark.parametrize("source", ["file", "dsb", "inband", "none"])
def test_each_key_source_unlocks_the_v2g_stream(session, tmp_path, source):
    keyfile = tmp_path / "keys.log"
    keyfile.write_bytes(session.keylog)
    path = to_capture(session, tmp_path / "s.pcapng",
                      dsb=session.keylog if source == "dsb" else None,
                      inband=session.keylog if source == "inband" else None)
    messages, keylog = _run(path, [keyfile] if source == "file" else [])
    kinds = collections.Counter(p.kind for m in messages for p in m.problems)
    if source == "none":
        assert _v2gtp(messages) == [] and kinds["tls.keys.missing"] >= 1
        return
    assert len(keylog) >= 1
    assert kinds["tls.keys.missing"] == 0 and kinds["tls.record.decrypt_failed"] == 0
    v2gtp = [m for m in _v2gtp(messages) if m.name != "ConnectionClosed"]
    assert len(v2gtp) + sum(m.protocol == "exi" for m in messages) >= 2
    with open_capture(path) as capture:
        frames = {f.number: f.data for f in capture.frames()}
    for message in v2gtp + [m for m in messages if m.protocol == "exi"]:
        assert message.link == "A"
        # byte ranges point at the ciphertext that carried the plaintext, inside real frames
        assert message.refs and all(r.start + r.length <= len(frames[r.frame])
                                    for r in message.refs)
    if source == "inband":
        disclosure = [m for m in messages if m.protocol == "tls-keylog"]
        assert len(disclosure) == 1
        assert session.keylog.split()[2].decode() not in str(disclosure[0].fields)


def test_cli_keylog_option_decrypts(session, tmp_path):
    keyfile = tmp_path / "keys.log"
    keyfile.write_bytes(session.keylog)
    path = to_capture(session, tmp_path / "s.pcapng")
    runner = CliRunner()
    without = runner.invoke(cli, ["v2g", "--json", str(path)])
    with_keys = runner.invoke(cli, ["v2g", "--json", "--keylog", str(keyfile), str(path)])
    assert "supportedAppProtocolReq" not in without.stdout
    assert "supportedAppProtocolReq" in with_keys.stdout


TLS_CAPTURES = ["ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng",
                "ISO-2_AC_PnC_TLS_Contract_MeteringReceipt_DS5366_RiseV2G.pcapng",
                "ISO-20_TLS13_DC_DS5366_Josev.pcapng", "ISO-20_mTLS_DC_DS5366_Josev.pcapng"]


@pytest.mark.parametrize("name", TLS_CAPTURES)
def test_dsv2gshark_tls_captures_decrypt_to_complete_sessions(name):
    path = corpus_path("pcaps", "dspace-group+dsV2Gshark", name)
    messages, keylog = _run(path)
    assert len(keylog) >= 1  # in-band disclosure found
    kinds = collections.Counter(p.kind for m in messages for p in m.problems
                                if p.kind.startswith("tls."))
    assert kinds == {}
    exi = [m.name for m in messages if m.protocol == "exi"]
    assert exi[0] == "supportedAppProtocolReq"
    assert "SessionStopRes" in exi
    assert any(n.startswith("Authorization") for n in exi)


def test_ocpp_over_wss_decrypts_into_the_ocpp_dissector(tmp_path):
    from ocpp.messages import Call, CallResult

    from tests import ws_builder as ws
    from tests.tls_session import wss_capture

    call = Call("42", "BootNotification", {"chargePointModel": "M", "chargePointVendor": "V"})
    result = CallResult("42", {"status": "Accepted", "currentTime": "2025-01-01T00:00:00Z",
                               "interval": 300}, action="BootNotification")
    exchange = [(0, ws.request("CP-7")), (1, ws.response()),
                (0, ws.client_frame(call.to_json())), (1, ws.server_frame(result.to_json()))]
    path, keyfile = wss_capture(tmp_path, exchange)
    messages, _ = _run(path, [keyfile])
    ocpp = [m for m in messages if m.protocol == "ocpp"]
    assert [m.fields.get("message_type") for m in ocpp] == ["CALL", "CALLRESULT"]
    assert ocpp[0].fields.get("action") == "BootNotification" and ocpp[0].link == "B"
    runner = CliRunner()
    out = runner.invoke(cli, ["ocpp", "--json", "--keylog", str(keyfile), str(path)])
    assert "BootNotification" in out.stdout and "CP-7" in out.stdout


def test_ocpp_verb_without_keys_says_the_wss_stream_stayed_encrypted(tmp_path):
    from tests import ws_builder as ws
    from tests.tls_session import wss_capture

    exchange = [(0, ws.request("CP-7")), (1, ws.response())]
    path, _ = wss_capture(tmp_path, exchange, ssl.TLSVersion.TLSv1_3, ciphers=None)
    out = CliRunner().invoke(cli, ["ocpp", "--json", str(path)])
    kinds = [p["kind"] for p in json.loads(out.stdout)["problems"]]
    assert "tls.keys.missing" in kinds


def test_ocpi_over_https_decrypts_into_the_http_ocpi_dissector(tmp_path):
    from tests import ocpi_helpers as ocpi
    from tests.tls_session import Node

    exchange = [(0, ocpi.request("GET", "/ocpi/versions")),
                (1, ocpi.response([{"version": "2.2.1",
                                    "url": "https://cpo.example/ocpi/2.2.1"}]))]
    session = run_session(tmp_path, exchange, version=ssl.TLSVersion.TLSv1_2,
                          ciphers="ECDHE-ECDSA-CHACHA20-POLY1305")
    keyfile = tmp_path / "keys.log"
    keyfile.write_bytes(session.keylog)
    path = to_capture(session, tmp_path / "https.pcapng", server_port=443,
                      client=Node("02:00:00:00:00:07", "10.0.0.7"),
                      server=Node("02:00:00:00:00:01", "10.0.0.1"))
    messages, _ = _run(path, [keyfile])
    inner = [m for m in messages if m.protocol not in ("tls", "tls-keylog")]
    assert inner and all(m.link == "C" for m in inner)
    assert {m.protocol for m in inner} & {"http", "ocpi"}
    assert "/ocpi/versions" in json.dumps([m.fields for m in inner], default=str)


def test_keys_disclosed_after_the_connection_closed_still_decrypt(session, tmp_path):
    path = to_capture(session, tmp_path / "late.pcapng", inband=session.keylog, late=True)
    messages, keylog = _run(path)
    kinds = collections.Counter(p.kind for m in messages for p in m.problems)
    assert len(keylog) >= 1 and kinds["tls.keys.missing"] == 0
    assert sum(m.protocol == "exi" for m in messages) >= 1
    closed = [m for m in _v2gtp(messages) if m.name == "ConnectionClosed"]
    assert closed  # the inner dissector still saw the close, after the late data


def test_analyze_api_uses_keylog_files(session, tmp_path):
    from chargescope.analyzer.analysis import analyze

    keyfile = tmp_path / "keys.log"
    keyfile.write_bytes(session.keylog)
    path = to_capture(session, tmp_path / "s.pcapng")
    plain = analyze([path], keep_messages=True)
    keyed = analyze([path], keep_messages=True, keylog_files=[keyfile])
    assert not any(m.protocol == "exi" for m in plain.messages)
    assert any(m.protocol == "exi" for m in keyed.messages)


def test_ocpi_verb_decrypts_https_with_keylog(tmp_path):
    from tests import ocpi_helpers as ocpi
    from tests.tls_session import Node

    exchange = [(0, ocpi.request("GET", "/ocpi/versions")),
                (1, ocpi.response([{"version": "2.2.1",
                                    "url": "https://cpo.example/ocpi/2.2.1"}]))]
    session = run_session(tmp_path, exchange, version=ssl.TLSVersion.TLSv1_3)
    keyfile = tmp_path / "keys.log"
    keyfile.write_bytes(session.keylog)
    path = to_capture(session, tmp_path / "https.pcapng", server_port=443,
                      client=Node("02:00:00:00:00:07", "10.0.0.7"),
                      server=Node("02:00:00:00:00:01", "10.0.0.1"))
    without = CliRunner().invoke(cli, ["ocpi", "--json", "--messages", str(path)])
    with_keys = CliRunner().invoke(cli, ["ocpi", "--json", "--messages", "--keylog",
                                         str(keyfile), str(path)])
    assert "/ocpi/versions" not in without.stdout
    assert "/ocpi/versions" in with_keys.stdout
