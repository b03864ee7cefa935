"""The facts one simulated charging session is made of, shared by the three link scripts.

Link A's script runs first and fixes when things happen (plug-in, SLAC, authorization,
energy transfer, stop) and what was charged; links B and C read the same `Facts`, so
identities, times and energy agree between the captures except where a scenario
injects a failure. All times are on the reference clock (ns since the epoch); each
renderer adds its own capture source's clock offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chargescope.analyzer.simulate.scenarios import Charge, Scenario

MS = 1_000_000
SECOND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of the energy transfer: what the EVSE measures at `ts_ns`."""

    ts_ns: int
    voltage_v: float
    current_a: float  # DC current, or per-phase AC current
    energy_wh: float  # delivered since the start of the transfer
    soc: int


@dataclass(slots=True)
class Facts:
    """When things happened and what was charged; filled in by the link A script."""

    scenario: Scenario
    plug_ns: int = 0
    slac_start_ns: int = 0
    slac_matched_ns: int | None = None
    unplug_ns: int = 0
    auth_request_ns: int | None = None  # charger asks the CSMS (Authorize on B)
    auth_answer_ns: int | None = None  # CSMS answer on B
    cert_request_ns: int | None = None  # PnC: charger asks the CSMS for the EV certificate
    cert_answer_ns: int | None = None
    tx_start_ns: int | None = None  # transaction starts on B (1.6: after authorization)
    charge_start_ns: int | None = None  # PowerDelivery Start answered
    charge_stop_ns: int | None = None  # PowerDelivery Stop answered
    session_end_ns: int | None = None  # V2G SessionStop / connection closed
    samples: list[Sample] = field(default_factory=list)

    @property
    def energy_wh(self) -> float:
        return self.samples[-1].energy_wh if self.samples else 0.0

    @property
    def charged(self) -> bool:
        return self.charge_start_ns is not None

    @property
    def meter_stop_wh(self) -> int:
        """The station meter at the end: start reading + delivered energy (+ 0.4 % losses)."""
        return self.scenario.charge.meter_start_wh + round(self.energy_wh * 1.004)

    def meter_at(self, ts_ns: int) -> int:
        """The station meter reading (Wh) at `ts_ns`."""
        delivered = 0.0
        for sample in self.samples:
            if sample.ts_ns > ts_ns:
                break
            delivered = sample.energy_wh
        return self.scenario.charge.meter_start_wh + round(delivered * 1.004)


def charge_samples(charge: Charge, start_ns: int) -> list[Sample]:
    """The energy transfer sampled once per control-loop period.

    DC: the current ramps up over 2 s and down over the last second while the battery
    voltage rises 5 %; AC: constant per-phase current on `phases` phases. Energy is the
    integral of the power over the samples, so every link can quote the same figure.
    """
    period_ns = charge.loop_period_ms * MS
    count = max(2, int(charge.duration_s * 1000 // charge.loop_period_ms))
    out: list[Sample] = []
    energy = 0.0
    for index in range(count):
        elapsed = index * charge.loop_period_ms / 1000
        progress = index / (count - 1)
        if charge.mode == "DC":
            ramp = min(1.0, elapsed / 2.0, (charge.duration_s - elapsed) / 1.0)
            current = round(charge.current_a * max(0.0, ramp), 1)
            voltage = round(charge.voltage_v * (0.97 + 0.05 * progress), 1)
            power = voltage * current
        else:
            current = charge.current_a
            voltage = charge.voltage_v
            power = voltage * current * charge.phases
        if index:
            energy += power * charge.loop_period_ms / 3_600_000
        soc = min(100, charge.soc_start + round(energy / 600))  # 60 kWh battery
        out.append(Sample(start_ns + index * period_ns, voltage, current, round(energy, 3), soc))
    return out
