"""EXI 1.0 schema-informed grammars (W3C EXI 1.0 §8.5) for one schema set, strict=false.

Every type gets a proto-grammar built as a small NFA (attribute uses in qname order, then the
content particle: sequences concatenate, choices branch, occurrence bounds unroll into
required and optional copies, unbounded maxima loop). Normalisation (§8.5.4.2) is an ordered
subset construction: ε-productions are replaced in place by the productions they lead to, and
productions with the same terminal are merged into one whose right-hand side is the union
(§8.5.4.2.2). Event codes follow §8.5.4.3: AT(qname) sorted by local name then uri, SE in schema
order, wildcards, EE, CH. With strict=false every non-terminal also owns second-level
productions (xsi:type, xsi:nil, undeclared AT/SE/CH), so each first-level code is read with
ceil(log2(n + 1)) bits where n is the number of first-level productions.
"""

from __future__ import annotations

from dataclasses import dataclass

from .xsd import (
    UNBOUNDED,
    XS,
    ComplexType,
    ElementDecl,
    ModelGroup,
    Particle,
    QName,
    SchemaSet,
    SimpleType,
    UnsupportedSchema,
    Wildcard,
    _ElementRef,
)

# production kinds in the generated tables (the decoder and encoder share these numbers)
SE, AT, CH, EE, SEW, ATW = 0, 1, 2, 3, 4, 5
# element shapes in the JSON form
COMPLEX, SIMPLE = 0, 1
# datatype kinds
DT_BIN_HEX, DT_BIN_B64, DT_BOOL, DT_INT, DT_UINT, DT_NBIT, DT_STR, DT_ENUM = range(8)
NBIT_LIMIT = 4096  # EXI 1.0 §7.1.5: bounded ranges below this use n-bit unsigned integers

XML_NS = "http://www.w3.org/XML/1998/namespace"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NAMES = ("base", "id", "lang", "space")
XSI_NAMES = ("nil", "type")
# EXI 1.0 Appendix D.3: the built-in XML Schema types in the initial string table
XSD_TYPES = ("ENTITIES", "ENTITY", "ID", "IDREF", "IDREFS", "NCName", "NMTOKEN", "NMTOKENS",
             "NOTATION", "Name", "QName", "anySimpleType", "anyType", "anyURI", "base64Binary",
             "boolean", "byte", "date", "dateTime", "decimal", "double", "duration", "float",
             "gDay", "gMonth", "gMonthDay", "gYear", "gYearMonth", "hexBinary", "int",
             "integer", "language", "long", "negativeInteger", "nonNegativeInteger",
             "nonPositiveInteger", "normalizedString", "positiveInteger", "short", "string",
             "time", "token", "unsignedByte", "unsignedInt", "unsignedLong", "unsignedShort")

_EPS = ("eps",)
_ACCEPT = ("accept",)


@dataclass(frozen=True)
class _Terminal:
    kind: int
    name: QName | None = None  # SE/AT qname, SEW namespace constraint
    payload: object = None  # SE: (decl, is_list); AT/CH: SimpleType


class _NFA:
    def __init__(self) -> None:
        self.edges: list[list[tuple[object, int]]] = []

    def new(self) -> int:
        self.edges.append([])
        return len(self.edges) - 1

    def add(self, src: int, label: object, dst: int) -> None:
        self.edges[src].append((label, dst))


