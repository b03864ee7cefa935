"""Pure-Python EXI codec over the generated grammar tables (twin of ext/_exi.pyx).

EXI options are those of the V2G codecs (see dissectors/exi/__init__.py): bit-packed,
schema-informed, strict=false, no preserved fidelity, no string-table values. Every read is
bounds-checked against the stream length; every length read from the stream is checked
against the bits that remain before anything is allocated.

Functions (same signatures and exceptions in the Cython twin):
    decode(data: bytes, grammar: Grammar) -> dict
    encode(tree: dict, grammar: Grammar) -> bytes
    decode_fragment(data: bytes, grammar: Grammar) -> dict
    encode_fragment(name: str, content, grammar: Grammar) -> bytes
Both raise only ExiError.
"""

from __future__ import annotations

import base64
import binascii

from .errors import ExiError
from .tables import (
    AT,
    ATW,
    CH,
    COMPLEX,
    DT_BIN_B64,
    DT_BIN_HEX,
    DT_BOOL,
    DT_ENUM,
    DT_INT,
    DT_NBIT,
    DT_STR,
    DT_UINT,
    EE,
    S2_AT,
    S2_CH,
    S2_EE,
    S2_NIL,
    S2_SE,
    S2_TYPE,
    SE,
    SEW,
    SIMPLE,
    XS_NS,
    XSI_NS,
    Grammar,
    expected_events,
)

XSI_NIL = "xsi:nil"  # JSON key of an xsi:nil attribute (true: the element has no content)
XSI_TYPE = "xsi:type"  # JSON key of an xsi:type attribute: the type's Clark name
# JSON key of where undeclared / wildcard child elements stood: [[key, declared child
# elements before it], ...] in document order; only there when that is not "after the
# declared children, grouped by key" (where the encoder writes them by default)
ORDER = "#order"

MAX_DEPTH = 64  # the V2G schemas nest < 20 deep; bounds recursion on hostile input
MAX_STRING = 256 * 1024  # characters of a string / bytes of a binary (Limits.exi_string)
COOKIE = b"$EXI"


# ---------------------------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------------------------
class _Reader:
    __slots__ = ("data", "pos", "nbits", "max_depth", "max_string", "strings")

    def __init__(self, data: bytes, max_depth: int = MAX_DEPTH,
                 max_string: int = MAX_STRING) -> None:
        self.data = data
        self.pos = 0
        self.nbits = len(data) * 8
        self.max_depth = max_depth  # Limits.exi_depth
        self.max_string = max_string  # Limits.exi_string: characters, or bytes of a binary
        self.strings: _Strings | None = None  # made when the stream first names a qname

    def bits(self, n: int) -> int:
        pos = self.pos
        end = pos + n
        if end > self.nbits:
            raise ExiError("exi.truncated", f"stream ends: {n} bits needed, "
                           f"{self.nbits - pos} left", pos)
        first = pos >> 3
        last = (end + 7) >> 3
        chunk = int.from_bytes(self.data[first:last], "big")
        self.pos = end
        return (chunk >> ((last << 3) - end)) & ((1 << n) - 1)

    def uint(self) -> int:
        start = self.pos
        value = 0
        shift = 0
        while True:
            if self.pos + 8 > self.nbits:
                raise ExiError("exi.truncated", "stream ends inside an unsigned integer", start)
            octet = self.bits(8)
            value |= (octet & 0x7F) << shift
            if not octet & 0x80:
                return value
            shift += 7

    def octets(self, length: int) -> bytes:
        start = self.pos
        if length * 8 > self.nbits - start:
            raise ExiError("exi.value", f"binary length {length} exceeds the "
                           f"{(self.nbits - start) // 8} bytes left", start)
        if length > self.max_string:
            raise ExiError("limit.exi.string", f"binary value of {length} bytes exceeds the "
                           f"exi-string cap of {self.max_string}", start)
        if not start & 7:
            self.pos = start + length * 8
            return bytes(self.data[start >> 3:(start >> 3) + length])
        if length == 0:
            return b""
        return self.bits(length * 8).to_bytes(length, "big")


def _value(r: _Reader, dt: tuple):
    kind = dt[0]
    if kind == DT_NBIT:
        return r.bits(dt[2]) + dt[1]
    if kind == DT_UINT:
        return r.uint()
    if kind == DT_BOOL:
        return r.bits(1) == 1
    if kind == DT_INT:
        negative = r.bits(1)
        magnitude = r.uint()
        return -(magnitude + 1) if negative else magnitude
    if kind == DT_ENUM:
        start = r.pos
        values = dt[1]
        index = r.bits((len(values) - 1).bit_length())
        if index >= len(values):
            raise ExiError("exi.value", f"enumeration index {index} of {len(values)} values",
                           start)
        return values[index]
    if kind == DT_STR:
        start = r.pos
        code = r.uint()
        if code < 2:
            raise ExiError("exi.value", "string-table hit, but the V2G options keep no values "
                           "in the string table", start)
        length = code - 2
        if length * 8 > r.nbits - r.pos:
            raise ExiError("exi.value", f"string length {length} exceeds the bits left", start)
        if length > r.max_string:
            raise ExiError("limit.exi.string", f"string of {length} characters exceeds the "
                           f"exi-string cap of {r.max_string}", start)
        chars = []
        for _ in range(length):
            point = r.uint()
            if point > 0x10FFFF:
                raise ExiError("exi.value", f"code point {point:#x} out of range", start)
            chars.append(chr(point))
        return "".join(chars)
    if kind == DT_BIN_HEX:
        return r.octets(r.uint()).hex().upper()
    if kind == DT_BIN_B64:
        return base64.b64encode(r.octets(r.uint())).decode("ascii")
    raise ExiError("exi.unsupported", f"datatype kind {kind}", r.pos)


def _second_level(r: _Reader, g: Grammar, state: int, start: int) -> int:
    """Read a second-level event code and say which event it is (tables.S2_*): EE (how
    empty values are sent), untyped CH (out-of-range values), xsi:nil; anything else is
    unsupported."""
    second = g.second[state]
    code = r.bits(second[0])
    for event in (S2_EE, S2_CH, S2_NIL, S2_SE, S2_AT, S2_TYPE):
        if code == second[event]:
            return event
    events = g.states[state][2]
    name = events[code] if code < len(events) else f"undefined code {code}"
    raise ExiError("exi.unsupported", f"second-level event {name} is not supported", start,
                   state, expected_events(g.states, state))


