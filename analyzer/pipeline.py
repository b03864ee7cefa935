"""The streaming pipeline: frames -> decode -> reassembly -> dissectors -> Messages.

Public API (streams all the way; memory is bounded by open connections and
fragments, not by capture size)::

    from chargescope.analyzer.pipeline import Pipeline, iter_stream_events

    pipeline = Pipeline()                      # built-in handoffs from analyzer.handoff
    for item in pipeline.run(frames):          # frames: Iterable[Frame], capture order
        ...                                    # item: Message or Problem, capture order
    pipeline.stats                             # PipelineStats: per-frame accounting

    for item in iter_stream_events(frames):    # raw layer for tools: Packet, StreamOpen,
        ...                                    # StreamData, StreamGap, StreamClose, Problem

`Pipeline(frame_handoffs=..., stream_handoffs=..., limits=Limits(...),
tcp_idle_timeout_ns=..., ip_timeout_ns=..., keylog=..., tls=True)` takes explicit handoff
tables (default: `handoff.frame_handoffs(limits)` and `handoff.stream_handoffs(limits)`).
`limits` (`chargescope.analyzer.limits.Limits`) holds every resource cap: the reassembly
caps here, the dissector caps through the default handoff tables and the TLS handoff;
`tcp_max_buffer`, when given, overrides `limits.tcp_buffer` (older callers).

TLS (``tls=True``): a TLS stream handoff is tried before the others and decrypts into
them; its keys come from `keylog` (a `chargescope.analyzer.tls.keylog.KeyLog`, e.g. from
``--keylog`` files and pcapng Decryption Secrets Blocks, known before the first frame) and
from key log lines disclosed in-band in UDP datagrams of the capture itself (added to
`pipeline.keylog` as they pass, so connections waiting for them decrypt).

Dispatch:

* Frame dissectors (`FrameHandoff`) get every packet whose EtherType matches (e.g.
  0x88E1 HomePlug) and every whole UDP datagram (after IP reassembly) whose source or
  destination port matches. Several entries may match; all are called in table order.
* Stream dissectors (`StreamHandoff`) are chosen once per TCP connection: first by
  port (server port, then client port), else by the first handoff whose `probe`
  accepts the first bytes one side sent. Undecided connections hold their events
  (at most `PROBE_WINDOW` data events) until a probe decides; then the dissector is
  fed all of them in order. A connection no probe accepts is counted, not dissected.
* A dissector that raises is a bug in chargescope, but a field tool must go on: the
  exception becomes a ``pipeline.dissector.error`` Problem and the dissector is
  detached from that connection.

Every frame is counted exactly once in `stats.frames` and in one of `decoded`,
`malformed` or `out_of_scope`; `stats.protocols` counts frames per layer name
(``"ipv4"``, ``"ipv6"``, ``"tcp"``, ``"udp"``, ``"ip-fragment"``, ``"ethertype:0x88e1"``,
``"linktype:N"``, ...) and per handoff name (plus ``"tcp:undissected"``).

Hot paths (`chargescope.backends`): ``netdecode`` (link/IP/transport decode, twin
`analyzer/net.py`), ``tcpreassembly`` (twin `analyzer/reassembly/tcp.py`),
``recordbuild`` (fast record constructors, twin `analyzer/recordbuild.py`) and
``pipeloop`` (`Pipeline.run`'s per-frame loop, twin `analyzer/pipeloop.py`). The loop
sends a TCP segment of an established connection (in-order bytes or a bare ACK: the
steady state) from frame to StreamData through `TcpReassembler.feed_frame`, with no
Packet; every other frame goes through `_Decoder.frame_items` (what
`iter_stream_events` yields for it) and `Pipeline._item`: same items, same stats.
Every Problem kind this layer emits is listed in `PROBLEM_KINDS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from chargescope import backends
from chargescope.analyzer import handoff, net
from chargescope.analyzer.accounting import StreamTotals, fold
from chargescope.analyzer.handoff import FrameHandoff, StreamDissector, StreamHandoff
from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.analyzer.net import (
    DECODED,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    MALFORMED,
    Packet,
)
from chargescope.analyzer.reassembly import IpDefragmenter
from chargescope.analyzer.reassembly import ip as ip_reassembly
from chargescope.analyzer.reassembly import tcp as tcp_reassembly
from chargescope.analyzer.reassembly.ip import DEFAULT_TIMEOUT_NS, Reassembled
from chargescope.analyzer.reassembly.tcp import DEFAULT_IDLE_TIMEOUT_NS
from chargescope.analyzer.records import (
    Connection,
    Frame,
    Message,
    Problem,
    StreamClose,
    StreamData,
    StreamGap,
    StreamOpen,
)
from chargescope.analyzer.tls.inband import inband_key_log
from chargescope.analyzer.tls.keylog import KeyLog, looks_like_inband_key_log
from chargescope.dissectors.tls.stream import tls_handoff

StreamEvent = StreamOpen | StreamData | StreamGap | StreamClose
PROBE_WINDOW = 4  # data events a connection may wait for a heuristic decision
_NOTHING: list = []  # shared empty result (never appended to)

# every Problem kind the decode/reassembly pipeline itself can yield (dissectors add theirs)
PROBLEM_KINDS: dict[str, str] = {
    **net.PROBLEM_KINDS,
    **ip_reassembly.PROBLEM_KINDS,
    **tcp_reassembly.PROBLEM_KINDS,
    "pipeline.dissector.error": "a dissector raised; it was detached and the run went on",
}


@dataclass(slots=True)
class PipelineStats:
    """Per-frame accounting of one run (mutable while the run goes on)."""

    frames: int = 0
    decoded: int = 0
    malformed: int = 0
    out_of_scope: int = 0
    problems: int = 0
    messages: int = 0
    connections: int = 0
    # raw per-frame layer keys (ip version, ethertype, linktype if no ethertype, upper
    # protocol: -2 fragment, -1 none); named only when asked, to keep the loop cheap
    layers: Counter = field(default_factory=Counter)
    handoffs: Counter = field(default_factory=Counter)  # handoff name -> frames or connections
    # per stream kind: bytes = consumed + undecodable + gaps (analyzer/accounting.py)
    streams: dict[str, StreamTotals] = field(default_factory=dict)

    @property
    def protocols(self) -> Counter:
        """Frames per layer name ("ipv4", "tcp", "ethertype:0x88e1", ...) and per handoff."""
        out: Counter = Counter()
        for (version, ethertype, linktype, upper), count in self.layers.items():
            if version:
                out[f"ipv{version}"] += count
            elif ethertype >= 0:
                out[f"ethertype:0x{ethertype:04x}"] += count
            else:
                out[f"linktype:{linktype}"] += count
            if upper == -2:
                out["ip-fragment"] += count
            elif upper in (IPPROTO_TCP, IPPROTO_UDP):
                out["tcp" if upper == IPPROTO_TCP else "udp"] += count
            elif upper >= 0:
                out[f"ip-proto:{upper}"] += count
        out.update(self.handoffs)
        return out

    def as_dict(self) -> dict:
        return {"frames": self.frames, "decoded": self.decoded, "malformed": self.malformed,
                "out_of_scope": self.out_of_scope, "problems": self.problems,
                "messages": self.messages, "connections": self.connections,
                "protocols": dict(sorted(self.protocols.items())),
                "streams": {k: v.as_dict() for k, v in sorted(self.streams.items())}}


class _Decoder:
    """decode -> IP reassembly -> TCP reassembly, shared by both public entry points."""

    def __init__(self, *, limits: Limits, tcp_idle_timeout_ns: int,
                 ip_timeout_ns: int) -> None:
        self.decode = backends.load("netdecode").decode
        self.defrag = IpDefragmenter(self.decode, timeout_ns=ip_timeout_ns,
                                     max_bytes=limits.ip_fragments)
        self.tcp = backends.load("tcpreassembly").TcpReassembler(
            max_buffer=limits.tcp_buffer, idle_timeout_ns=tcp_idle_timeout_ns,
            max_connections=limits.tcp_connections)

    def frame_items(self, frame: Frame) -> list[Packet | Reassembled | StreamEvent | Problem]:
        """What `iter_stream_events` yields for one frame, in order."""
        packet = self.decode(frame)
        if packet.status is not DECODED:
            return [packet] if packet.problem is None else [packet, packet.problem]
        if packet.frag is not None:
            rebuilt, problems = self.defrag.feed(packet)
            items: list = [packet, *problems]
            if rebuilt is None:
                return items
            items.append(rebuilt)
            whole = rebuilt.packet
            if whole.status is not DECODED:
                if whole.problem is not None:
                    items.append(whole.problem)
            elif whole.l4_offset >= 0 and whole.ip_proto == IPPROTO_TCP:
                items += self.tcp.feed(whole, rebuilt.origin)
            return items
        if packet.ip_proto == IPPROTO_TCP and packet.l4_offset >= 0:
            events = self.tcp.feed(packet)
            if events:  # most segments (ACKs, old data) cause none
                return [packet, *events]
        return [packet]

    def finish(self) -> list[Problem | StreamEvent]:
        """End of input: IP datagrams never completed, then TCP's last events."""
        return [*self.defrag.finish(), *self.tcp.finish()]


