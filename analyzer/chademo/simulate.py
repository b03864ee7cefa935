"""A CHAdeMO session simulator: frames of both sides at their 100 ms period, written as
SocketCAN pcaps (the project's capture writer) or `candump -l` logs.

Scenarios follow the sequence of IEEE 2030.1.1 as visible on CAN: parameters, charging
enabled, connector lock + insulation test, EV contactors closed, energizing, current
ramp and tracking, stop, contactors open, unlock. Each named scenario bends one step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chargescope.analyzer.capture.writer import PcapWriter
from chargescope.analyzer.chademo.can import (
    LINKTYPE_CAN_SOCKETCAN,
    LINKTYPE_LINUX_SLL,
    CanFrame,
    socketcan_bytes,
)

TICK_NS = 100_000_000
START_NS = 1_700_000_000 * 1_000_000_000

SCENARIOS = ("happy", "incompatible_voltage", "vehicle_fault", "charger_fault",
             "frame_timeout", "current_overshoot")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str = "happy"
    vehicle_max_v: int = 435
    target_v: int = 410
    charger_v: int = 500
    charger_a: int = 125
    request_a: int = 100
    overshoot_a: int = 0  # charger delivers this much above the request while charging
    ticks: int = 130
    protocol: int = 2  # control protocol number both sides send (dissectors/chademo/versions.py)
    charger_protocol: int | None = None  # a charger announcing another number (None: same)


def _u16(value: int) -> list[int]:
    return [value & 0xFF, value >> 8 & 0xFF]


def _flags(*bits: tuple[int, bool]) -> int:
    return sum(1 << bit for bit, on in bits if on)


def scenario(name: str, protocol: int = 2) -> Scenario:
    if name == "incompatible_voltage":
        return Scenario(name, vehicle_max_v=500, target_v=480, charger_v=450, ticks=40,
                        protocol=protocol)
    if name == "current_overshoot":
        return Scenario(name, overshoot_a=20, protocol=protocol)
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return Scenario(name, protocol=protocol)


def _version_frames(sc: Scenario, charger_protocol: int) -> list[tuple[int, int, list[int]]]:
    """The extended-function frames a 2.0 vehicle / charger adds (dynamic control, high
    current and high voltage control: H'110.0 / H'118.0 bits 0-2)."""
    frames = []
    if sc.protocol >= 3:
        frames.append((30_000_000, 0x110, [0b111, 0, 0, 0, 0, 0, 0, 0]))
    if charger_protocol >= 3:
        frames.append((70_000_000, 0x118, [0b111, 0, 0, 0, 0, 0, 0, 0]))
    return frames


def simulate(sc: Scenario, start_ns: int = START_NS, interface: str = "can0"
             ) -> Iterator[CanFrame]:
    """The frames of one session, in time order (numbered from 1)."""
    number = 0
    v = dict(enabled=False, contactor_open=True, fault=0, request=0, soc=30)
    c = dict(locked=False, charging=False, stop=True, malfunction=False, incompatible=False,
             current=0, voltage=0)
    stopping_at: int | None = None
    charger_silent = False
    charger_protocol = sc.protocol if sc.charger_protocol is None else sc.charger_protocol
    since_1_0 = sc.protocol >= 2  # fields and flags a 0.9 vehicle does not send
    for tick in range(sc.ticks):
        # --- the vehicle's decisions ----------------------------------------------------
        if tick == 10:
            v["enabled"] = True
        if tick == 40 and c["locked"] and not c["incompatible"]:
            v["contactor_open"] = False
        if c["charging"] and stopping_at is None:
            v["request"] = min(sc.request_a, v["request"] + 10)
            v["soc"] = min(100, v["soc"] + (tick % 5 == 0))
        if sc.name == "vehicle_fault" and tick == 70:
            v["fault"] = 0x01  # H'102.4.0 battery overvoltage
        if tick == 100 or (c["incompatible"] and tick == 20) or v["fault"] or \
                (charger_silent and tick == 90):
            if stopping_at is None:
                stopping_at = tick
            v["enabled"], v["request"] = False, 0
        # --- the charger's ---------------------------------------------------------------
        if tick == 15 and sc.target_v > sc.charger_v:
            c["incompatible"] = True
        if tick == 20 and v["enabled"] and not c["incompatible"]:
            c["locked"] = True
            c["voltage"] = 500  # insulation test voltage on the cable
        if tick == 35:
            c["voltage"] = 0
        if tick == 45 and not v["contactor_open"]:
            c["charging"], c["stop"] = True, False
        if sc.name == "charger_fault" and tick == 70:
            c["malfunction"] = True
        if c["malfunction"] or (not v["enabled"] and c["charging"]) or v["fault"]:
            c["stop"] = True
            c["current"] = max(0, c["current"] - 40)
            if c["current"] == 0:
                c["charging"] = False
            if stopping_at is None:
                stopping_at = tick
        elif c["charging"]:
            c["current"] = min(sc.charger_a, v["request"] + sc.overshoot_a)
            c["voltage"] = sc.target_v - 30 + v["soc"] // 10
        if stopping_at is not None and tick >= stopping_at + 10 and not c["charging"]:
            v["contactor_open"] = True
        if stopping_at is not None and tick >= stopping_at + 15:
            c["locked"] = False
        if sc.name == "frame_timeout" and tick == 70:
            charger_silent = True
        # --- the frames of this tick -----------------------------------------------------
        base = start_ns + tick * TICK_NS
        frames = [
            (0, 0x100, [0, 0, *_u16(50 if since_1_0 else 0), *_u16(sc.vehicle_max_v),
                        100 if since_1_0 else 0xFF, 0]),
            (10_000_000, 0x101, [0, 0xFF, 60, 45 if since_1_0 else 0, 0,
                                 *_u16(400 if since_1_0 else 0), 0]),
            (20_000_000, 0x102, [sc.protocol, *_u16(sc.target_v), v["request"], v["fault"],
                                 _flags((0, v["enabled"]),
                                        (3, v["contactor_open"] and since_1_0),
                                        (2, bool(v["fault"]))), v["soc"], 0]),
        ]
        if not charger_silent:
            threshold = min(sc.vehicle_max_v, sc.charger_v)
            frames += [
                (50_000_000, 0x108, [1, *_u16(sc.charger_v), sc.charger_a,
                                     *_u16(threshold), 0, 0]),
                (60_000_000, 0x109, [charger_protocol, *_u16(c["voltage"]), c["current"], 0,
                                     _flags((0, c["charging"]), (1, c["malfunction"]),
                                            (2, c["locked"]), (3, c["incompatible"]),
                                            (5, c["stop"])), 0xFF, 30]),
            ]
        frames += [f for f in _version_frames(sc, charger_protocol)
                   if f[1] == 0x110 or not charger_silent]
        frames.sort()
        for offset, can_id, data in frames:
            number += 1
            yield CanFrame(number, base + offset, can_id, bytes(data), interface=interface)


def write_pcap(path: str | Path, frames: list[CanFrame], cooked: bool = False) -> None:
    """LINKTYPE_CAN_SOCKETCAN, or Linux cooked (SLL, protocol 0x000C, host-order id)."""
    with PcapWriter(path, linktype=LINKTYPE_LINUX_SLL if cooked else LINKTYPE_CAN_SOCKETCAN
                    ) as out:
        for f in frames:
            body = socketcan_bytes(f.can_id, f.data, f.extended)
            if cooked:
                sll = (b"\x00\x00" + (280).to_bytes(2, "big") + b"\x00\x00" + b"\0" * 8
                       + (0x000C).to_bytes(2, "big"))
                body = sll + body[:4][::-1] + body[4:]
            out.write(body, f.ts_ns)


def candump_lines(frames: list[CanFrame]) -> list[str]:
    """`candump -l` lines: (seconds.micros) iface id#data."""
    out = []
    for f in frames:
        sec, ns = divmod(f.ts_ns, 1_000_000_000)
        ident = f"{f.can_id:08X}" if f.extended else f"{f.can_id:03X}"
        out.append(f"({sec}.{ns // 1000:06d}) {f.interface or 'can0'} {ident}#{f.data.hex().upper()}")
    return out


def write_candump(path: str | Path, frames: list[CanFrame]) -> None:
    Path(path).write_text("\n".join(candump_lines(frames)) + "\n")
