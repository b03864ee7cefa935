# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython hot path "netdecode": link/IP/transport decode of one Frame.

Twin of `chargescope.analyzer.net.decode` (same signature, same Packets, same
Problems, never raises on hostile bytes). Every read is checked against the frame
length before it happens; the header walk runs on a C pointer.
"""

from chargescope.analyzer.net import (
    DECODED,
    IN_SCOPE_ETHERTYPES,
    MALFORMED,
    NO_VLANS,
    OUT_OF_SCOPE,
    Packet,
)
from chargescope.analyzer.records import Problem

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


# Packet is a frozen slotted dataclass: its __init__ sets 20 attributes through
# object.__setattr__ (about 1.3 us, most of a decode). The slots are plain member
# descriptors, so the extension fills them directly at their offsets instead; the
# result is the same immutable Packet (equal to the twin's). Checked once at import:
# if Packet ever stops being a plain slotted class, the normal constructor is used.
cdef Py_ssize_t SLOT[20]
cdef bint FAST = False
cdef object _new = object.__new__


cdef bint _find_slots():
    from dataclasses import fields
    names = [f.name for f in fields(Packet)]
    if len(names) != 20:
        return False
    member = type(Packet.__dict__[names[0]])
    for i, name in enumerate(names):
        desc = Packet.__dict__.get(name)
        if type(desc) is not member or member.__name__ != "member_descriptor":
            return False
        SLOT[i] = (<PyMemberDescrObject*>desc).d_member.offset
    return True


FAST = _find_slots()


cdef inline void _put(object obj, int i, object value):
    Py_INCREF(value)
    (<PyObject**>((<char*>(<PyObject*>obj)) + SLOT[i]))[0] = <PyObject*>value


cdef object _make_packet(object frame, str status, object problem, int ethertype, tuple vlans,
                    Py_ssize_t l2_src, Py_ssize_t l2_dst, Py_ssize_t l3, int version,
                    int proto, object frag, Py_ssize_t l4, int sport, int dport,
                    long long seq, long long ack, int flags, int window,
                    Py_ssize_t payload_offset, Py_ssize_t payload_length):
    if not FAST:
        return Packet(frame, status, problem, ethertype, vlans, l2_src, l2_dst, l3, version,
                      proto, frag, l4, sport, dport, seq, ack, flags, window, payload_offset,
                      payload_length)
    obj = _new(Packet)
    _put(obj, 0, frame)
    _put(obj, 1, status)
    _put(obj, 2, problem)
    _put(obj, 3, ethertype)
    _put(obj, 4, vlans)
    _put(obj, 5, l2_src)
    _put(obj, 6, l2_dst)
    _put(obj, 7, l3)
    _put(obj, 8, version)
    _put(obj, 9, proto)
    _put(obj, 10, frag)
    _put(obj, 11, l4)
    _put(obj, 12, sport)
    _put(obj, 13, dport)
    _put(obj, 14, seq)
    _put(obj, 15, ack)
    _put(obj, 16, flags)
    _put(obj, 17, window)
    _put(obj, 18, payload_offset)
    _put(obj, 19, payload_length)
    return obj

cdef int ETH_IPV4 = 0x0800
cdef int ETH_IPV6 = 0x86DD


cdef inline int u16(const unsigned char* p, Py_ssize_t i) noexcept:
    return (p[i] << 8) | p[i + 1]


cdef inline long long u32(const unsigned char* p, Py_ssize_t i) noexcept:
    return ((<long long>p[i]) << 24) | (p[i + 1] << 16) | (p[i + 2] << 8) | p[i + 3]


cdef object _problem(object frame, str kind, str detail, Py_ssize_t offset):
    return Problem(kind, detail, frame.source, frame.number, offset, "frame")


cdef object _link_packet(object frame, str status, object problem, int ethertype,
                         tuple vlans, Py_ssize_t l2_src, Py_ssize_t l2_dst, Py_ssize_t l3,
                         Py_ssize_t n):
    return _make_packet(frame, status, problem, ethertype, vlans, l2_src, l2_dst, l3, 0, -1, None,
                  -1, 0, 0, 0, 0, 0, 0, l3 if l3 >= 0 else -1, n - l3 if l3 >= 0 else 0)


cdef object _ip_problem(object frame, str kind, str detail, Py_ssize_t offset, Py_ssize_t l3,
                        int ethertype, tuple vlans, Py_ssize_t l2_src, Py_ssize_t l2_dst,
                        int version, int proto):
    return _make_packet(frame, MALFORMED, _problem(frame, kind, detail, offset), ethertype, vlans,
                  l2_src, l2_dst, l3, version, proto, None, -1, 0, 0, 0, 0, 0, 0, -1, 0)


def decode(frame):
    """Decode one frame's link, IP and transport headers (never raises)."""
    data = frame.data
    if type(data) is not bytes:
        data = bytes(data)
    cdef const unsigned char* p = data
    cdef Py_ssize_t n = len(data)
    cdef int linktype = frame.linktype
    cdef tuple vlans = NO_VLANS
    cdef Py_ssize_t l2_src = -1, l2_dst = -1, pos = 0
    cdef int ethertype, version
    cdef long long family
    if linktype == 1:
        if n < 14:
            return _link_packet(frame, MALFORMED, _problem(
                frame, "net.ethernet.short",
                f"Ethernet header needs 14 bytes, frame has {n}", 0), -1, vlans, -1, -1, -1, n)
        l2_dst = 0
        l2_src = 6
        ethertype = u16(p, 12)
        pos = 14
    elif linktype == 113:
        if n < 16:
            return _link_packet(frame, MALFORMED, _problem(
                frame, "net.sll.short", f"Linux SLL header needs 16 bytes, frame has {n}", 0),
                -1, vlans, -1, -1, -1, n)
        if u16(p, 4) == 6:
            l2_src = 6
        ethertype = u16(p, 14)
        pos = 16
    elif linktype == 276:
        if n < 20:
            return _link_packet(frame, MALFORMED, _problem(
                frame, "net.sll2.short", f"Linux SLL2 header needs 20 bytes, frame has {n}", 0),
                -1, vlans, -1, -1, -1, n)
        if p[11] == 6:
            l2_src = 12
        ethertype = u16(p, 0)
        pos = 20
    elif linktype == 101 or linktype == 12 or linktype == 14:
        if n < 1:
            return _link_packet(frame, MALFORMED, _problem(
                frame, "net.raw.short", "raw IP frame is empty", 0), -1, vlans, -1, -1, -1, n)
        version = p[0] >> 4
        if version == 4:
            ethertype = ETH_IPV4
        elif version == 6:
            ethertype = ETH_IPV6
        else:
            return _link_packet(frame, MALFORMED, _problem(
                frame, "net.raw.version", f"raw IP frame: IP version 4 or 6 expected, got {version}",
                0), -1, vlans, -1, -1, -1, n)
        pos = 0
    elif linktype == 228:
        ethertype = ETH_IPV4
        pos = 0
    elif linktype == 229:
        ethertype = ETH_IPV6
        pos = 0
    elif linktype == 0 or linktype == 108:
        if n < 4:
            return _link_packet(frame, MALFORMED, _problem(
                frame, "net.null.short", f"null/loopback header needs 4 bytes, frame has {n}", 0),
                -1, vlans, -1, -1, -1, n)
        if linktype == 108 or (p[0] == 0 and p[1] == 0):
            family = u32(p, 0)
        else:
            family = ((<long long>p[3]) << 24) | (p[2] << 16) | (p[1] << 8) | p[0]
        pos = 4
        if family == 2:
            ethertype = ETH_IPV4
        elif family == 10 or family == 24 or family == 28 or family == 30:
            ethertype = ETH_IPV6
        else:
            return _link_packet(frame, OUT_OF_SCOPE, None, -1, vlans, -1, -1, pos, n)
    else:
        return _link_packet(frame, OUT_OF_SCOPE, None, -1, vlans, -1, -1, -1, n)

    while ethertype == 0x8100 or ethertype == 0x88A8 or ethertype == 0x9100:
        if pos + 4 > n:
            return _link_packet(frame, MALFORMED, _problem(
                frame, "net.vlan.short", f"VLAN tag needs 4 bytes at offset {pos}, "
                f"frame has {n - pos}", pos), ethertype, vlans, l2_src, l2_dst, -1, n)
        vlans = vlans + (u16(p, pos) & 0x0FFF,)
        ethertype = u16(p, pos + 2)
        pos += 4

    if ethertype == ETH_IPV4:
        return _ipv4(frame, p, n, pos, ethertype, vlans, l2_src, l2_dst)
    if ethertype == ETH_IPV6:
        return _ipv6(frame, p, n, pos, ethertype, vlans, l2_src, l2_dst)
    return _link_packet(frame, DECODED if ethertype in IN_SCOPE_ETHERTYPES else OUT_OF_SCOPE, None,
                        ethertype, vlans, l2_src, l2_dst, pos, n)


