"""CAN frames as chargescope sees them, and their extraction from capture frames.

A `CanFrame` is one classic CAN (or CAN FD) frame with the time and place it was
recorded: the common currency of the pcap path (SocketCAN link types) and of the text
log readers (candump, SavvyCAN CSV, CANDue). Layouts of the capture encapsulations:

- LINKTYPE_CAN_SOCKETCAN (227): the Linux `struct can_frame` header, CAN id + flags
  in network byte order (tcpdump.org/linktypes/LINKTYPE_CAN_SOCKETCAN.html);
- LINKTYPE_LINUX_SLL (113) / LINUX_SLL2 (276) with protocol 0x000C (ETH_P_CAN) or
  0x000D (ETH_P_CANFD): the same header, but the id in *host* byte order, as the
  kernel hands it to a cooked capture (Wireshark guesses the order the same way: an
  id whose reserved bits are set is read the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass

from chargescope.analyzer.records import Frame, Problem

LINKTYPE_CAN_SOCKETCAN = 227
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
ETH_P_CAN = 0x000C
ETH_P_CANFD = 0x000D
CAN_LINKTYPES = (LINKTYPE_CAN_SOCKETCAN, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2)

CAN_EFF_FLAG = 0x80000000  # extended (29-bit) frame
CAN_RTR_FLAG = 0x40000000  # remote transmission request
CAN_ERR_FLAG = 0x20000000  # error frame
CAN_EFF_MASK = 0x1FFFFFFF
CAN_SFF_MASK = 0x7FF
_HEADER = 8  # can_id (4), len (1), flags/pad (1), res0 (1), len8_dlc/res1 (1)

_FD_LENGTHS = frozenset((*range(9), 12, 16, 20, 24, 32, 48, 64))  # the CAN FD DLC table

P_CAN_SHORT = "can.frame.truncated"
P_CAN_LENGTH = "can.frame.bad_length"


@dataclass(frozen=True, slots=True)
class CanFrame:
    """One CAN frame: `can_id` without flag bits; `number` is 1-based in `source`."""

    number: int
    ts_ns: int
    can_id: int
    data: bytes
    extended: bool = False
    rtr: bool = False
    error: bool = False
    fd: bool = False
    interface: str = ""
    source: str = ""
    offset: int = 0  # where `data` starts in the capture frame (0 for text logs)


def _id_flags(raw: int) -> tuple[int, bool, bool, bool]:
    extended = bool(raw & CAN_EFF_FLAG)
    can_id = raw & (CAN_EFF_MASK if extended else CAN_SFF_MASK)
    return can_id, extended, bool(raw & CAN_RTR_FLAG), bool(raw & CAN_ERR_FLAG)


def _plausible(raw: int) -> bool:
    """A standard id with bits set between the 11-bit id and the flags is byte-swapped."""
    return bool(raw & CAN_EFF_FLAG) or not (raw & 0x1FFFF800)


def _socketcan(frame: Frame, start: int, host_order: bool, fd: bool
               ) -> CanFrame | Problem:
    body = frame.data[start:]
    if len(body) < _HEADER:
        return Problem(P_CAN_SHORT, f"SocketCAN header needs {_HEADER} bytes, "
                       f"{len(body)} captured", frame.source, frame.number, start, "frame")
    first, second = ("little", "big") if host_order else ("big", "little")
    raw = int.from_bytes(body[:4], first)
    if not _plausible(raw):
        raw = int.from_bytes(body[:4], second)
    can_id, extended, rtr, error = _id_flags(raw)
    length = body[4]
    limit = 64 if fd else 8
    data = bytes(body[_HEADER:_HEADER + length])
    if length > limit or len(data) < length or (fd and length not in _FD_LENGTHS):
        return Problem(P_CAN_LENGTH, f"CAN payload length {length} (at most {limit} expected, "
                       f"{len(body) - _HEADER} bytes present)", frame.source, frame.number,
                       start + 4, "frame")
    return CanFrame(frame.number, frame.ts_ns, can_id, data, extended, rtr, error, fd,
                    str(frame.interface), frame.source, start + _HEADER)


def can_from_frame(frame: Frame) -> CanFrame | Problem | None:
    """The CAN frame inside a capture frame; None when the frame does not carry CAN."""
    lt = frame.linktype
    if lt == LINKTYPE_CAN_SOCKETCAN:
        # the FD flag (0x04 in byte 5) marks CAN FD frames in the same link type
        fd = len(frame.data) > 5 and bool(frame.data[5] & 0x04) or len(frame.data) > 16
        return _socketcan(frame, 0, False, fd)
    if lt == LINKTYPE_LINUX_SLL and len(frame.data) >= 16:
        proto = int.from_bytes(frame.data[14:16], "big")
        if proto in (ETH_P_CAN, ETH_P_CANFD):
            return _socketcan(frame, 16, True, proto == ETH_P_CANFD)
    if lt == LINKTYPE_LINUX_SLL2 and len(frame.data) >= 20:
        proto = int.from_bytes(frame.data[0:2], "big")
        if proto in (ETH_P_CAN, ETH_P_CANFD):
            return _socketcan(frame, 20, True, proto == ETH_P_CANFD)
    return None


def socketcan_bytes(can_id: int, data: bytes, extended: bool = False) -> bytes:
    """A LINKTYPE_CAN_SOCKETCAN record body (for writers and tests)."""
    raw = can_id | (CAN_EFF_FLAG if extended else 0)
    return raw.to_bytes(4, "big") + bytes([len(data), 0, 0, 0]) + bytes(data)
