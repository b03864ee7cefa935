"""Where CHAdeMO attaches in the capture pipeline (see analyzer/handoff.py).

SocketCAN frames have no EtherType: the pipeline hands LINKTYPE_CAN_SOCKETCAN (227)
frames over by link type; Linux cooked captures (SLL/SLL2) carry protocol 0x000C
(ETH_P_CAN) where an EtherType would be, so they attach by that "EtherType".
"""

from __future__ import annotations

from typing import Any

from chargescope.analyzer.chademo.can import (
    ETH_P_CAN,
    ETH_P_CANFD,
    LINKTYPE_CAN_SOCKETCAN,
    can_from_frame,
)
from chargescope.analyzer.handoff import FrameHandoff
from chargescope.analyzer.records import Link, Message, Problem
from chargescope.dissectors.chademo.decode import decode_can


def dissect_packet(packet: Any) -> list[Message]:
    """The CHAdeMO Message of one capture frame ([] for other CAN ids)."""
    got = can_from_frame(packet.frame)
    if got is None:
        return []
    if isinstance(got, Problem):
        frame = packet.frame
        return [Message(Link.A, "can", "malformed CAN frame", frame.ts_ns, "", "",
                        {"linktype": frame.linktype}, (), (got,))]
    message = decode_can(got)
    return [message] if message is not None else []


HANDOFFS: tuple[FrameHandoff, ...] = (
    FrameHandoff("chademo", None, None, dissect_packet, LINKTYPE_CAN_SOCKETCAN),
    FrameHandoff("chademo-sll", ETH_P_CAN, None, dissect_packet),
    FrameHandoff("chademo-sll-fd", ETH_P_CANFD, None, dissect_packet),
)