def iter_stream_events(frames: Iterable[Frame], *, tcp_max_buffer: int | None = None,
                       tcp_idle_timeout_ns: int = DEFAULT_IDLE_TIMEOUT_NS,
                       ip_timeout_ns: int = DEFAULT_TIMEOUT_NS,
                       limits: Limits = DEFAULT_LIMITS,
                       ) -> Iterator[Packet | Reassembled | StreamEvent | Problem]:
    """Packets (one per frame, plus one per reassembled IP datagram) and TCP stream events.

    A frame's Packet comes first, then its decode Problem if malformed, then the events
    it caused. IP fragments are yielded as fragment Packets; the datagram they complete
    follows as a `Reassembled` record (its Packet's frame is a raw-IP rebuild carrying
    the completing fragment's number and time; `origin` maps its payload to the
    fragments, and TCP byte references of such a datagram point at the fragments).
    """
    if tcp_max_buffer is not None:
        limits = replace(limits, tcp_buffer=tcp_max_buffer)
    dec = _Decoder(limits=limits, tcp_idle_timeout_ns=tcp_idle_timeout_ns,
                   ip_timeout_ns=ip_timeout_ns)
    for frame in frames:
        yield from dec.frame_items(frame)
    yield from dec.finish()


class _StreamRoute:
    """Which stream dissector a connection feeds, once decided, and its byte counts."""

    __slots__ = ("dissector", "name", "held", "decided", "data_seen", "fin_sides", "data",
                 "gaps", "broken")

    def __init__(self) -> None:
        self.dissector: StreamDissector | None = None
        self.name = ""
        self.held: list[StreamEvent] = []
        self.decided = False
        self.data_seen = 0
        self.fin_sides = 0  # bit 0: client sent FIN, bit 1: server
        self.data = [0, 0]  # stream bytes delivered, per direction
        self.gaps = [0, 0]  # bytes missing, per direction
        self.broken = False  # the dissector raised: its books are not to be trusted


