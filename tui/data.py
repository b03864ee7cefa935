"""What the TUI shows, derived from an `Analysis` (the engine never knows the UI).

Plain functions and small records: rows for the session table, the messages of one
session, plot series, and a `FrameStore` that fetches frame bytes for the hex pane.
"""

from __future__ import annotations

import datetime as dt
import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from chargescope.analyzer.analysis import Analysis
from chargescope.analyzer.correlate import ChargingSession
from chargescope.analyzer.live.incremental import end_of_input, provisional
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


_LANE_OF = {(link, protocol): index for index, (_label, link, protocols) in enumerate(LANES)
            for protocol in protocols}


def lane_of(message: Message) -> int:
    return _LANE_OF.get((message.link, message.protocol), -1)


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
    provisional: bool = False  # live: the verdict rests on the input having ended "now"


def shown_findings(findings: Iterable[Finding], live: bool) -> list[Finding]:
    """What a table lists: while capturing, not the findings judged only because the
    input ended (`end_of_input`: an OCPP CALL whose answer is on its way is no finding
    yet); once the capture ended, all of them, as the offline report has them."""
    return [f for f in findings if not end_of_input(f)] if live else list(findings)


def session_rows(analysis: Analysis, live: bool = False) -> list[SessionRow]:
    """One row per session; `live`: the analysis is a snapshot of a capture still going
    (end-of-input findings left out of the worst finding, provisional verdicts marked)."""
    rows = []
    for s in analysis.sessions:
        keys = s.keys
        ev = keys.get("evccid") or keys.get("ev_mac") or keys.get("id_token", "")
        charger = keys.get("charge_point_id") or keys.get("evse_id") or keys.get("secc_mac", "")
        protocol = " / ".join(dict.fromkeys(p.protocol for p in s.parts if p.protocol))
        energy = next((f"{p.energy_wh / 1000:.2f} kWh" for p in s.parts
                       if p.energy_wh is not None), "")
        worst = max(shown_findings(s.findings, live), key=lambda f: (f.severity, -f.ts_ns),
                    default=None)
        rows.append(SessionRow(
            s.index, s.verdict, clock(s.start_ns), ev, charger, protocol,
            f"{(s.end_ns - s.start_ns) / SECOND:.1f} s", energy,
            f"{worst.severity}: {worst.code}" if worst else "",
            live and provisional(s)))
    return rows


def offset_of(analysis: Analysis, source: str) -> int:
    off = analysis.correlation.offsets.get(source)
    return off.offset_ns if off else 0


def message_source(message: Message) -> str:
    return message.refs[0].source if message.refs else ""


