"""Energy of a V2G session as link A saw it, accumulated while its messages arrive.

The EVSE meter (MeterInfo.MeterReading, Wh) from first to last reading when the EVSE sends
one, else, for DC, the EVSE's present voltage x current integrated (trapezoids) over the
charging loop's responses. Fed while the messages are fresh: once stored, their fields are
kept compact (`analyzer/store.py`) and walking them again would decode every one.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from chargescope.analyzer.records import Message
from chargescope.analyzer.v2g.tree import find, physical

LOOP_RESPONSES = ("CurrentDemandRes", "DC_ChargeLoopRes")  # the responses sampled


class SessionEnergy:
    """Feed a session's "exi" Messages in order; `wh` is its energy (None: not known)."""

    __slots__ = ("_first", "_last", "_readings", "_sample", "_terms")

    def __init__(self) -> None:
        self._first = 0.0
        self._last = 0.0
        self._readings = 0
        self._sample: tuple[int, float] | None = None  # (ts_ns, watts) of the latest sample
        self._terms = array("d")  # joules of each interval between consecutive samples

    def feed(self, message: Message) -> None:
        fields = message.fields
        meter = find(fields, "MeterReading")
        if isinstance(meter, int | float) and not isinstance(meter, bool):
            if not self._readings:
                self._first = float(meter)
            self._last = float(meter)
            self._readings += 1
        if not message.name.endswith(LOOP_RESPONSES):
            return
        volts = physical(find(fields, "EVSEPresentVoltage"))
        amps = physical(find(fields, "EVSEPresentCurrent"))
        if volts is None or amps is None:
            return
        sample = (message.ts_ns, volts * amps)
        if self._sample is not None:
            (t0, p0), (t1, p1) = self._sample, sample
            self._terms.append((t1 - t0) / 1e9 * (p0 + p1) / 2)
        self._sample = sample

    @property
    def wh(self) -> float | None:
        if self._readings >= 2:
            return self._last - self._first
        if self._terms:  # two samples or more
            return sum(self._terms) / 3600.0
        return None


def energy_wh(messages: Iterable[Message]) -> float | None:
    """The energy of a session's Messages (only its "exi" ones count), in one go."""
    energy = SessionEnergy()
    for message in messages:
        if message.protocol == "exi":
            energy.feed(message)
    return energy.wh
