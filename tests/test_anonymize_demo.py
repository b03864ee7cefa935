"""The anonymised demo captures analyse as the originals did, and leak no identifier."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargescope.analyzer import net
from chargescope.analyzer.analysis import Analysis, analyze
from chargescope.analyzer.anonymize import Pseudonymizer, anonymize_files
from chargescope.analyzer.anonymize.checksum import l4_checksum_ok
from chargescope.analyzer.anonymize.identifiers import Identifiers
from chargescope.analyzer.anonymize.rewrite import ETH_HOMEPLUG, MME_SECRETS
from chargescope.analyzer.capture.reader import open_capture
from chargescope.analyzer.correlate import SiteMap
from chargescope.cli import cli

DEMO = Path(__file__).resolve().parent.parent / "captures" / "demo"
KEY = b"fieldkit-test-key".ljust(32, b"\0")


def _analyse(directory: Path) -> Analysis:
    captures = sorted(p for p in directory.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return analyze(captures, SiteMap.load(directory / "site.toml"), keep_messages=True)


def _frames(directory: Path) -> dict[str, list]:
    out = {}
    for path in sorted(directory.iterdir()):
        if path.suffix in (".pcap", ".pcapng"):
            with open_capture(path) as cap:
                out[path.name] = list(cap.frames())
    return out


@pytest.fixture(scope="module")
def anonymised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("anon")
    anonymize_files(sorted(DEMO.iterdir()), out, Pseudonymizer(KEY))
    return out


@pytest.fixture(scope="module")
def original() -> Analysis:
    return _analyse(DEMO)


def test_same_verdicts_and_finding_codes(anonymised: Path, original: Analysis) -> None:
    result = _analyse(anonymised)
    assert [s.verdict for s in result.sessions] == [s.verdict for s in original.sessions]
    assert _codes(result) == _codes(original)
    assert len(result.problems) == len(original.problems)
    assert len(result.messages) == len(original.messages)


def _secrets(directory: Path) -> set[bytes]:
    """MACs (other than broadcast), IP addresses outside kept ranges, NMKs and NIDs."""
    found: set[bytes] = set()
    for frames in _frames(directory).values():
        for frame in frames:
            pkt = net.decode(frame)
            for at in (pkt.l2_src_offset, pkt.l2_dst_offset):
                if at >= 0 and frame.data[at] & 1 == 0:
                    found.add(frame.data[at:at + 6])
            if pkt.ip_version == 6:
                found.add(frame.data[pkt.l3_offset + 8:pkt.l3_offset + 24])
            if pkt.ethertype == ETH_HOMEPLUG:
                mmtype = int.from_bytes(frame.data[15:17], "little")
                for offset, length in MME_SECRETS.get(mmtype, ()):
                    found.add(frame.data[offset:offset + length])
    return found


def test_no_original_identifier_in_output_bytes(anonymised: Path, original: Analysis) -> None:
    ids = Identifiers()
    ids.add_messages(original.messages)
    assert ids.texts and ids.binaries and ids.certificates  # the demo has all kinds
    needles = {t.encode() for t in ids.texts} | ids.binaries | ids.certificates | _secrets(DEMO)
    needles |= {m.hex(":").encode() for m in _secrets(DEMO) if len(m) == 6}
    blob = b"".join(p.read_bytes() for p in sorted(anonymised.iterdir()))
    leaked = sorted(n for n in needles if n in blob)
    assert not leaked


def test_no_original_identifier_in_decoded_fields(anonymised: Path, original: Analysis) -> None:
    ids = Identifiers()
    ids.add_messages(original.messages)
    decoded = json.dumps([m.fields for m in _analyse(anonymised).messages], default=str)
    assert not [t for t in ids.texts | ids.parties if t in decoded]
    assert not [b.hex().upper() for b in ids.binaries if b.hex().upper() in decoded]


def test_lengths_kept_and_checksums_valid(anonymised: Path) -> None:
    before, after = _frames(DEMO), _frames(anonymised)
    assert before.keys() == after.keys()
    checked = 0
    for name, frames in before.items():
        assert len(frames) == len(after[name])
        for old, new in zip(frames, after[name], strict=True):
            assert len(old.data) == len(new.data) and old.ts_ns == new.ts_ns
            if l4_checksum_ok(old.data, net.decode(old)):
                assert l4_checksum_ok(new.data, net.decode(new)), (name, old.number)
                checked += 1
    assert checked > 100


def test_same_key_same_output_and_map_file_repeats_run(tmp_path: Path, anonymised: Path) -> None:
    runner = CliRunner()
    map_file = tmp_path / "map.json"
    first = runner.invoke(cli, ["anonymize", str(DEMO), "--out", str(tmp_path / "a"),
                                "--map", str(map_file)])
    assert first.exit_code == 0, first.output
    assert map_file.exists()
    second = runner.invoke(cli, ["anonymize", str(DEMO), str(tmp_path / "b"),
                                 "--map", str(map_file)])
    assert second.exit_code == 0, second.output
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
    # a different key gives different pseudonyms
    some = sorted((tmp_path / "a").glob("*linkB*"))[0]
    assert some.read_bytes() != (anonymised / some.name).read_bytes()


def test_keep_leaves_that_kind_alone(tmp_path: Path) -> None:
    source = DEMO / "dc-pnc-happy-linkC-ocpi.pcap"
    anonymize_files([source], tmp_path, Pseudonymizer(KEY), keep=frozenset({"ip"}))
    with open_capture(source) as a, open_capture(tmp_path / source.name) as b:
        for old, new in zip(a.frames(), b.frames(), strict=True):
            p, q = net.decode(old), net.decode(new)
            assert (p.ip_src, p.ip_dst) == (q.ip_src, q.ip_dst)
            assert p.eth_src != q.eth_src


def test_cli_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["anonymize", str(DEMO)]).exit_code == 2
    assert runner.invoke(cli, ["anonymize", str(tmp_path / "nope"), str(tmp_path)]).exit_code == 2
    assert runner.invoke(cli, ["anonymize", str(DEMO), "--out", str(DEMO)]).exit_code == 2


def _codes(result) -> Counter:
    """Finding codes (certificates are re-issued and signatures made again: the PnC
    checks judge the copy as the original, so no code is set aside)."""
    return Counter(f.code for f in result.findings)
