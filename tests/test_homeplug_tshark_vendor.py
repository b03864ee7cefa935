"""Golden test on synthetic frames: VS_SNIFFER.IND frame control, VS_LNK_STATS.CNF and
CM_SLAC_USER_DATA TLVs vs tshark's homeplug-av dissector, field by field.

The corpus holds none of these MMEs, so the frames are written with the construct
encoder from seeded random field values (every delimiter type, every link-statistics
direction, plain and vendor TLVs), stored in one pcap and decoded by tshark once.
Each field tshark shows must equal ours (for CM_SLAC_USER_DATA tshark 4.0 stops after
the first TLV header: see the test). Skipped when tshark is not installed.
"""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from chargescope.analyzer.capture.writer import PcapWriter
from chargescope.dissectors.homeplug import program as prog
from chargescope.dissectors.homeplug.build import build_frame, build_mme
from chargescope.dissectors.homeplug.mme import HomePlugDissector
from chargescope.dissectors.homeplug.registry import FRAME_CONTROL_VARIANTS

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")

H = "homeplug_av."
SNIFFER_HEAD = [("sniffer_type", H + "sniffer_ind.type"), ("direction", H + "sniffer_ind.data.dir"),
                ("system_time", H + "sniffer_ind.data.systime"),
                ("beacon_time", H + "sniffer_ind.data.bc_time"),
                ("delimiter_type", H + "fc.del_type"), ("access", H + "fc.access"), ("snid", H + "fc.snid")]
_TEIS = [("stei", H + "stei"), ("dtei", H + "dtei"), ("lid", H + "lid")]
_SACK_FLAGS = [("cfs", H + "cfs"), ("bdf", H + "bdf"), ("svn", H + "svn"), ("rrtf", H + "rrtf"),
               ("mfs_rsp_data", H + "sack.mfs_rsp_data"), ("mfs_rsp_mgmt", H + "sack.mfs_rsp_mgmt")]
