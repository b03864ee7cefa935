"""SLAC run builder: HomePlug Messages (and link traffic) in capture order -> SLAC runs.

Rule 1 (after h11's `_state.py`): everything that moves a run from one state to the
next lives in `TRANSITIONS`, in this module. A run is keyed by the EV's MAC and the
RUN_ID it chose; EVSEs answering the same run each get an `EvseLeg`. MMEs without a
RUN_ID (attenuation profiles, validation, set-key) and link traffic attach to the
latest run of the EV (or EVSE) they name. An event the table does not allow in the
current state is recorded as unexpected; the builder never stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chargescope.analyzer.records import Message

# states
START = "START"  # no message of the run seen yet (the capture may start mid-run)
PARM = "PARM"  # parameter exchange
SOUNDING = "SOUNDING"  # start-atten + M-sounds
RESULTS = "RESULTS"  # attenuation results received by the EV
VALIDATING = "VALIDATING"
MATCHING = "MATCHING"
MATCHED = "MATCHED"
JOINED = "JOINED"  # traffic seen on the logical network after the match

TRAFFIC = "traffic"
# Traffic.what values that mean the V2G session runs (from frames here, or the protocol
# names of the SDP/V2GTP/EXI dissectors when a pipeline feeds their Messages)
V2G_TRAFFIC = frozenset({"sdp", "tcp", "v2gtp", "exi", "tls"})
CP_STATE = "STP_CPSTATE.IND"  # control pilot state reports (test systems, some EVSEs)
DUPLICATE_WINDOW_NS = 1_000_000  # identical MMEs closer than 1 ms are one frame seen twice  # pseudo event: a non-SLAC frame from/to the EV after the match

_RESTART = {"CM_SLAC_PARM.REQ": PARM}  # [V2G3-A09-16]: a new PARM.REQ restarts matching

TRANSITIONS: dict[str, dict[str, str]] = {
    START: {
        "CM_SLAC_PARM.REQ": PARM, "CM_SLAC_PARM.CNF": PARM,
        "CM_START_ATTEN_CHAR.IND": SOUNDING, "CM_MNBC_SOUND.IND": SOUNDING,
        "CM_ATTEN_PROFILE.IND": SOUNDING,
        "CM_ATTEN_CHAR.IND": RESULTS, "CM_ATTEN_CHAR.RSP": RESULTS,
        "CM_VALIDATE.REQ": VALIDATING, "CM_VALIDATE.CNF": VALIDATING,
        "CM_SLAC_MATCH.REQ": MATCHING, "CM_SLAC_MATCH.CNF": MATCHED,
    },
    PARM: {
        **_RESTART, "CM_SLAC_PARM.CNF": PARM,
        "CM_START_ATTEN_CHAR.IND": SOUNDING, "CM_MNBC_SOUND.IND": SOUNDING,
    },
    SOUNDING: {
        **_RESTART, "CM_SLAC_PARM.CNF": SOUNDING,
        "CM_START_ATTEN_CHAR.IND": SOUNDING, "CM_MNBC_SOUND.IND": SOUNDING,
        "CM_ATTEN_PROFILE.IND": SOUNDING, "CM_ATTEN_CHAR.IND": RESULTS,
    },
    RESULTS: {
        **_RESTART, "CM_MNBC_SOUND.IND": RESULTS, "CM_ATTEN_PROFILE.IND": RESULTS,
        "CM_ATTEN_CHAR.IND": RESULTS, "CM_ATTEN_CHAR.RSP": RESULTS,
        "CM_VALIDATE.REQ": VALIDATING, "CM_SLAC_MATCH.REQ": MATCHING,
    },
    VALIDATING: {
        **_RESTART, "CM_VALIDATE.REQ": VALIDATING, "CM_VALIDATE.CNF": VALIDATING,
        "CM_ATTEN_CHAR.RSP": VALIDATING, "CM_SLAC_MATCH.REQ": MATCHING,
    },
    MATCHING: {
        **_RESTART, "CM_SLAC_MATCH.REQ": MATCHING, "CM_SLAC_MATCH.CNF": MATCHED,
    },
    MATCHED: {
        **_RESTART, "CM_SLAC_MATCH.REQ": MATCHED, "CM_SLAC_MATCH.CNF": MATCHED,
        "CM_SET_KEY.REQ": MATCHED, "CM_SET_KEY.CNF": MATCHED, TRAFFIC: JOINED,
    },
    JOINED: {
        **_RESTART, "CM_SET_KEY.REQ": JOINED, "CM_SET_KEY.CNF": JOINED, TRAFFIC: JOINED,
        "CM_SLAC_MATCH.CNF": JOINED,
    },
}

# progress order, for telling "steps missing from the capture" from "out of sequence"
_ORDER = {state: i for i, state in enumerate(
    (START, PARM, SOUNDING, RESULTS, VALIDATING, MATCHING, MATCHED, JOINED))}

# a host may (re)set its own modem's key at any point: never a sequence violation
for _state, _moves in TRANSITIONS.items():
    for _name in ("CM_SET_KEY.REQ", "CM_SET_KEY.CNF"):
        _moves.setdefault(_name, _state)

# how a run is found for each MME: by RUN_ID + EV MAC, or by a MAC only
_BY_RUN_ID_FROM_EV = {"CM_SLAC_PARM.REQ", "CM_START_ATTEN_CHAR.IND", "CM_MNBC_SOUND.IND",
                      "CM_ATTEN_CHAR.RSP", "CM_SLAC_MATCH.REQ"}
_BY_RUN_ID_TO_EV = {"CM_SLAC_PARM.CNF", "CM_ATTEN_CHAR.IND", "CM_SLAC_MATCH.CNF"}
SLAC_NAMES = _BY_RUN_ID_FROM_EV | _BY_RUN_ID_TO_EV | {
    "CM_ATTEN_PROFILE.IND", "CM_VALIDATE.REQ", "CM_VALIDATE.CNF", "CM_SET_KEY.REQ",
    "CM_SET_KEY.CNF"}


@dataclass(frozen=True, slots=True)
class Traffic:
    """A non-SLAC frame seen on the link (for 'did the EV join after the match')."""

    ts_ns: int
    src: str
    dst: str
    what: str  # "sdp", "ipv6", "v2gtp", "ethertype 0x86dd", ...
    frame: int = 0
    source: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """One rung of the ladder: a Message (or traffic) with the roles on both ends."""

    ts_ns: int
    name: str
    src_role: str  # "EV", "EVSE", "modem", "?"
    dst_role: str
    state: str  # the run's state after this step
    message: Message | None = None
    traffic: Traffic | None = None
    unexpected: bool = False  # the transition table does not allow it here
    skipped: bool = False  # it jumps over steps the capture does not hold


@dataclass(frozen=True, slots=True)
class EvseLeg:
    """What one EVSE did in one run."""

    mac: str
    parm_cnf: tuple[Message, ...] = ()
    atten_char: tuple[Message, ...] = ()
    atten_rsp: tuple[Message, ...] = ()
    validate_req: tuple[Message, ...] = ()
    validate_cnf: tuple[Message, ...] = ()
    match_req: tuple[Message, ...] = ()
    match_cnf: tuple[Message, ...] = ()

    @property
    def average_attenuation(self) -> float | None:
        """Mean of the attenuation groups (dB) in the last CM_ATTEN_CHAR.IND."""
        if not self.atten_char:
            return None
        aag = self.atten_char[-1].fields.get("aag") or []
        return sum(aag) / len(aag) if aag else None


@dataclass(frozen=True, slots=True)
class SlacRun:
    ev_mac: str
    run_id: str  # hex, "" when no message carrying it was seen
    state: str
    steps: tuple[Step, ...]
    evses: tuple[EvseLeg, ...]
    partial: bool  # the capture starts after the run began (no CM_SLAC_PARM.REQ seen)
    parm_req: tuple[Message, ...] = ()
    start_atten: tuple[Message, ...] = ()
    sounds: tuple[Message, ...] = ()
    profiles: tuple[Message, ...] = ()
    set_keys: tuple[Message, ...] = ()
    traffic: tuple[Traffic, ...] = ()
    duplicates: tuple[Message, ...] = ()  # MMEs recorded twice by the capture
    cp_states: tuple[Message, ...] = ()  # CP state reports since the previous run ended
    ended_ns: int = 0  # last timestamp seen in the whole input (for timeouts)

    @property
    def started_ns(self) -> int:
        return self.steps[0].ts_ns if self.steps else 0

    def leg(self, mac: str) -> EvseLeg | None:
        return next((leg for leg in self.evses if leg.mac == mac), None)

    @property
    def matched_leg(self) -> EvseLeg | None:
        return next((leg for leg in self.evses if leg.match_cnf), None)


@dataclass
class _Leg:
    mac: str
    lists: dict[str, list[Message]] = field(default_factory=lambda: {
        "parm_cnf": [], "atten_char": [], "atten_rsp": [], "validate_req": [],
        "validate_cnf": [], "match_req": [], "match_cnf": []})

    def freeze(self) -> EvseLeg:
        return EvseLeg(self.mac, **{k: tuple(v) for k, v in self.lists.items()})


@dataclass
class _Run:
    ev_mac: str
    run_id: str
    state: str = START
    partial: bool = True
    steps: list[Step] = field(default_factory=list)
    duplicates: list[Message] = field(default_factory=list)
    legs: dict[str, _Leg] = field(default_factory=dict)
    lists: dict[str, list[Any]] = field(default_factory=lambda: {
        "parm_req": [], "start_atten": [], "sounds": [], "profiles": [], "set_keys": [],
        "traffic": []})

    def leg(self, mac: str) -> _Leg:
        if mac not in self.legs:
            self.legs[mac] = _Leg(mac)
        return self.legs[mac]


_EV_LISTS = {"CM_SLAC_PARM.REQ": "parm_req", "CM_START_ATTEN_CHAR.IND": "start_atten",
             "CM_MNBC_SOUND.IND": "sounds", "CM_ATTEN_PROFILE.IND": "profiles",
             "CM_SET_KEY.REQ": "set_keys"}
# (list name, EVSE MAC is the message's src (True) or dst (False))
_LEG_LISTS = {"CM_SLAC_PARM.CNF": ("parm_cnf", True), "CM_ATTEN_CHAR.IND": ("atten_char", True),
              "CM_ATTEN_CHAR.RSP": ("atten_rsp", False), "CM_VALIDATE.REQ": ("validate_req", False),
              "CM_VALIDATE.CNF": ("validate_cnf", True), "CM_SLAC_MATCH.REQ": ("match_req", False),
              "CM_SLAC_MATCH.CNF": ("match_cnf", True)}


class SlacRunBuilder:
    """Feed Messages and Traffic in capture order; `runs()` gives the SLAC runs so far."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self._by_key: dict[tuple[str, str], _Run] = {}
        self._latest_by_ev: dict[str, _Run] = {}
        self._latest_by_evse: dict[str, _Run] = {}
        self._last_ts = 0
        self._cp_states: list[Message] = []
        self.unattributed: list[Message] = []  # SLAC MMEs naming no known EV (sniffer gaps)

    # -- feeding -----------------------------------------------------------------------
    def feed(self, message: Message) -> None:
        if message.protocol != "homeplug":
            return
        if message.name == CP_STATE:
            self._cp_states.append(message)
        if message.name not in SLAC_NAMES:
            return
        self._last_ts = max(self._last_ts, message.ts_ns)
        name = message.name
        run = self._attribute(message)
        if run is None:
            if not name.startswith("CM_SET_KEY"):  # a host keying its modem before any run
                self.unattributed.append(message)  # is setup, not a stray SLAC message
            return
        if self._is_duplicate(run, message):
            run.duplicates.append(message)
            return
        allowed = TRANSITIONS[run.state]
        unexpected = skipped = False
        if name in allowed:
            run.state = allowed[name]
        elif _ORDER.get(TRANSITIONS[START].get(name, START), 0) > _ORDER[run.state]:
            # a later step without the ones before it: the sniffer missed frames (common
            # with PLC sniffers that only see broadcasts); move on, note the gap
            run.state = TRANSITIONS[START][name]
            skipped = True
        else:
            unexpected = True
        if name == "CM_SLAC_PARM.REQ":
            run.partial = False
        if name in _EV_LISTS:
            run.lists[_EV_LISTS[name]].append(message)
        if name in _LEG_LISTS:
            list_name, evse_is_src = _LEG_LISTS[name]
            evse_mac = message.src if evse_is_src else message.dst
            run.leg(evse_mac).lists[list_name].append(message)
            self._latest_by_evse[evse_mac] = run
        src_role, dst_role = self._roles(run, message)
        run.steps.append(Step(message.ts_ns, name, src_role, dst_role, run.state,
                              message=message, unexpected=unexpected, skipped=skipped))

    def feed_traffic(self, traffic: Traffic) -> None:
        self._last_ts = max(self._last_ts, traffic.ts_ns)
        run = self._latest_by_ev.get(traffic.src) or self._latest_by_ev.get(traffic.dst)
        if run is None or run.state not in (MATCHED, JOINED):
            return
        if run.state == MATCHED:
            run.steps.append(Step(traffic.ts_ns, traffic.what, self._role(run, traffic.src),
                                  self._role(run, traffic.dst), JOINED, traffic=traffic))
        run.state = TRANSITIONS[run.state][TRAFFIC]
        run.lists["traffic"].append(traffic)

    def mark_time(self, ts_ns: int) -> None:
        """Any frame's timestamp: the end of input, for 'nothing happened within T'."""
        self._last_ts = max(self._last_ts, ts_ns)

    @staticmethod
    def _is_duplicate(run: _Run, message: Message) -> bool:
        """The same MME recorded twice (sniffer on two paths), not a retransmission: a
        real retry comes at least TP_EV_batch_msg_interval or TT_match_response later."""
        for step in reversed(run.steps[-4:]):
            previous = step.message
            if previous is None or message.ts_ns - previous.ts_ns > DUPLICATE_WINDOW_NS:
                continue
            if (previous.name, previous.src, previous.dst, previous.fields) == \
                    (message.name, message.src, message.dst, message.fields):
                return True
        return False

    # -- attribution -------------------------------------------------------------------
    def _attribute(self, message: Message) -> _Run | None:
        name, fields = message.name, message.fields
        run_id = fields.get("run_id")
        if name in _BY_RUN_ID_FROM_EV:
            # the EV chooses the RUN_ID: a new one from the EV is a new run (its
            # CM_SLAC_PARM.REQ may be missing from the capture)
            run = self._run_for(message.src, run_id, new=True)
            if name == "CM_SLAC_PARM.REQ" and run.state in (MATCHED, JOINED):
                run = self._open(message.src, run_id or "")  # same RUN_ID, next session
            return run
        if name in _BY_RUN_ID_TO_EV:
            ev = fields.get("pev_mac") or fields.get("source_address") or message.dst
            if name == "CM_SLAC_PARM.CNF" and message.dst.startswith("ff:ff"):
                ev = fields.get("forwarding_sta", ev)
            return self._run_for(ev, run_id, new=False)
        if name == "CM_ATTEN_PROFILE.IND":
            return self._latest_by_ev.get(fields.get("pev_mac", ""))
        if name == "CM_VALIDATE.REQ":
            return self._latest_by_ev.get(message.src)
        if name == "CM_VALIDATE.CNF":
            return self._latest_by_ev.get(message.dst)
        # CM_SET_KEY: the host talking to its own modem, EV side or EVSE side
        host = message.src if name == "CM_SET_KEY.REQ" else message.dst
        run = self._latest_by_ev.get(host) or self._latest_by_evse.get(host)
        return run

    def _run_for(self, ev_mac: str, run_id: str | None, *, new: bool) -> _Run:
        """The run of (EV, RUN_ID). With `new`, an unknown RUN_ID opens a run; without, it
        attaches to the EV's latest run (the checks report the mismatch). A run opened by
        anything but CM_SLAC_PARM.REQ stays partial (capture started mid-matching)."""
        run_id = run_id or ""
        run = self._by_key.get((ev_mac, run_id))
        if run is None and not new:
            run = self._latest_by_ev.get(ev_mac)
        if run is None:
            return self._open(ev_mac, run_id)
        self._latest_by_ev[ev_mac] = run
        return run

    def _open(self, ev_mac: str, run_id: str) -> _Run:
        run = _Run(ev_mac, run_id)
        self._runs.append(run)
        self._by_key[(ev_mac, run_id)] = run
        self._latest_by_ev[ev_mac] = run
        return run

    @staticmethod
    def _role(run: _Run, mac: str) -> str:
        if mac == run.ev_mac:
            return "EV"
        if mac in run.legs:
            return "EVSE"
        if mac.startswith("ff:ff:ff:ff:ff:ff"):
            return "all"
        return "?"

    def _roles(self, run: _Run, message: Message) -> tuple[str, str]:
        src, dst = self._role(run, message.src), self._role(run, message.dst)
        if message.name == "CM_ATTEN_PROFILE.IND":
            src = "modem"  # the EVSE's own PLC chip reporting to its host
        if message.name.startswith("CM_SET_KEY"):
            local = "modem"
            return (src, local) if message.name.endswith("REQ") else (local, dst)
        return src, dst

    # -- output ------------------------------------------------------------------------
    def runs(self) -> list[SlacRun]:
        out = []
        previous_end: int | None = None
        for run in self._runs:
            end = run.steps[-1].ts_ns if run.steps else (previous_end or 0)
            cp = tuple(m for m in self._cp_states
                       if (previous_end is None or previous_end < m.ts_ns) and m.ts_ns <= end)
            previous_end = end if previous_end is None else max(previous_end, end)
            out.append(SlacRun(
                ev_mac=run.ev_mac, run_id=run.run_id, state=run.state, steps=tuple(run.steps),
                evses=tuple(leg.freeze() for leg in run.legs.values()), partial=run.partial,
                duplicates=tuple(run.duplicates), cp_states=cp, ended_ns=self._last_ts,
                **{k: tuple(v) for k, v in run.lists.items()}))
        return out
