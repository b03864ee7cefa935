"""xmldsig on real Plug & Charge traffic: dsV2Gshark's RiseV2G captures (TLS keys in-band).

What needs no EXI fragment encoder is checked here: every signed message finds its
signer's certificate where the standard puts it, and RiseV2G's habit of repeating the
MeteringReceiptReq signature in later headers (a Reference to an Id those messages do
not have) is reported. The digests are checked in test_pnc_xmldsig.py once the EXI codec
has fragments.
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
    checker = SignatureChecker(encoder=None)
    for message in signed_messages(corpus_path(*FOLDER, name)):
        checker.feed(message)
    return checker


@pytest.mark.parametrize(("capture", "expected"), [
    ("ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng",
     [("CertificateInstallationReq", "oem", "CN=OEM Prov Test-PKI"),
      ("CertificateInstallationRes", "provisioning", "CN=CPS Prov Test-PKI"),
      ("AuthorizationReq", "contract", "CN=DEABC123456789Y")]),
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
    assert all(c.status == "unchecked" for c in checker.checks)
    assert checker.finish() == []
    refs = {r.element for c in checker.checks for r in c.references}
    assert {"ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey",
            "DHpublickey", "eMAID"} <= refs


def test_risev2g_repeats_a_signature_whose_reference_is_gone():
    checker = _check("ISO-2_AC_PnC_TLS_Contract_MeteringReceipt_DS5366_RiseV2G.pcapng")
    by_message = {}
    for c in checker.checks:
        by_message.setdefault(c.message, set()).add(c.status)
    assert by_message["AuthorizationReq"] == {"unchecked"}
    assert by_message["MeteringReceiptReq"] == {"unchecked"}  # contract from PaymentDetails
    assert by_message["ChargingStatusReq"] == {"invalid"}  # Header Signature, #id1 absent
    codes = {f.code for f in checker.finish()}
    assert codes == {"pnc.signature.reference_missing"}