class GrammarSet:
    """Compiled grammars of one schema set, as plain tables."""

    def __init__(self, schemas: SchemaSet, loop_above: int | None = None) -> None:
        self.schemas = schemas
        self.loop_above = loop_above
        self.states: list[tuple[int, tuple]] = []
        self.datatypes: list[tuple] = []
        self._dt_index: dict[tuple, int] = {}
        self._type_start: dict[int, int] = {}
        self._pending: list[tuple[int, object]] = []
        self.document = self._document()
        self._drain()
        # after the document's states, so that adding fragments renumbers nothing
        self.fragment = self._fragment()
        self._drain()
        self.urtype = self._ur_type()
        self.empty = self._type_empty()
        self.strings = self._string_table()
        self.types = self._named_types()

    # ---- what undeclared and wildcard content needs ----------------------------------------
    def _ur_type(self) -> tuple[int, int]:
        """The ur-type (xsd:anyType) grammar (§8.5.4.1.3.3), where the EXI profile's limit on
        built-in element grammars sends undeclared elements: any attribute, element, text."""
        text = self.datatype(SimpleType(name=None, base=None, builtin="string"))
        s0, s1 = len(self.states), len(self.states) + 1
        prods0 = ((ATW, None, s0), (SEW, None, s1), (EE,), (CH, text, s1))
        prods1 = ((SEW, None, s1), (EE,), (CH, text, s1))
        self.states.append((len(prods0).bit_length(), prods0,
                            ("AT(xsi:type)", "AT(xsi:nil)", "CH(untyped)"), -1))
        self.states.append((len(prods1).bit_length(), prods1, ("CH(untyped)",), -1))
        return s0, s1

    def _named_types(self) -> dict:
        """{(uri, local) of a named type: (start state, shape)} for the named types whose
        grammar the schema's elements use: where AT(xsi:type) switches an element to
        (§8.5.4.4.2)."""
        types = {}
        for qn, type_obj in [*self.schemas.complex_types.items(),
                             *self.schemas.simple_types.items()]:
            start = self._type_start.get(id(type_obj))
            if start is not None and qn[0] != XS:
                types[qn] = (start, SIMPLE if isinstance(type_obj, SimpleType) else COMPLEX)
        return dict(sorted(types.items()))

    def _string_table(self) -> tuple:
        """Initial uri and local-name partitions (EXI 1.0 §7.3.1, Appendix D): the four
        built-in uris, then the schema's namespaces sorted; each partition holds the local
        names of the elements, attributes and named types of its namespace, sorted."""
        names: dict[str, set[str]] = {"": set(), XML_NS: set(XML_NAMES),
                                      XSI_NS: set(XSI_NAMES), XS: set(XSD_TYPES)}
        for qn in all_element_declarations(self.schemas):
            names.setdefault(qn[0], set()).add(qn[1])
        for qn in all_attribute_declarations(self.schemas):
            names.setdefault(qn[0], set()).add(qn[1])
        for qn in [*self.schemas.complex_types, *self.schemas.simple_types]:
            if qn[0] != XS:
                names.setdefault(qn[0], set()).add(qn[1])
        fixed = ["", XML_NS, XSI_NS, XS]
        uris = fixed + sorted(u for u in names if u not in fixed)
        return tuple((uri, tuple(sorted(names[uri]))) for uri in uris)

    def _type_empty(self) -> dict[int, int]:
        """TypeEmpty (§8.5.4.1.3.1 / xsi:nil="true", §8.5.4.4.2) for every start state that
        may carry xsi:nil: its attribute productions (to the TypeEmpty of their targets) and
        EE; strict=false still adds second-level AT(*) / untyped attributes."""
        memo: dict[int, int] = {}

        def empty(state: int) -> int:
            if state in memo:
                return memo[state]
            slot = memo[state] = len(self.states)
            self.states.append((0, (), (), -1))
            prods = [(AT, p[1], p[2], empty(p[3]), *p[4:]) for p in self.states[state][1]
                     if p[0] == AT]
            prods.append((EE,))
            self.states[slot] = (len(prods).bit_length(), tuple(prods), ("AT(*)", "AT(untyped)"),
                                 -1)
            return slot

        starts = [i for i, st in enumerate(self.states) if "AT(xsi:nil)" in st[2]]
        return {i: empty(i) for i in starts}

    def _drain(self) -> None:
        while self._pending:
            slot, type_obj = self._pending.pop(0)
            self._fill_type(slot, type_obj)

    # ---- datatypes -----------------------------------------------------------------------
    def datatype(self, st: SimpleType) -> int:
        key = self._datatype_key(st)
        if key not in self._dt_index:
            self._dt_index[key] = len(self.datatypes)
            self.datatypes.append(key)
        return self._dt_index[key]

    @staticmethod
    def _datatype_key(st: SimpleType) -> tuple:
        if st.enumeration:
            values = tuple(int(v) for v in st.enumeration) if st.builtin == "integer" else tuple(
                st.enumeration)
            return (DT_ENUM, values)
        if st.builtin == "integer":
            lo, hi = st.min_inclusive, st.max_inclusive
            if lo is not None and hi is not None and hi - lo < NBIT_LIMIT:
                return (DT_NBIT, lo, (hi - lo).bit_length(), hi)
            if lo is not None and lo >= 0:
                return (DT_UINT,)
            return (DT_INT,)
        simple = {"string": (DT_STR,), "boolean": (DT_BOOL,), "hexBinary": (DT_BIN_HEX,),
                  "base64Binary": (DT_BIN_B64,), "anySimpleType": (DT_STR,)}
        if st.builtin in simple:
            return simple[st.builtin]
        raise UnsupportedSchema(f"datatype {st.builtin}")

    # ---- document ------------------------------------------------------------------------
    def _document(self) -> tuple:
        globals_ = sorted(self.schemas.elements.values(), key=lambda d: (d.name[1], d.name[0]))
        roots = []
        for decl in globals_:
            start, shape = self._element_grammar(decl)
            roots.append((decl.name[1], start, shape, decl.name[0]))
        return (len(roots).bit_length(), tuple(roots))

    # ---- fragments (§8.5.2, §8.5.3) ------------------------------------------------------
    def _fragment(self) -> tuple:
        """The schema-informed fragment grammar: SE over every element qname of the schema
        (global and local, once each) sorted by local name then uri, then SE(*) and ED.

        A qname declared with one type (and nillable value) keeps that type's grammar; a qname
        declared with several gets the relaxed element fragment grammar (§8.5.3), which is one
        pair of states shared by the whole schema set: AT over every attribute qname of the
        schema, AT(*), SE over every fragment element, SE(*), EE and untyped CH."""
        by_name = all_element_declarations(self.schemas)
        names = sorted(by_name, key=lambda q: (q[1], q[0]))
        relaxed = [q for q in names if len({_decl_key(d) for d in by_name[q]}) > 1]
        # the relaxed grammar's start state is one per qname (same events and codes; its AT
        # productions say which attributes that element's own types declare, so the encoder
        # picks e.g. the right one of several "Id"), the content state is shared
        ef0 = {qn: len(self.states) + i for i, qn in enumerate(relaxed)}
        ef1 = len(self.states) + len(relaxed)
        if relaxed:
            self.states += [(0, (), (), -1)] * (len(relaxed) + 1)

        def target(qn: QName) -> tuple[int, int]:
            decls = by_name[qn]
            if qn in ef0:
                simple = all(isinstance(self._element_type(d), SimpleType) for d in decls)
                return ef0[qn], SIMPLE if simple else COMPLEX
            return self._element_grammar(decls[0])

        roots = []
        for qn in names:
            state, shape = target(qn)
            roots.append((qn[1], state, shape, qn[0]))
        if relaxed:
            attributes = all_attribute_declarations(self.schemas)
            text = self.datatype(SimpleType(name=None, base=None, builtin="string"))
            ses = tuple((SE, r[0], r[1], r[2], False, ef1, r[3]) for r in roots)
            tail = ((SEW, None, ef1), (EE,), (CH, text, ef1))
            for qn in relaxed:
                own = set()
                for decl in by_name[qn]:
                    t = self._element_type(decl)
                    if isinstance(t, ComplexType):
                        own |= {a.name for a in t.attributes}
                ats = []
                for an in sorted(attributes, key=lambda q: (q[1], q[0])):
                    keys = {self._datatype_key(t) for t in attributes[an]}
                    dt = self.datatype(attributes[an][0]) if len(keys) == 1 else text
                    # a sixth field True: decode only (another element's attribute)
                    ats.append((AT, an[1], dt, ef0[qn], an[0], an not in own))
                prods0 = (*ats, (ATW, None, ef0[qn]), *ses, *tail)
                self.states[ef0[qn]] = (len(prods0).bit_length(), prods0,
                                        ("AT(xsi:type)", "AT(xsi:nil)", "CH(untyped)"), -1)
            prods1 = (*ses, *tail)
            self.states[ef1] = (len(prods1).bit_length(), prods1, ("CH(untyped)",), -1)
        return ((len(roots) + 1).bit_length(), tuple(roots))

    def _element_type(self, decl: ElementDecl) -> ComplexType | SimpleType:
        if decl.inline_type is not None:
            return decl.inline_type
        qn = decl.type_ref
        if qn in self.schemas.complex_types:
            return self.schemas.complex_type(qn)
        if qn[0] == XS and qn[1] == "anyType":
            raise UnsupportedSchema(f"element {decl.name} of type xs:anyType")
        return self.schemas.simple_type(qn)

    def _element_grammar(self, decl: ElementDecl) -> tuple[int, int]:
        """(start state, shape) of an element's grammar; the states are filled later."""
        type_obj = self._element_type(decl)
        shape = SIMPLE if isinstance(type_obj, SimpleType) else COMPLEX
        key = id(type_obj)
        if key not in self._type_start:
            slot = len(self.states)
            self.states.append((0, (), (), -1))  # placeholder, filled by _fill_type
            self._type_start[key] = slot
            self._pending.append((slot, type_obj))
        return self._type_start[key], shape

    # ---- type grammars -------------------------------------------------------------------
    def _fill_type(self, slot: int, type_obj: object) -> None:
        nfa = _NFA()
        start = nfa.new()
        if isinstance(type_obj, SimpleType):
            mid, end = nfa.new(), nfa.new()
            nfa.add(start, _Terminal(CH, payload=type_obj), mid)
            nfa.add(mid, _EPS, end)
            nfa.add(end, _ACCEPT, end)
            head, has_attributes = {start}, False
        else:
            assert isinstance(type_obj, ComplexType)
            cur = start
            head = {start}
            has_attributes = bool(type_obj.attributes)
            for attr in sorted(type_obj.attributes, key=lambda a: (a.name[1], a.name[0])):
                nxt = nfa.new()
                nfa.add(cur, _Terminal(AT, attr.name, attr.type), nxt)
                if not attr.required:
                    nfa.add(cur, _EPS, nxt)
                cur = nxt
                head.add(cur)
            if type_obj.simple is not None:
                end = nfa.new()
                nfa.add(cur, _Terminal(CH, payload=type_obj.simple), end)
            elif type_obj.particle is not None:
                first_content = len(nfa.edges)
                p_start, p_end = self._particle(nfa, type_obj.particle, 1)
                nfa.add(cur, _EPS, p_start)
                end = p_end
                if type_obj.mixed:
                    untyped = SimpleType(name=None, base=None, builtin="string")
                    for node in [cur, *range(first_content, len(nfa.edges))]:
                        nfa.add(node, _Terminal(CH, payload=untyped), node)
            else:
                end = cur
            nfa.add(end, _ACCEPT, end)
        self._determinise(nfa, start, slot, head, has_attributes)

    def _particle(self, nfa: _NFA, p: Particle, mult: int) -> tuple[int, int]:
        repeat = mult * (2 if p.max == UNBOUNDED else p.max)
        if (self.loop_above is not None and p.max > self.loop_above
                and not isinstance(p.term, ModelGroup)):
            # The reference codec's ISO 15118-2 grammar (EXIficient, precompiled in the
            # iso15118 package) repeats such element particles as X+ / X*, with no state
            # counting the bound; the other schema sets are unrolled as the spec says.
            p = Particle(min(p.min, 1), UNBOUNDED, p.term)
        start = cur = nfa.new()
        for _ in range(p.min):
            s, e = self._term(nfa, p.term, repeat)
            nfa.add(cur, _EPS, s)
            cur = e
        if p.max == UNBOUNDED:
            s, e = self._term(nfa, p.term, repeat)
            exit_ = nfa.new()
            nfa.add(cur, _EPS, s)
            nfa.add(cur, _EPS, exit_)
            nfa.add(e, _EPS, s)
            nfa.add(e, _EPS, exit_)
            cur = exit_
        elif p.max > p.min:
            # optional copies; skipping one skips the rest (same language and event codes as
            # the spec's chain of optional copies after duplicate-terminal merging, without
            # its quadratic state sets for maxOccurs=1024)
            exit_ = nfa.new()
            for _ in range(p.max - p.min):
                s, e = self._term(nfa, p.term, repeat)
                nfa.add(cur, _EPS, s)
                nfa.add(cur, _EPS, exit_)
                cur = e
            nfa.add(cur, _EPS, exit_)
            cur = exit_
        return start, cur

    def _term(self, nfa: _NFA, term: object, mult: int) -> tuple[int, int]:
        start, end = nfa.new(), nfa.new()
        if isinstance(term, _ElementRef):
            head = self.schemas.element(term.ref)
            members = [d for d in self.schemas.substitutes(head)]
            members.sort(key=lambda d: (d.name[1], d.name[0]))
            for decl in members:
                nfa.add(start, _Terminal(SE, decl.name, (decl, mult > 1)), end)
        elif isinstance(term, ElementDecl):
            nfa.add(start, _Terminal(SE, term.name, (term, mult > 1)), end)
        elif isinstance(term, Wildcard):
            if isinstance(term.constraint, tuple):
                for uri in term.constraint:
                    nfa.add(start, _Terminal(SEW, (uri, "*")), end)
            else:
                nfa.add(start, _Terminal(SEW, None), end)
        elif isinstance(term, ModelGroup):
            if term.compositor == "sequence":
                cur = start
                for part in term.particles:
                    s, e = self._particle(nfa, part, mult)
                    nfa.add(cur, _EPS, s)
                    cur = e
                nfa.add(cur, _EPS, end)
            elif term.compositor == "choice":
                for part in term.particles:
                    s, e = self._particle(nfa, part, mult)
                    nfa.add(start, _EPS, s)
                    nfa.add(e, _EPS, end)
            else:
                raise UnsupportedSchema(f"model group {term.compositor}")
        else:
            raise UnsupportedSchema(f"term {term!r}")
        return start, end

    @staticmethod
    def _closure(nfa: _NFA, node: int, out: list, seen: set[int]) -> None:
        """Terminal productions reachable through ε, in place order (iterative pre-order)."""
        if node in seen:
            return
        seen.add(node)
        stack = [iter(nfa.edges[node])]
        while stack:
            for label, dst in stack[-1]:
                if label is _EPS:
                    if dst not in seen:
                        seen.add(dst)
                        stack.append(iter(nfa.edges[dst]))
                        break
                else:
                    out.append((label, dst))
            else:
                stack.pop()

    def _determinise(self, nfa: _NFA, start: int, slot: int, head: set[int],
                     has_attributes: bool) -> None:
        index: dict[frozenset[int], int] = {frozenset([start]): slot}
        order: list[tuple[int, ...]] = [(start,)]
        slots = [slot]
        i = 0
        while i < len(order):
            nodes = order[i]
            prods: list[tuple[object, ...]] = []
            seen: set[int] = set()
            for n in nodes:
                self._closure(nfa, n, prods, seen)
            merged: dict[object, list[int]] = {}
            for label, dst in prods:
                key = _ACCEPT if label is _ACCEPT else (label.kind, label.name,
                                                        id(label.payload) if label.kind == CH
                                                        else None)
                merged.setdefault(key, [])
                if dst not in merged[key]:
                    merged[key].append(dst)
            labels: dict[object, object] = {}
            for label, _dst in prods:
                key = _ACCEPT if label is _ACCEPT else (label.kind, label.name,
                                                        id(label.payload) if label.kind == CH
                                                        else None)
                labels.setdefault(key, label)
            table = []
            for key, dsts in merged.items():
                label = labels[key]
                if label is _ACCEPT:
                    table.append((_category(None), None, (EE,)))
                    continue
                target = frozenset(dsts)
                if target not in index:
                    index[target] = len(self.states)
                    self.states.append((0, (), (), -1))
                    order.append(tuple(dsts))
                    slots.append(index[target])
                nxt = index[target]
                table.append((_category(label), label, self._production(label, nxt)))
            table.sort(key=lambda item: item[0])
            productions = tuple(item[2] for item in table)
            attribute_phase = bool(head & set(nodes))
            has_ee = any(p[0] == EE for p in productions)
            second = _second_level(nodes[0] == start and i == 0, attribute_phase, has_ee,
                                   has_attributes)
            content2 = -1
            if attribute_phase:
                # Element_i,content2 (§8.5.4.4.1): where undeclared SE(*) / untyped CH lead
                # from the attribute phase: the same content productions without attributes,
                # and second-level EE, SE(*), CH only
                twin = tuple(p for p in productions if p[0] != AT)
                content2 = len(self.states)
                self.states.append((len(twin).bit_length(), twin,
                                    (() if any(p[0] == EE for p in twin) else ("EE",))
                                    + ("SE(*)", "CH(untyped)"), -1))
            self.states[slots[i]] = (len(productions).bit_length(), productions, second,
                                     content2)
            i += 1

    def _production(self, label: _Terminal, nxt: int) -> tuple:
        if label.kind == SE:
            decl, is_list = label.payload
            child, shape = self._element_grammar(decl)
            return (SE, label.name[1], child, shape, is_list, nxt, label.name[0])
        if label.kind == AT:
            return (AT, label.name[1], self.datatype(label.payload), nxt, label.name[0])
        if label.kind == CH:
            return (CH, self.datatype(label.payload), nxt)
        if label.kind == SEW:
            return (SEW, label.name[0] if label.name else None, nxt)
        raise AssertionError(label)