class MessageIndex:
    """The analysis' messages by source, in reference time order: a session's messages are
    found by bisecting its window in each of its sources, not by scanning every message
    (a 1 GB capture holds millions). Built off the screen's thread: it also finds every
    session's strays (its own messages outside its windows), a pass over all of them."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        by_source: dict[str, list[Message]] = {}
        for message in analysis.messages:
            by_source.setdefault(message_source(message), []).append(message)
        self.offsets = {source: offset_of(analysis, source) for source in by_source}
        self.times: dict[str, list[int]] = {}
        self.messages: dict[str, list[tuple[int, Message]]] = {}
        for source, messages in by_source.items():
            offset = self.offsets[source]
            pairs = sorted(((m.ts_ns + offset, m) for m in messages), key=_time)
            self.messages[source] = pairs
            self.times[source] = [ts for ts, _m in pairs]
        self.strays = {session.index: self._strays(session) for session in analysis.sessions}

    def session(self, session: ChargingSession) -> list[tuple[int, Message]]:
        """(reference time, message) of every message of the session's sources in its
        window, and the session's own messages wherever they are, in time order."""
        return SessionStream(self, session).take(None)

    @staticmethod
    def bounds(session: ChargingSession) -> tuple[int, int]:
        return session.start_ns - SESSION_MARGIN_NS, session.end_ns + SESSION_MARGIN_NS

    def window(self, session: ChargingSession) -> list[list[tuple[int, Message]]]:
        """Per source of the session, its messages in the session's window, in time order
        (slices of the index: found by bisection, copied in C)."""
        lo, hi = self.bounds(session)
        out = []
        for source in dict.fromkeys(p.source for p in session.parts):
            times = self.times.get(source, [])
            first, last = bisect_left(times, lo), bisect_right(times, hi)
            if last > first:
                out.append(self.messages[source][first:last])
        return out

    def reference_ns(self, message: Message) -> int:
        source = message_source(message)
        offset = self.offsets.get(source)
        if offset is None:
            offset = self.offsets[source] = offset_of(self.analysis, source)
        return message.ts_ns + offset

    def holds(self, source: str, ts: int, message: Message) -> bool:
        """Whether `message` is in the index under `source` at reference time `ts`."""
        times = self.times.get(source)
        if times is None:
            return False
        pairs = self.messages[source]
        at = bisect_left(times, ts)
        while at < len(times) and times[at] == ts:
            if pairs[at][1] is message:
                return True
            at += 1
        return False

    def _strays(self, session: ChargingSession) -> list[tuple[int, Message]]:
        """The session's own messages that its windows do not hold, in time order."""
        lo, hi = self.bounds(session)
        sources = {p.source for p in session.parts}
        strays: list[tuple[int, Message]] = []
        taken: set[int] = set()
        for part in session.parts:
            for message in part.messages:
                source = message_source(message)
                ts = self.reference_ns(message)
                if source in sources and lo <= ts <= hi and self.holds(source, ts, message):
                    continue  # in a window
                if id(message) not in taken:  # a message two parts share: once
                    taken.add(id(message))
                    strays.append((ts, message))
        strays.sort(key=_time)
        return strays


def _time(pair: tuple[int, Message]) -> int:
    return pair[0]


class SessionStream:
    """One session's (reference time, message) pairs in time order, a chunk at a time: the
    first screen of a session of 10^6 messages costs what a small session's does.

    The pairs merge the session's per-source windows of the index and its strays, each
    already in time order; ties keep that order (windows by source, then strays), as a
    stable sort of them all would.
    """

    def __init__(self, index: MessageIndex, session: ChargingSession) -> None:
        self.index = index
        self.session = session
        strays = index.strays.get(session.index)
        if strays is None:  # a session the index was not built with
            strays = index.strays[session.index] = index._strays(session)
        self.runs = [*index.window(session), *([strays] if strays else [])]
        self.expected = sum(map(len, self.runs))  # how many pairs the stream holds
        self.taken = 0
        self._merged = heapq.merge(*self.runs, key=_time)

    def span(self) -> tuple[int, int]:
        """The first and last reference times the stream produces."""
        if not self.runs:
            return 0, 0
        return min(run[0][0] for run in self.runs), max(run[-1][0] for run in self.runs)

    def take(self, count: int | None) -> list[tuple[int, Message]]:
        """The next `count` pairs (all that are left with None); [] at the end."""
        chunk = list(islice(self._merged, count))
        self.taken += len(chunk)
        return chunk