def _untyped_value(r: _Reader, g: Grammar, prods: tuple):
    """An untyped (string) value, given back as the declared type when it parses as one."""
    text = _value(r, (DT_STR,))
    for prod in prods:
        if prod[0] == CH:
            kind = g.datatypes[prod[1]][0]
            if kind in (DT_INT, DT_UINT, DT_NBIT):
                try:
                    return int(text)
                except ValueError:
                    return text
            if kind == DT_BOOL and text in ("true", "false"):
                return text == "true"
    return text


def _after_characters(states: tuple, state: int) -> int:
    """Where untyped characters lead: content2 from the attribute phase, else stay."""
    content2 = states[state][3]
    return state if content2 < 0 else content2


def _empty_value(g: Grammar, prods: tuple, start: int):
    """The value of a simple element that ended without characters: '' where allowed."""
    for prod in prods:
        if prod[0] == CH:
            if g.datatypes[prod[1]][0] in (DT_STR, DT_BIN_HEX, DT_BIN_B64):
                return ""
            raise ExiError("exi.value", "element ended before its value", start)
    return None  # not a value position: an element with no content


def _element(r: _Reader, g: Grammar, state: int, shape: int, parent: dict, name: str,
             is_list: bool, depth: int, spans: dict | None = None, path: tuple = (),
             node: dict | None = None) -> None:
    """Decode one element's content into parent[name] (appended when is_list).

    With `spans` (slow "with positions" decoding only), records the bit span of every child
    element, attribute and complex value under its tree path (`path` is this element's).
    With `node`, goes on filling that object (an undeclared element cast to xsd:anyType).
    """
    if depth > r.max_depth:
        raise ExiError("limit.exi.depth", f"elements nested deeper than the exi-depth cap "
                       f"of {r.max_depth}", r.pos)
    states = g.states
    datatypes = g.datatypes
    if node is not None:
        shape = COMPLEX
    elif shape == COMPLEX:
        node = {}
        if is_list:
            parent.setdefault(name, []).append(node)
        else:
            parent[name] = node
    else:
        node = {}
    value = None
    declared = 0  # declared child elements so far
    placed: list | None = None  # [key, declared before it] of each wildcard child element
    try:
        while True:
            width, prods = states[state][:2]
            start = r.pos
            code = r.bits(width) if width else 0
            if code >= len(prods):
                if code > len(prods):
                    raise ExiError("exi.event_code", f"event code {code} is undefined here",
                                   start, state, expected_events(states, state))
                event = _second_level(r, g, state, start)
                if event == S2_EE:
                    if value is None:
                        value = _empty_value(g, prods, start)
                        if shape == COMPLEX and value is not None:
                            node["value"] = value
                    break
                if event == S2_TYPE:
                    key, state, shape = read_xsi_type(r, g, shape, start)
                    node[XSI_TYPE] = key
                    continue
                if event == S2_SE or event == S2_AT:
                    key = wildcard(r, g, event, None, node, depth)
                    if key is not None:
                        placed = (placed or []) + [[key, declared]]
                    state = _after_characters(states, state) if event == S2_SE else state
                    continue
                if event == S2_NIL:
                    nil = r.bits(1) == 1
                    if shape == COMPLEX:
                        node[XSI_NIL] = nil
                    elif nil:
                        value = {XSI_NIL: True}
                    else:  # a simple-typed element then becomes {"xsi:nil": false, "value"}
                        node[XSI_NIL] = False
                    if nil:
                        state = g.empty[state]
                    continue
                # untyped characters: a value the schema type does not allow
                value = _untyped_value(r, g, prods)
                if shape == COMPLEX:
                    node["value"] = value
                state = _after_characters(states, state)
                continue
            prod = prods[code]
            kind = prod[0]
            if kind == SE:
                declared += 1
                if spans is None:
                    _element(r, g, prod[2], prod[3], node, prod[1], prod[4], depth + 1)
                else:
                    child = path + ((prod[1], len(node.get(prod[1]) or ())) if prod[4]
                                    else (prod[1],))
                    _element(r, g, prod[2], prod[3], node, prod[1], prod[4], depth + 1,
                             spans, child)
                    spans[child] = (start, r.pos)
                state = prod[5]
            elif kind == CH:
                value = _value(r, datatypes[prod[1]])
                if shape == COMPLEX:
                    node["value"] = value
                    if spans is not None:
                        spans[path + ("value",)] = (start, r.pos)
                state = prod[2]
            elif kind == AT:
                node[prod[1]] = _value(r, datatypes[prod[2]])
                if spans is not None:
                    spans[path + (prod[1],)] = (start, r.pos)
                state = prod[3]
            elif kind == EE:
                break
            else:  # SE(*) / SE(uri:*) / AT(*) of a wildcard or the ur-type
                key = wildcard(r, g, SEW if kind == SEW else S2_AT, prod[1], node, depth)
                if key is not None:
                    placed = (placed or []) + [[key, declared]]
                state = prod[2]
    except ExiError as exc:
        if exc.state is None:
            exc.state = state
            exc.expected = expected_events(states, state)
        exc.path.insert(0, name)
        raise
    if placed:
        order = wildcard_order(placed, declared, node)
        if order is not None:
            node[ORDER] = order
    if shape == SIMPLE:
        if node:  # undeclared content in a simple-typed element: an object after all
            value = node if value is None else {**node, "value": value}
        if is_list:
            parent.setdefault(name, []).append(value)
        else:
            parent[name] = value


