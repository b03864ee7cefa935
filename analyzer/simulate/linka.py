"""Link A script: SLAC, SDP and the V2G dialogue (DIN 70121, ISO 15118-2, ISO 15118-20).

Runs first and records in `Facts` when the charger had to ask the CSMS (Authorize,
certificates), when energy flowed and how much; links B and C follow those facts.
Timing follows the standards' orders of magnitude: SLAC about 1.5 s, V2G pairs tens of
ms apart, the control loop every `loop_period_ms`.
"""

from __future__ import annotations

import random
from typing import Any

from chargescope.analyzer.simulate import v2g_din, v2g_iso2, v2g_iso20
from chargescope.analyzer.simulate.dialogue import Dialogue
from chargescope.analyzer.simulate.events import Sdp, TcpClose, TcpOpen
from chargescope.analyzer.simulate.facts import MS, SECOND, Facts
from chargescope.analyzer.simulate.scenarios import Fault, Scenario
from chargescope.analyzer.simulate.slac_script import run_slac

SECC_PORT = 61341


def script(scn: Scenario, facts: Facts, rng: random.Random) -> list[Any]:
    """Every link A event of the scenario, in time order; fills `facts`."""
    events: list[Any] = []
    facts.plug_ns = scn.start_ns
    if Fault.OCPI_RESULT_TIMEOUT in scn.faults:
        return events  # nobody plugged in: the remote start never reached an EV
    if not run_slac(events, scn, facts, rng):
        facts.unplug_ns = facts.slac_start_ns + 20 * SECOND  # the driver gives up
        return events
    ts = facts.slac_matched_ns + 1_400 * MS  # the AVLN forms, the EV configures IPv6
    events.append(Sdp(ts, True))
    events.append(Sdp(ts + 11 * MS, False))
    ts += 40 * MS
    events.append(TcpOpen(ts))
    d = Dialogue(events, rng, ts + 2 * MS)
    flow = {"iso2": v2g_iso2.run, "din": v2g_din.run, "iso20": v2g_iso20.run}[scn.protocol]
    flow(d, scn, facts)
    events.append(TcpClose(d.t + 20 * MS))
    facts.session_end_ns = d.t + 20 * MS
    facts.unplug_ns = d.t + 6 * SECOND
    return sorted(events, key=lambda e: e.ts_ns)
