"""The README's two commands: the first analyses the bundled demo, the second runs these tests."""

import json
import re

from click.testing import CliRunner

from chargescope.cli import cli
from tests.conftest import REPO


def readme_commands():
    text = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands():
    first, second = readme_commands()
    assert first == "pip install -e . && chargescope analyze captures/demo/"
    assert second.endswith("&& pytest")


def test_the_main_job_on_the_demo_captures(monkeypatch):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["analyze", "captures/demo/", "--json"])
    # the demo holds failed sessions on purpose: error findings give exit status 1
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["summary"]["sessions"] == 4
    assert {s["verdict"] for s in doc["sessions"]} == {"success", "failed"}
    assert all(s["links"] == "ABC" for s in doc["sessions"])
