"""Schema-informed EXI codec for V2G messages: supportedAppProtocol, DIN 70121,
ISO 15118-2 and ISO 15118-20 (CommonMessages, AC, DC, WPT, ACDP).

Public API (stable; other components code against it):

    positions(data: bytes, schema: str) -> (dict, {path: (start bit, end bit)})
        `decode` plus where each element / attribute lies (slow; for viewers).
    decode(data: bytes, schema: str) -> dict
        One EXI stream (header included) to the JSON form of DESIGN.md "EXI decoded form":
        {"V2G_Message": {...}} or {"<-20 message>": {...}}. `schema` is a short name
        ("appHand", "din", "iso2", "iso20_CommonMessages", "iso20_AC", "iso20_DC",
        "iso20_WPT", "iso20_ACDP") or the namespace URI. Raises ExiError on a broken stream;
        the error carries .kind, .bit_offset, .state, .expected, .path and .partial (the tree
        decoded up to the failure, same form).
    encode(tree: dict, schema: str) -> bytes
        The inverse; byte-identical to the reference codec (EXIficient as configured in the
        `iso15118` package) on the reference vectors. Raises ExiError(kind="exi.tree").
    detect(data: bytes, candidates: Iterable[str] | None = None) -> list[Detection]
        Decoding without the supportedAppProtocol handshake: tries every candidate grammar and
        returns one Detection per schema, clean decodes first.
    encode_fragment(element_name: str, content, schema: str) -> bytes
        One element as an EXI fragment (W3C EXI 1.0 §8.5.2): header, the element's event code
        in the schema-informed fragment grammar (every element qname of the schema set,
        global and local, sorted by local name then uri; SE(*) and ED after them), its
        content, ED. `content` is the element's JSON form as inside a decoded message (an
        object, or the value of a simple element). `element_name` is a local name or
        "{uri}local" when several namespaces declare it. `schema` is a message schema's short
        name or namespace, or "xmldsig" (http://www.w3.org/2000/09/xmldsig#) for SignedInfo.
        This is what ISO 15118-2/-20 digests and signatures are computed over: the referenced
        element (AuthorizationReq, MeteringReceiptReq, ContractSignatureCertChain, eMAID,
        PnC_AReqAuthorizationMode, ...) with its message schema, SignedInfo with "xmldsig";
        byte-identical to EXIficient in fragment mode as the iso15118 package configures it.
        Raises ExiError(kind="exi.tree").
    decode_fragment(data: bytes, schema: str) -> dict
        The inverse: {element name: content} for each root element of the fragment (one
        that occurs more than once becomes a list of its contents).
    SCHEMAS: dict[str, str]  short name -> namespace URI (message schemas; FRAGMENT_SCHEMAS
        adds "xmldsig", which has no messages).
    XML: chargescope.dissectors.exi.xml.to_xml(tree, schema) -> lxml element (and
        to_xml_bytes, canonical): the same document EXIficient writes, equal after C14N 2.0.

JSON form beyond DESIGN.md "EXI decoded form" (strict=false second-level events):
    xsi:nil="true" is the key "xsi:nil": true in the element's object beside its attributes
    (a nil simple-typed element is {"xsi:nil": true}); characters in element-only content are
    "value" in the element's object (re-encoded right after the attributes). A qname declared
    with several types decodes as a fragment root through the relaxed element fragment
    grammar: always an object, text under "value". Undeclared and wildcard content (SE(*),
    SE(uri:*), AT(*): xmldsig KeyInfo/Object/Transform/SignatureProperty content, undeclared
    strict=false content) decodes under Clark keys "{uri}local" (plain local without a
    namespace): elements as lists of objects (attributes as strings, text as "value", a
    global element of the schema in its usual form), attributes as strings; encode() and
    encode_fragment() write them back byte-identical to EXIficient (the stream's string
    table; undeclared elements cast to xsd:anyType; undeclared attributes after the
    declared ones, undeclared elements where the element would end, text before child
    elements in xsd:anyType content); the XML writer puts them in the same places (undeclared
    elements with xsi:type="xs:anyType", as EXIficient's XML has it). xsi:type on a
    declared element naming one of the schema's named types (same simple/complex shape) is
    the key "xsi:type": "{uri}TypeName" in the element's object (a simple-typed element
    becomes {"xsi:type": ..., "value": v}); the element goes on in that type's grammar
    (generated TYPES table); decode, encode and XML round-trip. Other xsi:type values raise
    ExiError(kind="exi.unsupported") when decoding, "exi.tree" when encoding.

EXI options (those of the V2G reference codec, see corpus/exi-reference/README.md): header
0x80 without cookie or options (a "$EXI" cookie is accepted on input), bit-packed,
schema-informed with strict=false, nothing preserved, not self-contained, valueMaxLength=0
(no string-table values). The grammars come from tools/exigen (generated/ folder).
Implementation: the Cython extension chargescope.ext._exi when built, else the pure-Python
twin dissectors/exi/_codec.py (CHARGESCOPE_PUREPYTHON=1 forces it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chargescope import backends

from .errors import ExiError
from .tables import FRAGMENT_SCHEMAS, SCHEMAS, grammar, schema_name  # noqa: F401 (grammar)

__all__ = ["FRAGMENT_SCHEMAS", "SCHEMAS", "Detection", "ExiError", "decode", "decode_fragment",
           "detect", "encode", "encode_fragment", "positions", "schema_name"]

_impl = None


def _backend():
    global _impl
    if _impl is None:
        _impl = backends.load("exi")
    return _impl


def decode(data: bytes, schema: str, *, max_depth: int = 64,
           max_string: int = 256 * 1024) -> dict:
    """Decode one EXI stream with the grammar of `schema` (short name or namespace URI).

    `max_depth` (element nesting) and `max_string` (characters of a string, bytes of a
    binary value) are the caps of `Limits.exi_depth` / `Limits.exi_string`: past them
    ExiError kind ``limit.exi.depth`` / ``limit.exi.string``."""
    return _backend().decode(bytes(data), grammar(schema), max_depth, max_string)


def positions(data: bytes, schema: str) -> tuple[dict, dict[tuple, tuple[int, int]]]:
    """Decode like `decode`, also giving the bit span [start, end) of every element,
    attribute and complex value by tree path. Slow (always the pure-Python twin): for one
    message at a time, when a viewer asks where a field is."""
    from . import _codec

    spans: dict[tuple, tuple[int, int]] = {}
    return _codec.decode(bytes(data), grammar(schema), spans=spans), spans


def encode(tree: dict, schema: str) -> bytes:
    """Encode a tree in the decoded JSON form back to an EXI stream."""
    return _backend().encode(tree, grammar(schema))


def encode_fragment(element_name: str, content, schema: str) -> bytes:
    """One element (JSON form as inside a decoded message) as an EXI fragment."""
    return _backend().encode_fragment(element_name, content, grammar(schema))


def decode_fragment(data: bytes, schema: str) -> dict:
    """An EXI fragment to {element name: content}."""
    return _backend().decode_fragment(bytes(data), grammar(schema))


@dataclass(frozen=True, slots=True)
class Detection:
    """How one candidate grammar fared on a stream."""

    schema: str
    clean: bool  # decoded to the end of the document without a problem
    exact: bool  # and re-encoding the tree gives the same bytes back (strongest evidence)
    root: str | None  # the root element decoded (None when even that failed)
    bits_decoded: int  # how far the decoder got (the failing offset, or the stream length)
    error: ExiError | None


def detect(data: bytes, candidates: Iterable[str] | None = None) -> list[Detection]:
    """Try each candidate grammar (default: all) and rank them: clean decodes whose tree
    re-encodes to the same bytes first, then other clean decodes, then the failures that got
    furthest. Short messages can decode cleanly under several grammars; `exact` separates
    them in practice, and a caller with the handshake should still prefer the agreed one."""
    data = bytes(data)
    results = []
    for name in (candidates if candidates is not None else SCHEMAS):
        short = schema_name(name)
        try:
            tree = decode(data, short)
        except ExiError as exc:
            partial = exc.partial or {}
            root = next(iter(partial), None)
            results.append(Detection(short, False, False, root, exc.bit_offset or 0, exc))
        else:
            try:
                exact = encode(tree, short) == data
            except ExiError:
                exact = False
            results.append(Detection(short, True, exact, next(iter(tree)), len(data) * 8, None))
    results.sort(key=lambda d: (not d.clean, not d.exact, -d.bits_decoded))
    return results