cdef object _ipv4(object frame, const unsigned char* p, Py_ssize_t n, Py_ssize_t pos,
                  int ethertype, tuple vlans, Py_ssize_t l2_src, Py_ssize_t l2_dst):
    cdef Py_ssize_t avail = n - pos
    cdef int version, ihl, proto, total, flags_frag, frag_offset, ident
    cdef bint more
    cdef Py_ssize_t start, end
    if avail < 20:
        return _ip_problem(frame, "net.ipv4.short", f"IPv4 header needs 20 bytes, {avail} left",
                           pos, pos, ethertype, vlans, l2_src, l2_dst, 0, -1)
    version = p[pos] >> 4
    if version != 4:
        return _ip_problem(frame, "net.ipv4.version", f"IPv4 version 4 expected, got {version}",
                           pos, pos, ethertype, vlans, l2_src, l2_dst, 0, -1)
    ihl = (p[pos] & 0x0F) * 4
    proto = p[pos + 9]
    if ihl < 20 or ihl > avail:
        return _ip_problem(frame, "net.ipv4.header_length",
                           f"IPv4 header length {ihl} outside 20..{avail}", pos, pos, ethertype,
                           vlans, l2_src, l2_dst, 4, proto)
    total = u16(p, pos + 2)
    if total == 0:
        total = avail
    elif total < ihl:
        return _ip_problem(frame, "net.ipv4.total_length",
                           f"IPv4 total length {total} below header length {ihl}", pos, pos,
                           ethertype, vlans, l2_src, l2_dst, 4, proto)
    elif total > avail:
        if n >= frame.wirelen:
            return _ip_problem(frame, "net.ipv4.total_length",
                               f"IPv4 total length {total} exceeds the {avail} bytes captured",
                               pos, pos, ethertype, vlans, l2_src, l2_dst, 4, proto)
        total = avail
    flags_frag = u16(p, pos + 6)
    frag_offset = (flags_frag & 0x1FFF) * 8
    more = (flags_frag & 0x2000) != 0
    start = pos + ihl
    end = pos + total
    if more or frag_offset:
        ident = u16(p, pos + 4)
        return _make_packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, pos, 4, proto,
                      (ident, frag_offset, more), -1, 0, 0, 0, 0, 0, 0, start, end - start)
    return _transport(frame, p, n, start, end, ethertype, vlans, l2_src, l2_dst, pos, 4, proto)


