"""`chargescope chademo`: ladder text, JSON document, exit statuses."""

from __future__ import annotations

import json

from click.testing import CliRunner

from chargescope.analyzer.chademo.simulate import scenario, simulate, write_candump, write_pcap
from chargescope.cli import cli
from tests.conftest import corpus_path


def test_happy_pcap_text(tmp_path):
    write_pcap(tmp_path / "h.pcap", list(simulate(scenario("happy"))))
    out = CliRunner().invoke(cli, ["chademo", str(tmp_path / "h.pcap")])
    assert out.exit_code == 0, out.output
    assert "verdict: ok" in out.output
    assert "charger energizing (H'109.5.0=1)" in out.output


def test_fault_json_exit_1(tmp_path):
    write_candump(tmp_path / "f.log", list(simulate(scenario("charger_fault"))))
    out = CliRunner().invoke(cli, ["chademo", "--json", str(tmp_path / "f.log")])
    assert out.exit_code == 1
    doc = json.loads(out.output)
    [rec] = doc["recordings"]
    [session] = rec["sessions"]
    assert session["verdict"] == "failed"
    assert "chademo.fault.charger" in {f["code"] for f in session["findings"]}


def test_corpus_csv_json():
    out = CliRunner().invoke(cli, ["chademo", "--json", str(
        corpus_path("can", "chademo-rs_nissan-leaf-chademo-start-stop.csv"))])
    assert out.exit_code == 0
    [rec] = json.loads(out.output)["recordings"]
    assert rec["format"] == "savvycan-csv" and rec["frames"] == 4072
    assert rec["sessions"][0]["parameters"]["vehicle_max_voltage_v"] == 435


def test_unreadable_exit_2(tmp_path):
    (tmp_path / "x.txt").write_text("not a log\n")
    out = CliRunner().invoke(cli, ["chademo", str(tmp_path / "x.txt")])
    assert out.exit_code == 2


def test_directory_skips_files_that_are_not_recordings(tmp_path):
    write_candump(tmp_path / "ok.log", list(simulate(scenario("happy"))))
    (tmp_path / "notes.txt").write_text("not a log\n")
    out = CliRunner().invoke(cli, ["chademo", "--json", str(tmp_path)])
    assert out.exit_code == 0
    [rec] = json.loads(out.stdout)["recordings"]
    assert rec["sessions"][0]["verdict"] == "ok"