def all_element_declarations(schemas: SchemaSet) -> dict[QName, list[ElementDecl]]:
    """Every element declaration of a schema set, global and local, by qname."""
    out: dict[QName, list[ElementDecl]] = {}
    seen: set[int] = set()

    def walk(p: Particle | None) -> None:
        if p is None:
            return
        if isinstance(p.term, ElementDecl):
            add(p.term)
        elif isinstance(p.term, ModelGroup):
            for part in p.term.particles:
                walk(part)

    def visit(t: object) -> None:
        if isinstance(t, ComplexType) and id(t) not in seen:
            seen.add(id(t))
            walk(t.particle)

    def add(decl: ElementDecl) -> None:
        out.setdefault(decl.name, []).append(decl)
        if decl.inline_type is not None:
            visit(decl.inline_type)

    for decl in schemas.elements.values():
        add(decl)
    for qn in schemas.complex_types:
        visit(schemas.complex_type(qn))
    return out


def all_attribute_declarations(schemas: SchemaSet) -> dict[QName, list[SimpleType]]:
    """Every attribute use of every complex type of a schema set, by qname."""
    out: dict[QName, list[SimpleType]] = {}
    types = [schemas.complex_type(qn) for qn in schemas.complex_types]
    inline = [d.inline_type for decls in all_element_declarations(schemas).values()
              for d in decls if isinstance(d.inline_type, ComplexType)]
    seen: set[int] = set()
    for ct in types + inline:
        if id(ct) in seen:
            continue
        seen.add(id(ct))
        for attr in ct.attributes:
            out.setdefault(attr.name, []).append(attr.type)
    return out