cdef object _ipv6(object frame, const unsigned char* p, Py_ssize_t n, Py_ssize_t pos,
                  int ethertype, tuple vlans, Py_ssize_t l2_src, Py_ssize_t l2_dst):
    cdef Py_ssize_t avail = n - pos
    cdef Py_ssize_t plen, end, cur, length
    cdef int version, nxt, field, frag_offset
    cdef long long ident
    cdef bint more
    if avail < 40:
        return _ip_problem(frame, "net.ipv6.short", f"IPv6 header needs 40 bytes, {avail} left",
                           pos, pos, ethertype, vlans, l2_src, l2_dst, 0, -1)
    version = p[pos] >> 4
    if version != 6:
        return _ip_problem(frame, "net.ipv6.version", f"IPv6 version 6 expected, got {version}",
                           pos, pos, ethertype, vlans, l2_src, l2_dst, 0, -1)
    plen = u16(p, pos + 4)
    nxt = p[pos + 6]
    if plen == 0:
        plen = avail - 40
    elif plen > avail - 40:
        if n >= frame.wirelen:
            return _ip_problem(frame, "net.ipv6.payload_length",
                               f"IPv6 payload length {plen} exceeds the {avail - 40} bytes "
                               f"captured", pos, pos, ethertype, vlans, l2_src, l2_dst, 6, nxt)
        plen = avail - 40
    end = pos + 40 + plen
    cur = pos + 40
    while nxt == 0 or nxt == 43 or nxt == 60 or nxt == 51 or nxt == 44:
        if nxt == 44:
            if cur + 8 > end:
                return _ip_problem(frame, "net.ipv6.extension",
                                   f"IPv6 fragment header needs 8 bytes, {end - cur} left", cur,
                                   pos, ethertype, vlans, l2_src, l2_dst, 6, nxt)
            field = u16(p, cur + 2)
            ident = u32(p, cur + 4)
            frag_offset = field & 0xFFF8
            more = (field & 1) != 0
            nxt = p[cur]
            cur += 8
            if more or frag_offset:
                return _make_packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, pos, 6,
                              nxt, (ident, frag_offset, more), -1, 0, 0, 0, 0, 0, 0, cur,
                              end - cur)
            continue
        if cur + 2 > end:
            return _ip_problem(frame, "net.ipv6.extension",
                               f"IPv6 extension header {nxt} needs 2 bytes, {end - cur} left",
                               cur, pos, ethertype, vlans, l2_src, l2_dst, 6, nxt)
        if nxt == 51:
            length = (p[cur + 1] + 2) * 4
        else:
            length = (p[cur + 1] + 1) * 8
        if cur + length > end:
            return _ip_problem(frame, "net.ipv6.extension",
                               f"IPv6 extension header {nxt} of {length} bytes, "
                               f"{end - cur} left", cur, pos, ethertype, vlans, l2_src, l2_dst,
                               6, nxt)
        nxt = p[cur]
        cur += length
    return _transport(frame, p, n, cur, end, ethertype, vlans, l2_src, l2_dst, pos, 6, nxt)