# ---------------------------------------------------------------------------------------------
# undeclared and wildcard content: qnames from the string table, built-in element grammars
# ---------------------------------------------------------------------------------------------
class _Strings:
    """The stream's uri and local-name partitions (EXI 1.0 §7.3.1): the schema's initial
    entries, plus the names the stream introduces (in order)."""

    __slots__ = ("uris", "names", "learned")

    def __init__(self, g: Grammar) -> None:
        self.uris = [uri for uri, _ in g.strings]
        self.names = [list(names) for _, names in g.strings]
        # productions the built-in grammar of an undeclared element has learned (EXIficient
        # learns the AT(xsi:type) it writes through AT(*) even with the profile's limits),
        # by Clark name: they widen that element's first-level event codes. A production is
        # learned once (a set of attribute qnames): a third <Foo> escapes with 1 bit, not 2
        self.learned: dict[str, set[tuple[str, str]]] = {}

    def read_uri(self, r: _Reader) -> int:
        start = r.pos
        count = len(self.uris)
        code = r.bits(count.bit_length())  # ceil(log2(count + 1)) bits
        if code == 0:  # miss: the uri as a string, then added
            self.uris.append(_chars(r, r.uint(), start))
            self.names.append([])
            return count
        if code > count:
            raise ExiError("exi.value", f"uri id {code - 1} of {count}", start)
        return code - 1

    def read_local(self, r: _Reader, uri: int) -> str:
        start = r.pos
        names = self.names[uri]
        length = r.uint()
        if length:  # miss: length + 1, the characters, then added
            name = _chars(r, length - 1, start)
            names.append(name)
            return name
        if not names:
            raise ExiError("exi.value", "local-name hit in an empty partition", start)
        index = r.bits((len(names) - 1).bit_length())
        if index >= len(names):
            raise ExiError("exi.value", f"local-name id {index} of {len(names)}", start)
        return names[index]


def read_xsi_type(r: _Reader, g: Grammar, shape: int, start: int) -> tuple[str, int, int]:
    """AT(xsi:type) on a declared element (EXI 1.0 §8.5.4.4.2): the type's qname (uri, then
    local name, through the string table), then the element goes on in that named type's
    grammar. Returns (the type's Clark name, its start state, its shape)."""
    strings = r.strings
    if strings is None:
        strings = r.strings = _Strings(g)
    uri_id = strings.read_uri(r)
    local = strings.read_local(r, uri_id)
    qname = (strings.uris[uri_id], local)
    target = g.types.get(qname)
    if target is None or target[1] != shape:
        raise ExiError("exi.unsupported", f"xsi:type {clark(*qname)}: not a named "
                       f"{'simple' if shape == SIMPLE else 'complex'} type of the schema", start)
    return clark(*qname), target[0], target[1]


def xsi_type_at(data: bytes, pos: int, strings: _Strings | None, g: Grammar, shape: int,
                start: int) -> tuple[int, _Strings, str, int]:
    """`read_xsi_type` for the Cython decoder: (new position, string table, Clark name,
    start state)."""
    r = _Reader(data, MAX_DEPTH, MAX_STRING)
    r.pos = pos
    r.strings = strings
    key, state, _ = read_xsi_type(r, g, shape, start)
    return r.pos, r.strings, key, state


def xsi_type_bits(g: Grammar, state: int, shape: int, content: dict,
                  path: list[str]) -> tuple[list[tuple[int, int]], int]:
    """The (value, width) bit fields of AT(xsi:type) at a start state, and the named type's
    start state. Only the schema's named types are written: their uri and local name are
    in the initial string table (hits), and the encoder adds no names before them (it
    writes no undeclared content)."""
    key = content[XSI_TYPE]
    qname = None
    if isinstance(key, str) and key.startswith("{") and "}" in key:
        uri, _, local = key[1:].partition("}")
        qname = (uri, local)
    target = g.types.get(qname) if qname else None
    if target is None or target[1] != shape or g.second[state][S2_TYPE] < 0:
        raise _tree_error(path + [XSI_TYPE], f"{key!r} is not a named "
                          f"{'simple' if shape == SIMPLE else 'complex'} type of {g.name} "
                          "allowed here")
    uris = [u for u, _ in g.strings]
    uri_id = uris.index(qname[0])
    names = g.strings[uri_id][1]
    fields = [(len(g.states[state][1]), g.states[state][0]),
              (g.second[state][S2_TYPE], g.second[state][0]),
              (uri_id + 1, len(uris).bit_length()),
              (0, 8),  # local-name hit: uint 0 (one octet), then the index
              (names.index(qname[1]), (len(names) - 1).bit_length())]
    return fields, target[0]


def _chars(r: _Reader, length: int, start: int) -> str:
    if length > r.max_string or length * 8 > r.nbits - r.pos:
        raise ExiError("exi.value", f"name of {length} characters exceeds the bits left or "
                       "the exi-string cap", start)
    out = []
    for _ in range(length):
        point = r.uint()
        if point > 0x10FFFF:
            raise ExiError("exi.value", f"code point {point:#x} out of range", start)
        out.append(chr(point))
    return "".join(out)


def clark(uri: str, local: str) -> str:
    """JSON key of an undeclared or wildcard element / attribute: {uri}local (local alone
    without a namespace)."""
    return f"{{{uri}}}{local}" if uri else local


def wildcard_order(placed: list, declared: int, node: dict) -> list | None:
    """The ORDER of an element's wildcard children ([key, declared children before it] in
    document order), or None when the default placement reproduces it: every one after
    the `declared` declared children, grouped by key in the object's key order."""
    keys = dict.fromkeys(key for key, _ in placed)
    default = [[key, declared] for key in node if key in keys for _ in node[key]]
    return None if placed == default else placed


def wildcard(r: _Reader, g: Grammar, event: int, uri: str | None, node: dict,
             depth: int) -> str | None:
    """SE(*) / SE(uri:*) (event SEW or S2_SE) or AT(*) (S2_AT) into node: elements under
    their Clark key as a list, attributes as strings (untyped: no global attributes in the
    V2G schemas). The key of an element, None for an attribute."""
    strings = r.strings
    if strings is None:
        strings = r.strings = _Strings(g)
    if uri is None:
        uri_id = strings.read_uri(r)
    elif uri in strings.uris:
        uri_id = strings.uris.index(uri)
    else:
        raise ExiError("exi.unsupported", f"wildcard namespace {uri} not in the string table",
                       r.pos)
    local = strings.read_local(r, uri_id)
    uri = strings.uris[uri_id]
    if event == S2_AT:
        node[clark(uri, local)] = _value(r, (DT_STR,))
        return None
    element_of(r, g, uri, local, node, depth + 1)
    return clark(uri, local)


