"""xmldsig verification of signed V2G messages against a test PKI.

Messages are built as decoded trees, signed with `xmldsig.sign` (digests over EXI fragments
from our encoder, `exi.encode_fragment`), EXI-encoded as whole messages and decoded again,
so what is verified is what travels.
"""

from __future__ import annotations

import base64
import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargescope.analyzer.records import Link, Message
from chargescope.analyzer.tls import xmldsig
from chargescope.analyzer.tls.pnc import PncChecker
from chargescope.analyzer.tls.xmldsig import (
    ECDSA_SHA256,
    ECDSA_SHA512,
    EDDSA_ED448,
    SHA256,
    SHA512,
    SHAKE256,
    XMLDSIG_FINDINGS,
    SignatureChecker,
    sign,
)
from chargescope.dissectors import exi
from tests.pnc_pki import EMAID, make_pki

FRAGMENT = exi.encode_fragment
SID = "4023FB848E30A180"
CHALLENGE = base64.b64encode(bytes(range(16))).decode()
OTHER_CHALLENGE = base64.b64encode(bytes(range(16, 32))).decode()


def _b64(values) -> str:
    return base64.b64encode(bytes(values)).decode()


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def iso2(name: str, body: dict, signature: dict | None = None) -> dict:
    header: dict = {"SessionID": SID}
    if signature is not None:
        header["Signature"] = signature
    return {"V2G_Message": {"Header": header, "Body": {name: body}}}


def over_the_wire(tree: dict, schema: str = "iso2") -> Message:
    """The tree as the dissector delivers it after our EXI encoder and decoder."""
    fields = exi.decode(exi.encode(tree, schema), schema)
    name = next(iter(fields["V2G_Message"]["Body"])) if "V2G_Message" in fields else \
        next(iter(fields))
    return Message(Link.A, "exi", name, 1_750_000_000 * 10**9, "ev", "secc",
                   {"schema": schema, **fields})


def payment_details(pki) -> Message:
    return over_the_wire(iso2("PaymentDetailsReq", {
        "eMAID": EMAID, "ContractSignatureCertChain": pki.chain(pki.contract, pki.mo)}))


def signed_iso2(name: str, body: dict, key, encoder=FRAGMENT, ids=("ID1",)) -> dict:
    elements = [(ident, name, body) for ident in ids]
    return iso2(name, body, sign(elements, key, "iso2", encoder))


def check(*messages: Message, encoder=FRAGMENT) -> tuple[SignatureChecker, list[str]]:
    checker = SignatureChecker(encoder=encoder)
    for message in messages:
        checker.feed(message)
    return checker, sorted(f.code for f in checker.finish())


def auth_req(pki, key=None, encoder=FRAGMENT) -> dict:
    body = {"Id": "ID1", "GenChallenge": CHALLENGE}
    return signed_iso2("AuthorizationReq", body, key or pki.contract.key, encoder)


# ---- positive ---------------------------------------------------------------------------

def test_codes_are_registered_and_unique():
    codes = [s.code for s in XMLDSIG_FINDINGS]
    assert len(codes) == len(set(codes)) and all(c.startswith("pnc.signature.") for c in codes)


def test_authorization_req_verifies_with_the_contract_from_payment_details(pki):
    checker, codes = check(payment_details(pki), over_the_wire(auth_req(pki)))
    assert codes == []
    [result] = checker.checks
    assert (result.status, result.signer) == ("valid", "contract")
    assert EMAID.replace("-", "") in result.certificate
    assert [(r.uri, r.element, r.status) for r in result.references] == [
        ("#ID1", "AuthorizationReq", "ok")]


def test_metering_receipt_req_verifies(pki):
    body = {"Id": "id1", "SessionID": SID, "SAScheduleTupleID": 1,
            "MeterInfo": {"MeterID": "METER-1", "MeterReading": 12, "TMeter": 1_750_000_000}}
    signed = signed_iso2("MeteringReceiptReq", body, pki.contract.key, ids=("id1",))
    checker, codes = check(payment_details(pki), over_the_wire(signed))
    assert codes == [] and checker.checks[0].status == "valid"


