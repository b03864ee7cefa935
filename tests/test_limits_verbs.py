"""`--limit` reaches every verb that runs the pipeline: batch (and its resume key), live,
tui (files and --live), slac and ocpi. Each test lowers one cap on a small capture that
exceeds it and looks for that cap's code; the default caps on the same input give none."""

from __future__ import annotations

import asyncio
import json
import pickle
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargescope.analyzer.batch.plan import Group
from chargescope.analyzer.batch.worker import analyze_group
from chargescope.analyzer.limits import CAP_BY_CODE, DEFAULT_LIMITS, Limits
from chargescope.cli import cli
from chargescope.dissectors import exi
from tests.test_limits import APP_HAND, Tcp, unit
from tests.test_live_capture import _fake_sniffer

DEPTH = Limits(exi_depth=1)


@pytest.fixture
def app_hand_pcap(tmp_path: Path) -> Path:
    """One V2G connection whose supportedAppProtocolReq nests deeper than exi-depth=1."""
    cap = Tcp()
    cap.connection(40000, [unit(exi.encode(APP_HAND, "appHand"), 0x8001)])
    return cap.pcap(tmp_path / "apphand.pcap")


def _write_pcap(path: Path, raws: list[bytes]) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, raw in enumerate(raws, 1):
        out.append(struct.pack("<IIII", 1_700_000_000, i, len(raw), len(raw)) + raw)
    path.write_bytes(b"".join(out))
    return path


def _cap_codes(text: str) -> set[str]:
    return {code for code in CAP_BY_CODE if code in text}


# -- batch ---------------------------------------------------------------------------------------

def test_limits_pickle_for_dask_workers() -> None:
    limits = Limits(exi_depth=3, tcp_buffer=1 << 10)
    assert pickle.loads(pickle.dumps(limits)) == limits


def test_batch_key_includes_changed_caps_only(app_hand_pcap: Path) -> None:
    group = Group("g", (str(app_hand_pcap),))
    assert group.key() == group.key(DEFAULT_LIMITS)  # datasets from before caps still resume
    assert group.key(DEPTH) != group.key()
    assert group.key(DEPTH) == group.key(Limits(exi_depth=1))
    assert group.key(DEPTH) != group.key(Limits(exi_depth=2))


def test_batch_group_function_applies_the_caps(app_hand_pcap: Path) -> None:
    lowered = analyze_group("g", (str(app_hand_pcap),), None, "k", DEPTH)
    assert lowered["groups"][0]["status"] == "ok"
    assert "limit.exi.depth" in {row["code"] for row in lowered["findings"]}
    default = analyze_group("g", (str(app_hand_pcap),), None, "k")
    assert not {row["code"] for row in default["findings"]} & set(CAP_BY_CODE)