def wildcard_at(data: bytes, pos: int, strings: _Strings | None, g: Grammar, event: int,
                uri: str | None, node: dict, depth: int, max_depth: int,
                max_string: int) -> tuple[int, _Strings | None, str | None]:
    """`wildcard` for the Cython decoder: from bit `pos` of `data`, with the stream's string
    table so far; returns the new position, the table and the element's key."""
    r = _Reader(data, max_depth, max_string)
    r.pos = pos
    r.strings = strings
    try:
        key = wildcard(r, g, event, uri, node, depth)
    finally:
        strings = r.strings
    return r.pos, strings, key


def element_of(r: _Reader, g: Grammar, uri: str, local: str, parent: dict, depth: int) -> None:
    """An element named by SE(*): a global element's grammar, else the built-in element
    grammar without learning (the EXI profile options of the V2G codec)."""
    key = clark(uri, local)
    declared = g.globals.get((uri, local))
    if declared is not None:
        _element(r, g, declared[0], declared[1], parent, key, True, depth)
        return
    if depth > r.max_depth:
        raise ExiError("limit.exi.depth", f"elements nested deeper than the exi-depth cap "
                       f"of {r.max_depth}", r.pos)
    node: dict = {}
    parent.setdefault(key, []).append(node)
    strings = r.strings
    delegated = False
    try:
        content = False
        while True:
            start = r.pos
            if not content:  # StartTagContent: learned productions, then on the second
                learned = len(strings.learned.get(key, ()))  # level EE, AT(*), SE(*), CH
                if learned and r.bits(learned.bit_length()) < learned:
                    raise ExiError("exi.unsupported", "a learned built-in grammar production",
                                   start)
                event = r.bits(2)
            else:  # ElementContent: EE, then SE(*) and CH on the second level
                event = 0 if r.bits(1) == 0 else 2 + r.bits(1)
            if event == 0:
                return
            if event == 1:
                uri_id = strings.read_uri(r)
                name = strings.read_local(r, uri_id)
                at_uri = strings.uris[uri_id]
                strings.learned.setdefault(key, set()).add((at_uri, name))
                if (at_uri, name) == (XSI_NS, "type"):
                    type_uri_id = strings.read_uri(r)
                    type_uri = strings.uris[type_uri_id]
                    type_name = strings.read_local(r, type_uri_id)
                    if (type_uri, type_name) != (XS_NS, "anyType"):
                        raise ExiError("exi.unsupported", f"xsi:type {clark(type_uri, type_name)}"
                                       " on an undeclared element", start)
                    # the EXI profile's cast: the rest is the ur-type grammar
                    delegated = True
                    _element(r, g, g.urtype[0], COMPLEX, parent, key, True, depth, node=node)
                    return
                node[clark(at_uri, name)] = _value(r, (DT_STR,))
            elif event == 2:
                uri_id = strings.read_uri(r)
                element_of(r, g, strings.uris[uri_id], strings.read_local(r, uri_id), node,
                           depth + 1)
                content = True
            else:
                node["value"] = node.get("value", "") + _value(r, (DT_STR,))
                content = True
    except ExiError as exc:
        if not delegated:
            exc.path.insert(0, key)
        raise


def _header(r: _Reader) -> None:
    if r.nbits >= 32 and bytes(r.data[:4]) == COOKIE:
        r.pos = 32
    start = r.pos
    bits = r.bits(8)
    if bits >> 6 != 0b10:
        raise ExiError("exi.header", f"distinguishing bits {bits >> 6:02b}, expected 10", start)
    if bits & 0x20:
        raise ExiError("exi.header", "EXI options in the header are not supported (the V2G "
                       "profile sends none)", start)
    if bits & 0x1F:
        raise ExiError("exi.header", f"EXI version field {bits & 0x1F:05b}, expected 00000 "
                       "(final version 1)", start)


def decode(data: bytes, g: Grammar, max_depth: int = MAX_DEPTH,
           max_string: int = MAX_STRING, spans: dict | None = None) -> dict:
    """Decode one EXI stream; with `spans` (a dict to fill; the pure-Python twin only, the
    slow path behind the TUI's field highlighting) also the bit span [start, end) of every
    element, attribute and complex value, keyed by tree path, e.g.
    ("V2G_Message", "Body", "SessionSetupReq", "EVCCID")."""
    r = _Reader(data, max_depth, max_string)
    tree: dict = {}
    try:
        _header(r)
        width, roots = g.document
        start = r.pos
        code = r.bits(width)
        if code >= len(roots):
            raise ExiError("exi.unsupported" if code == len(roots) else "exi.event_code",
                           f"document starts with event code {code}, not a declared root "
                           "element", start, None, tuple(f"SE({x[0]})" for x in roots))
        name, state, shape = roots[code][:3]
        if spans is None:
            _element(r, g, state, shape, tree, name, False, 0)
        else:
            _element(r, g, state, shape, tree, name, False, 0, spans, (name,))
            spans[(name,)] = (start, r.pos)
    except ExiError as exc:
        exc.partial = tree
        raise
    return tree


def decode_fragment(data: bytes, g: Grammar, max_depth: int = MAX_DEPTH,
                    max_string: int = MAX_STRING) -> dict:
    """An EXI fragment (§8.5.2): zero or more elements of the schema, then ED. A root element
    that occurs more than once becomes a list of its contents."""
    r = _Reader(data, max_depth, max_string)
    tree: dict = {}
    repeated: set[str] = set()
    try:
        _header(r)
        width, elements = g.fragment
        count = len(elements)
        while True:
            start = r.pos
            code = r.bits(width)
            if code == count:  # SE(*)
                wildcard(r, g, SEW, None, tree, -1)
                continue
            if code >= count:
                if code == count + 1:
                    break  # ED
                raise ExiError("exi.event_code",
                               f"fragment event code {code} is not a declared element",
                               start, None, tuple(f"SE({x[0]})" for x in elements)
                               + ("SE(*)", "ED"))
            name, state, shape = elements[code][:3]
            if name in tree and name not in repeated:
                tree[name] = [tree[name]]
                repeated.add(name)
            _element(r, g, state, shape, tree, name, name in repeated, 0)
    except ExiError as exc:
        exc.partial = tree
        raise
    return tree


