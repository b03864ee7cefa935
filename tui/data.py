"""What the TUI shows, derived from an `Analysis` (the engine never knows the UI).

Plain functions and small records: rows for the session table, the messages of one
session, plot series, and a `FrameStore` that fetches frame bytes for the hex pane.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass

from chargescope.analyzer.analysis import Analysis
from chargescope.analyzer.correlate import ChargingSession
from chargescope.analyzer.records import Finding, Message
from chargescope.analyzer.v2g.tree import find, physical

SECOND = 1_000_000_000
SESSION_MARGIN_NS = 5 * SECOND

# swimlanes, top to bottom: (label, link, protocols)
LANES: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("A SLAC", "A", frozenset({"homeplug"})),
    ("A V2G", "A", frozenset({"sdp", "v2gtp", "exi"})),
    ("A CAN", "A", frozenset({"chademo", "can"})),
    ("B OCPP", "B", frozenset({"websocket", "ocpp"})),
    ("C OCPI", "C", frozenset({"http", "ocpi"})),
)


def lane_of(message: Message) -> int:
    for index, (_label, link, protocols) in enumerate(LANES):
        if str(message.link) == link and message.protocol in protocols:
            return index
    return -1


def clock(ts_ns: int) -> str:
    stamp = dt.datetime.fromtimestamp(ts_ns / SECOND, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class SessionRow:
    index: int
    verdict: str
    start: str
    ev: str
    charger: str
    protocol: str
    duration: str
    energy: str
    worst: str


def session_rows(analysis: Analysis) -> list[SessionRow]:
    rows = []
    for s in analysis.sessions:
        keys = s.keys
        ev = keys.get("evccid") or keys.get("ev_mac") or keys.get("id_token", "")
        charger = keys.get("charge_point_id") or keys.get("evse_id") or keys.get("secc_mac", "")
        protocol = " / ".join(dict.fromkeys(p.protocol for p in s.parts if p.protocol))
        energy = next((f"{p.energy_wh / 1000:.2f} kWh" for p in s.parts
                       if p.energy_wh is not None), "")
        worst = max(s.findings, key=lambda f: (f.severity, -f.ts_ns), default=None)
        rows.append(SessionRow(
            s.index, s.verdict, clock(s.start_ns), ev, charger, protocol,
            f"{(s.end_ns - s.start_ns) / SECOND:.1f} s", energy,
            f"{worst.severity}: {worst.code}" if worst else ""))
    return rows


def offset_of(analysis: Analysis, source: str) -> int:
    off = analysis.correlation.offsets.get(source)
    return off.offset_ns if off else 0


def message_source(message: Message) -> str:
    return message.refs[0].source if message.refs else ""


def session_messages(analysis: Analysis, session: ChargingSession) -> list[tuple[int, Message]]:
    """(reference time, message) of every message of the session's sources in its window."""
    sources = {p.source for p in session.parts}
    lo, hi = session.start_ns - SESSION_MARGIN_NS, session.end_ns + SESSION_MARGIN_NS
    own = {id(m) for p in session.parts for m in p.messages}
    out = []
    for message in analysis.messages:
        source = message_source(message)
        if source not in sources and id(message) not in own:
            continue
        ts = message.ts_ns + offset_of(analysis, source)
        if lo <= ts <= hi or id(message) in own:
            out.append((ts, message))
    out.sort(key=lambda pair: pair[0])
    return out


def all_findings(analysis: Analysis) -> list[tuple[int, Finding]]:
    """(session index or 0, finding) for every finding, in time order."""
    out = [(s.index, f) for s in analysis.sessions for f in s.findings]
    out += [(0, f) for f in analysis.link_findings]
    out += [(0, f) for f in analysis.correlation.findings]
    return sorted(out, key=lambda pair: pair[1].ts_ns)


def summary_text(message: Message) -> str:
    f = message.fields
    for key in ("action", "ResponseCode", "status"):
        if key in f and not isinstance(f[key], dict | list):
            return f"{key}={f[key]}"
    return ""


# ---- plots -----------------------------------------------------------------------------

PLOT_KEYS = ("EVTargetVoltage", "EVSEPresentVoltage", "EVTargetCurrent", "EVSEPresentCurrent")


def dc_series(messages: list[tuple[int, Message]]) -> dict[str, list[tuple[float, float]]]:
    """Seconds since the first message -> value, for each of PLOT_KEYS found."""
    series: dict[str, list[tuple[float, float]]] = {k: [] for k in PLOT_KEYS}
    if not messages:
        return series
    t0 = messages[0][0]
    for ts, message in messages:
        if message.protocol != "exi":
            continue
        for key in PLOT_KEYS:
            value = physical(find(message.fields, key))
            if value is not None:
                series[key].append(((ts - t0) / SECOND, value))
    return series


def attenuation(messages: list[tuple[int, Message]]) -> list[int]:
    """The attenuation per group (dB) of the last CM_ATTEN_CHAR.IND."""
    for _ts, message in reversed(messages):
        if message.name == "CM_ATTEN_CHAR.IND" and isinstance(message.fields.get("aag"), list):
            return [int(v) for v in message.fields["aag"]]
    return []


def meter_series(messages: list[tuple[int, Message]]) -> list[tuple[float, float]]:
    """OCPP energy register readings (Wh) over time, from MeterValues / TransactionEvent."""
    out = []
    if not messages:
        return out
    t0 = messages[0][0]
    for ts, message in messages:
        if message.protocol != "ocpp":
            continue
        payload = message.fields.get("payload")
        if not isinstance(payload, dict):
            continue
        for meter in payload.get("meterValue", []) or []:
            for sample in (meter.get("sampledValue", []) if isinstance(meter, dict) else []):
                if not isinstance(sample, dict):
                    continue
                if sample.get("measurand", "Energy.Active.Import.Register") != \
                        "Energy.Active.Import.Register":
                    continue
                try:
                    value = float(sample.get("value"))
                except (TypeError, ValueError):
                    continue
                if str(sample.get("unit", (sample.get("unitOfMeasure") or {}).get("unit", "Wh"))
                       ).lower() == "kwh":
                    value *= 1000
                out.append(((ts - t0) / SECOND, value))
    return out


# ---- frame bytes for the hex pane ------------------------------------------------------

class FrameStore:
    """Frame bytes by (source, number), read on demand with a bounded cache.

    A miss reads the capture from the start up to the frame and keeps a window of
    frames around it, so scrolling nearby messages does not re-read the file.
    """

    def __init__(self, capacity: int = 4096, window: int = 256) -> None:
        self.capacity = capacity
        self.window = window
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._files: dict[str, str] = {}  # source name -> file holding its frames

    def read_from(self, source: str, path: str) -> None:
        """Frames of `source` (a live interface) that left the cache are in `path` (the
        file the capture writes, frame numbers alike)."""
        self._files[source] = path

    def get(self, source: str, number: int) -> bytes | None:
        key = (source, number)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        from chargescope.analyzer.capture import NotACaptureError, open_capture

        try:
            with open_capture(self._files.get(source, source)) as capture:
                for frame in capture.frames():
                    if frame.number >= number - self.window:
                        self._put((source, frame.number), frame.data)
                    if frame.number >= number + self.window:
                        break
        except (OSError, NotACaptureError):
            return None
        return self._cache.get(key)

    def add(self, source: str, number: int, data: bytes) -> None:
        """Keep a frame that has no file to be read back from (a live capture)."""
        self._put((source, number), data)

    def _put(self, key: tuple[str, int], data: bytes) -> None:
        self._cache[key] = data
        self._cache.move_to_end(key)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
