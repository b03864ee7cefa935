"""Plugins installed through entry points of a test distribution put on sys.path."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargescope import plugins
from chargescope.analyzer.analysis import analyze
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Frame
from chargescope.cli import cli

PLUGIN_MODULE = '''
from chargescope.analyzer.handoff import FrameHandoff
from chargescope.analyzer.records import Link, Message


def _dissect(packet):
    body = packet.payload
    return [Message(Link.A, "fktest", "FKTEST", packet.frame.ts_ns, packet.eth_src,
                    packet.eth_dst, {"body": body.hex()})]


def register(registry):
    registry.add_frame_handoff(lambda: FrameHandoff("fktest", 0x88B5, None, _dissect))


def register_broken(registry):
    registry.add_frame_handoff(FrameHandoff("half", 0x88B6, None, _dissect))
    raise RuntimeError("plugin bug")


class Exploding:
    def __init__(self, source):
        pass

    def feed(self, message):
        raise ValueError("boom")

    def finish(self):
        raise AssertionError("not reached")


def register_exploding(registry):
    registry.add_link_analyzer(Exploding)
'''

ENTRY_POINTS = '''
[chargescope.plugins]
datatransfer = chargescope.plugins.datatransfer:register
fktest = fk_testplugin:register
fkbroken = fk_testplugin:register_broken
fkmissing = fk_no_such_module:register

[chargescope.checks]
fkexploding = fk_testplugin:register_exploding
'''


@pytest.fixture
def test_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A distribution `fk-testplugin` installed on sys.path the way pip lays one out."""
    (tmp_path / "fk_testplugin.py").write_text(PLUGIN_MODULE)
    info = tmp_path / "fk_testplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fk-testplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    plugins.installed.cache_clear()
    yield plugins.installed()
    sys.modules.pop("fk_testplugin", None)
    plugins.installed.cache_clear()


def test_loaded_and_failed_plugins_are_listed(test_distribution) -> None:
    loaded = {i.name: i for i in test_distribution.loaded}
    failed = {i.name: i for i in test_distribution.failed}
    assert {"datatransfer", "fktest", "fkexploding"} <= loaded.keys()
    assert loaded["fktest"].distribution == "fk-testplugin 1.0"
    assert "finding plugin.datatransfer.rejected" in loaded["datatransfer"].added
    assert set(failed) == {"fkbroken", "fkmissing"}
    assert "import failed" in failed["fkmissing"].error
    # the broken plugin's half-done registration was undone
    assert [h().name if callable(h) else h.name for h in test_distribution.frame_handoffs] \
        == ["fktest"]


def test_plugin_frame_handoff_runs_in_the_pipeline(test_distribution) -> None:
    data = b"\x02" * 6 + b"\x04" * 6 + b"\x88\xb5" + b"vendor-payload"
    items = list(Pipeline().run([Frame(1, 5, 1, data, len(data), source="t")]))
    assert [(m.protocol, m.fields["body"]) for m in items] == [("fktest", b"vendor-payload".hex())]


def _ocpp_log(path: Path, status: str) -> Path:
    lines = [
        {"timestamp": "2026-01-01T00:00:00Z", "direction": "cp->csms", "charge_point_id": "CP1",
         "message": json.dumps([2, "dt1", "DataTransfer",
                                {"vendorId": "com.example", "messageId": "Tariff"}])},
        {"timestamp": "2026-01-01T00:00:01Z", "direction": "csms->cp", "charge_point_id": "CP1",
         "message": json.dumps([3, "dt1", {"status": status}])},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize(("status", "code"), [
    ("Rejected", "plugin.datatransfer.rejected"),
    ("UnknownVendorId", "plugin.datatransfer.unknown-vendor"),
    ("UnknownMessageId", "plugin.datatransfer.unknown-message"),
    ("Accepted", None),
])
def test_example_check_and_exploding_check(test_distribution, tmp_path: Path, status: str,
                                           code: str | None) -> None:
    result = analyze([_ocpp_log(tmp_path / "dt.jsonl", status)])
    codes = [f.code for f in result.findings if f.code.startswith("plugin.")]
    expected = ["plugin.check.error"] + ([code] if code else [])
    assert sorted(codes) == sorted(expected)
    found = [f for f in result.findings if f.code == code]
    if code:
        assert found[0].extra["vendor_id"] == "com.example"
        assert len(found[0].evidence) == 2


def test_cli_lists_plugins(test_distribution) -> None:
    res = CliRunner().invoke(cli, ["plugins", "--json"])
    assert res.exit_code == 1  # some failed
    doc = json.loads(res.stdout)
    assert {p["name"] for p in doc["failed"]} == {"fkbroken", "fkmissing"}
    assert any(p["distribution"] == "fk-testplugin 1.0" for p in doc["loaded"])


def test_disable_env_loads_nothing(test_distribution, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.DISABLE_ENV, "1")
    plugins.installed.cache_clear()
    assert not plugins.installed().loaded and not plugins.installed().failed
    res = CliRunner().invoke(cli, ["plugins"])
    assert res.exit_code == 0 and "no plugins installed" in res.output