# ---------------------------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------------------------
class _Writer:
    """Bit writer: a small accumulator flushed to a bytearray a byte at a time (linear time)."""

    __slots__ = ("out", "acc", "nacc", "strings")

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.nacc = 0
        self.strings: _Strings | None = None  # the stream's string table, once qnames go out

    @property
    def nbits(self) -> int:
        return len(self.out) * 8 + self.nacc

    def mark(self) -> tuple[int, int, int]:
        return len(self.out), self.acc, self.nacc

    def reset(self, mark: tuple[int, int, int]) -> None:
        del self.out[mark[0]:]
        self.acc, self.nacc = mark[1], mark[2]

    def bits(self, value: int, n: int) -> None:
        acc = (self.acc << n) | value
        nacc = self.nacc + n
        out = self.out
        while nacc >= 8:
            nacc -= 8
            out.append((acc >> nacc) & 0xFF)
        self.acc = acc & ((1 << nacc) - 1)
        self.nacc = nacc

    def uint(self, value: int) -> None:
        while True:
            low = value & 0x7F
            value >>= 7
            if value:
                self.bits(low | 0x80, 8)
            else:
                self.bits(low, 8)
                return

    def getvalue(self) -> bytes:
        if self.nacc:
            return bytes(self.out) + bytes([(self.acc << (8 - self.nacc)) & 0xFF])
        return bytes(self.out)


def _tree_error(path: list[str], detail: str) -> ExiError:
    exc = ExiError("exi.tree", detail)
    exc.path = list(path)
    return exc


def _put_value(w: _Writer, dt: tuple, value, path: list[str]) -> None:
    kind = dt[0]
    if kind in (DT_NBIT, DT_UINT, DT_INT):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _tree_error(path, f"expected an integer, got {value!r}")
        if kind == DT_NBIT:
            if not dt[1] <= value <= dt[3]:
                raise _tree_error(path, f"{value} outside [{dt[1]}, {dt[3]}]")
            w.bits(value - dt[1], dt[2])
        elif kind == DT_UINT:
            if value < 0:
                raise _tree_error(path, f"expected an unsigned integer, got {value}")
            w.uint(value)
        elif value < 0:
            w.bits(1, 1)
            w.uint(-value - 1)
        else:
            w.bits(0, 1)
            w.uint(value)
    elif kind == DT_BOOL:
        if not isinstance(value, bool):
            raise _tree_error(path, f"expected a boolean, got {value!r}")
        w.bits(1 if value else 0, 1)
    elif kind == DT_ENUM:
        values = dt[1]
        try:
            index = values.index(value)
        except ValueError:
            raise _tree_error(path, f"{value!r} is not one of {values}") from None
        w.bits(index, (len(values) - 1).bit_length())
    elif kind == DT_STR:
        if not isinstance(value, str):
            raise _tree_error(path, f"expected a string, got {value!r}")
        w.uint(len(value) + 2)
        for char in value:
            w.uint(ord(char))
    elif kind in (DT_BIN_HEX, DT_BIN_B64):
        try:
            raw = bytes.fromhex(value) if kind == DT_BIN_HEX else base64.b64decode(
                value, validate=True)
        except (ValueError, TypeError, binascii.Error):
            raise _tree_error(path, f"expected {'hex' if kind == DT_BIN_HEX else 'base64'} "
                              f"text, got {value!r}") from None
        w.uint(len(raw))
        for octet in raw:
            w.bits(octet, 8)
    else:
        raise _tree_error(path, f"datatype kind {kind} cannot be encoded")