FCCS = ("fccs", H + "fc.fccs_av")
# our field inside frame_control -> tshark field, per delimiter type
VARIANT_FIELDS: dict[int, list[tuple[str, str]]] = {
    0: [("bts", H + "bcn.bts"), ("bto_0", H + "bcn.bto_0"), ("bto_1", H + "bcn.bto_1"),
        ("bto_2", H + "bcn.bto_2"), ("bto_3", H + "bcn.bto_3"), FCCS,
        ("nid", H + "bcn.nid"), ("hybrid_mode", H + "bcn.hm"), ("beacon_stei", H + "bcn.stei"),
        ("beacon_type", H + "bcn.type"), ("ncnr", H + "bcn.ncnr"), ("npsm", H + "bcn.npsm"),
        ("num_slots", H + "bcn.num_slots"), ("slot_usage", H + "bcn.slot_usage"),
        ("slot_id", H + "bcn.slot_id"), ("aclss", H + "bcn.aclss"), ("hoip", H + "bcn.hoip"),
        ("rtsbf", H + "bcn.rtsbf"), ("nm", H + "bcn.nm"), ("cco_cap", H + "bcn.cco_cap"),
        ("rsf", H + "bcn.rsf"), ("plevel", H + "bcn.plevel"),
        ("beacon_entries", H + "bcn.bentries"), ("bpcs", H + "bcn.bpcs")],
    1: [*_TEIS, ("cfs", H + "cfs"), ("bdf", H + "bdf"), ("hp10df", H + "hp10df"),
        ("hp11df", H + "hp11df"), ("peks", H + "sof.peks"), ("ppb", H + "ppb"), ("ble", H + "sof.ble"),
        ("pbsz", H + "sof.pbsz"), ("num_sym", H + "sof.num_sym"), ("tmi_av", H + "sof.tmi_av"),
        ("fl_av", H + "fl_av"), ("mpdu_cnt", H + "sof.mpdu_cnt"), ("burst_cnt", H + "sof.burst_cnt"),
        ("bbf", H + "sof.bbf"), ("mrtfl", H + "sof.mrtfl"), ("dccpcf", H + "sof.dccpcf"),
        ("mcf", H + "sof.mcf"), ("mnbf", H + "sof.mnbf"), ("rsr", H + "sof.rsr"), ("clst", H + "sof.clst"),
        ("mfs_cmd_mgmt", H + "sof.mfs_cmd_mgmt"), ("mfs_cmd_data", H + "sof.mfs_data_mgmt"),
        ("mfs_rsp_mgmt", H + "sof.mfs_rsp_mgmt"), ("mfs_rsp_data", H + "sof.mfs_rsp_data"),
        ("bm_sack", H + "sof.bm_sack"), FCCS],
    2: [("dtei", H + "dtei"), *_SACK_FLAGS, FCCS],
    3: [*_TEIS, ("cfs", H + "cfs"), ("bdf", H + "bdf"), ("hp10df", H + "hp10df"),
        ("hp11df", H + "hp11df"), ("rtsf", H + "rtscts.rtsf"), ("igf", H + "rtscts.igf"),
        ("mnbf", H + "rtscts.mnbf"), ("mcf", H + "rtscts.mcf"), ("dur", H + "rtscts.dur"), FCCS],
    4: [*_TEIS, ("cfs", H + "cfs"), ("pbsz", H + "sound.pbsz"), ("bdf", H + "sound.bdf"),
        ("saf", H + "sound.saf"), ("scf", H + "sound.scf"), ("req_tm", H + "sound.req_tm"),
        ("fl_av", H + "fl_av"), ("mpdu_cnt", H + "sound.mpdu_cnt"), ("ppb", H + "ppb"),
        ("src", H + "sound.src"), ("add_req_tm", H + "sound.add_req_tm"),
        ("max_pb_sym", H + "sound.max_pb_sym"), ("ecsf", H + "sound.ecsf"),
        ("ecuf", H + "sound.hf_homeplug_av_sound_ecuf"), ("ems", H + "sound.ems"),
        ("esgisf", H + "sound.esgisf"), ("elgisf", H + "sound.elgisf"), ("efrs", H + "sound.efrs"), FCCS],
    5: [("dtei", H + "dtei"), *_SACK_FLAGS, ("fl", H + "rsof.fl"), ("tmi", H + "rsof.tmi"),
        ("pbsz", H + "rsof.pbsz"), ("num_sym", H + "rsof.num_sym"),
        ("mfs_cmd_mgmt", H + "rsof.mfs_cmd_mgmt"), ("mfs_cmd_data", H + "rsof.mfs_cmd_data"), FCCS],
}
LNK = H + "lnk_stats."
LNK_HEAD = [("status", H + "lnk_stats_cnf.status"), ("direction", H + "lnk_stats_cnf.dir"),
            ("lid", H + "lnk_stats_cnf.lid"), ("tei", H + "lnk_stats_cnf.tei")]
LNK_TX = [("tx_mpdu_acked", LNK + "tx.mpdu_ack"), ("tx_mpdu_collided", LNK + "tx.mpdu_col"),
          ("tx_mpdu_failed", LNK + "tx.mpdu_fail"), ("tx_pb_passed", LNK + "tx.pbs_pass"),
          ("tx_pb_failed", LNK + "tx.pbs_fail")]
LNK_RX = [("rx_mpdu_acked", LNK + "rx.mdpu_ack"), ("rx_mpdu_failed", LNK + "rx.mdpu_fail"),
          ("rx_pb_passed", LNK + "rx.pbs_pass"), ("rx_pb_failed", LNK + "rx.pbs_fail"),
          ("rx_turbo_ber_passed", LNK + "rx.tb_pass"), ("rx_turbo_ber_failed", LNK + "rx.tb_fail"),
          ("num_intervals", LNK + "rx.num_int")]
INTERVAL = [("phy_rate_mbps", LNK + "rx.inv.phy_rate"), ("pb_passed", LNK + "rx.inv.pbs_pass"),
            ("pb_failed", LNK + "rx.inv.pbs_fail"), ("turbo_ber_passed", LNK + "rx.inv.tb_pass"),
            ("turbo_ber_failed", LNK + "rx.inv.tb_fail")]