def test_batch_option_reaches_the_cluster_call(app_hand_pcap: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[tuple] = []

    class FakeFuture:
        def __init__(self, fn, args) -> None:
            self.key, self._fn, self._args = str(len(submitted)), fn, args

        def result(self):
            return self._fn(*self._args)

    class FakeClient:
        def __init__(self, *_a, **_kw) -> None:
            pass

        def submit(self, fn, *args, pure: bool = True):
            submitted.append(args)
            return FakeFuture(fn, args)

        def close(self) -> None:
            pass

    import dask.distributed

    monkeypatch.setattr(dask.distributed, "Client", FakeClient)
    monkeypatch.setattr(dask.distributed, "as_completed", iter)
    out = tmp_path / "ds"
    runner = CliRunner()
    args = ["batch", "--scheduler", "tcp://fake:8786", "--out", str(out), str(app_hand_pcap)]
    first = runner.invoke(cli, [*args, "--limit", "exi-depth=1"])
    assert first.exit_code == 0, first.output
    assert submitted[-1][-1] == DEPTH  # the Limits record travels with the task
    import pandas as pd

    assert "limit.exi.depth" in set(pd.read_parquet(out / "findings")["code"])
    again = runner.invoke(cli, [*args, "--limit", "exi-depth=1"])
    assert "1 skipped" in again.output and len(submitted) == 1  # same caps: resumed
    other = runner.invoke(cli, args)
    assert "1 analysed" in other.output and submitted[-1][-1] == DEFAULT_LIMITS


# -- live and tui --------------------------------------------------------------------------------

def test_live_limit_produces_its_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    cap = Tcp()
    cap.connection(40000, [unit(exi.encode(APP_HAND, "appHand"), 0x8001)])
    frames = cap.frames()
    monkeypatch.setattr("scapy.sendrecv.AsyncSniffer", _fake_sniffer(frames))

    def live(*extra: str) -> str:
        out = CliRunner().invoke(cli, ["live", "--iface", "fake0", "--backend", "scapy",
                                       "--count", str(len(frames)), "--analyze", "--json",
                                       *extra])
        assert out.exit_code in (0, 1), out.output
        return out.stdout

    assert "limit.exi.depth" in _cap_codes(live("--limit", "exi-depth=1"))
    assert not _cap_codes(live())


def test_tui_app_loads_under_its_limits(app_hand_pcap: Path) -> None:
    from chargescope.tui.app import ChargescopeApp

    async def codes(limits: Limits) -> set[str]:
        app = ChargescopeApp([app_hand_pcap], limits=limits)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(200):
                await pilot.pause(0.05)
                if app.analysis is not None:
                    break
            assert app.analysis is not None
            return {f.code for f in app.analysis.findings}

    assert "limit.exi.depth" in asyncio.run(codes(DEPTH))
    assert not asyncio.run(codes(DEFAULT_LIMITS)) & set(CAP_BY_CODE)


@pytest.mark.parametrize("live", [False, True])
def test_tui_option_reaches_the_app(live: bool, app_hand_pcap: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Limits] = []

    class Recorder:
        def __init__(self, *_a, limits: Limits = DEFAULT_LIMITS, **_kw) -> None:
            seen.append(limits)

        def run(self) -> None:
            pass

    monkeypatch.setattr("chargescope.tui.app.ChargescopeApp", Recorder)
    monkeypatch.setattr("chargescope.analyzer.live.socketcan.open_live_capture",
                        lambda *_a, **_kw: object())
    given = ["--live", "fake0"] if live else [str(app_hand_pcap)]
    out = CliRunner().invoke(cli, ["tui", "--limit", "exi-depth=1", *given])
    assert out.exit_code == 0, out.output
    assert seen == [DEPTH]


# -- slac and ocpi -------------------------------------------------------------------------------

def test_slac_limit_produces_its_problem(tmp_path: Path) -> None:
    raws = []
    for n in range(3):  # three first fragments of different SLAC MMEs, none completed
        mme = bytes([1]) + (0x6064 + 4 * n).to_bytes(2, "little") + bytes([0x10, n]) + b"\0" * 40
        raws.append(bytes(6) + bytes([2, 0, 0, 0, 0, n]) + b"\x88\xe1" + mme)
    path = _write_pcap(tmp_path / "frag.pcap", raws)

    def slac(*extra: str) -> str:
        out = CliRunner().invoke(cli, ["slac", "--json", *extra, str(path)])
        assert out.exit_code in (0, 1), out.output
        return out.stdout

    assert _cap_codes(slac("--limit", "homeplug-fragments=2")) == {"limit.homeplug.fragments"}
    assert not _cap_codes(slac())


def test_ocpi_limit_produces_its_problem(tmp_path: Path) -> None:
    big = b'{"data": "' + b"x" * 300 + b'"}'
    cap = Tcp()
    cap.connection(40000, [b"POST /ocpi/2.2.1/sessions HTTP/1.1\r\nHost: h\r\n"
                           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                           % len(big) + big], )
    path = cap.pcap(tmp_path / "ocpi.pcap")

    def ocpi(*extra: str) -> str:
        out = CliRunner().invoke(cli, ["ocpi", "--json", *extra, str(path)])
        assert out.exit_code in (0, 1), out.output
        return out.stdout

    assert "http.body.too-large" in json.dumps(json.loads(ocpi("--limit", "http-body=100")))
    assert "http.body.too-large" not in ocpi()


def test_help_of_every_pipeline_verb_lists_the_limit_option() -> None:
    for verb in ("batch", "live", "tui", "slac", "ocpi"):
        text = CliRunner().invoke(cli, [verb, "--help"]).output
        assert "--limit KEY=VALUE" in text, verb
