"""`chargescope slac`: text ladder, JSON document, exit codes, secrets."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import corpus_path

from chargescope.cli import cli

TAYCAN = ("pcaps", "uhi22+pyPLC", "2023-05-03_TaycanLeftside_slacFail.pcapng")
AUDI = ("pcaps", "EVerest+logfiles", "Audi", "Q4", "ac_iso2-1.dump")


def run(*args: str):
    return CliRunner().invoke(cli, ["slac", *args], catch_exceptions=False)


def test_failed_slac_text_ladder_and_exit_1():
    result = run(str(corpus_path(*TAYCAN)))
    assert result.exit_code == 1
    assert "verdict: FAILED in PARM" in result.output
    assert "slac.runid.mismatch" in result.output
    assert "CM_SLAC_PARM.CNF" in result.output


def test_json_document_and_clean_exit():
    result = run("--json", str(corpus_path(*AUDI)))
    assert result.exit_code == 0
    doc = json.loads(result.output)
    (capture,) = doc["captures"]
    (slac_run,) = capture["runs"]
    assert slac_run["state"] == "JOINED" and slac_run["run_id"] == "37f6d85a6ca34fcf"
    assert slac_run["evses"][0]["matched"] is True
    names = [step["name"] for step in slac_run["ladder"]]
    assert names[:2] == ["CM_SLAC_PARM.REQ", "CM_SLAC_PARM.CNF"]
    cnf = next(s for s in slac_run["ladder"] if s["name"] == "CM_SLAC_MATCH.CNF")
    assert cnf["fields"]["nmk"].startswith("<redacted")
    assert cnf["fields"]["nid"] == "7e7298c7272d00"


def test_show_secrets_reveals_the_nmk():
    result = run("--json", "--show-secrets", str(corpus_path(*AUDI)))
    doc = json.loads(result.output)
    cnf = next(s for s in doc["captures"][0]["runs"][0]["ladder"] if s["name"] == "CM_SLAC_MATCH.CNF")
    assert len(cnf["fields"]["nmk"]) == 32 and not cnf["fields"]["nmk"].startswith("<")


def test_unreadable_input_exits_2(tmp_path):
    bogus = tmp_path / "not-a-capture.pcap"
    bogus.write_bytes(b"this is not a capture file at all")
    result = CliRunner().invoke(cli, ["slac", str(bogus)])
    assert result.exit_code == 2


def test_simulated_captures_give_the_scenario_verdicts(tmp_path):
    """`chargescope simulate` writes link-A captures with the MME encoder; `slac` judges them."""
    made = CliRunner().invoke(cli, ["simulate", "--out", str(tmp_path), "slac-timeout",
                                    "din-dc-happy"])
    if made.exit_code != 0:
        raise AssertionError(made.output)
    happy = run("--json", str(tmp_path / "din-dc-happy-linkA-plc.pcapng"))
    assert happy.exit_code == 0
    (slac_run,) = json.loads(happy.output)["captures"][0]["runs"]
    assert slac_run["state"] == "JOINED" and slac_run["findings"] == []
    timeout = run("--json", str(tmp_path / "slac-timeout-linkA-plc.pcapng"))
    assert timeout.exit_code == 1
    codes = {f["code"] for r in json.loads(timeout.output)["captures"][0]["runs"]
             for f in r["findings"]}
    assert {"slac.parm.unanswered", "slac.run.incomplete"} <= codes