UD = H + "gp.cm_slac_user_data."

TM = H + "tone_map_tx_"
CORPUS_VENDOR = {  # (name, MME version) -> fields
    ("VS_TONE_MAP_CHAR.REQ", 0): [("peer", TM + "req.mac"), ("slot", TM + "req.slot")],
    ("VS_TONE_MAP_CHAR.REQ", 1): [("peer", TM + "req.mac"), ("slot", TM + "req.slot"),
                                  ("coupling", TM + "req.coupling")],
    ("VS_TONE_MAP_CHAR.CNF", 0): [("status", TM + "cnf.status"), ("slot", TM + "cnf.slot"),
                                  ("num_tone_maps", TM + "cnf.num_tms"),
                                  ("num_active_carriers", TM + "cnf.num_act")],
    ("VS_TONE_MAP_CHAR.CNF", 1): [("status", TM + "cnf.status"), ("length", TM + "cnf.len"),
                                  ("peer", TM + "cnf.mac"), ("slot", TM + "cnf.slot"),
                                  ("num_tone_maps", TM + "cnf.num_tms"),
                                  ("num_active_carriers", TM + "cnf.num_act")],
    # tshark reads only these of the open-plc-utils layout, through bit masks: the third
    # element is the mask applied to our full octet before comparing
    ("VS_ENET_SETTINGS.REQ", 0): [("control_mode", H + "enet_phy_req.mcontrol", 0x01)],
    ("VS_ENET_SETTINGS.CNF", 0): [("status", H + "enet_phy_cnf.status", 0x03),
                                  ("speed", H + "enet_phy.speed", 0x03),
                                  ("duplex", H + "enet_phy.duplex", 0x01)],
    ("VS_LOOPBACK.CNF", 0): [("status", H + "fr_lbk_cnf.status"), ("duration", H + "lbk.duration")],
}

ALL = sorted({f for _o, f in SNIFFER_HEAD + LNK_HEAD + LNK_TX + LNK_RX + INTERVAL} | {H + "lbk.len"}
             | {entry[1] for fields in CORPUS_VENDOR.values() for entry in fields}
             | {f for fields in VARIANT_FIELDS.values() for _o, f in fields}
             | {UD + "broadcast", UD + "tlv"})


def _random_fields(program: prog.Program, rnd: random.Random) -> dict:
    """Random values for every field of a flat program (BITS within their widths)."""
    out: dict = {}
    for kind, name, a, b in program:
        if kind == prog.BITS:
            for field, _shift, width in b:
                out[field] = rnd.getrandbits(width)
        elif kind in (prog.U8, prog.U16, prog.U32, prog.U64):
            out[name] = rnd.getrandbits({prog.U8: 8, prog.U16: 16, prog.U32: 32, prog.U64: 64}[kind])
        elif kind == prog.HEX:
            out[name] = rnd.randbytes(a).hex()
    return out


