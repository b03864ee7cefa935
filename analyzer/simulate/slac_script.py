"""Link A, layer 2: the SLAC run of ISO 15118-3 as HomePlug MME events.

CM_SET_KEY to the EV's own modem, CM_SLAC_PARM, three CM_START_ATTEN_CHAR, ten
CM_MNBC_SOUND, CM_ATTEN_CHAR, CM_SLAC_MATCH and the final CM_SET_KEY with the EVSE's
network key: about one second, as a real run takes. Fields are named as in the MME
registry (`dissectors/homeplug/registry.py`), which builds the bytes.
"""

from __future__ import annotations

import random

from chargescope.analyzer.simulate.events import Mme
from chargescope.analyzer.simulate.facts import MS, Facts
from chargescope.analyzer.simulate.scenarios import Fault, Scenario

BROADCAST = "ff:ff:ff:ff:ff:ff"
NUM_SOUNDS = 10


def run_slac(events: list, scn: Scenario, facts: Facts, rng: random.Random) -> bool:
    """The SLAC run (ISO 15118-3): returns whether it matched."""
    ids = scn.ids
    ts = facts.plug_ns + 400 * MS
    # the EV leaves any previous network: a fresh random NMK in its own modem
    _set_key(events, ts, scn, rng, rng.randbytes(7).hex(), rng.randbytes(16).hex())
    run_id = rng.randbytes(8).hex()
    app = {"application_type": 0, "security_type": 0}
    ts += 250 * MS
    facts.slac_start_ns = ts
    if Fault.SLAC_TIMEOUT in scn.faults:
        # TT_match_sequence: the EV retries CM_SLAC_PARM.REQ, nobody answers
        for attempt in range(3):
            events.append(Mme(ts + attempt * 250 * MS, ids.ev_mac, BROADCAST, "CM_SLAC_PARM",
                              "REQ", {**app, "run_id": run_id}))
        return False
    events.append(Mme(ts, ids.ev_mac, BROADCAST, "CM_SLAC_PARM", "REQ", {**app, "run_id": run_id}))
    ts += 22 * MS
    events.append(Mme(ts, ids.secc_mac, ids.ev_mac, "CM_SLAC_PARM", "CNF", {
        "m_sound_target": BROADCAST, "num_sounds": NUM_SOUNDS, "time_out": 6, "resp_type": 1,
        "forwarding_sta": ids.ev_mac, **app, "run_id": run_id}))
    ts += 30 * MS
    for _ in range(3):
        events.append(Mme(ts, ids.ev_mac, BROADCAST, "CM_START_ATTEN_CHAR", "IND", {
            **app, "num_sounds": NUM_SOUNDS, "time_out": 6, "resp_type": 1,
            "forwarding_sta": ids.ev_mac, "run_id": run_id}))
        ts += 20 * MS
    for left in range(NUM_SOUNDS - 1, -1, -1):
        events.append(Mme(ts, ids.ev_mac, BROADCAST, "CM_MNBC_SOUND", "IND", {
            **app, "sender_id": "00" * 17, "cnt": left, "run_id": run_id, "reserved": "00" * 8,
            "rnd": rng.randbytes(16).hex()}))
        ts += 20 * MS
    ts += 380 * MS  # the EVSE waits out TT_EVSE_match_MNBS before reporting
    aag = [rng.randint(18, 34) for _ in range(58)]
    events.append(Mme(ts, ids.secc_mac, ids.ev_mac, "CM_ATTEN_CHAR", "IND", {
        **app, "source_address": ids.ev_mac, "run_id": run_id, "source_id": "00" * 17,
        "resp_id": "00" * 17, "num_sounds": NUM_SOUNDS, "num_groups": len(aag), "aag": aag}))
    ts += 9 * MS
    events.append(Mme(ts, ids.ev_mac, ids.secc_mac, "CM_ATTEN_CHAR", "RSP", {
        **app, "source_address": ids.ev_mac, "run_id": run_id, "source_id": "00" * 17,
        "resp_id": "00" * 17, "result": 0}))
    ts += 60 * MS
    match = {"pev_id": "00" * 17, "pev_mac": ids.ev_mac, "evse_id": "00" * 17,
             "evse_mac": ids.secc_mac, "run_id": run_id, "reserved": "00" * 8}
    events.append(Mme(ts, ids.ev_mac, ids.secc_mac, "CM_SLAC_MATCH", "REQ",
                      {**app, "mvf_length": 0x3E, **match}))
    ts += 25 * MS
    nid, nmk = rng.randbytes(7).hex(), rng.randbytes(16).hex()
    events.append(Mme(ts, ids.secc_mac, ids.ev_mac, "CM_SLAC_MATCH", "CNF", {
        **app, "mvf_length": 0x56, **match, "nid": nid, "reserved2": 0, "nmk": nmk}))
    facts.slac_matched_ns = ts
    _set_key(events, ts + 15 * MS, scn, rng, nid, nmk)  # join the EVSE's logical network
    return True


def _set_key(events: list, ts: int, scn: Scenario, rng: random.Random, nid: str,
             nmk: str) -> None:
    """CM_SET_KEY.REQ from the EV host to its own modem, and the modem's confirmation."""
    ids = scn.ids
    events.append(Mme(ts, ids.ev_mac, ids.ev_modem_mac, "CM_SET_KEY", "REQ", {
        "key_type": 1, "my_nonce": rng.randbytes(4).hex(), "your_nonce": "00000000", "pid": 4,
        "prn": 0, "pmn": 0, "cco_capability": 0, "nid": nid, "new_eks": 1, "new_key": nmk}))
    events.append(Mme(ts + 3 * MS, ids.ev_modem_mac, ids.ev_mac, "CM_SET_KEY", "CNF", {
        "result": 0, "my_nonce": rng.randbytes(4).hex(), "your_nonce": "00000000", "pid": 4,
        "prn": 0, "pmn": 0, "cco_capability": 0}))
