"""Schema detection without the supportedAppProtocol handshake."""

from __future__ import annotations

import json

import pytest

from chargescope.dissectors import exi
from tests.conftest import corpus_path


@pytest.mark.parametrize("schema,message", [
    ("appHand", "supportedAppProtocolReq"), ("din", "CurrentDemandReq"),
    ("iso2", "PowerDeliveryReq"), ("iso20_DC", "DC_ChargeLoopRes"),
    ("iso20_CommonMessages", "SessionSetupReq"), ("iso20_AC", "AC_ChargeLoopReq"),
])
def test_detect_ranks_the_true_schema_first(schema, message):
    path = corpus_path("exi-reference", schema, f"{message}.jsonl")
    for line in path.read_text().splitlines():
        v = json.loads(line)
        ranked = exi.detect(bytes.fromhex(v["hex"]))
        assert ranked[0].clean
        clean = [d.schema for d in ranked if d.clean]
        assert schema in clean
        if len(clean) == 1:
            assert ranked[0].schema == schema and ranked[0].root == message or \
                ranked[0].root == "V2G_Message"


def test_detect_reports_failures_with_errors():
    ranked = exi.detect(b"\x80\xff\xff", candidates=["din", "iso2"])
    assert [d.clean for d in ranked] == [False, False]
    assert all(d.error is not None and d.error.kind.startswith("exi.") for d in ranked)
