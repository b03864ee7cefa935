"""The eMAID link A contributes to the correlator: from the eMAID element or the contract
certificate, in ISO 15118-2 and ISO 15118-20 messages."""

from __future__ import annotations

from chargescope.analyzer.records import Link, Message
from chargescope.analyzer.simulate.pki import contract_chain
from chargescope.analyzer.tls.pnc import contract_emaid

EMAID = "DE-ABC-C12345678-9"
CHAIN = contract_chain(EMAID)
CERT_CHAIN = {"Certificate": CHAIN.b64(CHAIN.contract_der),
              "SubCertificates": {"Certificate": [CHAIN.b64(CHAIN.sub_ca_der)]}}


def _iso2(name: str, body: dict) -> Message:
    return Message(Link.A, "exi", name, 0, "ev", "secc",
                   {"schema": "iso2", "V2G_Message": {"Header": {"SessionID": "00"},
                                                      "Body": {name: body}}})


def _iso20(name: str, body: dict) -> Message:
    return Message(Link.A, "exi", name, 0, "ev", "secc",
                   {"schema": "iso20_CommonMessages", name: {"Header": {}, **body}})


def test_iso2_payment_details_gives_the_emaid_element():
    msg = _iso2("PaymentDetailsReq", {"eMAID": EMAID, "ContractSignatureCertChain": CERT_CHAIN})
    assert contract_emaid(msg) == EMAID


def test_iso2_certificate_installation_res_gives_the_new_contract():
    res = _iso2("CertificateInstallationRes", {
        "ResponseCode": "OK", "ContractSignatureCertChain": CERT_CHAIN,
        "eMAID": {"Id": "ID4", "value": EMAID}})
    assert contract_emaid(res) == EMAID
    failed = _iso2("CertificateInstallationRes", {
        "ResponseCode": "FAILED_NoCertificateAvailable",
        "ContractSignatureCertChain": {"Certificate": ""}, "eMAID": {"Id": "ID4", "value": ""}})
    assert contract_emaid(failed) == ""


def test_iso20_pnc_authorization_gives_the_certificate_cn():
    req = _iso20("AuthorizationReq", {
        "SelectedAuthorizationService": "PnC",
        "PnC_AReqAuthorizationMode": {"Id": "ID1", "GenChallenge": "AAAA",
                                      "ContractCertificateChain": CERT_CHAIN}})
    assert contract_emaid(req) == EMAID.replace("-", "")  # the simulated PKI's CN form
    eim = _iso20("AuthorizationReq", {"SelectedAuthorizationService": "EIM",
                                      "EIM_AReqAuthorizationMode": {}})
    assert contract_emaid(eim) == ""


def test_other_messages_and_other_chains_give_nothing():
    assert contract_emaid(_iso2("SessionSetupReq", {"EVCCID": "020000000001"})) == ""
    sa_only = _iso2("CertificateUpdateRes", {"ResponseCode": "OK",
                                             "SAProvisioningCertificateChain": CERT_CHAIN})
    assert contract_emaid(sa_only) == ""  # not a contract chain
