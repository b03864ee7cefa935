"""Ladder, verdict and JSON document of V2G sessions; the `chargescope v2g` verb."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from v2g_helpers import CORPUS, Script, din_dc_session, link_a_engine, prelude

from chargescope.analyzer.v2g import analyse
from chargescope.analyzer.v2g.report import (
    key_fields,
    ladder_lines,
    report_document,
    verdict_line,
)


def test_ladder_folds_loops_in_place_and_pins_findings():
    s = prelude(Script("din"))
    for _ in range(10):
        s.pair("CableCheck", EVSEProcessing="Ongoing", dt_ms=5000)
    s.pair("CableCheck", EVSEProcessing="Finished").close("rst")
    sess = analyse(s.messages).sessions[0]
    lines = ladder_lines(sess, max_loop=2)
    cable = [i for i, line in enumerate(lines) if "CableCheck" in line or "more" in line]
    folded = [line for line in lines if line.strip().startswith("...")]
    assert folded, lines
    # the fold sits between shown CableCheck lines, and the timeout finding is shown
    assert any("v2g.timing.cable_check_timeout" in line for line in lines)
    first_fold = lines.index(folded[0])
    assert cable[0] < first_fold < cable[-1]
    assert "EV -> EVSE" in lines[0] and "supportedAppProtocolReq" in lines[0]
    assert verdict_line(sess).startswith("VERDICT: failed at cable check")


def test_key_fields_show_values_with_units():
    s = din_dc_session()
    msg = next(m for m in s.messages if m.name == "PreChargeRes")
    assert key_fields(msg)["EVSEPresentVoltage"] == "0 V"
    req = next(m for m in s.messages if m.name == "supportedAppProtocolReq")
    assert key_fields(req)["offered"] == ["urn:din:70121:2012:MsgDef#1"]


def test_json_document_is_serialisable_and_complete():
    report = analyse(din_dc_session().messages)
    doc = json.loads(json.dumps(report_document(report, full=True)))
    sess = doc["sessions"][0]
    assert sess["outcome"]["status"] == "success"
    assert sess["protocol"] == "din" and sess["evcc_id"] == "020000000001"
    assert sess["messages"][0]["name"] == "supportedAppProtocolReq"
    assert "V2G_Message" in sess["messages"][2]["fields"]


def test_cli_on_a_real_capture():
    link_a_engine()
    from chargescope.cli import cli

    path = CORPUS / "pcaps" / "uhi22+pyPLC" / "2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng"
    if not path.exists():
        pytest.skip("corpus not present")
    result = CliRunner().invoke(cli, ["v2g", "--json", str(path)])
    assert result.exit_code == 1  # error findings
    doc = json.loads(result.stdout)
    sess = doc["captures"][0]["sessions"][0]
    assert sess["protocol"] == "din" and sess["evcc_id"] == "98ED5CDAD998"
    assert sess["outcome"]["stage"] == "precharge"
    assert sess["outcome"]["code"] == "v2g.timing.precharge_timeout"
    assert len(sess["messages"]) == 274


def test_cli_session_filter():
    link_a_engine()
    from chargescope.cli import cli

    path = CORPUS / "pcaps" / "uhi22+pyPLC" / "2023-03-02_SuperCharger_CableCheck_error.pcapng"
    if not path.exists():
        pytest.skip("corpus not present")
    result = CliRunner().invoke(cli, ["v2g", "--json", "--session", "06f0fe77", str(path)])
    sessions = json.loads(result.stdout)["captures"][0]["sessions"]
    assert [s["session_id"] for s in sessions] == ["06F0FE77"]
    text = CliRunner().invoke(cli, ["v2g", "--session", "1", str(path)]).stdout
    assert "V2G session 1 " in text and "V2G session 0 " not in text
