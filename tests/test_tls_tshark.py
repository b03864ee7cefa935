"""Golden cross-check against tshark: the plaintext tshark's TLS decryption follows
(`-z follow,tls,raw`) equals what our pipeline hands the inner dissector, per direction."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.handoff import StreamHandoff
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.tls.sources import load_key_logs
from tests.test_tls_decrypt import _Recorder
from tests.tls_session import SECC, run_session, to_capture

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
EXCHANGE = [(0, b"\x01\xfe\x80\x01\x00\x00\x00\x02\x80\x00"), (1, bytes(range(256)) * 40),
            (0, b"bye")]


def _tshark_follow(path, keyfile) -> tuple[bytes, bytes]:
    out = subprocess.run(["tshark", "-r", str(path), "-o", f"tls.keylog_file:{keyfile}", "-q",
                          "-z", "follow,tls,raw,0"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    node0 = next(line for line in out.splitlines() if line.startswith("Node 0:"))
    first_is_server = f"[{SECC.ip}]" in node0
    sides = [bytearray(), bytearray()]  # client, server
    for line in out.splitlines():
        text = line.strip()
        if not text or not all(c in "0123456789abcdef" for c in text):
            continue
        from_node1 = line.startswith("\t")
        from_server = from_node1 != first_is_server
        sides[1 if from_server else 0] += bytes.fromhex(text)
    return bytes(sides[0]), bytes(sides[1])


@pytest.mark.parametrize(("version", "ciphers"), [
    (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"),
    (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"),
    (ssl.TLSVersion.TLSv1_3, None),
], ids=["tls12-cbc", "tls12-gcm", "tls13"])
def test_plaintext_matches_tshark(tmp_path, version, ciphers):
    session = run_session(tmp_path, EXCHANGE, version=version, ciphers=ciphers)
    keyfile = tmp_path / "keys.log"
    keyfile.write_bytes(session.keylog)
    path = to_capture(session, tmp_path / "s.pcapng")
    recorder = _Recorder()
    handoff = StreamHandoff("recorder", (), lambda data, direction: True, lambda c: recorder)
    with open_capture(path) as capture:
        list(Pipeline(frame_handoffs=(), stream_handoffs=(handoff,),
                      keylog=load_key_logs([keyfile])).run(capture.frames()))
    client, server = _tshark_follow(path, keyfile)
    assert client == bytes(recorder.data[0]) == session.received[0]
    assert server == bytes(recorder.data[1]) == session.received[1]
