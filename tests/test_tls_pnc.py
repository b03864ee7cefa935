"""Plug & Charge chains: a test PKI made here (V2G root -> sub-CA -> SECC leaf; MO root ->
MO sub-CA -> contract leaf with an eMAID), positive and negative cases."""

from __future__ import annotations

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from chargescope.analyzer.records import Link, Message
from chargescope.analyzer.tls.pnc import (
    PncChecker,
    find_chains,
    load_trust_anchors,
    ocpp_chains,
)

NOW = datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC)
TS = int(NOW.timestamp()) * 1_000_000_000


def _issue(cn: str, issuer=None, *, ca: bool, days=(-30, 365), usage_sign: bool = True):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    usage = x509.KeyUsage(usage_sign and not ca, False, False, False, not usage_sign, ca, ca,
                          False, False)
    cert = (x509.CertificateBuilder().subject_name(name)
            .issuer_name(issuer_cert.subject if issuer_cert else name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW + datetime.timedelta(days=days[0]))
            .not_valid_after(NOW + datetime.timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(issuer_key, hashes.SHA256()))
    return cert, key


def _b64(cert) -> str:
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


MO_ROOT = _issue("MO Root", ca=True)
MO_SUB = _issue("MO SubCA", MO_ROOT, ca=True)
V2G_ROOT = _issue("V2G Root", ca=True)


def _payment(leaf, sub, emaid: str) -> Message:
    tree = {"V2G_Message": {"Header": {"SessionID": "00"}, "Body": {"PaymentDetailsReq": {
        "eMAID": emaid, "ContractSignatureCertChain": {
            "Certificate": _b64(leaf), "SubCertificates": {"Certificate": [_b64(sub)]}}}}}}
    return Message(Link.A, "exi", "PaymentDetailsReq", TS, "[fe80::1]:1", "[fe80::2]:2", tree)


def _codes(message: Message, anchors=()) -> list[str]:
    checker = PncChecker(list(anchors))
    checker.feed(message)
    return sorted(f.code for f in checker.finish())


def test_good_contract_chain_to_the_mo_root(tmp_path):
    leaf, _ = _issue("DEABC123456789Y", MO_SUB, ca=False)
    (tmp_path / "mo_root.pem").write_bytes(MO_ROOT[0].public_bytes(Encoding.PEM))
    (tmp_path / "notes.txt").write_text("not a certificate")
    anchors = load_trust_anchors([tmp_path])
    message = _payment(leaf, MO_SUB[0], "DE-ABC-123456789-Y")
    assert [c.element for c in find_chains(message.fields)] == ["ContractSignatureCertChain"]
    assert _codes(message, anchors) == []


def test_unknown_root_broken_chain_expired_and_emaid_mismatch():
    leaf, _ = _issue("DEABC123456789Y", MO_SUB, ca=False)
    v2g_anchor = [V2G_ROOT[0]]
    assert _codes(_payment(leaf, MO_SUB[0], "DEABC123456789Y"), v2g_anchor) == [
        "pnc.chain.unknown_root"]
    other_sub = _issue("MO SubCA", MO_ROOT, ca=True)  # same name, different key
    assert "pnc.chain.broken" in _codes(_payment(leaf, other_sub[0], "DEABC123456789Y"))
    old, _ = _issue("DEABC123456789Y", MO_SUB, ca=False, days=(-400, -1))
    assert _codes(_payment(old, MO_SUB[0], "DEABC123456789Y")) == ["pnc.certificate.expired"]
    assert _codes(_payment(leaf, MO_SUB[0], "DEXYZ000000000Z")) == ["pnc.emaid.mismatch"]
    no_sign, _ = _issue("DEABC123456789Y", MO_SUB, ca=False, usage_sign=False)
    assert _codes(_payment(no_sign, MO_SUB[0], "DEABC123456789Y")) == [
        "pnc.certificate.key_usage"]


def test_garbage_certificate_is_a_finding_not_an_exception():
    tree = {"V2G_Message": {"Body": {"PaymentDetailsReq": {"eMAID": "X",
            "ContractSignatureCertChain": {"Certificate": "not base64!"}}}}}
    message = Message(Link.A, "exi", "PaymentDetailsReq", TS, "a", "b", tree)
    assert _codes(message) == ["pnc.certificate.unparsable"]


def test_failed_response_placeholders_are_not_checked():
    tree = {"V2G_Message": {"Body": {"CertificateInstallationRes": {
        "ResponseCode": "FAILED_NoCertificateAvailable",
        "ContractSignatureCertChain": {"Certificate": ""}}}}}
    message = Message(Link.A, "exi", "CertificateInstallationRes", TS, "a", "b", tree)
    assert _codes(message) == []
    tree["V2G_Message"]["Body"]["CertificateInstallationRes"]["ResponseCode"] = "OK"
    assert _codes(message) == ["pnc.certificate.unparsable"]


def _ocpp(action: str, payload: dict, ts: int = TS) -> Message:
    return Message(Link.B, "ocpp", action, ts, "cp", "csms",
                   {"action": action, "message_type": "CALL", "payload": payload})


def test_ocpp_certificate_signed_pem_chain():
    leaf, _ = _issue("CP-7", MO_SUB, ca=False)
    pem = (leaf.public_bytes(Encoding.PEM) + MO_SUB[0].public_bytes(Encoding.PEM)).decode()
    assert _codes(_ocpp("CertificateSigned", {"certificateChain": pem}), [MO_ROOT[0]]) == []
    assert _codes(_ocpp("CertificateSigned", {"certificateChain": pem}), [V2G_ROOT[0]]) == [
        "pnc.chain.unknown_root"]
    assert _codes(_ocpp("CertificateSigned", {"certificateChain": "garbage"})) == [
        "pnc.certificate.unparsable"]


def test_ocpp_get15118evcertificate_exi_response_from_the_corpus():
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.dissectors.exi import encode
    from tests.conftest import corpus_path

    path = corpus_path("pcaps", "dspace-group+dsV2Gshark",
                       "ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng")
    with open_capture(path) as capture:
        res = next(m for m in Pipeline().run(capture.frames())
                   if getattr(m, "name", "") == "CertificateInstallationRes")
    tree = {"V2G_Message": res.fields["V2G_Message"]}
    exi = base64.b64encode(encode(tree, "iso2")).decode()
    message = _ocpp("Get15118EVCertificate", {"status": "Accepted", "exiResponse": exi},
                    res.ts_ns)
    chains = list(ocpp_chains(message.fields["payload"]))
    assert {c.element for c in chains} == {"SAProvisioningCertificateChain",
                                           "ContractSignatureCertChain"}
    assert _codes(message) == []  # the RiseV2G test PKI chains are consistent and valid