def _frames(rnd: random.Random) -> list[tuple[bytes, str]]:
    frames = []
    for delimiter in VARIANT_FIELDS:
        for _ in range(3):
            case = prog.compile_layout(FRAME_CONTROL_VARIANTS[delimiter])
            head = {"sniffer_type": rnd.getrandbits(8), "direction": rnd.randint(0, 2),  # tshark masks 0x03: 0 Tx, 1 Rx
                    "system_time": rnd.getrandbits(64), "beacon_time": rnd.getrandbits(32),
                    "delimiter_type": delimiter, "access": rnd.getrandbits(1), "snid": rnd.getrandbits(4)}
            frames.append((build_mme(0xA036, **head, frame_control=_random_fields(case, rnd)),
                           "VS_SNIFFER.IND"))
    for direction in (0, 1, 2):
        stats = {name: rnd.getrandbits(64) for name, _f in LNK_TX + LNK_RX if name != "num_intervals"}
        intervals = [{"phy_rate_mbps": rnd.getrandbits(8), "pb_passed": rnd.getrandbits(64),
                      "pb_failed": rnd.getrandbits(64), "turbo_ber_passed": rnd.getrandbits(64),
                      "turbo_ber_failed": rnd.getrandbits(64)} for _ in range(rnd.randint(1, 3))]
        if direction == 0:
            stats = {k: v for k, v in stats.items() if k.startswith("tx_")}
        else:
            stats = {k: v for k, v in stats.items() if direction == 2 or k.startswith("rx_")}
            stats["intervals"] = intervals
        frames.append((build_mme(0xA031, status=0, direction=direction, lid=rnd.getrandbits(8),
                                 tei=rnd.getrandbits(8), link_stats=stats), "VS_LNK_STATS.CNF"))
    for _ in range(3):
        tlvs = [{"type": rnd.choice([1, 2, 0x1E]), "value": rnd.randbytes(rnd.randint(1, 12)).hex()}
                for _ in range(rnd.randint(1, 3))]
        tlvs.append({"type": 0x1F, "oui": "00:b0:52", "subtype": rnd.getrandbits(8),
                     "value": rnd.randbytes(5).hex()})
        frames.append((build_mme(0x6080, broadcast_tlv_type=0, broadcast_tlv_length=1,
                                 broadcast=rnd.randint(0, 2), tlvs=tlvs), "CM_SLAC_USER_DATA.REQ"))
    return frames


def _tshark_rows(path) -> dict[int, dict[str, list[str]]]:
    cmd = [TSHARK, "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "aggregator=|",
           "-E", "occurrence=a", "-e", "frame.number"]
    for name in ALL:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    rows = {}
    for line in out.splitlines():
        cells = line.split("\t")
        rows[int(cells[0])] = {n: c.split("|") for n, c in zip(ALL, cells[1:], strict=False) if c}
    return rows


def _same(ours, theirs: str, name: str) -> bool:
    if isinstance(ours, str):
        return ours.replace(":", "") == theirs.replace(":", "").lower()
    if name == "nid":  # tshark reads the 7 NID octets big-endian, we little-endian (54 bits)
        return ours.to_bytes(7, "little") == int(theirs, 0).to_bytes(7, "big")
    return ours == int(theirs, 0)


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    rnd = random.Random(15118)
    path = tmp_path_factory.mktemp("tshark") / "vendor.pcap"
    built = _frames(rnd)
    with PcapWriter(path) as writer:
        for index, (mme, _name) in enumerate(built):
            writer.write(build_frame("ff:ff:ff:ff:ff:ff", "00:b0:52:00:00:01", mme), index * 1000)
    dissector = HomePlugDissector(show_secrets=True)
    ours = []
    for index, (mme, name) in enumerate(built):
        eth = build_frame("ff:ff:ff:ff:ff:ff", "00:b0:52:00:00:01", mme)
        (message,) = dissector.feed(eth, ts_ns=index * 1000, frame=index + 1)
        assert message.name == name and not message.problems
        ours.append(message)
    return ours, _tshark_rows(path)


def _compare(fields: dict, row: dict, table: list[tuple], index: int = 0) -> int:
    compared = 0
    for ours_name, tshark_name, *mask in table:
        assert tshark_name in row, tshark_name
        ours = fields[ours_name] & mask[0] if mask else fields[ours_name]
        assert _same(ours, row[tshark_name][index], ours_name), (ours_name, tshark_name)
        compared += 1
    return compared


def test_sniffer_frame_control_matches_tshark(decoded):
    messages, rows = decoded
    seen = set()
    for number, message in enumerate(messages, 1):
        if message.name != "VS_SNIFFER.IND":
            continue
        fields = message.fields
        _compare(fields, rows[number], SNIFFER_HEAD)
        _compare(fields["frame_control"], rows[number], VARIANT_FIELDS[fields["delimiter_type"]])
        seen.add(fields["delimiter_type"])
    assert seen == set(VARIANT_FIELDS)


