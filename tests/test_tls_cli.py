"""`chargescope tls` on the dsV2Gshark PnC capture: connections, chains, key export, anchors."""

from __future__ import annotations

import json

from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

from chargescope.cli import cli
from tests.conftest import corpus_path
from tests.test_tls_pnc import V2G_ROOT

NAME = "ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng"


def test_tls_verb_reports_connection_chains_and_exports_keys(tmp_path):
    path = corpus_path("pcaps", "dspace-group+dsV2Gshark", NAME)
    exported = tmp_path / "keys.log"
    result = CliRunner().invoke(cli, ["tls", "--json", "--export-keylog", str(exported),
                                      str(path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["captures"][0]
    (conn,) = doc["connections"]
    assert conn["decrypted"] is True and conn["version"] == "TLS 1.2"
    assert conn["cipher"] == "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
    assert "CN=CPO EVSE Test-PKI" in conn["server_certificates"][0]["subject"]
    elements = {(c["message"], c["element"]) for c in doc["chains"]}
    assert ("PaymentDetailsReq", "ContractSignatureCertChain") in elements
    assert doc["findings"] == []
    lines = exported.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CLIENT_RANDOM ")
    secret = lines[0].split()[2]
    assert secret not in result.stdout  # never printed without --show-secrets
    shown = CliRunner().invoke(cli, ["tls", "--json", "--show-secrets", str(path)])
    assert secret in shown.stdout


def test_tls_verb_unknown_root_is_an_error_exit(tmp_path):
    path = corpus_path("pcaps", "dspace-group+dsV2Gshark", NAME)
    (tmp_path / "root.pem").write_bytes(V2G_ROOT[0].public_bytes(Encoding.PEM))
    result = CliRunner().invoke(cli, ["tls", "--trust-anchors", str(tmp_path), str(path)])
    assert result.exit_code == 1
    assert "pnc.chain.unknown_root" in result.stdout
