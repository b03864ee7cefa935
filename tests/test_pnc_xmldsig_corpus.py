"""xmldsig on real Plug & Charge traffic: dsV2Gshark's RiseV2G captures (TLS keys in-band).

Every signed message finds its signer's certificate where the standard puts it and
verifies: each Reference's digest over our EXI fragment equals RiseV2G's (EXIficient's), and
the ECDSA signature over our EXI-encoded SignedInfo verifies with that certificate. RiseV2G's
habit of repeating the MeteringReceiptReq signature in later headers (a Reference to an Id
those messages do not have) is reported.
"""

from __future__ import annotations

import pytest

from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Message
from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs
from chargescope.analyzer.tls.xmldsig import SignatureChecker
from tests.conftest import corpus_path

FOLDER = ("pcaps", "dspace-group+dsV2Gshark")


def signed_messages(path) -> list[Message]:
    keylog = load_key_logs([])
    with open_capture(path) as capture:
        return [m for m in Pipeline(keylog=keylog).run(frames_with_secrets(capture, keylog))
                if isinstance(m, Message) and m.protocol == "exi"]


def _check(name: str) -> SignatureChecker:
    checker = SignatureChecker()  # the EXI codec's encode_fragment
    for message in signed_messages(corpus_path(*FOLDER, name)):
        checker.feed(message)
    return checker


@pytest.mark.parametrize(("capture", "expected"), [
    ("ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng",
     [("CertificateInstallationReq", "oem", "CN=OEM Prov Test-PKI"),
      ("CertificateInstallationRes", "provisioning", "CN=CPS Prov Test-PKI"),
      ("AuthorizationReq", "contract", "CN=DEABC123456789Y")]),
    ("ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng",
     [("AuthorizationReq", "contract", "CN=DEABC123456789Y")]),
    ("ISO-2_DC_PnC_TLS_CertUpdate_DS5366_RiseV2G.pcapng",
     [("CertificateUpdateReq", "contract", "CN=DEABC123456789Y"),
      ("CertificateUpdateRes", "provisioning", "CN=CPS Prov Test-PKI"),
      ("AuthorizationReq", "contract", "CN=DEABC123456789Y")]),
])
def test_every_signed_message_finds_its_signers_certificate(capture, expected):
    checker = _check(capture)
    found = [(c.message, c.signer, c.certificate) for c in checker.checks]
    assert [(m, s) for m, s, _ in found] == [(m, s) for m, s, _ in expected]
    assert all(cn in subject for (_, _, subject), (_, _, cn) in zip(found, expected,
                                                                     strict=True))
    assert all(c.status == "valid" for c in checker.checks)
    assert checker.finish() == []
    refs = {r.element for c in checker.checks for r in c.references}
    assert len(expected) == 1 or {"ContractSignatureCertChain", "eMAID", "DHpublickey",
                                  "ContractSignatureEncryptedPrivateKey"} <= refs


def test_risev2g_repeats_a_signature_whose_reference_is_gone():
    checker = _check("ISO-2_AC_PnC_TLS_Contract_MeteringReceipt_DS5366_RiseV2G.pcapng")
    by_message = {}
    for c in checker.checks:
        by_message.setdefault(c.message, set()).add(c.status)
    assert by_message["AuthorizationReq"] == {"valid"}
    assert by_message["MeteringReceiptReq"] == {"valid"}  # contract from PaymentDetails
    assert by_message["ChargingStatusReq"] == {"invalid"}  # Header Signature, #id1 absent
    codes = {f.code for f in checker.finish()}
    assert codes == {"pnc.signature.reference_missing"}


@pytest.mark.parametrize(("scenario", "expected"), [
    ("dc-pnc-happy", {("AuthorizationReq", "valid")}),
    ("pnc-cert-failure", {("CertificateInstallationReq", "valid")}),
])
def test_simulated_pnc_messages_are_signed_as_the_standard_says(scenario, expected, tmp_path):
    from chargescope.analyzer.simulate.render import render
    from chargescope.analyzer.simulate.scenarios import SCENARIOS

    [link_a] = [p for p in render(SCENARIOS[scenario], tmp_path) if "linkA" in p.name]
    checker = SignatureChecker()
    for message in signed_messages(link_a):
        checker.feed(message)
    assert {(c.message, c.status) for c in checker.checks} == expected
    assert checker.finish() == []
