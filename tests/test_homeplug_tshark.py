"""Golden test: our MME fields vs tshark's HomePlug AV dissector on the corpus captures.

For every HomePlug frame tshark decodes, each field tshark shows (from the table below)
must equal ours, after normalising tshark's text forms (aa:bb / "aa bb" octets, 0x
integers, comma-joined repeats). Skipped when tshark is not installed.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from homeplug_corpus import corpus_captures, homeplug_frames

from chargescope.dissectors.homeplug.mme import HomePlugDissector

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")

GP = "homeplug_av.gp."
# (our field name, tshark field, kind): kind "int", "hex" (octets), "mac", "list" (ints)
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "CM_SLAC_PARM.REQ": [("application_type", GP + "cm_slac_parm.apptype", "int"),
                         ("security_type", GP + "cm_slac_parm.sectype", "int"),
                         ("run_id", GP + "cm_slac_parm.runid", "hex")],
    "CM_SLAC_PARM.CNF": [("m_sound_target", GP + "cm_slac_parm.sound_target", "hex"),
                         ("num_sounds", GP + "cm_slac_parm.sound_count", "int"),
                         ("time_out", GP + "cm_slac_parm.time_out", "int"),
                         ("resp_type", GP + "cm_slac_parm.resptype", "int"),
                         ("forwarding_sta", GP + "cm_slac_parm.forwarding_sta", "mac"),
                         ("run_id", GP + "cm_slac_parm.runid", "hex")],
    "CM_START_ATTEN_CHAR.IND": [("num_sounds", GP + "cm_start_atten_char.sounds_count", "int"),
                                ("time_out", GP + "cm_start_atten_char.time_out", "int"),
                                ("resp_type", GP + "cm_start_atten_char.resptype", "int"),
                                ("forwarding_sta", GP + "cm_start_atten_char.sound_forwarding_sta", "mac"),
                                ("run_id", GP + "cm_start_atten_char.runid", "hex")],
    "CM_MNBC_SOUND.IND": [("sender_id", GP + "cm_mnbc_sound.sender_id", "hex"),
                          ("cnt", GP + "cm_mnbc_sound.countdown", "int"),
                          ("run_id", GP + "cm_mnbc_sound.runid", "hex"),
                          ("rnd", GP + "cm_mnbc_sound.rnd", "hex")],
    "CM_ATTEN_PROFILE.IND": [("pev_mac", GP + "cm_atten_profile_ind.pev_mac", "mac"),
                             ("num_groups", GP + "cm_atten_profile_ind.groups_count", "int"),
                             ("aag", GP + "cm_atten_profile_ind.aag", "list")],
    "CM_ATTEN_CHAR.IND": [("source_address", GP + "cm_atten_char.source_mac", "mac"),
                          ("run_id", GP + "cm_atten_char.runid", "hex"),
                          ("source_id", GP + "cm_atten_char.source_id", "hex"),
                          ("resp_id", GP + "cm_atten_char.resp_id", "hex"),
                          ("num_sounds", GP + "cm_atten_char.sounds_count", "int"),
                          ("num_groups", GP + "cm_atten_char.groups_count", "int"),
                          ("aag", GP + "cm_atten_char.aag", "list")],
    "CM_ATTEN_CHAR.RSP": [("source_address", GP + "cm_atten_char.source_mac", "mac"),
                          ("run_id", GP + "cm_atten_char.runid", "hex"),
                          ("result", GP + "cm_atten_char.result", "int")],
    "CM_SLAC_MATCH.REQ": [("mvf_length", GP + "cm_slac_match.length", "int"),
                          ("pev_mac", GP + "cm_slac_match.pev_mac", "mac"),
                          ("evse_mac", GP + "cm_slac_match.evse_mac", "mac"),
                          ("run_id", GP + "cm_slac_match.runid", "hex")],
    "CM_SLAC_MATCH.CNF": [("mvf_length", GP + "cm_slac_match.length", "int"),
                          ("pev_mac", GP + "cm_slac_match.pev_mac", "mac"),
                          ("evse_mac", GP + "cm_slac_match.evse_mac", "mac"),
                          ("run_id", GP + "cm_slac_match.runid", "hex"),
                          ("nid", GP + "cm_slac_match.nid", "hex"),
                          ("nmk", GP + "cm_slac_match.nmk", "hex")],
    "CM_SET_KEY.REQ": [("key_type", "homeplug_av.nw_info.key_type", "int"),
                       ("pid", "homeplug_av.nw_info.pid", "int"),
                       ("prn", "homeplug_av.nw_info.prn", "int"),
                       ("pmn", "homeplug_av.nw_info.pmn", "int"),
                       ("nid", "homeplug_av.nw_info.nid", "hex"),
                       ("new_eks", "homeplug_av.nw_info.peks", "int"),
                       ("new_key", "homeplug_av.cm_set_key_req.nw_key", "hex")],
    "CM_SET_KEY.CNF": [("result", "homeplug_av.cm_set_key_cnf.result", "int"),
                       ("pid", "homeplug_av.nw_info.pid", "int"),
                       ("prn", "homeplug_av.nw_info.prn", "int"),
                       ("pmn", "homeplug_av.nw_info.pmn", "int")],
    "CM_GET_KEY.CNF": [("result", "homeplug_av.cm_get_key_cnf.result", "int"),
                       # tshark takes the rest of the frame (padding too) as the key
                       ("key", "homeplug_av.cm_get_key_cnf.key", "prefix")],
    "CM_BRG_INFO.CNF": [("btei", "homeplug_av.brg_infos_cnf.btei", "int"),
                        ("num_stas", "homeplug_av.brg_infos_cnf.num_stas", "int")],
    "CM_NW_INFO.CNF": [("num_avlns", "homeplug_av.nw_info.num_avlns", "int")],
    "STP_CPSTATE.IND": [("cp_state", "homeplug_av.st_iotecha.cpstate.state", "int"),
                        ("pwm_duty", "homeplug_av.st_iotecha.cpstate.pwm_duty", "int"),
                        ("pwm_freq", "homeplug_av.st_iotecha.cpstate.pwm_freq", "int"),
                        ("cp_voltage", "homeplug_av.st_iotecha.cpstate.cp_volatge", "int")],
}
HEADER = [("mmv", "homeplug_av.mmhdr.mmver", "int")]
ALL_TSHARK = sorted({f for specs in FIELDS.values() for _o, f, _k in specs} | {"homeplug_av.mmhdr.mmver"})


def _norm(value: str, kind: str):
    if kind == "int":
        return int(value, 0)
    if kind == "list":
        return [int(v, 0) for v in value.split(",")]
    return value.replace(":", "").replace(" ", "").lower()


def _ours(value, kind: str):
    if kind in ("hex", "mac", "prefix"):
        return value.replace(":", "").lower()
    return value


def _tshark_rows(path) -> dict[int, dict[str, str]]:
    cmd = [TSHARK, "-r", str(path), "-Y", "homeplug-av", "-T", "fields",
           "-E", "separator=\t", "-E", "aggregator=,", "-E", "occurrence=a", "-e", "frame.number"]
    for name in ALL_TSHARK:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120).stdout
    rows = {}
    for line in out.splitlines():
        cells = line.split("\t")
        rows[int(cells[0])] = {name: cell for name, cell in zip(ALL_TSHARK, cells[1:], strict=False) if cell}
    return rows


def _slac_captures():
    captures = corpus_captures()
    if not captures:
        pytest.skip("corpus not present")
    return [c for c in captures if "slacFail" in c.name or "multi_EVSE" in c.name
            or "ac_iso2-1" in c.name or "listenMode_01" in c.name or "Ioniq_runs" in c.name
            or "BatteryData" in c.name or "enyaq-ac-iso" in c.name or "compleo_with_bulb" in c.name
            or "DIN_DC_DS5366" in c.name]


@pytest.mark.parametrize("path", _slac_captures(), ids=lambda p: p.name)
def test_fields_match_tshark(path):
    rows = _tshark_rows(path)
    dissector = HomePlugDissector(show_secrets=True)
    compared = 0
    for number, eth, ts in homeplug_frames(path):
        tshark = rows.get(number, {})
        for message in dissector.feed(eth, ts_ns=ts, frame=number):
            for ours_name, field, kind in HEADER + FIELDS.get(message.name, []):
                if field not in tshark or ours_name not in message.fields:
                    continue
                if kind != "list" and "," in tshark[field]:
                    continue  # a field name tshark repeats inside one frame: ambiguous
                ours, theirs = _ours(message.fields[ours_name], kind), _norm(tshark[field], kind)
                if kind == "prefix":
                    theirs = theirs[:len(ours)]
                assert ours == theirs, (number, message.name, ours_name)
                compared += 1
    assert compared > 20
