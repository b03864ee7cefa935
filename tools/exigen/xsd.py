"""XSD reader for the EXI grammar compiler: the schema components EXI grammars need.

Only what the V2G schemas (appHand, DIN 70121, ISO 15118-2, ISO 15118-20, xmldsig) use is
modelled: global/local elements with substitution groups, complex types with simple or
complex content (extension/restriction), sequence/choice groups with occurrence bounds,
element wildcards, attribute uses, and atomic simple types with enumeration and range facets.
Anything else raises `UnsupportedSchema` rather than being approximated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
UNBOUNDED = -1


class UnsupportedSchema(Exception):
    """The schema uses a construct the compiler does not model."""


QName = tuple[str, str]  # (namespace uri, local name)


@dataclass
class SimpleType:
    name: QName | None
    base: QName | None  # None for built-ins
    builtin: str  # the XSD built-in primitive-ish name it derives from (e.g. "unsignedShort")
    enumeration: list[str] = field(default_factory=list)
    min_inclusive: int | None = None
    max_inclusive: int | None = None


@dataclass
class AttributeUse:
    name: QName
    type: SimpleType
    required: bool


@dataclass
class Wildcard:
    # "##any", "##other" or an explicit namespace list; target is the schema's namespace
    constraint: str | tuple[str, ...]
    target: str


@dataclass
class ElementDecl:
    name: QName
    type_ref: QName | None = None
    inline_type: ComplexType | SimpleType | None = None
    abstract: bool = False
    nillable: bool = False
    substitution_group: QName | None = None
    is_global: bool = False


@dataclass
class Particle:
    min: int
    max: int  # UNBOUNDED for unbounded
    term: ElementDecl | ModelGroup | Wildcard


@dataclass
class ModelGroup:
    compositor: str  # "sequence" | "choice"
    particles: list[Particle]


@dataclass
class ComplexType:
    name: QName | None
    attributes: list[AttributeUse] = field(default_factory=list)
    # content: None (empty), a Particle (element-only or mixed), or a SimpleType (simple content)
    particle: Particle | None = None
    simple: SimpleType | None = None
    mixed: bool = False
    abstract: bool = False
    # raw derivation, resolved lazily by SchemaSet.complex_type()
    base: QName | None = None
    derivation: str | None = None
    resolved: bool = False


# Built-in simple types: name -> (primitive family, min, max)
_INT_RANGES = {
    "integer": (None, None), "long": (-(2**63), 2**63 - 1), "int": (-(2**31), 2**31 - 1),
    "short": (-32768, 32767), "byte": (-128, 127), "nonNegativeInteger": (0, None),
    "unsignedLong": (0, 2**64 - 1), "unsignedInt": (0, 2**32 - 1), "unsignedShort": (0, 65535),
    "unsignedByte": (0, 255), "positiveInteger": (1, None), "negativePositiveInteger": (None, -1),
    "nonPositiveInteger": (None, 0), "negativeInteger": (None, -1),
}
_STRINGS = {"string", "normalizedString", "token", "language", "Name", "NCName", "ID", "IDREF",
            "IDREFS", "ENTITY", "NMTOKEN", "anyURI"}
_OTHER = {"boolean", "hexBinary", "base64Binary", "decimal", "float", "double", "dateTime",
          "QName", "anySimpleType"}


def builtin_simple(local: str) -> SimpleType:
    if local in _INT_RANGES:
        lo, hi = _INT_RANGES[local]
        return SimpleType(name=(XS, local), base=None, builtin="integer", min_inclusive=lo,
                          max_inclusive=hi)
    if local in _STRINGS:
        return SimpleType(name=(XS, local), base=None, builtin="string")
    if local in _OTHER:
        return SimpleType(name=(XS, local), base=None, builtin=local)
    raise UnsupportedSchema(f"built-in type xs:{local}")


def _tag(el: etree._Element) -> str:
    if not isinstance(el.tag, str):  # comments, processing instructions
        return ""
    return etree.QName(el).localname if etree.QName(el).namespace == XS else ""


def _occurs(el: etree._Element) -> tuple[int, int]:
    lo = int(el.get("minOccurs", "1"))
    hi_s = el.get("maxOccurs", "1")
    return lo, UNBOUNDED if hi_s == "unbounded" else int(hi_s)


class SchemaSet:
    """All components reachable from one root XSD (imports and includes followed)."""

    def __init__(self, root: Path, search_dir: Path) -> None:
        self.search_dir = search_dir
        self.elements: dict[QName, ElementDecl] = {}
        self.complex_types: dict[QName, ComplexType] = {}
        self.simple_types: dict[QName, SimpleType] = {}
        self._raw_simple: dict[QName, tuple[etree._Element, str]] = {}
        self._loaded: set[Path] = set()
        self._top: list[tuple[etree._Element, _Ctx]] = []
        self.root_namespace = ""
        self._load(root, is_root=True)
        self._components()
        for qn in list(self._raw_simple):
            self.simple_type(qn)
        for ct in list(self.complex_types.values()):
            self._resolve_complex(ct)

    # ---- loading -------------------------------------------------------------------------
    def _locate(self, base: Path, location: str) -> Path:
        path = (base.parent / location).resolve()
        if path.exists():
            return path
        # the iso15118 package ships xmldsig once, at the top: search by file name
        hits = sorted(self.search_dir.rglob(Path(location).name))
        if not hits:
            raise UnsupportedSchema(f"cannot find {location} imported from {base}")
        return hits[0].resolve()

    def _load(self, path: Path, is_root: bool = False) -> None:
        path = path.resolve()
        if path in self._loaded:
            return
        self._loaded.add(path)
        doc = etree.parse(str(path)).getroot()
        tns = doc.get("targetNamespace", "")
        if is_root:
            self.root_namespace = tns
        ctx = _Ctx(tns, doc.get("elementFormDefault") == "qualified",
                   doc.get("attributeFormDefault") == "qualified")
        for child in doc:
            tag = _tag(child)
            if tag in ("import", "include"):
                if child.get("schemaLocation"):
                    self._load(self._locate(path, child.get("schemaLocation")))
            elif tag == "simpleType":
                self._raw_simple[(tns, child.get("name"))] = (child, tns)
            elif tag in ("element", "complexType"):
                self._top.append((child, ctx))
            elif tag in ("annotation", ""):
                continue
            else:
                raise UnsupportedSchema(f"top-level xs:{tag} in {path}")

    def _components(self) -> None:
        """Second pass: every simple type is known by now, so declarations can refer to any."""
        for child, ctx in self._top:
            tag = _tag(child)
            tns = ctx.tns
            if tag == "element":
                decl = self._element(child, ctx, is_global=True)
                self.elements[decl.name] = decl
            elif tag == "complexType":
                ct = self._complex(child, ctx, (tns, child.get("name")))
                self.complex_types[ct.name] = ct

    @staticmethod
    def _qname(el: etree._Element, value: str) -> QName:
        prefix, _, local = value.rpartition(":")
        uri = el.nsmap.get(prefix or None, "")
        return (uri, local)

    def _element(self, el: etree._Element, ctx: _Ctx, is_global: bool) -> ElementDecl:
        ref = el.get("ref")
        if ref:
            raise UnsupportedSchema("element ref handled by the particle reader")
        qualified = is_global or ctx.element_qualified or el.get("form") == "qualified"
        decl = ElementDecl(name=(ctx.tns if qualified else "", el.get("name")),
                           abstract=el.get("abstract") == "true",
                           nillable=el.get("nillable") == "true", is_global=is_global)
        if el.get("type"):
            decl.type_ref = self._qname(el, el.get("type"))
        if el.get("substitutionGroup"):
            decl.substitution_group = self._qname(el, el.get("substitutionGroup"))
        for child in el:
            tag = _tag(child)
            if tag == "complexType":
                decl.inline_type = self._complex(child, ctx, None)
            elif tag == "simpleType":
                decl.inline_type = self._simple_from(child, ctx.tns, None)
        if decl.type_ref is None and decl.inline_type is None:
            decl.type_ref = (XS, "anyType")
        return decl

    def _complex(self, el: etree._Element, ctx: _Ctx, name: QName | None) -> ComplexType:
        ct = ComplexType(name=name, mixed=el.get("mixed") == "true",
                         abstract=el.get("abstract") == "true")
        own_particle: Particle | None = None
        for child in el:
            tag = _tag(child)
            if tag in ("sequence", "choice", "all"):
                own_particle = self._particle(child, ctx)
            elif tag == "attribute":
                ct.attributes.append(self._attribute(child, ctx))
            elif tag == "anyAttribute":
                raise UnsupportedSchema("anyAttribute")
            elif tag in ("complexContent", "simpleContent"):
                if child.get("mixed") == "true":
                    ct.mixed = True
                for deriv in child:
                    dtag = _tag(deriv)
                    if dtag not in ("extension", "restriction"):
                        continue
                    ct.base = self._qname(deriv, deriv.get("base"))
                    ct.derivation = f"{tag}-{dtag}"
                    for part in deriv:
                        ptag = _tag(part)
                        if ptag in ("sequence", "choice", "all"):
                            own_particle = self._particle(part, ctx)
                        elif ptag == "attribute":
                            ct.attributes.append(self._attribute(part, ctx))
                        elif ptag in ("annotation", ""):
                            continue
                        elif tag == "simpleContent" and dtag == "restriction":
                            raise UnsupportedSchema("simpleContent restriction facets")
                        else:
                            raise UnsupportedSchema(f"xs:{ptag} in {dtag}")
        ct.particle = own_particle
        return ct

    def _attribute(self, el: etree._Element, ctx: _Ctx) -> AttributeUse:
        if el.get("ref"):
            raise UnsupportedSchema("attribute ref")
        qualified = ctx.attribute_qualified or el.get("form") == "qualified"
        name = (ctx.tns if qualified else "", el.get("name"))
        if el.get("type"):
            stype = self.simple_type(self._qname(el, el.get("type")))
        else:
            inline = [c for c in el if _tag(c) == "simpleType"]
            stype = self._simple_from(inline[0], ctx.tns, None) if inline else builtin_simple(
                "anySimpleType")
        return AttributeUse(name=name, type=stype, required=el.get("use") == "required")

    def _particle(self, el: etree._Element, ctx: _Ctx) -> Particle:
        lo, hi = _occurs(el)
        tag = _tag(el)
        if tag == "element":
            if el.get("ref"):
                term: ElementDecl | ModelGroup | Wildcard = _ElementRef(
                    self._qname(el, el.get("ref")))
            else:
                term = self._element(el, ctx, is_global=False)
        elif tag in ("sequence", "choice"):
            parts = [self._particle(c, ctx) for c in el
                     if _tag(c) in ("element", "sequence", "choice", "any", "group")]
            term = ModelGroup(tag, parts)
        elif tag == "any":
            ns = el.get("namespace", "##any")
            constraint: str | tuple[str, ...] = ns if ns in ("##any", "##other") else tuple(
                sorted(ns.split()))
            term = Wildcard(constraint, ctx.tns)
        else:
            raise UnsupportedSchema(f"particle xs:{tag}")
        return Particle(lo, hi, term)

    # ---- simple types --------------------------------------------------------------------
    def simple_type(self, qn: QName) -> SimpleType:
        if qn in self.simple_types:
            return self.simple_types[qn]
        if qn[0] == XS:
            st = builtin_simple(qn[1])
        elif qn in self._raw_simple:
            el, tns = self._raw_simple[qn]
            st = self._simple_from(el, tns, qn)
        else:
            raise UnsupportedSchema(f"unknown simple type {qn}")
        self.simple_types[qn] = st
        return st

    def _simple_from(self, el: etree._Element, tns: str, name: QName | None) -> SimpleType:
        restriction = [c for c in el if _tag(c) == "restriction"]
        if not restriction:
            raise UnsupportedSchema(f"simple type {name} is not a restriction (list/union)")
        r = restriction[0]
        base = self.simple_type(self._qname(r, r.get("base")))
        st = SimpleType(name=name, base=base.name, builtin=base.builtin,
                        enumeration=list(base.enumeration), min_inclusive=base.min_inclusive,
                        max_inclusive=base.max_inclusive)
        enum = [f.get("value") for f in r if _tag(f) == "enumeration"]
        if enum:
            st.enumeration = enum
        for f in r:
            tag, value = _tag(f), f.get("value")
            if tag == "minInclusive":
                st.min_inclusive = int(value)
            elif tag == "maxInclusive":
                st.max_inclusive = int(value)
            elif tag == "minExclusive":
                st.min_inclusive = int(value) + 1
            elif tag == "maxExclusive":
                st.max_inclusive = int(value) - 1
            elif tag == "pattern":
                raise UnsupportedSchema("pattern facet (restricted character sets)")
        return st

    # ---- derivation ----------------------------------------------------------------------
    def complex_type(self, qn: QName) -> ComplexType:
        if qn == (XS, "anyType"):
            raise UnsupportedSchema("xs:anyType content")
        ct = self.complex_types[qn]
        self._resolve_complex(ct)
        return ct

    def _resolve_complex(self, ct: ComplexType) -> None:
        if ct.resolved:
            return
        ct.resolved = True
        if ct.base is None:
            return
        if ct.derivation and ct.derivation.startswith("simpleContent"):
            if ct.base in self.complex_types:
                base_ct = self.complex_type(ct.base)
                ct.simple = base_ct.simple
                ct.attributes = base_ct.attributes + ct.attributes
            else:
                ct.simple = self.simple_type(ct.base)
            return
        base_ct = self.complex_type(ct.base)
        if ct.derivation == "complexContent-extension":
            names = {a.name for a in ct.attributes}
            ct.attributes = [a for a in base_ct.attributes if a.name not in names] + ct.attributes
            if base_ct.particle is None:
                pass
            elif ct.particle is None:
                ct.particle = base_ct.particle
            else:
                ct.particle = Particle(1, 1, ModelGroup("sequence", [base_ct.particle,
                                                                     ct.particle]))
        # complexContent restriction: the declared particle and attributes stand as written

    def element(self, qn: QName) -> ElementDecl:
        return self.elements[qn]

    def substitutes(self, head: ElementDecl) -> list[ElementDecl]:
        """Elements that may stand for `head` (transitively), head included."""
        out = [head]
        frontier = [head.name]
        while frontier:
            name = frontier.pop()
            for decl in self.elements.values():
                if decl.substitution_group == name and decl not in out:
                    out.append(decl)
                    frontier.append(decl.name)
        return out


@dataclass
class _ElementRef:
    ref: QName


@dataclass
class _Ctx:
    tns: str
    element_qualified: bool
    attribute_qualified: bool
