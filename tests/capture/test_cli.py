"""`chargescope info` and `chargescope frames` on generated captures."""

from __future__ import annotations

import gzip
import json
import subprocess

from click.testing import CliRunner
from conftest import corpus_path

from capture.samples import pcap_bytes, pcapng_bytes
from capture.tshark import TSHARK, needs_tshark
from chargescope.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_info_json(tmp_path):
    a = tmp_path / "a.pcapng"
    a.write_bytes(pcapng_bytes())
    b = tmp_path / "b.cap"
    b.write_bytes(gzip.compress(pcap_bytes(nano=False)))
    result = run("info", "--json", str(a), str(b))
    assert result.exit_code == 0
    docs = json.loads(result.stdout)["captures"]
    assert [(d["format"], d["compressed"], d["frames"]) for d in docs] == [
        ("pcapng", False, 5), ("pcap", True, 5)]
    assert [i["frames"] for i in docs[0]["interfaces"]] == [3, 2]
    assert docs[1]["truncated"] == 2 and docs[1]["problems"] == []
    assert docs[0]["duration_ns"] == 4_000_000


def test_info_text_and_directory(tmp_path):
    (tmp_path / "a.pcap").write_bytes(pcap_bytes())
    (tmp_path / "notes.txt").write_text("not a capture, and not named like one")
    result = run("info", str(tmp_path))
    assert result.exit_code == 0
    assert "Frames:             5" in result.stdout
    assert "notes.txt" not in result.stdout


def test_info_reports_problems(tmp_path):
    path = tmp_path / "cut.pcap"
    path.write_bytes(pcap_bytes()[:-5])
    doc = json.loads(run("info", "--json", str(path)).stdout)["captures"][0]
    assert [p["kind"] for p in doc["problems"]] == ["pcap.record.truncated"]
    assert doc["malformed"] == 1 and doc["frames"] == 4


def test_not_a_capture_exits_2(tmp_path):
    good = tmp_path / "a.pcap"
    good.write_bytes(pcap_bytes())
    bad = tmp_path / "b.pcap"
    bad.write_bytes(b"GET / HTTP/1.1\r\n\r\n")
    result = run("info", "--json", str(good), str(bad))
    assert result.exit_code == 2
    assert len(json.loads(result.stdout)["captures"]) == 1
    assert "not a capture file" in result.stderr
    assert run("frames", str(bad)).exit_code == 2


def test_frames_lines_and_json(tmp_path):
    a = tmp_path / "a.pcap"
    a.write_bytes(pcap_bytes())
    result = run("frames", str(a))
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == 5
    assert lines[0].split()[:2] == ["1", "0.000000000"]
    doc = json.loads(run("frames", "--json", "-c", "3", str(a)).stdout)
    assert [f["number"] for f in doc["frames"]] == [1, 2, 3]
    assert doc["frames"][2]["time"] == 0.002 and doc["problems"] == []


def test_frames_merges_files_by_time(tmp_path):
    a = tmp_path / "a.pcap"
    a.write_bytes(pcap_bytes())
    b = tmp_path / "b.pcapng"
    b.write_bytes(pcapng_bytes())  # same instants (to the µs) as a.pcap
    doc = json.loads(run("frames", "--json", str(a), str(b)).stdout)
    times = [f["ts_ns"] for f in doc["frames"]]
    assert times == sorted(times) and len(times) == 10
    assert {f["file"] for f in doc["frames"]} == {str(a), str(b)}


def mixed_capture(path) -> None:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Dot1Q, Ether

    from chargescope.analyzer.capture.writer import PcapWriter

    v6 = Ether() / IPv6(src="fe80::1", dst="fe80::2")
    frames = [
        Ether(src="00:01:87:00:00:01", dst="ff:ff:ff:ff:ff:ff", type=0x88E1)
        / bytes.fromhex("016460000000") / bytes(40),  # CM_SLAC_PARM.REQ
        v6 / UDP(sport=50000, dport=15118) / bytes.fromhex("01fe900000000210"),  # SDP request
        v6 / TCP(sport=50001, dport=61000, flags="PA") / bytes.fromhex("01fe800100000002aabb"),
        Ether() / Dot1Q(vlan=5) / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(sport=40000, dport=80, flags="PA")
        / b"GET /ocpp/CP1 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        Ether() / IP() / TCP(sport=40001, dport=443, flags="PA") / bytes.fromhex("160301002a"),
        Ether() / IP() / TCP(sport=40002, dport=80, flags="PA") / b"PUT /ocpi/x HTTP/1.1\r\n\r\n",
        Ether() / IP() / TCP(sport=40002, dport=80, flags="S"),
    ]
    with PcapWriter(path) as w:
        for i, f in enumerate(frames):
            w.write(bytes(f), 1_700_000_000_000_000_000 + i)


def test_info_protocol_counts(tmp_path):
    path = tmp_path / "mixed.pcap"
    mixed_capture(path)
    doc = json.loads(run("info", "--json", str(path)).stdout)["captures"][0]
    counts = doc["protocols"]
    assert {k: counts.get(k, 0) for k in ("homeplug", "udp-15118", "v2gtp", "websocket-upgrade",
                                          "http", "tls", "tcp", "vlan", "decoded")} == {
        "homeplug": 1, "udp-15118": 1, "v2gtp": 1, "websocket-upgrade": 1, "http": 1, "tls": 1,
        "tcp": 5, "vlan": 1, "decoded": 7}


def test_frames_columns(tmp_path):
    path = tmp_path / "mixed.pcap"
    mixed_capture(path)
    doc = json.loads(run("frames", "--json", str(path)).stdout)["frames"]
    assert [f["protocol"] for f in doc] == ["HomePlug", "SDP", "V2GTP", "HTTP", "TLS", "HTTP",
                                            "TCP"]
    assert doc[0]["src"] == "00:01:87:00:00:01" and "MMTYPE 0x6064" in doc[0]["info"]
    assert (doc[1]["src"], doc[1]["dst"]) == ("fe80::1", "fe80::2")
    assert "[SYN]" in doc[6]["info"] and "VLAN 5" in doc[3]["info"]


@needs_tshark
def test_frames_addresses_match_tshark():
    """Source/destination columns: IP (v4 or v6) addresses, else MAC addresses, as tshark."""
    path = corpus_path("pcaps", "uhi22+ccs32", "2023-04-05_wt32_alpi_first_charge.pcapng")
    cmd = [TSHARK, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t",
           "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
           "-e", "eth.src", "-e", "eth.dst"]
    expected = []
    for line in subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines():
        ip4s, ip4d, ip6s, ip6d, eths, ethd = line.split("\t")
        expected.append((ip4s or ip6s or eths, ip4d or ip6d or ethd))
    doc = json.loads(run("frames", "--json", str(path)).stdout)["frames"]
    assert [(f["src"], f["dst"]) for f in doc] == expected
