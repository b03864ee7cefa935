"""Synthetic SLAC runs written with the construct encoder, decoded by the real dissector."""

from __future__ import annotations

from dataclasses import dataclass, field

from chargescope.analyzer.records import Message
from chargescope.analyzer.slac import SlacCheckConfig, Traffic, analyze
from chargescope.dissectors.homeplug.build import build_frame, build_mme
from chargescope.dissectors.homeplug.mme import HomePlugDissector

EV = "02:00:00:00:00:e1"
EVSE_A = "02:00:00:00:00:a1"
EVSE_B = "02:00:00:00:00:b1"
LOCAL_MODEM = "00:b0:52:00:00:01"
BCAST = "ff:ff:ff:ff:ff:ff"
RUN = "0102030405060708"
NID = "22" * 7
NMK = "11" * 16
MS = 1_000_000

PARM_REQ, PARM_CNF = 0x6064, 0x6065
START_ATTEN, SOUND, PROFILE = 0x606A, 0x6076, 0x6086
ATTEN_IND, ATTEN_RSP = 0x606E, 0x606F
VALIDATE_REQ, VALIDATE_CNF = 0x6078, 0x6079
MATCH_REQ, MATCH_CNF = 0x607C, 0x607D
SET_KEY_REQ, SET_KEY_CNF = 0x6008, 0x6009


@dataclass
class Scenario:
    items: list[Message | Traffic] = field(default_factory=list)
    dissector: HomePlugDissector = field(default_factory=HomePlugDissector)
    frame: int = 0
    offset_ms: float = 0  # added to every time: to append a second run after the first

    def mme(self, ms: float, src: str, dst: str, mmtype: int, **fields) -> None:
        self.frame += 1
        ms += self.offset_ms
        frame = build_frame(dst, src, build_mme(mmtype, **fields))
        self.items += self.dissector.feed(frame, ts_ns=int(ms * MS), source="synthetic",
                                          frame=self.frame)

    def traffic(self, ms: float, src: str, dst: str, what: str = "tcp") -> None:
        self.frame += 1
        ms += self.offset_ms
        self.items.append(Traffic(int(ms * MS), src, dst, what, frame=self.frame))

    def analyze(self, config: SlacCheckConfig | None = None):
        return analyze(sorted(self.items, key=lambda i: i.ts_ns), config)

    def codes(self, config: SlacCheckConfig | None = None) -> set[str]:
        return {f.code for _run, findings in self.analyze(config) for f in findings}


def nominal(s: Scenario | None = None, *, evses: dict[str, float] | None = None,
            choose: str | None = None, sounds: int = 10, sound_gap: float = 30,
            parm_cnf_at: float = 50, start_at: float = 100, start_count: int = 3,
            atten_at: float = 700, match_at: float = 900, cnf_run_id: str = RUN,
            validate: tuple[int, ...] = (), match_cnf: bool = True, nmk: str = NMK,
            traffic_at: float | None = 3000, end_at: float = 30_000, stop_after: str = "",
            parm_reqs: int = 1) -> Scenario:
    """A successful run; the keyword arguments bend one thing at a time."""
    s = s or Scenario()
    evses = {EVSE_A: 20.0} if evses is None else evses
    chosen = choose or (min(evses, key=evses.get) if evses else EVSE_A)
    for i in range(parm_reqs):
        s.mme(i * 250, EV, BCAST, PARM_REQ, run_id=RUN)
    for mac in evses:
        s.mme(parm_cnf_at, mac, EV, PARM_CNF, m_sound_target=BCAST, num_sounds=10, time_out=6,
              resp_type=1, forwarding_sta=EV, run_id=cnf_run_id)
    if stop_after == "parm":
        s.traffic(end_at, EVSE_B, BCAST, "ipv6")
        return s
    for i in range(start_count):
        s.mme(start_at + 30 * i, EV, BCAST, START_ATTEN, num_sounds=10, time_out=6,
              resp_type=1, forwarding_sta=EV, run_id=RUN)
    first_sound = start_at + 30 * start_count
    for i in range(sounds):
        s.mme(first_sound + sound_gap * i, EV, BCAST, SOUND, cnt=sounds - 1 - i, run_id=RUN)
        for mac in evses:
            s.mme(first_sound + sound_gap * i + 0.5, mac, BCAST, PROFILE, pev_mac=EV,
                  aag=[int(evses[mac])] * 58)
    for mac, atten in evses.items():
        s.mme(atten_at, mac, EV, ATTEN_IND, source_address=EV, run_id=RUN, num_sounds=sounds,
              aag=[int(atten)] * 57 + [round((atten - int(atten)) * 58 + int(atten))])
        s.mme(atten_at + 8, EV, mac, ATTEN_RSP, source_address=EV, run_id=RUN)
    if stop_after == "atten":
        s.traffic(end_at, EVSE_B, BCAST, "ipv6")
        return s
    for i, result in enumerate(validate):
        s.mme(match_at - 150 + 40 * i, EV, chosen, VALIDATE_REQ, signal_type=0, timer=0,
              result=1)
        s.mme(match_at - 140 + 40 * i, chosen, EV, VALIDATE_CNF, signal_type=0,
              toggle_num=3 if result == 2 else 0, result=result)
    s.mme(match_at, EV, chosen, MATCH_REQ, mvf_length=62, pev_mac=EV, evse_mac=chosen, run_id=RUN)
    if match_cnf:
        s.mme(match_at + 10, chosen, EV, MATCH_CNF, mvf_length=86, pev_mac=EV, evse_mac=chosen,
              run_id=RUN, nid=NID, nmk=nmk)
        s.mme(match_at + 20, EV, LOCAL_MODEM, SET_KEY_REQ, key_type=1, pid=4, nid=NID,
              new_eks=1, new_key=nmk)
        s.mme(match_at + 21, LOCAL_MODEM, EV, SET_KEY_CNF, result=0, pid=4)
    if traffic_at is not None:
        s.traffic(traffic_at, EV, BCAST, "sdp")
        s.traffic(traffic_at + 100, EV, chosen, "tcp")
    s.traffic(end_at, EVSE_B, BCAST, "ipv6")  # capture goes on: time passes for timeouts
    return s
