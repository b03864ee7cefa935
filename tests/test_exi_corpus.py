"""EXI from public captures, logs and issue threads (../shared/corpus/vectors)."""

from __future__ import annotations

import json
import re

import pytest

from chargescope.dissectors import exi
from tests.conftest import corpus_path

# From vectors/github-issues/ISSUE_VECTORS.md (hex copied from the issue threads cited there)
CBEXIGEN_31 = "80540402479ad7c263fda60a2a7e4a70620000000480e04007c2a924"
CBEXIGEN_31_JSON = {"PowerDeliveryReq": {
    "Header": {"SessionID": "048F35AF84C7FB4C", "TimeStamp": 1694045090},
    "EVProcessing": "Finished", "ChargeProgress": "Start",
    "EVPowerProfile": {"TimeAnchor": 0, "EVPowerProfileEntries": {"EVPowerProfileEntry": [
        {"Duration": 3600, "Power": {"Exponent": 0, "Value": 11000}}]},
        "Dynamic_EVPPTControlMode": {}}}}
CBEXIGEN_52_EXIFICIENT = "800c041e9869d6a61dc1ef895b9b4a806200484180180418018041801980"
CBEXIGEN_52_CBV2G_OLD = "800c041e9869d6a61dc1ef895b9b4a8062004841801804180180418019a900"
CBEXIGEN_52_JSON = {"AC_ChargeLoopRes": {
    "Header": {"SessionID": "3D30D3AD4C3B83DF", "TimeStamp": 1695358101}, "ResponseCode": "OK",
    "BPT_Dynamic_AC_CLResControlMode": {
        "EVSETargetActivePower": {"Exponent": 3, "Value": 3},
        "EVSETargetActivePower_L2": {"Exponent": 3, "Value": 3},
        "EVSETargetActivePower_L3": {"Exponent": 3, "Value": 3}}}}
ISO15118_242 = "01fe8001000000158098004011e0002804080c1014181c2012b35de740"
V2GDECODER_18 = "01fe80010000002b809a021050908c0c0c0d9050d140080080c2641c02050e6240089d00e0607032100c0838084440a1b8480087c8e5d5"
DSV2GSHARK_20 = ["80980209cecac7942fbe999040000000010100", "80980204c8504d7558be1b5040000000010100"]


@pytest.fixture(autouse=True)
def _corpus_present():
    corpus_path("vectors", "github-issues", "ISSUE_VECTORS.md")


def _v2gtp_payload(frame: str) -> bytes:
    raw = bytes.fromhex(frame)
    assert raw[:2] == b"\x01\xfe"
    return raw[8:8 + int.from_bytes(raw[4:8], "big")]  # honour the V2GTP length


def test_empty_control_mode_element_cbexigen_31():
    data = bytes.fromhex(CBEXIGEN_31)
    assert exi.decode(data, "iso20_CommonMessages") == CBEXIGEN_31_JSON
    assert exi.encode(CBEXIGEN_31_JSON, "iso20_CommonMessages") == data


def test_two_encoders_cbexigen_52():
    good = bytes.fromhex(CBEXIGEN_52_EXIFICIENT)
    assert exi.decode(good, "iso20_AC") == CBEXIGEN_52_JSON
    assert exi.encode(CBEXIGEN_52_JSON, "iso20_AC") == good
    # the old cbV2G stream carries a stray event after the control mode; EXIficient rejects
    # it too ("Premature EOS"): we report where, with everything before it
    with pytest.raises(exi.ExiError) as err:
        exi.decode(bytes.fromhex(CBEXIGEN_52_CBV2G_OLD), "iso20_AC")
    assert err.value.path == ["AC_ChargeLoopRes"]
    assert err.value.partial == CBEXIGEN_52_JSON


def test_control_characters_in_evseid_iso15118_242():
    tree = exi.decode(_v2gtp_payload(ISO15118_242), "iso2")
    res = tree["V2G_Message"]["Body"]["SessionSetupRes"]
    assert res == {"ResponseCode": "OK", "EVSEID": "\x01\x02\x03\x04\x05\x06\x07\x08",
                   "EVSETimeStamp": 123456789}


def test_v2gtp_length_not_trailer_v2gdecoder_18():
    payload = _v2gtp_payload(V2GDECODER_18)
    assert len(payload) == 43
    tree = exi.decode(payload, "din")
    assert tree["V2G_Message"]["Body"]["CurrentDemandReq"]["DC_EVStatus"]["EVRESSSOC"] == 32
    assert exi.encode(tree, "din") == payload


def test_cablecheckres_pair_is_iso2_not_din_dsv2gshark_20():
    for hex_ in DSV2GSHARK_20:
        data = bytes.fromhex(hex_)
        ranked = exi.detect(data)
        assert ranked[0].schema == "iso2" and ranked[0].exact
        body = exi.decode(data, "iso2")["V2G_Message"]["Body"]
        assert body["CableCheckRes"]["EVSEProcessing"] == "Ongoing"


def test_pyplc_raw_exi_log_decodes_as_din():
    log = corpus_path("vectors", "uhi22+pyPLC", "RawExiLog.txt.decoded.txt").read_text()
    pairs = re.findall(r"^([0-9a-f]+) means:\n(\{.*?\n\})", log, flags=re.M | re.S)
    assert len(pairs) >= 10
    for frame, decoded in pairs:
        expected = json.loads(decoded)
        payload = _v2gtp_payload(frame)
        ranked = exi.detect(payload)
        assert ranked[0].schema == "din" and ranked[0].exact
        body = exi.decode(payload, "din")["V2G_Message"]["Body"]
        assert list(body) == [expected["msgName"]]
        if "DC_EVStatus.EVRESSSOC" in expected:
            status = body[expected["msgName"]]["DC_EVStatus"]
            assert status["EVRESSSOC"] == int(expected["DC_EVStatus.EVRESSSOC"])