def _fold_route(totals: dict[str, StreamTotals], route: _StreamRoute) -> None:
    """Close the books of one connection (see analyzer/accounting.py)."""
    if route.broken or route.dissector is None:
        fold(totals, route.name or "undissected", route.data, route.gaps, [0, 0], None)
        return
    # a live dissector was handed every data event (held ones on attach): fed == data
    fold(totals, route.name, route.data, route.gaps, route.data,
         getattr(route.dissector, "accounting", None))


class Pipeline:
    """Frames in, Messages and Problems out, in capture order (see module docstring)."""

    def __init__(self, frame_handoffs: Iterable[FrameHandoff] | None = None,
                 stream_handoffs: Iterable[StreamHandoff] | None = None, *,
                 limits: Limits = DEFAULT_LIMITS,
                 tcp_max_buffer: int | None = None,
                 tcp_idle_timeout_ns: int = DEFAULT_IDLE_TIMEOUT_NS,
                 ip_timeout_ns: int = DEFAULT_TIMEOUT_NS,
                 keylog: KeyLog | None = None, tls: bool = True) -> None:
        if tcp_max_buffer is not None:
            limits = replace(limits, tcp_buffer=tcp_max_buffer)
        self.limits = limits
        self.frame_handoffs = tuple(handoff.frame_handoffs(limits) if frame_handoffs is None
                                    else frame_handoffs)
        self.stream_handoffs = tuple(handoff.stream_handoffs(limits) if stream_handoffs is None
                                     else stream_handoffs)
        self._options = {"limits": limits,
                         "tcp_idle_timeout_ns": tcp_idle_timeout_ns,
                         "ip_timeout_ns": ip_timeout_ns}
        self._by_ethertype: dict[int, list[FrameHandoff]] = {}
        self._by_udp_port: dict[int, list[FrameHandoff]] = {}
        self._by_linktype: dict[int, list[FrameHandoff]] = {}
        for entry in self.frame_handoffs:
            if entry.linktype is not None:
                self._by_linktype.setdefault(entry.linktype, []).append(entry)
            if entry.ethertype is not None:
                self._by_ethertype.setdefault(entry.ethertype, []).append(entry)
            if entry.udp_port is not None:
                self._by_udp_port.setdefault(entry.udp_port, []).append(entry)
        self.keylog = keylog if keylog is not None else KeyLog()
        self._tls = tls
        if tls:
            self._tls_deferred: list = []  # TLS connections closed while awaiting a key
            self.stream_handoffs = (tls_handoff(self.keylog, self.stream_handoffs,
                                                self._tls_deferred,
                                                max_pending=limits.tls_pending),
                                    *self.stream_handoffs)
        self._by_tcp_port: dict[int, StreamHandoff] = {}
        for entry in self.stream_handoffs:
            for port in entry.tcp_ports:
                self._by_tcp_port.setdefault(port, entry)
        self._probes = tuple(e for e in self.stream_handoffs if e.probe is not None)
        self._stats = PipelineStats()
        # set by a run whose loop keeps some counts aside (hot path "pipeloop"): adds
        # them to `_stats`; called whenever `stats` is read
        self._stats_hook: Callable[[], None] | None = None
        self._unsettled: list[_StreamRoute] = []  # closed, books not yet final (TLS)
        # TCP segments may skip the Packet (`TcpReassembler.feed_frame`) unless a frame
        # handoff wants IP packets by EtherType, which only a Packet can give it
        self._fast_tcp = not ({ETHERTYPE_IPV4, ETHERTYPE_IPV6} & self._by_ethertype.keys())
        self._loop = backends.load("pipeloop")

    @property
    def stats(self) -> PipelineStats:
        """The accounting of the current (or last) run, up to date whenever it is read
        (read it again to see later counts: the loop may keep some aside meanwhile)."""
        if self._stats_hook is not None:
            self._stats_hook()
        return self._stats

    def run(self, frames: Iterable[Frame]) -> Iterator[Message | Problem]:
        """Messages and Problems of `frames`, in capture order (a lazy iterator; `stats`
        is reset when the first item is asked for).

        The per-frame loop is hot path "pipeloop" (`analyzer/pipeloop.py`, Cython
        `ext/_pipeloop.pyx`): steady-state TCP segments go from frame to stream event
        through `TcpReassembler.feed_frame` without a Packet; every other frame takes
        `_Decoder.frame_items` and `_item`, the general path. Same items, same stats.
        """
        return self._loop.run(self, frames)

    # -- the loop's parts (called by hot path "pipeloop") ----------------------------------

    def _begin_run(self) -> tuple[PipelineStats, dict[int, _StreamRoute], _Decoder]:
        """Fresh stats, routes and decoder for one run."""
        if self._stats_hook is not None:  # the counts of a run left unfinished
            self._stats_hook()
            self._stats_hook = None
        self._stats = PipelineStats()
        self._unsettled = []
        if self._tls:
            self._tls_deferred.clear()  # left over from a run that was not iterated to its end
        return self._stats, {}, _Decoder(**self._options)

    def _item(self, item: Packet | Reassembled | StreamEvent | Problem,
              routes: dict[int, _StreamRoute], stats: PipelineStats) -> list[Message | Problem]:
        """What one item of `_Decoder.frame_items` (or `.finish`) yields."""
        kind = type(item)
        if kind is Packet or kind is Reassembled:
            if kind is Packet:
                stats.frames += 1
                status = item.status
                if status is DECODED:
                    stats.decoded += 1
                elif status is MALFORMED:
                    stats.malformed += 1
                    return _NOTHING
                else:
                    stats.out_of_scope += 1
                packet = item
            else:
                stats.handoffs["ip-reassembled"] += 1
                packet = item.packet
                if packet.status is not DECODED:
                    return _NOTHING
            ethertype = packet.ethertype
            stats.layers[(packet.ip_version, ethertype,
                          packet.frame.linktype if ethertype < 0 else 0,
                          -2 if packet.frag is not None else
                          (packet.ip_proto if packet.l4_offset >= 0 else -1))] += 1
            by_ethertype = self._by_ethertype
            by_udp_port = self._by_udp_port
            by_linktype = self._by_linktype
            if (by_ethertype and ethertype in by_ethertype) or (
                    by_udp_port and packet.ip_proto == IPPROTO_UDP and packet.l4_offset >= 0
                    and (packet.dport in by_udp_port or packet.sport in by_udp_port)) or (
                    by_linktype and ethertype < 0 and packet.frame.linktype in by_linktype):
                return list(self._dispatch_frame(packet))
            if (self._tls and packet.ip_proto == IPPROTO_UDP and packet.l4_offset >= 0
                    and looks_like_inband_key_log(packet.frame.data[
                        packet.payload_offset:packet.payload_offset + 64])):
                message = inband_key_log(packet, self.keylog)
                stats.handoffs["tls-keylog"] += 1
                stats.messages += 1
                return [message]
            return _NOTHING
        if kind is Problem:
            stats.problems += 1
            return [item]
        if kind is StreamData and (route := routes.get(item.conn.index)) is not None \
                and route.dissector is not None and route.decided:
            return self._data(route, item, stats)
        return self._stream_event(item, routes, stats)

    def _data(self, route: _StreamRoute, event: StreamData, stats: PipelineStats
              ) -> list[Message | Problem]:
        """The common event (data for a connection whose dissector is chosen):
        `_stream_event` -> `_feed` without their calls."""
        route.data[event.direction] += len(event.data)
        try:
            out = route.dissector.on_data(event)
        except Exception as exc:  # a dissector bug must not stop a field analysis
            return [self._detach(route, event, exc, stats)]
        if out:
            stats.messages += len(out)
        return out

    def _end_run(self, routes: dict[int, _StreamRoute], stats: PipelineStats
                 ) -> Iterator[Message | Problem]:
        """After the last frame and the decoder's end-of-input items: books and flushes."""
        unsettled = self._unsettled
        self._unsettled = []
        for route in routes.values():  # not closed by a StreamClose (should not happen)
            if route.dissector is not None and not getattr(route.dissector, "settled", True):
                unsettled.append(route)
            else:
                _fold_route(stats.streams, route)
        # end of input: frame dissectors that hold partial units (HomePlug fragments)
        # report them, so nothing read is lost silently
        for entry in self.frame_handoffs:
            flush = getattr(entry.dissector, "flush", None)
            if flush is not None:
                leftovers = flush()
                stats.messages += len(leftovers)
                yield from leftovers
        if self._tls:  # keys disclosed after their connection closed (in-band, late)
            deferred, self._tls_deferred[:] = list(self._tls_deferred), []
            for stream, close in deferred:
                late = stream.finish_late(close)
                stats.messages += len(late)
                yield from late
        for route in unsettled:  # books closed once late keys had their chance
            _fold_route(stats.streams, route)

    # -- dispatch ------------------------------------------------------------------------

    def _dispatch_frame(self, packet: Packet) -> Iterator[Message | Problem]:
        if self._by_linktype and packet.ethertype < 0:
            entries = self._by_linktype.get(packet.frame.linktype)
            if entries:
                yield from self._frame_dissect(entries, packet)
                return
        if self._by_ethertype:
            entries = self._by_ethertype.get(packet.ethertype)
            if entries:
                yield from self._frame_dissect(entries, packet)
        if self._by_udp_port and packet.ip_proto == IPPROTO_UDP and packet.l4_offset >= 0:
            entries = (self._by_udp_port.get(packet.dport)
                       or self._by_udp_port.get(packet.sport))
            if entries:
                yield from self._frame_dissect(entries, packet)

    def _frame_dissect(self, entries: list[FrameHandoff], packet: Packet
                       ) -> Iterator[Message | Problem]:
        for entry in entries:
            self._stats.handoffs[entry.name] += 1
            try:
                messages = entry.dissector(packet)
            except Exception as exc:  # a dissector bug must not stop a field analysis
                self._stats.problems += 1
                frame = packet.frame
                yield Problem("pipeline.dissector.error",
                              f"frame dissector {entry.name} raised {exc!r}", frame.source,
                              frame.number, packet.payload_offset, "frame")
                continue
            self._stats.messages += len(messages)
            yield from messages

    def _stream_event(self, event: StreamEvent, routes: dict[int, _StreamRoute],
                      stats: PipelineStats) -> list[Message | Problem]:
        """The Messages/Problems one stream event yields (a list: most yield none)."""
        conn = event.conn
        kind = type(event)
        if kind is StreamOpen:
            stats.connections += 1
            route = routes[conn.index] = _StreamRoute()
            entry = (self._by_tcp_port.get(conn.server.port)
                     or self._by_tcp_port.get(conn.client.port))
            if entry is not None:
                self._attach(route, entry, conn)
            elif not self._probes:
                route.decided = True
            return _NOTHING
        route = routes.get(conn.index)
        if route is None:
            return _NOTHING
        if kind is StreamData:
            route.data[event.direction] += len(event.data)
        elif kind is StreamGap:
            route.gaps[event.direction] += event.length
        out: list[Message | Problem] = _NOTHING
        if not route.decided:
            route.held.append(event)
            if kind is StreamData:
                route.data_seen += 1
                for entry in self._probes:
                    if entry.probe is not None and entry.probe(event.data, event.direction):
                        self._attach(route, entry, conn)
                        break
                else:
                    if route.data_seen >= PROBE_WINDOW:
                        route.decided = True
                        route.held.clear()
                        stats.handoffs["tcp:undissected"] += 1
            if route.decided or kind is StreamClose:
                held, route.held = route.held, []
                route.decided = True
                out = []
                for item in held:
                    out += self._feed(route, item, stats)
        elif route.dissector is not None:
            out = self._feed(route, event, stats)
        if kind is StreamClose:
            if event.reason == "fin":
                route.fin_sides |= 1 << event.direction
            if event.reason != "fin" or route.fin_sides == 3:
                routes.pop(conn.index, None)
                if route.dissector is not None and not getattr(route.dissector, "settled",
                                                               True):
                    self._unsettled.append(route)  # TLS records still waiting for a key
                else:
                    _fold_route(stats.streams, route)
        return out

    def _attach(self, route: _StreamRoute, entry: StreamHandoff, conn: Connection) -> None:
        route.dissector = entry.factory(conn)
        route.name = entry.name
        route.decided = True
        self._stats.handoffs[entry.name] += 1

    def _feed(self, route: _StreamRoute, event: StreamEvent, stats: PipelineStats
              ) -> list[Message | Problem]:
        dissector = route.dissector
        if dissector is None:
            return _NOTHING
        try:
            kind = type(event)
            if kind is StreamData:
                messages = dissector.on_data(event)
            elif kind is StreamGap:
                messages = dissector.on_gap(event)
            else:
                messages = dissector.on_close(event)
        except Exception as exc:  # a dissector bug must not stop a field analysis
            return [self._detach(route, event, exc, stats)]
        stats.messages += len(messages)
        return messages

    def _detach(self, route: _StreamRoute, event: StreamEvent, exc: Exception,
                stats: PipelineStats) -> Problem:
        """The Problem for a stream dissector that raised; it gets no more events."""
        route.dissector = None
        route.broken = True  # all its bytes count as undecodable
        stats.problems += 1
        return Problem("pipeline.dissector.error",
                       f"stream dissector {route.name} raised {exc!r} on TCP stream "
                       f"{event.conn.index}; detached", event.conn.source, 0,
                       getattr(event, "offset", 0), "stream")