cdef object _l4_problem(object frame, str kind, str detail, Py_ssize_t offset, int ethertype,
                        tuple vlans, Py_ssize_t l2_src, Py_ssize_t l2_dst, Py_ssize_t l3,
                        int version, int proto):
    return _make_packet(frame, MALFORMED, _problem(frame, kind, detail, offset), ethertype, vlans,
                  l2_src, l2_dst, l3, version, proto, None, -1, 0, 0, 0, 0, 0, 0, -1, 0)


cdef object _transport(object frame, const unsigned char* p, Py_ssize_t n, Py_ssize_t start,
                       Py_ssize_t end, int ethertype, tuple vlans, Py_ssize_t l2_src,
                       Py_ssize_t l2_dst, Py_ssize_t l3, int version, int proto):
    cdef Py_ssize_t avail = end - start
    cdef Py_ssize_t hlen, ulen
    if proto == 6:
        if avail < 20:
            return _l4_problem(frame, "net.tcp.short", f"TCP header needs 20 bytes, {avail} left",
                               start, ethertype, vlans, l2_src, l2_dst, l3, version, proto)
        hlen = (p[start + 12] >> 4) * 4
        if hlen < 20 or hlen > avail:
            return _l4_problem(frame, "net.tcp.header_length",
                               f"TCP header length {hlen} outside 20..{avail}", start,
                               ethertype, vlans, l2_src, l2_dst, l3, version, proto)
        return _make_packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, l3, version, proto,
                      None, start, u16(p, start), u16(p, start + 2), u32(p, start + 4),
                      u32(p, start + 8), ((p[start + 12] & 0x01) << 8) | p[start + 13],
                      u16(p, start + 14), start + hlen, avail - hlen)
    if proto == 17:
        if avail < 8:
            return _l4_problem(frame, "net.udp.short", f"UDP header needs 8 bytes, {avail} left",
                               start, ethertype, vlans, l2_src, l2_dst, l3, version, proto)
        ulen = u16(p, start + 4)
        if ulen < 8 or ulen > avail:
            if ulen < 8 or n >= frame.wirelen:
                return _l4_problem(frame, "net.udp.length",
                                   f"UDP length {ulen} outside 8..{avail}", start, ethertype,
                                   vlans, l2_src, l2_dst, l3, version, proto)
            ulen = avail
        return _make_packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, l3, version, proto,
                      None, start, u16(p, start), u16(p, start + 2), 0, 0, 0, 0, start + 8,
                      ulen - 8)
    return _make_packet(frame, DECODED, None, ethertype, vlans, l2_src, l2_dst, l3, version, proto,
                  None, -1, 0, 0, 0, 0, 0, 0, start, avail)
