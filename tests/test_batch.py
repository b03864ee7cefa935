"""`chargescope batch` on a real LocalCluster over simulated captures, and `triage`."""

import pytest
from click.testing import CliRunner

from chargescope.analyzer.batch import Dataset, plan, run_batch, triage
from chargescope.analyzer.simulate.render import render
from chargescope.analyzer.simulate.scenarios import SCENARIOS
from chargescope.cli import cli

pytest.importorskip("dask.distributed")

NAMES = ("dc-pnc-happy", "cablecheck-failure")


@pytest.fixture(scope="module")
def capture_sets(tmp_path_factory):
    """One directory per scenario (its three capture sources), plus a corrupt capture."""
    root = tmp_path_factory.mktemp("sets")
    for name in NAMES:
        folder = root / name
        folder.mkdir()
        render(SCENARIOS[name], folder)
    broken = root / "broken"
    broken.mkdir()
    (broken / "cut.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x02\x00\x04\x00" + b"\x00" * 7)
    return root


def test_batch_dataset_content_resume_and_triage(capture_sets, tmp_path):
    out = tmp_path / "dataset"
    groups = plan([str(capture_sets)], group_by="dir")
    assert len(groups) == 3
    report = run_batch(groups, str(out), workers=2)
    assert (report.analysed, report.failed, report.skipped) == (3, 0, 0)

    dataset = Dataset(out)
    status = dataset.read("groups").set_index("group")
    assert set(status["status"]) == {"ok"}
    broken = status.loc[str(capture_sets / "broken")]
    assert broken["problems"] >= 1 and broken["sessions"] == 0
    sessions = dataset.read("sessions")
    verdicts = {g.rsplit("/", 1)[-1]: set(v) for g, v in sessions.groupby("group")["verdict"]}
    assert verdicts == {"dc-pnc-happy": {"success"}, "cablecheck-failure": {"failed"}}
    findings = dataset.read("findings")
    cable = set(findings.loc[findings["group"].str.endswith("cablecheck-failure"), "code"])
    assert cable == set(SCENARIOS["cablecheck-failure"].expected_findings)
    happy = sessions[sessions["group"].str.endswith("dc-pnc-happy")].iloc[0]
    assert happy["links"] == "ABC" and happy["charge_point_id"]

    again = run_batch(groups, str(out), workers=1)
    assert (again.analysed, again.skipped) == (0, 3)
    assert len(dataset.read("sessions")) == len(sessions)

    matrix, top = triage(out)
    assert matrix["sessions"].sum() == len(sessions)
    failed_cell = matrix[matrix["success"] < matrix["sessions"]]
    assert set(failed_cell["top_failure"]) <= set(SCENARIOS["cablecheck-failure"].expected_findings)
    assert "v2g.response.failed" in set(top["code"])


def test_a_failing_group_is_recorded_and_the_batch_goes_on(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.pcap").write_bytes(b"definitely not a capture")  # unreadable: analyze raises
    render(SCENARIOS["dc-pnc-happy"], folder)
    report = run_batch(plan([str(folder)], group_by="file"), str(tmp_path / "ds"), workers=1)
    assert report.failed == 1 and report.analysed >= 3
    groups = Dataset(tmp_path / "ds").read("groups")
    bad = groups[groups["status"] == "error"]
    assert list(bad["group"]) == [str(folder / "a.pcap")]
    assert "not a capture" in bad["error"].iloc[0]


def test_cli_batch_and_triage(capture_sets, tmp_path):
    out = tmp_path / "ds"
    result = CliRunner().invoke(cli, ["batch", str(capture_sets / "dc-pnc-happy"), "--out",
                                      str(out), "--group-by", "dir", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "1 analysed" in result.output
    result = CliRunner().invoke(cli, ["triage", str(out), "--html", str(tmp_path / "t.html")])
    assert result.exit_code == 0 and "100%" in result.output
    assert "<table" in (tmp_path / "t.html").read_text()


def test_a_group_analysed_again_counts_once_in_triage(capture_sets, tmp_path):
    """Rows of every run stay in the dataset (other caps give another key); triage and
    `Dataset.current` read only each group's latest analysis."""
    from dataclasses import replace

    from chargescope.analyzer.limits import DEFAULT_LIMITS

    out = tmp_path / "dataset"
    groups = plan([str(capture_sets / "dc-pnc-happy")], group_by="dir")
    run_batch(groups, str(out), workers=1)
    lowered = replace(DEFAULT_LIMITS, exi_depth=1)
    again = run_batch(groups, str(out), workers=1, limits=lowered)
    assert again.analysed == 1  # other caps, other key: analysed again

    dataset = Dataset(out)
    assert len(dataset.read("groups")) == 2
    every_run = dataset.read("sessions")
    latest = dataset.current("sessions")
    assert len(every_run) == 2 * len(latest) and len(latest) >= 1
    assert set(latest["key"]) == {groups[0].key(lowered)}
    assert "limit.exi.depth" in set(dataset.current("findings")["code"])
    matrix, _ = triage(out)
    assert matrix["sessions"].sum() == len(latest)
