"""`chargescope ocpp`: text and JSON output, exit codes, secrets, logs and captures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargescope.cli import cli

DATA = Path(__file__).resolve().parent / "data" / "ocpp"


def run(*args):
    return CliRunner().invoke(cli, ["ocpp", *map(str, args)])


def test_json_records_carry_protocol_field_names():
    res = run("--json", DATA / "ocpp16_basic.jsonl")
    assert res.exit_code == 1  # the malformed message is an error finding
    doc = json.loads(res.stdout)
    (charger,) = doc["chargers"]
    assert charger["charge_point_id"] == "CP16-001"
    assert charger["transactions"][0]["transaction_id"] == "42"
    recs = doc["messages"]
    assert {"unique_id", "action", "message_type", "transaction_id"} <= set(recs[0])
    stop = next(r for r in recs if r["action"] == "StopTransaction" and r["message_type"] == "CALL")
    assert stop["transaction_id"] == 42 and stop["direction"] == "cp->csms"
    assert any(f["code"] == "ocpp.rpc.malformed" for f in doc["findings"])
    assert "reading" not in res.stdout  # diagnostics go to stderr


def test_text_output_lists_charger_transactions_and_findings():
    res = run(DATA / "ocpp201_deflate.log", "--ocpp-version", "2.0.1")
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "CS201-001  OCPP 2.0.1" in out
    assert "tx-201-1" in out and "ocpp.tx.seqno_gap [E01.FR.07]" in out


def test_unreadable_input_is_exit_2(tmp_path):
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"this is not a capture at all")
    res = run(bad)
    assert res.exit_code == 2


def test_help_documents_log_formats():
    res = CliRunner().invoke(cli, ["ocpp", "--help"])
    assert "JSON lines" in res.output and "timestamped text lines" in res.output


@pytest.mark.parametrize("show", [False, True])
def test_passwords_only_with_show_secrets(show):
    pytest.importorskip("chargescope.analyzer.pipeline")
    pytest.importorskip("chargescope.analyzer.capture")
    args = ["--json", DATA / "ocpp16_basic.pcap"] + (["--show-secrets"] if show else [])
    res = run(*args)
    assert ("s3cret-pass" in res.stdout) == show
    doc = json.loads(res.stdout)
    assert len([r for r in doc["messages"] if r["protocol"] == "ocpp"]) == 32


def test_no_validate_skips_schema_but_keeps_decoding():
    res = run("--json", "--no-validate", DATA / "ocpp201_deflate.jsonl")
    doc = json.loads(res.stdout)
    states = {r.get("schema") for r in doc["messages"] if r["message_type"] in ("CALL", "CALLRESULT")}
    assert states == {"not-validated"}
    assert doc["chargers"][0]["transactions"][0]["transaction_id"] == "tx-201-1"


def test_deeply_nested_payload_is_elided_in_json(tmp_path):
    deep = "[" * 1000 + "]" * 1000
    log = tmp_path / "deep.jsonl"
    log.write_text(json.dumps({"timestamp": "2024-01-01T00:00:00Z", "direction": "cp->csms",
                               "charge_point_id": "X", "message": f'[2,"1","DataTransfer",'
                               f'{{"vendorId":"v","data":{deep}}}]'}) + "\n")
    res = run("--json", "--ocpp-version", "1.6", log)
    assert res.exit_code == 1, res.output  # 1.6 wants a string: a schema violation (error)
    doc = json.loads(res.stdout)
    (rec,) = doc["messages"]
    assert rec["schema"] == "invalid"
    assert "elided" in json.dumps(rec["payload"])


def test_skip_validation_per_action():
    res = run("--json", "--skip-validation", "TransactionEvent", DATA / "ocpp201_deflate.jsonl")
    doc = json.loads(res.stdout)
    by_action = {}
    for r in doc["messages"]:
        if r["message_type"] == "CALL":
            by_action.setdefault(r["action"], set()).add(r["schema"])
    assert by_action["TransactionEvent"] == {"not-validated"}
    assert by_action["BootNotification"] == {"valid"}


def test_charger_filter():
    both = [DATA / "ocpp16_basic.jsonl", DATA / "ocpp201_deflate.jsonl"]
    res = run("--json", "--charger", "CS2*", *both)
    doc = json.loads(res.stdout)
    assert [c["charge_point_id"] for c in doc["chargers"]] == ["CS201-001"]
    assert {r["charge_point_id"] for r in doc["messages"]} == {"CS201-001"}
    assert all(f["charge_point_id"] == "CS201-001" for f in doc["findings"])
    assert res.exit_code == 0  # the 1.6 charger's error findings are filtered out
