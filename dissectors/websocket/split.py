"""Pure-Python twin of hot path "wsframes" (`ext/_wsframes.pyx`): split the whole,
unfragmented data frames off the start of a TCP segment (the WebSocket fast path)."""

from __future__ import annotations

from chargescope.dissectors.websocket.frames import parse_header, unmask


def split_data_frames(data: bytes, pos: int, from_client: bool, deflate_on: bool,
                      cap: int) -> tuple[list[tuple[int, bool, int, int, bytes]], int]:
    """(frames, end): the complete FIN text/binary frames of `data` from `pos` on.

    Each frame is ``(opcode, rsv1, start, end, payload)`` with the payload unmasked.
    Stops at the first frame that is partial, fragmented, a control frame, over `cap`,
    masked against its direction (`from_client` must mask), or has reserved bits set
    (RSV1 is allowed when `deflate_on`); `end` is where it stopped.
    """
    if pos < 0:
        raise ValueError("pos must not be negative")
    frames: list[tuple[int, bool, int, int, bytes]] = []
    n = len(data)
    while pos < n:
        head = parse_header(data, pos)
        if head is None or not head.fin or head.opcode not in (0x1, 0x2):
            break
        end = pos + head.header_len + head.length
        if end > n or head.length > cap or head.masked != from_client or head.rsv2 \
                or head.rsv3 or (head.rsv1 and not deflate_on):
            break
        payload = bytes(data[pos + head.header_len:end])
        if head.masked:
            payload = unmask(payload, head.mask_key)
        frames.append((head.opcode, head.rsv1, pos, end, payload))
        pos = end
    return frames, pos
