"""simulate: the written captures, checked by the project's own dissectors and by tshark.

Every scenario is rendered once per test session (a couple of seconds). The files must
be reproducible byte for byte, small, readable without a single problem by the capture
reader and the dissector pipeline (every V2G, OCPP and OCPI unit decoded, EXI decoding
back to the tree that was encoded), and clean in tshark's expert info.
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from chargescope.analyzer.records import Message, Problem
from chargescope.analyzer.simulate.encoders import EncoderMissing
from chargescope.analyzer.simulate.events import TcpOpen, V2g
from chargescope.analyzer.simulate.render import build, render
from chargescope.analyzer.simulate.scenarios import SCENARIOS

MAX_FILE = 200_000
TSHARK_SET = ("ac-eim-happy", "dc-pnc-happy", "iso20-dc-happy", "din-dc-happy", "slac-timeout",
              "pnc-cert-failure", "ocpi-command-timeout")
TSHARK_WARN = 0x00600000  # expert severities: note 0x400000, warn 0x600000, error 0x800000


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[Path]]:
    out = tmp_path_factory.mktemp("simulate")
    try:
        return {name: render(scn, out) for name, scn in SCENARIOS.items()}
    except EncoderMissing as exc:
        pytest.skip(f"an encoder is not installed: {exc}")


def _v2g_events(name: str) -> list[V2g]:
    return [e for e in build(SCENARIOS[name]).events["plc"] if isinstance(e, V2g)]


def test_same_seed_same_bytes_other_seed_other_bytes(rendered, tmp_path):
    for name in ("dc-pnc-happy", "ocpi-command-timeout"):
        again = render(SCENARIOS[name], tmp_path / "again")
        assert [p.name for p in again] == [p.name for p in rendered[name]]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(again, rendered[name],
                                                                    strict=True))
        other = render(SCENARIOS[name], tmp_path / "other", seed=1)
        assert any(a.read_bytes() != b.read_bytes() for a, b in zip(other, rendered[name],
                                                                    strict=True))


def test_one_small_file_per_source(rendered):
    magic = {".pcapng": b"\x0a\x0d\x0d\x0a", ".pcap": b"\xd4\xc3\xb2\xa1"}  # pcap: µs, LE
    for name, paths in rendered.items():
        assert paths, name
        for path in paths:
            assert path.name.startswith(f"{name}-link")
            assert 0 < path.stat().st_size < MAX_FILE, path.name
            assert path.read_bytes()[:4] == magic[path.suffix]
    assert {p.name.split("-link")[1] for p in rendered["ac-eim-happy"]} == {
        "A-plc.pcapng", "B-csms.pcapng", "C-ocpi.pcap"}


def test_each_source_has_its_own_clock(rendered):
    frames = build(SCENARIOS["token-unknown-c"]).frames
    plug = SCENARIOS["token-unknown-c"].start_ns
    # the PLC sniffer is the reference; its first frame is the EV's CM_SET_KEY 0.4 s after plug-in
    assert frames["plc"][0].ts_ns == plug + 400_000_000
    assert frames["csms"][0].ts_ns == plug - 8_000_000_000 + 2_300_000_000


def _decode(path: Path) -> tuple[list[Message], list[Problem], object]:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline

    with open_capture(path) as capture:
        pipeline = Pipeline()
        items = list(pipeline.run(capture.frames()))
        problems = list(capture.problems)
    messages = [i for i in items if isinstance(i, Message)]
    problems += [i for i in items if isinstance(i, Problem)]
    return messages, problems, pipeline.stats


def test_project_dissectors_decode_everything_cleanly(rendered):
    for name, paths in rendered.items():
        build_ = build(SCENARIOS[name])
        for path in paths:
            messages, problems, stats = _decode(path)
            assert not problems, (path.name, problems[:3])
            assert not [m for m in messages if m.problems], path.name
            assert stats.malformed == 0 and stats.out_of_scope == 0, path.name
            assert stats.frames == len(build_.frames[_source_of(path)])
            counts = collections.Counter(m.protocol for m in messages)
            if "linkA" in path.name:
                assert counts["exi"] == len(_v2g_events(name))
                if build_.facts.slac_matched_ns:
                    assert counts["homeplug"] == 23 and counts["sdp"] == 2
            elif "linkB" in path.name:  # every OCPP-J frame, schema-valid for its version
                assert counts["ocpp"] == len(build_.events["csms"]) - 1  # minus the upgrade
                assert all(m.fields.get("schema") == "valid" for m in messages
                           if m.protocol == "ocpp")
            else:  # every OCPI request and response, no object or envelope violation
                assert counts["ocpi"] == 2 * len(build_.events["ocpi"])
                assert not [m.fields["violations"] for m in messages
                            if m.protocol == "ocpi" and m.fields.get("violations")]


def _source_of(path: Path) -> str:
    return {"linkA": "plc", "linkB": "csms", "linkC": "ocpi"}[path.name.split("-")[-2]]


def test_exi_decodes_back_to_the_tree_that_was_encoded(rendered):
    from chargescope.dissectors import exi

    for name in rendered:
        for event in _v2g_events(name):
            assert exi.decode(exi.encode(event.tree, event.schema), event.schema) == event.tree


def test_ocpp_messages_as_decoded_match_the_script(rendered):
    messages, _problems, _stats = _decode(next(p for p in rendered["dc-pnc-happy"]
                                               if "linkB" in p.name))
    ocpp = [m for m in messages if m.protocol == "ocpp"]
    names = [m.name for m in ocpp]
    assert "Authorize Request" in names and "TransactionEvent Request" in names
    auth = next(m for m in ocpp if m.name == "Authorize Request")
    assert SCENARIOS["dc-pnc-happy"].ids.emaid in json.dumps(auth.fields, default=str)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_every_file_without_warnings(rendered):
    expected_ports = {"linkA": "61341", "linkB": "80", "linkC": "80"}
    # every renderer path (AC/DC, DIN/-2/-20, EIM/PnC, 1.6/2.0.1, SLAC failure, commands)
    for name in TSHARK_SET:
        paths = rendered[name]
        for path in paths:
            run = subprocess.run(
                ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=|",
                 "-e", "frame.protocols", "-e", "tcp.port", "-e", "_ws.malformed",
                 "-e", "_ws.expert.severity", "-e", "tcp.stream"],
                capture_output=True, text=True, timeout=120, check=True)
            rows = [line.split("|") for line in run.stdout.splitlines()]
            assert rows, path.name
            for protocols, _ports, malformed, severity, _stream in rows:
                assert not malformed, (path.name, protocols)
                worst = max((int(s, 0) for s in severity.split(",") if s), default=0)
                assert worst < TSHARK_WARN, (path.name, protocols)
            link = path.name.split("-")[-2]
            protocols = {p for row in rows for p in row[0].split(":")}
            streams = {row[4] for row in rows if row[4]}
            said = build(SCENARIOS[name]).events[_source_of(path)]
            # one V2G connection, one OCPP WebSocket, one connection per OCPI exchange
            v2g_connections = sum(isinstance(e, TcpOpen) for e in said)
            assert len(streams) == {"linkA": v2g_connections, "linkB": 1,
                                    "linkC": len(said)}[link], path.name
            if any(row[1] for row in rows):
                assert any(expected_ports[link] in row[1].split(",") for row in rows)
            if link == "linkA":
                assert "homeplug-av" in protocols
            elif link == "linkB":
                assert "websocket" in protocols
            else:
                assert {"vlan", "http", "json"} <= protocols  # the gateway's tagged uplink


def test_committed_demo_captures_are_reproducible(rendered, tmp_path):
    import importlib.util

    tool = Path(__file__).resolve().parent.parent / "tools" / "make_demo_captures.py"
    spec = importlib.util.spec_from_file_location("make_demo_captures", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in module.DEMO:
        for path in render(SCENARIOS[name], tmp_path, seed=module.SEED):
            committed = module.OUT / path.name
            assert committed.exists() and committed.read_bytes() == path.read_bytes(), (
                f"captures/demo/{path.name} is stale: run python tools/make_demo_captures.py")
