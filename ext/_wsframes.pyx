# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython hot path "wsframes": split the whole, unfragmented data frames off a segment.

Twin of `chargescope.dissectors.websocket.split` (same signature, same results, same
exceptions). Reads RFC 6455 headers straight from the bytes and unmasks eight bytes
at a time, building one small tuple per frame and nothing else.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint64_t
from libc.string cimport memcpy


cdef bytes _payload(const unsigned char* src, Py_ssize_t n, const unsigned char* key):
    """`n` bytes at `src`, XOR the 4-byte `key` when given (RFC 6455 5.3)."""
    if key == NULL:
        return PyBytes_FromStringAndSize(<const char*> src, n)
    # a fresh object to write into (with a source pointer, 1-byte results are shared)
    out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char* dst = <unsigned char*> PyBytes_AS_STRING(out)
    cdef unsigned char kb[8]
    cdef uint64_t word, kw
    cdef Py_ssize_t i
    for i in range(8):
        kb[i] = key[i & 3]
    memcpy(&kw, kb, 8)
    i = 0
    while i + 8 <= n:
        memcpy(&word, &src[i], 8)
        word ^= kw
        memcpy(&dst[i], &word, 8)
        i += 8
    while i < n:
        dst[i] = src[i] ^ key[i & 3]
        i += 1
    return out


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
    cdef unsigned char b0, b1
    cdef uint64_t length
    cdef Py_ssize_t head, i, end
    cdef bint masked
    if pos < 0:
        raise ValueError("pos must not be negative")
    if n == 0:
        return frames, pos
    buf = &view[0]
    while pos < n:
        if n - pos < 2:
            break
        b0 = buf[pos]
        b1 = buf[pos + 1]
        masked = (b1 & 0x80) != 0
        length = b1 & 0x7F
        head = 2
        if length == 126:
            head = 4
        elif length == 127:
            head = 10
        if masked:
            head += 4
        if n - pos < head:
            break
        if length == 126:
            length = (<uint64_t> buf[pos + 2] << 8) | buf[pos + 3]
        elif length == 127:
            length = 0
            for i in range(8):
                length = (length << 8) | buf[pos + 2 + i]
        if not (b0 & 0x80) or ((b0 & 0x0F) != 0x1 and (b0 & 0x0F) != 0x2):
            break  # not FIN, or not a text/binary frame
        if length > <uint64_t> (n - pos - head):
            break  # partial
        end = pos + head + <Py_ssize_t> length
        if <Py_ssize_t> length > cap or masked != from_client or (b0 & 0x30) \
                or ((b0 & 0x40) and not deflate_on):
            break
        frames.append((b0 & 0x0F, (b0 & 0x40) != 0, pos, end,
                       _payload(buf + pos + head, <Py_ssize_t> length,
                                buf + pos + head - 4 if masked else NULL)))
        pos = end
    return frames, pos