class Marks:
    """The swimlane mark of each of a session's messages, (lane, is a failure), kept in two
    flat arrays: not a tuple per message, which a session of 10^6 would hand the garbage
    collector to walk at every full collection."""

    __slots__ = ("lanes", "bad")

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        self.lanes = array("b")
        self.bad = bytearray()
        self.extend(messages)

    def extend(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.lanes.append(lane_of(message))
            self.bad.append(is_failure(message))

    def __len__(self) -> int:
        return len(self.lanes)

    def __getitem__(self, index: int) -> tuple[int, bool]:
        return self.lanes[index], bool(self.bad[index])

    def __iter__(self) -> Iterator[tuple[int, bool]]:
        return zip(self.lanes, map(bool, self.bad), strict=True)


def session_messages(analysis: Analysis, session: ChargingSession) -> list[tuple[int, Message]]:
    """(reference time, message) of every message of the session's sources in its window."""
    return MessageIndex(analysis).session(session)


def all_findings(analysis: Analysis, live: bool = False) -> list[tuple[int, Finding]]:
    """(session index or 0, finding) for every finding, in time order (`live`: those
    `shown_findings` lists while capturing)."""
    out = [(s.index, f) for s in analysis.sessions for f in shown_findings(s.findings, live)]
    out += [(0, f) for f in shown_findings(analysis.link_findings, live)]
    out += [(0, f) for f in shown_findings(analysis.correlation.findings, live)]
    return sorted(out, key=lambda pair: pair[1].ts_ns)


def v2g_body(message: Message) -> dict | None:
    """The message element of an EXI message: Body's child (DIN / -2) or the -20 root."""
    fields = message.fields
    root = fields.get("V2G_Message")
    if isinstance(root, dict):
        body = root.get("Body")
        node = next(iter(body.values()), None) if isinstance(body, dict) and body else None
    else:
        node = fields.get(message.name)
    return node if isinstance(node, dict) else None


def is_failure(message: Message) -> bool:
    """A message to mark red on the swimlanes: decode problems, or a FAILED response code
    (looked up where it sits, not by printing the whole tree: sessions hold 10^5 messages)."""
    if message.problems:
        return True
    if message.protocol == "exi":
        body = v2g_body(message)
        code = body.get("ResponseCode") if body else None
        return isinstance(code, str) and code.startswith("FAILED")
    return "FAILED" in summary_text(message)


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

    Once `index(source)` has run (a background pass after loading: 12 bytes per frame),
    a frame is one seek and read in the file. Before that, or for a compressed file, a
    miss reads the capture from the start up to the frame and keeps a window of frames
    around it, so scrolling nearby messages does not re-read the file.
    """

    # where a record's data starts and its captured length sits: pcap record, pcapng EPB
    RECORD_LAYOUTS = ((16, 8), (28, 20))

    def __init__(self, capacity: int = 4096, window: int = 256) -> None:
        self.capacity = capacity
        self.window = window
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._files: dict[str, str] = {}  # source name -> file holding its frames
        self._index: dict[str, tuple[array, array]] = {}

    def read_from(self, source: str, path: str) -> None:
        """Frames of `source` (a live interface) that left the cache are in `path` (the
        file the capture writes, frame numbers alike)."""
        self._files[source] = path

    def index(self, source: str) -> bool:
        """Note where each frame of `source` lies in the file; False when it cannot be."""
        from chargescope.analyzer.capture import NotACaptureError, open_capture

        offsets, lengths = array("q"), array("I")
        try:
            with open_capture(source) as capture:
                if capture.compressed:
                    return False  # offsets are in the decompressed stream: no seeking
                for frame in capture.frames():
                    while len(offsets) < frame.number - 1:  # a record that was no frame
                        offsets.append(-1)
                        lengths.append(0)
                    offsets.append(frame.offset)
                    lengths.append(len(frame.data))
        except (OSError, NotACaptureError):
            return False
        self._index[source] = (offsets, lengths)
        return True

    def get(self, source: str, number: int) -> bytes | None:
        key = (source, number)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        data = self._seek(source, number)
        if data is not None:
            self._put(key, data)
            return data
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

    def _seek(self, source: str, number: int) -> bytes | None:
        """The frame read straight from its record, when indexed (None: read it in order)."""
        index = self._index.get(source)
        if index is None or not 0 < number <= len(index[0]) or index[0][number - 1] < 0:
            return None
        offset, length = index[0][number - 1], index[1][number - 1]
        try:
            with open(source, "rb") as fh:
                fh.seek(offset)
                record = fh.read(28 + length)
        except OSError:
            return None
        for data_at, caplen_at in self.RECORD_LAYOUTS:
            caplen = record[caplen_at:caplen_at + 4]
            if len(record) >= data_at + length and length in (
                    int.from_bytes(caplen, "little"), int.from_bytes(caplen, "big")):
                return record[data_at:data_at + length]
        return None

    def _put(self, key: tuple[str, int], data: bytes) -> None:
        self._cache[key] = data
        self._cache.move_to_end(key)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