def _installation_res(pki, key=None) -> dict:
    body = {"ResponseCode": "OK",
            "SAProvisioningCertificateChain": pki.chain(pki.cps_leaf, pki.cps),
            "ContractSignatureCertChain": {"Id": "ID1", **pki.chain(pki.contract, pki.mo)},
            "ContractSignatureEncryptedPrivateKey": {"Id": "ID2", "value": _b64(range(48))},
            "DHpublickey": {"Id": "ID3", "value": _b64([4] + list(range(64)))},
            "eMAID": {"Id": "ID4", "value": EMAID}}
    elements = [(i, n, body[n]) for i, n in (("ID1", "ContractSignatureCertChain"),
                                             ("ID2", "ContractSignatureEncryptedPrivateKey"),
                                             ("ID3", "DHpublickey"), ("ID4", "eMAID"))]
    return iso2("CertificateInstallationRes", body,
                sign(elements, key or pki.cps_leaf.key, "iso2", FRAGMENT))


def test_certificate_installation_res_verifies_with_the_provisioning_chain(pki):
    checker, codes = check(over_the_wire(_installation_res(pki)))
    assert codes == []
    [result] = checker.checks
    assert (result.status, result.signer) == ("valid", "provisioning")
    assert "CPS Leaf" in result.certificate
    assert [r.element for r in result.references] == [
        "ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey", "DHpublickey",
        "eMAID"]


def test_certificate_installation_req_verifies_with_the_oem_certificate(pki):
    body = {"Id": "ID1", "OEMProvisioningCert": pki.oem_prov.b64,
            "ListOfRootCertificateIDs": {"RootCertificateID": [
                {"X509IssuerName": pki.v2g_root.cert.subject.rfc4514_string(),
                 "X509SerialNumber": pki.v2g_root.cert.serial_number}]}}
    signed = signed_iso2("CertificateInstallationReq", body, pki.oem_prov.key)
    checker, codes = check(over_the_wire(signed))
    assert codes == [] and (checker.checks[0].status, checker.checks[0].signer) == (
        "valid", "oem")


@pytest.mark.parametrize(("curve", "method", "digest"), [
    ("p256", ECDSA_SHA256, SHA256), ("p521", ECDSA_SHA512, SHA512),
    ("ed448", EDDSA_ED448, SHAKE256)])
def test_iso20_pnc_authorization_with_each_algorithm(curve, method, digest):
    pki = make_pki(curve=curve)
    mode = {"Id": "ID1", "GenChallenge": CHALLENGE,
            "ContractCertificateChain": pki.chain(pki.contract, pki.mo)}
    signature = sign([("ID1", "PnC_AReqAuthorizationMode", mode)], pki.contract.key,
                     "iso20_CommonMessages", FRAGMENT, method, digest)
    tree = {"AuthorizationReq": {"Header": {"SessionID": SID, "TimeStamp": 1_750_000_000,
                                            "Signature": signature},
                                 "SelectedAuthorizationService": "PnC",
                                 "PnC_AReqAuthorizationMode": mode}}
    checker, codes = check(over_the_wire(tree, "iso20_CommonMessages"))
    assert codes == [] and checker.checks[0].status == "valid"


# ---- negative ---------------------------------------------------------------------------

def test_tampered_body_is_a_digest_mismatch(pki):
    tree = auth_req(pki)
    tree["V2G_Message"]["Body"]["AuthorizationReq"]["GenChallenge"] = OTHER_CHALLENGE
    checker, codes = check(payment_details(pki), over_the_wire(tree))
    assert codes == ["pnc.signature.digest_mismatch"]
    assert checker.checks[0].status == "invalid"


def test_tampered_signed_info_fails_the_signature(pki):
    """SignedInfo re-pointed at a changed body: the digest matches, the signature does not."""
    tree = auth_req(pki)
    body = tree["V2G_Message"]["Body"]["AuthorizationReq"]
    body["GenChallenge"] = OTHER_CHALLENGE
    forged = sign([("ID1", "AuthorizationReq", body)], pki.contract.key, "iso2", FRAGMENT)
    signature = tree["V2G_Message"]["Header"]["Signature"]
    signature["SignedInfo"] = forged["SignedInfo"]  # the old SignatureValue stays
    checker, codes = check(payment_details(pki), over_the_wire(tree))
    assert codes == ["pnc.signature.invalid"]


def test_signature_by_another_key_is_invalid(pki):
    stranger = make_pki(emaid="DE-XYZ-C00000001-1")
    checker, codes = check(payment_details(pki),
                           over_the_wire(auth_req(pki, key=stranger.contract.key)))
    assert codes == ["pnc.signature.invalid"]
    provisioning = over_the_wire(_installation_res(pki, key=pki.contract.key))
    assert check(provisioning)[1] == ["pnc.signature.invalid"]  # contract key, not the CPS's


