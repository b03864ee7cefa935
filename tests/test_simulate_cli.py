"""`chargescope simulate`: catalogue listing, usage errors, files and site map written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chargescope.analyzer.correlate.sitemap import SiteMap
from chargescope.analyzer.simulate.encoders import EncoderMissing
from chargescope.analyzer.simulate.render import build, site_map
from chargescope.analyzer.simulate.scenarios import SCENARIOS
from chargescope.cli import cli


def test_list_shows_one_line_per_scenario():
    result = CliRunner().invoke(cli, ["simulate", "--list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS)
    listed = json.loads(CliRunner().invoke(cli, ["simulate", "--list", "--json"]).output)
    assert {d["name"]: set(d["expected_findings"]) for d in listed} == {
        n: set(s.expected_findings) for n, s in SCENARIOS.items()}


@pytest.mark.parametrize("args", [["simulate"], ["simulate", "no-such-scenario"]])
def test_usage_errors_exit_2(args, tmp_path):
    result = CliRunner().invoke(cli, args + ["--out", str(tmp_path)])
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_writes_captures_and_site_map(tmp_path):
    try:
        build(SCENARIOS["slac-timeout"])
    except EncoderMissing as exc:
        pytest.skip(str(exc))
    result = CliRunner().invoke(cli, ["simulate", "slac-timeout", "ocpi-command-timeout",
                                      "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    files = [f for entry in doc["scenarios"] for f in entry["files"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f.rsplit("/", 1)[-1] for f in files] + ["site.toml"])
    assert doc["scenarios"][0]["expected_findings"] == sorted(
        SCENARIOS["slac-timeout"].expected_findings)


def test_site_map_resolves_every_link_to_the_one_charger(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(site_map(list(SCENARIOS.values())), encoding="utf-8")
    site = SiteMap.load(path)
    for scn in SCENARIOS.values():
        ids = scn.ids
        a = site.resolve("A", {"secc_mac": ids.secc_mac})
        b = site.resolve("B", {"charge_point_id": ids.charge_point_id,
                               "connector": str(ids.connector_id)})
        c = site.resolve("C", {"evse_id": ids.evse_id.replace("*", "")})
        assert a is not None and a == b == c
