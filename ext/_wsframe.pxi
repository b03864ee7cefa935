# RFC 6455 frame reading shared by ext/_wsframes.pyx and ext/_wsstream.pyx (included
# textually: a .pxi is not a module of its own).

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


cdef inline Py_ssize_t _whole_data_frame(const unsigned char* buf, Py_ssize_t pos,
                                         Py_ssize_t n, bint from_client, bint deflate_on,
                                         Py_ssize_t cap, Py_ssize_t* head_len) noexcept nogil:
    """End of the complete FIN text/binary frame at `pos` (its header length in
    `head_len`), or -1 when it is partial, fragmented, a control frame, over `cap`, masked
    against its direction, or has reserved bits set (RSV1 allowed when `deflate_on`)."""
    cdef unsigned char b0, b1
    cdef uint64_t length
    cdef Py_ssize_t head, i
    cdef bint masked
    if n - pos < 2:
        return -1
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
        return -1
    if length == 126:
        length = (<uint64_t> buf[pos + 2] << 8) | buf[pos + 3]
    elif length == 127:
        length = 0
        for i in range(8):
            length = (length << 8) | buf[pos + 2 + i]
    if not (b0 & 0x80) or ((b0 & 0x0F) != 0x1 and (b0 & 0x0F) != 0x2):
        return -1  # not FIN, or not a text/binary frame
    if length > <uint64_t> (n - pos - head):
        return -1  # partial
    if <Py_ssize_t> length > cap or masked != from_client or (b0 & 0x30) \
            or ((b0 & 0x40) and not deflate_on):
        return -1
    head_len[0] = head
    return pos + head + <Py_ssize_t> length