def test_tampered_element_of_a_multi_reference_signature(pki):
    tree = _installation_res(pki)
    tree["V2G_Message"]["Body"]["CertificateInstallationRes"]["eMAID"]["value"] = \
        "DE-ABC-C99999999-1"
    checker, codes = check(over_the_wire(tree))
    assert codes == ["pnc.signature.digest_mismatch"]
    assert [r.status for r in checker.checks[0].references] == ["ok", "ok", "ok", "mismatch"]


def test_reference_to_a_missing_id(pki):
    tree = signed_iso2("AuthorizationReq", {"Id": "ID1", "GenChallenge": CHALLENGE},
                       pki.contract.key)
    tree["V2G_Message"]["Body"]["AuthorizationReq"]["Id"] = "ID9"
    _, codes = check(payment_details(pki), over_the_wire(tree))
    assert codes == ["pnc.signature.reference_missing"]


@pytest.mark.parametrize(("where", "value"), [
    ("method", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
    ("method", ECDSA_SHA512),  # ISO 15118-2 allows ECDSA-SHA256 only
    ("digest", "http://www.w3.org/2000/09/xmldsig#sha1"),
    ("c14n", "http://www.w3.org/2001/10/xml-exc-c14n#")])
def test_algorithms_iso15118_2_does_not_allow(pki, where, value):
    tree = auth_req(pki)
    info = tree["V2G_Message"]["Header"]["Signature"]["SignedInfo"]
    if where == "method":
        info["SignatureMethod"]["Algorithm"] = value
    elif where == "digest":
        info["Reference"][0]["DigestMethod"]["Algorithm"] = value
    else:
        info["CanonicalizationMethod"]["Algorithm"] = value
    checker, codes = check(payment_details(pki), over_the_wire(tree))
    assert codes == ["pnc.signature.algorithm"]
    assert checker.checks[0].status == "unchecked"


def test_key_that_cannot_make_the_method(pki):
    """ISO 15118-20 ECDSA-SHA512 needs secp521r1; a secp256r1 contract cannot have signed."""
    mode = {"Id": "ID1", "GenChallenge": CHALLENGE,
            "ContractCertificateChain": pki.chain(pki.contract, pki.mo)}
    signature = sign([("ID1", "PnC_AReqAuthorizationMode", mode)], make_pki(curve="p521")
                     .contract.key, "iso20_CommonMessages", FRAGMENT, ECDSA_SHA512, SHA512)
    tree = {"AuthorizationReq": {"Header": {"SessionID": SID, "TimeStamp": 1,
                                            "Signature": signature},
                                 "SelectedAuthorizationService": "PnC",
                                 "PnC_AReqAuthorizationMode": mode}}
    _, codes = check(over_the_wire(tree, "iso20_CommonMessages"))
    assert codes == ["pnc.signature.algorithm"]


def test_no_certificate_to_verify_with(pki):
    checker, codes = check(over_the_wire(auth_req(pki)))  # no PaymentDetailsReq seen
    assert codes == ["pnc.signature.no_certificate"]
    assert checker.checks[0].status == "no-certificate"


def test_der_signature_value_is_invalid_and_says_why(pki):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    tree = auth_req(pki)
    signature = tree["V2G_Message"]["Header"]["Signature"]
    data = FRAGMENT("SignedInfo", signature["SignedInfo"], "xmldsig")
    der = pki.contract.key.sign(data, ec.ECDSA(hashes.SHA256()))
    signature["SignatureValue"]["value"] = base64.b64encode(der).decode()
    checker, codes = check(payment_details(pki), over_the_wire(tree))
    assert codes == ["pnc.signature.invalid"]
    assert "64 bytes of raw signature expected" in checker.finish()[0].text


def test_malformed_signature_values(pki):
    tree = auth_req(pki)
    sig = copy.deepcopy(tree)
    sig["V2G_Message"]["Header"]["Signature"]["SignedInfo"]["Reference"][0][
        "DigestValue"] = "not base64!"
    message = Message(Link.A, "exi", "AuthorizationReq", 0, "ev", "secc",
                      {"schema": "iso2", **sig})
    checker, codes = check(payment_details(pki), message)
    assert codes == ["pnc.signature.malformed"] and checker.checks[0].status == "malformed"


def test_without_a_fragment_encoder_only_the_exi_free_checks_run(pki):
    tree = auth_req(pki)
    tree["V2G_Message"]["Body"]["AuthorizationReq"]["GenChallenge"] = OTHER_CHALLENGE
    checker, codes = check(payment_details(pki), over_the_wire(tree), encoder=None)
    assert codes == []  # the tampering needs EXI to be seen
    assert checker.checks[0].status == "unchecked"
    assert [r.status for r in checker.checks[0].references] == ["unchecked"]


def test_pnc_checker_reports_signature_findings_with_its_own(pki):
    pnc = PncChecker(signatures=SignatureChecker(encoder=FRAGMENT))
    tree = auth_req(pki)
    tree["V2G_Message"]["Body"]["AuthorizationReq"]["GenChallenge"] = OTHER_CHALLENGE
    for message in (payment_details(pki), over_the_wire(tree)):
        pnc.feed(message)
    assert [f.code for f in pnc.finish()] == ["pnc.signature.digest_mismatch"]


def test_test_pki_chains_end_at_their_roots(pki):
    anchors = [pki.v2g_root.cert, pki.mo_root.cert]
    assert [f.code for f in _chain_findings(pki, anchors)] == []
    # the contract chain (in PaymentDetailsReq and CertificateInstallationRes) ends at the
    # MO root
    assert [f.code for f in _chain_findings(pki, [pki.v2g_root.cert])] == [
        "pnc.chain.unknown_root"] * 2


def _chain_findings(pki, anchors):
    pnc = PncChecker(anchors=anchors, signatures=SignatureChecker(encoder=FRAGMENT))
    pnc.feed(payment_details(pki))
    pnc.feed(over_the_wire(_installation_res(pki)))
    return pnc.finish()


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(
                         ["Signature", "SignedInfo", "Reference", "URI", "DigestValue",
                          "SignatureValue", "value", "Id", "Algorithm", "Transforms",
                          "Transform", "DigestMethod", "SignatureMethod", "Header",
                          "AuthorizationReq", "ContractSignatureCertChain", "Certificate"]),
                         inner, max_size=4), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(header=_json, body=_json)