def test_link_statistics_match_tshark(decoded):
    messages, rows = decoded
    directions = set()
    for number, message in enumerate(messages, 1):
        if message.name != "VS_LNK_STATS.CNF":
            continue
        row, fields = rows[number], message.fields
        _compare(fields, row, LNK_HEAD)
        stats = fields["link_stats"]
        if fields["direction"] in (0, 2):
            _compare(stats, row, LNK_TX)
        if fields["direction"] in (1, 2):
            _compare(stats, row, LNK_RX)
            for i, interval in enumerate(stats["intervals"]):
                _compare(interval, row, INTERVAL, i)
        directions.add(fields["direction"])
    assert directions == {0, 1, 2}


def test_slac_user_data_tlvs_match_tshark(decoded):
    """tshark 4.0 shows the broadcast value and the first TLV header, then throws (it
    passes the TLV type mask as a field length), so only those two are compared."""
    messages, rows = decoded
    compared = 0
    for number, message in enumerate(messages, 1):
        if message.name != "CM_SLAC_USER_DATA.REQ":
            continue
        row, fields = rows[number], message.fields
        assert int(row[UD + "broadcast"][0], 0) == fields["broadcast"]
        assert int(row[UD + "tlv"][0], 0) == fields["tlvs"][0]["type"]
        assert fields["tlvs"][-1]["oui"] == "00:b0:52"
        compared += 1
    assert compared == 3


def _corpus_link_stats():
    from homeplug_corpus import corpus_captures

    names = ("alpi_currentDemandSequenceErrorShutdown", "Ioniq_without_and_with_60W_bulbs",
             "ABB_until_ChargeParamDiscovery")
    return [p for p in corpus_captures() if any(n in p.name for n in names)]


@pytest.mark.parametrize("path", _corpus_link_stats(), ids=lambda p: p.name)
def test_corpus_link_statistics_match_tshark(path):
    """Real VS_LNK_STATS.CNF (direction 2: Tx, Rx and the interval records) from the corpus."""
    from homeplug_corpus import homeplug_frames

    dissector = HomePlugDissector()
    found = [(number, message) for number, eth, ts in homeplug_frames(path)
             for message in dissector.feed(eth, ts_ns=ts, frame=number)
             if message.name == "VS_LNK_STATS.CNF"]
    if not found:
        pytest.skip("no link statistics in this capture")
    rows = _tshark_rows(path)
    for number, message in found:
        row, fields = rows[number], message.fields
        assert not message.problems
        _compare(fields, row, LNK_HEAD)
        stats = fields["link_stats"]
        _compare(stats, row, LNK_TX)
        _compare(stats, row, LNK_RX)
        assert len(row[INTERVAL[0][1]]) == stats["num_intervals"] == len(stats["intervals"])
        for i, interval in enumerate(stats["intervals"]):
            _compare(interval, row, INTERVAL, i)


@pytest.mark.parametrize("path", _corpus_link_stats(), ids=lambda p: p.name)
def test_corpus_tone_maps_and_phy_settings_match_tshark(path):
    """VS_TONE_MAP_CHAR REQ/CNF of both MME versions and VS_ENET_SETTINGS from the corpus."""
    from homeplug_corpus import homeplug_frames

    dissector = HomePlugDissector()
    found = [(number, message) for number, eth, ts in homeplug_frames(path)
             for message in dissector.feed(eth, ts_ns=ts, frame=number)
             if (message.name, message.fields.get("mmv")) in CORPUS_VENDOR]
    if not found:
        pytest.skip("no tone map or PHY settings MMEs in this capture")
    rows = _tshark_rows(path)
    versions = set()
    for number, message in found:
        fields = message.fields
        assert not message.problems and "body" not in fields
        key = (message.name, fields["mmv"])
        _compare(fields, rows[number], CORPUS_VENDOR[key])
        if "carriers" in fields:
            assert len(fields["carriers"]) // 2 == (fields["num_active_carriers"] + 1) // 2
        if message.name == "VS_LOOPBACK.CNF":  # LENGTH: ours little-endian, tshark's big-endian
            swapped = int.from_bytes(fields["length"].to_bytes(2, "little"), "big")
            assert int(rows[number][H + "lbk.len"][0], 0) == swapped and fields["length"] == 1038
        versions.add(key)
    assert len(versions) >= 2  # both variants (and MME versions where the capture has them)