def _decl_key(decl: ElementDecl) -> tuple:
    """What makes two declarations of one qname share a grammar: type and nillable."""
    kind = decl.type_ref if decl.inline_type is None else id(decl.inline_type)
    return (kind, decl.nillable)


def _category(label: _Terminal | None) -> tuple:
    """Sort key for event-code assignment (§8.5.4.3); Python's sort is stable for schema order."""
    if label is None:
        return (4,)
    if label.kind == AT:
        return (0, label.name[1], label.name[0])
    if label.kind == SE:
        return (2,)
    if label.kind == SEW:
        return (3,)
    return (5,)  # CH


def _second_level(initial: bool, attribute_phase: bool, has_ee: bool,
                  has_attributes: bool) -> tuple[str, ...]:
    """Second-level events strict=false adds to a non-terminal (§8.5.4.4.1), in code order.

    The initial non-terminal gets xsi:type and xsi:nil; the non-terminals up to the start of
    the content (attribute phase) get EE when the schema did not give them one, AT(*) and the
    untyped-value attribute escape; every non-terminal gets undeclared SE(*) and untyped CH.
    """
    events: list[str] = []
    if attribute_phase:
        if not has_ee:
            events.append("EE")
        if initial:
            events += ["AT(xsi:type)", "AT(xsi:nil)"]
        events += ["AT(*)", "AT(untyped)"]
    events += ["SE(*)", "CH(untyped)"]
    return tuple(events)
