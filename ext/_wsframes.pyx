# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython hot path "wsframes": split the whole, unfragmented data frames off a segment.

Twin of `chargescope.dissectors.websocket.split` (same signature, same results, same
exceptions). Reads RFC 6455 headers straight from the bytes and unmasks eight bytes
at a time, building one small tuple per frame and nothing else.
"""

include "_wsframe.pxi"


def split_data_frames(data, Py_ssize_t pos, bint from_client, bint deflate_on,
                      Py_ssize_t cap):
    """(frames, end): the complete FIN text/binary frames of `data` from `pos` on.

    Each frame is ``(opcode, rsv1, start, end, payload)`` with the payload unmasked.
    Stops at the first frame that is partial, fragmented, a control frame, over `cap`,
    masked against its direction (`from_client` must mask), or has reserved bits set
    (RSV1 is allowed when `deflate_on`); `end` is where it stopped.
    """
    cdef const unsigned char[:] view = data
    cdef Py_ssize_t n = view.shape[0]
    cdef const unsigned char* buf
    cdef list frames = []
    cdef Py_ssize_t head = 0, end
    if pos < 0:
        raise ValueError("pos must not be negative")
    if n == 0:
        return frames, pos
    buf = &view[0]
    while pos < n:
        end = _whole_data_frame(buf, pos, n, from_client, deflate_on, cap, &head)
        if end < 0:
            break
        frames.append((buf[pos] & 0x0F, (buf[pos] & 0x40) != 0, pos, end,
                       _payload(buf + pos + head, end - pos - head,
                                buf + pos + head - 4 if buf[pos + 1] & 0x80 else NULL)))
        pos = end
    return frames, pos
