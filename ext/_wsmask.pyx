# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython hot path "wsmask": RFC 6455 payload (un)masking.

Twin of `chargescope.dissectors.websocket.mask` (same signature, same results, same
exceptions). XORs eight bytes at a time with the key repeated to a 64-bit word.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint64_t
from libc.string cimport memcpy


def unmask(data, key) -> bytes:
    """`data` XOR the repeating `key` (RFC 6455 5.3); an empty key copies `data`."""
    cdef const unsigned char[:] src = memoryview(data).cast("B") if len(data) else b""
    cdef const unsigned char[:] k = memoryview(key).cast("B") if len(key) else b""
    cdef Py_ssize_t n = src.shape[0]
    cdef Py_ssize_t klen = k.shape[0]
    out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char* dst = <unsigned char*> PyBytes_AS_STRING(out)
    cdef Py_ssize_t i = 0
    cdef unsigned char kb[8]
    cdef uint64_t word, kw
    if n == 0:
        return out
    if klen == 0:
        memcpy(dst, &src[0], n)
        return out
    if klen == 4:
        for i in range(8):
            kb[i] = k[i % 4]
        memcpy(&kw, kb, 8)
        i = 0
        while i + 8 <= n:
            memcpy(&word, &src[i], 8)
            word ^= kw
            memcpy(&dst[i], &word, 8)
            i += 8
    while i < n:
        dst[i] = src[i] ^ k[i % klen]
        i += 1
    return out