def test_hostile_trees_never_raise(header, body):
    fields = {"schema": "iso2", "V2G_Message": {"Header": {"Signature": header},
                                                "Body": {"AuthorizationReq": body}}}
    checker = SignatureChecker(encoder=FRAGMENT)
    checker.feed(Message(Link.A, "exi", "AuthorizationReq", 0, "ev", "secc", fields))
    assert all(f.code.startswith("pnc.signature.") for f in checker.finish())


# ---- real traffic ---------------------------------------------------------------------

def test_real_risev2g_signatures_verify():
    """dsV2Gshark's RiseV2G PnC capture: the EVCC's own digests and signatures verify."""
    from tests.conftest import corpus_path
    from tests.test_pnc_xmldsig_corpus import signed_messages

    path = corpus_path("pcaps", "dspace-group+dsV2Gshark",
                       "ISO-2_AC_PnC_TLS_Contract_MeteringReceipt_DS5366_RiseV2G.pcapng")
    checker = SignatureChecker(encoder=FRAGMENT)
    for message in signed_messages(path):
        checker.feed(message)
    statuses = {(c.message, c.status) for c in checker.checks}
    assert statuses == {("AuthorizationReq", "valid"), ("MeteringReceiptReq", "valid"),
                        ("ChargingStatusReq", "invalid"), ("PowerDeliveryReq", "invalid")}
    assert {f.code for f in checker.finish()} == {"pnc.signature.reference_missing"}


def test_default_encoder_is_the_exi_codecs():
    assert xmldsig.default_encoder() is FRAGMENT


def test_an_unparsable_signer_certificate_is_not_also_a_missing_one(pki):
    """(e.g. an anonymised capture: pnc.certificate.unparsable already reports it)"""
    details = iso2("PaymentDetailsReq", {"eMAID": EMAID, "ContractSignatureCertChain": {
        "Certificate": base64.b64encode(b"ANONYMISED-CERTIFICATE." * 20).decode()}})
    checker, codes = check(over_the_wire(details), over_the_wire(auth_req(pki)))
    assert codes == [] and checker.checks[0].status == "unchecked"