def _untyped_text(value) -> str | None:
    """Text for an integer outside its type's range (sent untyped, as the reference encoder
    does); other mismatches are errors in the tree, not deviations to encode."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _put_characters(w: _Writer, g: Grammar, state: int, prod: tuple, value,
                    path: list[str]) -> int:
    """Write CH for `value` at `state`; returns the next state.

    A value the datatype cannot carry goes out as untyped characters (second level), as
    the reference encoder does (e.g. a 0 where the schema's range starts at 1)."""
    width = g.states[state][0]
    try:
        mark = w.mark()
        if width:
            w.bits(_code_of(g, state, prod), width)
        _put_value(w, g.datatypes[prod[1]], value, path)
        return prod[2]
    except ExiError:
        w.reset(mark)
        text = _untyped_text(value)
        if text is None:
            raise
    width2, ch_code = g.second[state][0], g.second[state][S2_CH]
    w.bits(len(g.states[state][1]), width)
    w.bits(ch_code, width2)
    _put_value(w, (DT_STR,), text, path)
    return _after_characters(g.states, state)


def _code_of(g: Grammar, state: int, prod: tuple) -> int:
    return g.states[state][1].index(prod)


SECOND_LEVEL_EE = -1
SECOND_LEVEL_CH = -2


def _untyped_pending(g: Grammar, state: int, prods: tuple, items: dict, used: dict) -> bool:
    """Characters the schema has no place for here (element-only content): the tree's
    "value" goes out as untyped CH, first after the attributes (its position among the
    children is not kept by the JSON form)."""
    if "value" not in items or used.get("value") or g.second[state][S2_CH] < 0:
        return False
    for prod in prods:
        kind = prod[0]
        if kind == CH:
            return False
        if kind == AT and not (len(prod) > 5 and prod[5]) and prod[1] in items and not used.get(
                prod[1]):
            return False
    return True


def next_event(g: Grammar, state: int, items: dict, used: dict, path: list[str]) -> int:
    """The production the tree needs next at `state`: its code, or SECOND_LEVEL_EE /
    SECOND_LEVEL_CH (untyped characters in element-only content).

    Schema order decides: the first declared event whose key still has unconsumed items;
    EE only when nothing else fits (mixed content). An empty string/binary value is no
    event at all (the reference encoder then ends the element at the second level). Shared
    by the encoder and the XML writer, so both see the same document order."""
    prods = g.states[state][1]
    datatypes = g.datatypes
    if "value" in items and _untyped_pending(g, state, prods, items, used):
        return SECOND_LEVEL_CH
    ee_code = -1
    for code, prod in enumerate(prods):
        kind = prod[0]
        if kind == SE or kind == AT:
            if kind == AT and len(prod) > 5 and prod[5]:
                continue  # decode only: another element's attribute (relaxed grammar)
            key = prod[1]
            if key in items:
                value = items[key]
                count = len(value) if kind == SE and prod[4] else 1
                if kind == SE and prod[4] and not isinstance(value, list):
                    raise _tree_error(path + [key], "expected a list (maxOccurs > 1)")
                if used.get(key, 0) < count:
                    return code
        elif kind == CH:
            if "value" in items and not used.get("value"):
                if items["value"] == "" and datatypes[prod[1]][0] in (
                        DT_STR, DT_BIN_HEX, DT_BIN_B64):
                    used["value"] = 1  # empty content: no CH event at all
                    continue
                return code
        elif kind == EE and ee_code < 0:
            ee_code = code  # taken only when no other event fits (mixed content)
    if ee_code >= 0:
        return ee_code
    leftover = [k for k in items if used.get(k, 0) == 0]
    if leftover or g.second[state][S2_EE] < 0:
        raise _tree_error(path, f"no event of {expected_events(g.states, state)} fits "
                          f"the remaining keys {leftover}")
    return SECOND_LEVEL_EE


def put_nil(w: _Writer | None, g: Grammar, state: int, shape: int, content: dict,
            path: list[str]) -> bool:
    """Write AT(xsi:nil) (second level of a start state) when the content carries it."""
    nil = content[XSI_NIL]
    if not isinstance(nil, bool) or (shape == SIMPLE and (
            set(content) != ({XSI_NIL} if nil else {XSI_NIL, "value"}))):
        raise _tree_error(path + [XSI_NIL], "expected xsi:nil true alone or false with a value"
                          f"{'' if shape == SIMPLE else ' and content'}, got {content!r}")
    if w is not None:
        w.bits(len(g.states[state][1]), g.states[state][0])
        w.bits(g.second[state][S2_NIL], g.second[state][0])
        w.bits(1 if nil else 0, 1)
    return nil


def simple_after_type(content: dict):
    """A simple-typed element's content once its xsi:type is written: the value, or the
    object that still holds an xsi:nil."""
    if XSI_NIL in content:
        return {k: v for k, v in content.items() if k != XSI_TYPE}
    return content.get("value")


def _text_of(value, path: list[str]) -> str:
    """Untyped characters: the decoder gives back numbers and booleans that parse as one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    raise _tree_error(path + ["value"], f"expected text, got {value!r}")


def element_items(shape: int, content, path: list[str]) -> dict:
    if shape == SIMPLE:
        return {"value": content}
    if isinstance(content, dict):
        return content
    raise _tree_error(path, f"expected an object, got {content!r}")


def check_all_used(items: dict, used: dict, path: list[str]) -> None:
    leftover = [k for k in items if k not in used]
    if leftover:
        raise _tree_error(path, f"keys {leftover} are not allowed here by the schema")


# ---------------------------------------------------------------------------------------------
# encoding undeclared and wildcard content (the inverse of `wildcard` / `element_of`)
# ---------------------------------------------------------------------------------------------
_DECLARED: dict[tuple[str, int], frozenset] = {}


def declared_keys(g: Grammar, state: int) -> frozenset:
    """Names of the SE/AT productions of an element's grammar from `state` on: the JSON keys
    the schema gives a place; other keys are undeclared / wildcard content."""
    key = (g.name, state)
    found = _DECLARED.get(key)
    if found is None:
        names: set[str] = set()
        seen = {state}
        todo = [state]
        while todo:
            for prod in g.states[todo.pop()][1]:
                kind = prod[0]
                if kind == SE:
                    names.add(prod[1])
                    nxt = prod[5]
                elif kind == AT:
                    names.add(prod[1])
                    nxt = prod[3]
                elif kind == EE:
                    continue
                else:
                    nxt = prod[2]
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        found = _DECLARED[key] = frozenset(names)
    return found


_ELEMENT_NAMES: dict[str, frozenset] = {}


def element_names(g: Grammar) -> frozenset:
    """Local names of every declared element of the schema: a plain key with one of these
    names is a misplaced declared element (an error), never undeclared content."""
    found = _ELEMENT_NAMES.get(g.name)
    if found is None:
        found = _ELEMENT_NAMES[g.name] = frozenset(
            prod[1] for st in g.states for prod in st[1] if prod[0] == SE)
    return found


def wildcard_items(g: Grammar, state: int, items: dict, used: dict) -> dict:
    """The undeclared / wildcard content among an element's JSON keys (start state `state`):
    keys its grammar has no SE/AT for that are Clark names, or plain names no element of
    the schema has (a misplaced declared element stays an error)."""
    extra = items.keys() - declared_keys(g, state)  # usually empty: the common case is cheap
    if not extra:
        return {}
    names = element_names(g)
    return {k: v for k, v in items.items() if k in extra and k not in ("value", ORDER)
            and k not in used and isinstance(k, str) and (k.startswith("{") or k not in names)}


def _split_clark(key: str) -> tuple[str, str]:
    if key.startswith("{"):
        uri, _, local = key[1:].partition("}")
        return uri, local
    return "", key


def _strings_of(w: _Writer, g: Grammar) -> _Strings:
    if w.strings is None:
        w.strings = _Strings(g)
    return w.strings


def _put_chars(w: _Writer, text: str) -> None:
    for char in text:
        w.uint(ord(char))


def _put_uri(w: _Writer, strings: _Strings, uri: str) -> int:
    count = len(strings.uris)
    if uri in strings.uris:
        uri_id = strings.uris.index(uri)
        w.bits(uri_id + 1, count.bit_length())
        return uri_id
    w.bits(0, count.bit_length())  # miss: the uri as a string, then added
    w.uint(len(uri))
    _put_chars(w, uri)
    strings.uris.append(uri)
    strings.names.append([])
    return count


def _put_local(w: _Writer, strings: _Strings, uri_id: int, local: str) -> None:
    names = strings.names[uri_id]
    if local in names:
        w.uint(0)
        w.bits(names.index(local), (len(names) - 1).bit_length())
        return
    w.uint(len(local) + 1)  # miss: length + 1, the characters, then added
    _put_chars(w, local)
    names.append(local)


def _put_qname(w: _Writer, g: Grammar, key: str, fixed_uri: str | None,
               path: list[str]) -> tuple[str, str]:
    strings = _strings_of(w, g)
    uri, local = _split_clark(key)
    if not local:
        raise _tree_error(path + [key], "an empty local name")
    if fixed_uri is None:
        uri_id = _put_uri(w, strings, uri)
    elif uri == fixed_uri and uri in strings.uris:
        uri_id = strings.uris.index(uri)
    else:
        raise _tree_error(path + [key], f"not in the wildcard's namespace {fixed_uri}")
    _put_local(w, strings, uri_id, local)
    return uri, local


def _put_wild_attribute(w: _Writer, g: Grammar, key: str, value, path: list[str]) -> None:
    if not isinstance(value, str):
        raise _tree_error(path + [key], f"an undeclared attribute is text, got {value!r}")
    _put_qname(w, g, key, None, path)
    _put_value(w, (DT_STR,), value, path + [key])


def _put_wild_element(w: _Writer, g: Grammar, key: str, content, fixed_uri: str | None,
                      path: list[str], depth: int) -> None:
    """After SE(*) / SE(uri:*): the qname, then a global element's grammar, else the
    built-in element grammar cast to xsd:anyType (AT(*) xsi:type="xs:anyType", as the
    reference encoder writes it) and the ur-type grammar."""
    uri, local = _put_qname(w, g, key, fixed_uri, path)
    if depth > MAX_DEPTH:
        raise _tree_error(path, f"tree nested deeper than {MAX_DEPTH}")
    declared = g.globals.get((uri, local))
    if declared is not None:
        _put_element(w, g, declared[0], declared[1], content, path + [key], depth + 1)
        return
    strings = w.strings
    learned = len(strings.learned.get(key, ()))
    if learned:  # past the learned productions: the escape to the second level
        w.bits(learned, learned.bit_length())
    w.bits(1, 2)  # AT(*)
    strings.learned.setdefault(key, set()).add((XSI_NS, "type"))
    _put_local(w, strings, _put_uri(w, strings, XSI_NS), "type")
    _put_local(w, strings, _put_uri(w, strings, XS_NS), "anyType")
    _put_urtype(w, g, content, path + [key], depth + 1)


def _code_of_kind(g: Grammar, state: int, kind: int) -> int:
    for code, prod in enumerate(g.states[state][1]):
        if prod[0] == kind:
            return code
    raise AssertionError(f"ur-type state {state} has no production of kind {kind}")


def _put_urtype(w: _Writer, g: Grammar, content, path: list[str], depth: int) -> None:
    """xsd:anyType content: attributes (text values), "value", then child elements."""
    if not isinstance(content, dict):
        raise _tree_error(path, f"an undeclared element is an object, got {content!r}")
    state = g.urtype[0]
    for key, value in content.items():
        if key not in ("value", ORDER) and not isinstance(value, list):
            w.bits(_code_of_kind(g, state, ATW), g.states[state][0])
            _put_wild_attribute(w, g, key, value, path)
    if "value" in content:
        w.bits(_code_of_kind(g, state, CH), g.states[state][0])
        _put_value(w, (DT_STR,), _text_of(content["value"], path), path + ["value"])
        state = g.urtype[1]
    placement = Placement(content, {k: v for k, v in content.items() if k != ORDER}, path)
    counts: dict[str, int] = {}
    while (key := placement.due(True)) is not None:
        placement.next += 1
        n = counts[key] = counts.get(key, -1) + 1
        w.bits(_code_of_kind(g, state, SEW), g.states[state][0])
        _put_wild_element(w, g, key, content[key][n], None, path, depth)
        state = g.urtype[1]
    w.bits(_code_of_kind(g, state, EE), g.states[state][0])


class Placement:
    """Where an element's wildcard children go: its ORDER ([key, declared children before
    it] in document order), else all after the declared children, grouped by key."""

    __slots__ = ("queue", "next", "declared")

    def __init__(self, content: dict, wild: dict, path: list[str]) -> None:
        self.next = 0  # index of the next wildcard child to write
        self.declared = 0  # declared child elements written so far
        order = content.get(ORDER)
        children = {k: v for k, v in wild.items() if isinstance(v, list)}
        if order is None:
            self.queue = [(key, -1) for key, value in children.items() for _ in value]
            return
        if not isinstance(order, list) or not all(
                isinstance(e, list) and len(e) == 2 and e[0] in children
                and type(e[1]) is int and e[1] >= 0 for e in order):
            raise _tree_error(path + [ORDER], f"expected [[wildcard element key, declared "
                              f"children before it], ...], got {order!r}")
        counts = {key: sum(1 for e in order if e[0] == key) for key in children}
        if any(counts[key] != len(value) for key, value in children.items()) or any(
                a[1] > b[1] for a, b in zip(order, order[1:], strict=False)):
            raise _tree_error(path + [ORDER], "expected one entry per wildcard element, in "
                              "document order")
        self.queue = [(key, at) for key, at in order]

    def due(self, at_end: bool) -> str | None:
        """The key of the wildcard child to write now (before the next declared child, or
        at the element's end), None when none is due."""
        if self.next >= len(self.queue):
            return None
        key, at = self.queue[self.next]
        if at_end or 0 <= at <= self.declared:
            return key
        return None


def _put_wildcards(w: _Writer, g: Grammar, state: int, chosen: int, wild: dict,
                   used: dict, path: list[str], depth: int,
                   placement: Placement) -> int | None:
    """Write one pending undeclared attribute (before the element's content) or element
    (where its placement puts it: before a declared child or where the element would
    otherwise end); the next state, or None when nothing fits."""
    prods = g.states[state][1]
    width = g.states[state][0]
    prod = prods[chosen] if chosen >= 0 else None
    second = g.second[state]
    attributes = [k for k, v in wild.items() if not isinstance(v, list) and k not in used]
    if attributes and (prod is None or prod[0] != AT):
        key = attributes[0]
        for code, p in enumerate(prods):
            if p[0] == ATW:
                w.bits(code, width)
                used[key] = 1
                _put_wild_attribute(w, g, key, wild[key], path)
                return p[2]
        if second[S2_AT] >= 0:
            w.bits(len(prods), width)
            w.bits(second[S2_AT], second[0])
            used[key] = 1
            _put_wild_attribute(w, g, key, wild[key], path)
            return state
    at_end = chosen == SECOND_LEVEL_EE or (prod is not None and prod[0] == EE)
    if at_end or (prod is not None and prod[0] == SE):
        key = placement.due(at_end)
        if key is not None:
            value = wild[key]
            n = used.get(key, 0)
            used[key] = n + 1
            placement.next += 1
            uri = _split_clark(key)[0]
            for code, p in enumerate(prods):
                if p[0] == SEW and (p[1] is None or p[1] == uri):
                    w.bits(code, width)
                    _put_wild_element(w, g, key, value[n], p[1], path, depth)
                    return p[2]
            if second[S2_SE] >= 0:
                w.bits(len(prods), width)
                w.bits(second[S2_SE], second[0])
                _put_wild_element(w, g, key, value[n], None, path, depth)
                return _after_characters(g.states, state)
            raise _tree_error(path + [key], "no wildcard or second-level SE(*) takes it here")
    return None


def _put_element(w: _Writer, g: Grammar, state: int, shape: int, content, path: list[str],
                 depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _tree_error(path, f"tree nested deeper than {MAX_DEPTH}")
    states = g.states
    used: dict[str, int] = {}
    if isinstance(content, dict) and XSI_TYPE in content:
        fields, state = xsi_type_bits(g, state, shape, content, path)
        for value, width in fields:
            w.bits(value, width)
        used[XSI_TYPE] = 1
        if shape == SIMPLE:
            content = simple_after_type(content)
    if isinstance(content, dict) and XSI_NIL in content and state in g.empty:
        nil = put_nil(w, g, state, shape, content, path)
        used[XSI_NIL] = 1
        if nil:
            state, shape = g.empty[state], COMPLEX
            if not isinstance(content, dict) or set(content) == {XSI_NIL}:
                content = {XSI_NIL: True}
        elif shape == SIMPLE:
            content = content["value"]
    items = element_items(shape, content, path)
    wild: dict = {}
    placement = None
    if shape == COMPLEX:
        if ORDER in items:
            used[ORDER] = 1
        wild = wildcard_items(g, state, items, used)
        if wild:
            items = {k: v for k, v in items.items() if k not in wild}
            placement = Placement(content, wild, path)
    while True:
        width, prods = states[state][:2]
        chosen = next_event(g, state, items, used, path)
        if placement is not None:
            after = _put_wildcards(w, g, state, chosen, wild, used, path, depth, placement)
            if after is not None:
                state = after
                continue
            if chosen == SECOND_LEVEL_EE or (chosen >= 0 and prods[chosen][0] == EE):
                check_all_used(wild, used, path)  # an attribute no AT(*) takes
        if chosen == SECOND_LEVEL_CH:
            used["value"] = 1
            w.bits(len(prods), width)
            w.bits(g.second[state][S2_CH], g.second[state][0])
            _put_value(w, (DT_STR,), _text_of(items["value"], path), path + ["value"])
            state = _after_characters(states, state)
            continue
        if chosen == SECOND_LEVEL_EE:
            w.bits(len(prods), width)  # escape to the second level: EE there
            w.bits(g.second[state][S2_EE], g.second[state][0])
            return
        prod = prods[chosen]
        kind = prod[0]
        if kind == CH:
            used["value"] = 1
            state = _put_characters(w, g, state, prod, items["value"], path)
            continue
        if width:
            w.bits(chosen, width)
        if kind == EE:
            check_all_used(items, used, path)
            return
        if kind == SE:
            key = prod[1]
            n = used.get(key, 0)
            used[key] = n + 1
            child = items[key][n] if prod[4] else items[key]
            _put_element(w, g, prod[2], prod[3], child, path + [key], depth + 1)
            state = prod[5]
            if placement is not None:
                placement.declared += 1
        else:
            used[prod[1]] = 1
            _put_value(w, g.datatypes[prod[2]], items[prod[1]], path + [prod[1]])
            state = prod[3]


def document_root(tree: dict, g: Grammar) -> tuple[int, str, object]:
    """(index among the grammar's roots, root name, content) of a tree to encode or write."""
    if not isinstance(tree, dict) or len(tree) != 1:
        raise _tree_error([], "the tree must be an object with exactly one root element")
    (name, content), = tree.items()
    index = g.roots.get(name)
    if index is None:
        raise _tree_error([name], f"{name!r} is not a root element of {g.name}")
    return index, name, content


def encode(tree: dict, g: Grammar) -> bytes:
    index, name, content = document_root(tree, g)
    w = _Writer()
    w.bits(0x80, 8)
    width, roots = g.document
    w.bits(index, width)
    _, state, shape = roots[index][:3]
    _put_element(w, g, state, shape, content, [name], 0)
    return w.getvalue()


def fragment_element(name: str, g: Grammar) -> tuple[int, str, int, int]:
    """(index, local name, state, shape) of a fragment element: "name" or "{uri}name"."""
    if not isinstance(name, str) or name not in g.fragment_index:
        raise _tree_error([str(name)], f"{name!r} is not an element of {g.name}")
    index = g.fragment_index[name]
    local, state, shape = g.fragment[1][index][:3]
    return index, local, state, shape


def encode_fragment(name: str, content, g: Grammar) -> bytes:
    index, local, state, shape = fragment_element(name, g)
    w = _Writer()
    w.bits(0x80, 8)
    width, elements = g.fragment
    w.bits(index, width)
    _put_element(w, g, state, shape, content, [local], 0)
    w.bits(len(elements) + 1, width)  # ED
    return w.getvalue()
