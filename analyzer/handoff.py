"""Where dissectors attach: the handoff tables (Wireshark's proto_reg_handoff phase).

A dissector module declares what it is and exposes a factory; this module is the
single list that says where each attaches. The pipeline consults these tables in
order; heuristics are opt-in and ordered. Plugins add entries through
`chargescope.plugins` (explicitly loaded, never by import side effects).

Interfaces (sans-I/O, no files/sockets/clocks/globals):

* A *frame dissector* is ``fn(packet) -> list[Message]``; `packet` is the
  link/net/transport decode of one frame (see `chargescope.analyzer.net`). It is
  attached by EtherType (e.g. 0x88E1 HomePlug) or UDP port (15118 SDP).
* A *stream dissector* is an object created per TCP connection by a factory
  ``factory(conn: Connection) -> StreamDissector`` and fed that connection's
  stream events in capture order. It is attached by TCP port or by a heuristic
  ``probe(first_bytes: bytes, direction: int) -> bool`` over the first bytes the
  client (direction 0) or server (1) sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.analyzer.records import (
    Connection,
    Message,
    StreamClose,
    StreamData,
    StreamGap,
)


class StreamDissector(Protocol):
    """Fed one TCP connection's events; returns the Messages each event completed.

    A partial unit is kept until more data arrives (never an exception); a gap makes
    the dissector resynchronise and report what it lost as a decode problem.
    """

    def on_data(self, event: StreamData) -> list[Message]: ...

    def on_gap(self, event: StreamGap) -> list[Message]: ...

    def on_close(self, event: StreamClose) -> list[Message]: ...


FrameDissector = Callable[[Any], list[Message]]
StreamFactory = Callable[[Connection], StreamDissector]
StreamProbe = Callable[[bytes, int], bool]


@dataclass(frozen=True, slots=True)
class FrameHandoff:
    name: str
    ethertype: int | None  # attach by EtherType ...
    udp_port: int | None  # ... or by UDP port (either side)
    dissector: FrameDissector
    # ... or by link type, for frames that carry no EtherType at all (SocketCAN, 227)
    linktype: int | None = None


@dataclass(frozen=True, slots=True)
class StreamHandoff:
    name: str
    tcp_ports: tuple[int, ...]  # attach when either side uses one of these ports
    probe: StreamProbe | None  # or when the heuristic accepts the first bytes
    factory: StreamFactory


def frame_handoffs(limits: Limits | None = None) -> tuple[FrameHandoff, ...]:
    """The built-in frame dissectors, in the order the pipeline tries them.

    Dissector modules are imported here, explicitly, when a pipeline is built;
    each exposes its FrameHandoff record (one declaration per fact). `limits`: the
    resource caps the dissectors keep (default `Limits()`).
    """
    limits = limits or DEFAULT_LIMITS
    from chargescope.dissectors import sdp
    from chargescope.dissectors.chademo.handoff import HANDOFFS as CHADEMO
    from chargescope.dissectors.homeplug.mme import HomePlugDissector
    from chargescope.dissectors.homeplug.registry import ETHERTYPE_HOMEPLUG
    from chargescope.plugins import installed

    return (
        # a fresh dissector per pipeline: it keeps MME fragments until they complete
        FrameHandoff("homeplug", ETHERTYPE_HOMEPLUG, None,
                     HomePlugDissector(max_fragment_sets=limits.homeplug_fragments)),
        sdp.HANDOFF,  # UDP 15118
        *CHADEMO,  # CAN: LINKTYPE_CAN_SOCKETCAN, and Linux cooked with protocol 0x000C
    ) + installed().frame_handoff_records()  # tried after the built-ins


def stream_handoffs(limits: Limits | None = None) -> tuple[StreamHandoff, ...]:
    """The built-in TCP stream dissectors, in the order the pipeline tries them, keeping
    the resource caps of `limits` (default `Limits()`)."""
    from chargescope.dissectors import v2gtp
    from chargescope.dissectors.ocpi.stream import ocpi_handoff
    from chargescope.dissectors.ocpp import stream_handoff as websocket_ocpp
    from chargescope.dissectors.websocket.stream import WebSocketOptions
    from chargescope.plugins import installed

    limits = limits or DEFAULT_LIMITS
    return (
        v2gtp.stream_handoff(limits),  # V2GTP (link A): dynamic ports, probed on the header
        websocket_ocpp(WebSocketOptions(max_message_size=limits.ws_message),  # -> OCPP (B)
                       max_pending=limits.ocpp_pending),
        ocpi_handoff(limits=limits),  # HTTP/1.1 -> OCPI (link C); declines WebSocket upgrades
    ) + tuple(installed().stream_handoffs)
