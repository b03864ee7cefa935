"""Regenerate tests/data/exi/second_level.jsonl: strict=false second-level events, by EXIficient.

    python -m tools.exi_second_level_golden --oracle-python PY --jar EXICodec.jar [--update]

Each case is an XML instance using what the V2G profile's strict=false allows beyond the
schema (xsi:nil, xsi:type, undeclared elements and attributes, characters in element-only
content, wildcard content). EXIficient (tools/exificient_fragment_oracle.py, py4j) encodes it
with the iso15118 package codec's own grammar and options, then decodes its stream back to
XML. A vector is {"case", "schema", "hex", "c14n", "json"}: EXIficient's bytes, the canonical
form (C14N 2.0, prefixes rewritten) of EXIficient's XML for them, and our decoded tree. Only
cases where our decoder reads the bytes, re-encodes them identically and writes the same
canonical XML are kept; the others are printed. "wildcard" cases (undeclared and wildcard
content: decoded, re-encoded byte for byte and written as the same canonical XML) carry
{"path", "expected", "wildcard"} instead of "json": the subtree the XML instance means in the
JSON form, written here by hand. "fragment" cases are EXI fragments (EXIficient in fragment
mode) with {"json"}: decoded and re-encoded byte for byte. "stream" cases carry what
EXIficient decodes but never writes from XML (it drops xsi:nil="false"): our encoder makes
the stream from a JSON tree, EXIficient decodes it, and the case is kept when its XML is
ours and our decoder gives the tree back (rows like the first kind, "made_by": "chargescope").
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "data" / "exi" / "second_level.jsonl"

NS2 = ('xmlns:ns="urn:iso:15118:2:2013:MsgDef" xmlns:h="urn:iso:15118:2:2013:MsgHeader" '
       'xmlns:b="urn:iso:15118:2:2013:MsgBody" xmlns:t="urn:iso:15118:2:2013:MsgDataTypes" '
       'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
       'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"')


def iso2(body: str, header: str = "", header_attrs: str = "") -> str:
    return (f'<ns:V2G_Message {NS2}><ns:Header{header_attrs}><h:SessionID>0102</h:SessionID>'
            f'{header}</ns:Header><ns:Body>{body}</ns:Body></ns:V2G_Message>')


SSR = '<b:SessionSetupReq><b:EVCCID>0A0B</b:EVCCID></b:SessionSetupReq>'
SIGNED_INFO = ('<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="c"/><ds:SignatureMethod '
               'Algorithm="s"/><ds:Reference URI="#a"><ds:DigestMethod Algorithm="d"/>'
               '<ds:DigestValue>AAEC</ds:DigestValue></ds:Reference></ds:SignedInfo>'
               '<ds:SignatureValue>AAEC</ds:SignatureValue>')


def signed(extra: str, signed_info: str = SIGNED_INFO) -> str:
    return iso2('<b:AuthorizationReq/>', f'<ds:Signature>{signed_info}{extra}</ds:Signature>')

# case -> (schema, XML): decoded, re-encoded byte for byte, written as EXIficient's XML
CASES: dict[str, tuple[str, str]] = {
    "nil-complex-no-attributes": ("iso2", iso2('<b:SessionSetupReq xsi:nil="true"/>')),
    "nil-complex-optional-attribute": ("iso2", iso2('<b:AuthorizationReq xsi:nil="true"/>')),
    "nil-with-attribute": ("iso2", iso2('<b:AuthorizationReq b:Id="A" xsi:nil="true"/>')),
    "nil-simple": ("iso2", iso2('<b:SessionSetupReq><b:EVCCID xsi:nil="true"/>'
                                '</b:SessionSetupReq>')),
    "nil-nested": ("iso2", iso2('<b:PaymentServiceSelectionReq><b:SelectedPaymentOption>'
                                'Contract</b:SelectedPaymentOption><b:SelectedServiceList '
                                'xsi:nil="true"/></b:PaymentServiceSelectionReq>')),
    "characters-in-element-only": ("iso2", iso2('<b:SessionSetupReq>text<b:EVCCID>0A0B'
                                                '</b:EVCCID></b:SessionSetupReq>')),
    # xsi:type: the element goes on in the named type's grammar
    "type-same-type": ("iso2", iso2('<b:SessionSetupReq xsi:type="b:SessionSetupReqType">'
                                    '<b:EVCCID>0A0B</b:EVCCID></b:SessionSetupReq>')),
    "type-abstract-body-element": ("iso2", iso2(
        '<b:BodyElement xsi:type="b:SessionSetupReqType"><b:EVCCID>0A0B</b:EVCCID>'
        '</b:BodyElement>')),
    "type-header": ("iso2", iso2(SSR).replace(
        "<ns:Header>", '<ns:Header xsi:type="h:MessageHeaderType">')),
    "type-datatypes-namespace": ("iso2", iso2(
        '<b:PaymentServiceSelectionReq><b:SelectedPaymentOption>Contract'
        '</b:SelectedPaymentOption><b:SelectedServiceList xsi:type="t:SelectedServiceListType">'
        '<t:SelectedService><t:ServiceID>1</t:ServiceID></t:SelectedService>'
        '</b:SelectedServiceList></b:PaymentServiceSelectionReq>')),
    "type-simple": ("iso2", iso2('<b:SessionSetupReq><b:EVCCID xsi:type="t:evccIDType">0A0B'
                                 '</b:EVCCID></b:SessionSetupReq>')),
    "type-then-nil": ("iso2", iso2('<b:SessionSetupReq xsi:type="b:SessionSetupReqType" '
                                   'xsi:nil="true"/>')),
    "type-din": ("din", '<ns:V2G_Message xmlns:ns="urn:din:70121:2012:MsgDef" '
                 'xmlns:h="urn:din:70121:2012:MsgHeader" xmlns:b="urn:din:70121:2012:MsgBody" '
                 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><ns:Header>'
                 '<h:SessionID>0102</h:SessionID></ns:Header><ns:Body><b:SessionSetupReq '
                 'xsi:type="b:SessionSetupReqType"><b:EVCCID>0A0B</b:EVCCID>'
                 '</b:SessionSetupReq></ns:Body></ns:V2G_Message>'),
}
# undeclared / wildcard content: case -> (schema, XML, path in the tree, the subtree the XML
# instance means in the JSON form)
HEADER = ["V2G_Message", "Header"]
SIGNATURE = HEADER + ["Signature"]
WILDCARD: dict[str, tuple[str, str, list, object]] = {
    "undeclared-element": ("iso2", iso2(SSR, '<Foo xmlns="urn:x">bar</Foo>'), HEADER,
                           {"SessionID": "0102", "{urn:x}Foo": [{"value": "bar"}]}),
    "undeclared-elements-nested": (
        "iso2", iso2(SSR, '<Foo xmlns="urn:x"><Bar>1</Bar><Bar>2</Bar></Foo>'), HEADER,
        {"SessionID": "0102", "{urn:x}Foo": [{"{urn:x}Bar": [{"value": "1"}, {"value": "2"}]}]}),
    "undeclared-repeated-and-mixed": (
        "iso2", iso2(SSR, '<Foo xmlns="urn:x" a="1"><Foo a="2">t</Foo><z:Bar xmlns:z="urn:z"/>'
                          '</Foo><Foo xmlns="urn:x"/>', ' foo="1" y:bar="2" xmlns:y="urn:y"'),
        HEADER, {"foo": "1", "{urn:y}bar": "2", "SessionID": "0102", "{urn:x}Foo": [
            {"a": "1", "{urn:x}Foo": [{"a": "2", "value": "t"}], "{urn:z}Bar": [{}]}, {}]}),
    "undeclared-in-body-and-type": (
        "iso2", iso2('<b:SessionSetupReq xsi:type="b:SessionSetupReqType" foo="x"><b:EVCCID>0A0B'
                     '</b:EVCCID><b:Extra>e</b:Extra></b:SessionSetupReq>'),
        ["V2G_Message", "Body"], {"SessionSetupReq": {
            "xsi:type": "{urn:iso:15118:2:2013:MsgBody}SessionSetupReqType", "foo": "x",
            "EVCCID": "0A0B", "{urn:iso:15118:2:2013:MsgBody}Extra": [{"value": "e"}]}}),
    "undeclared-three-siblings": (
        "iso2", iso2(SSR, '<Foo xmlns="urn:x">1</Foo><Foo xmlns="urn:x">2</Foo>'
                          '<Foo xmlns="urn:x">3</Foo>'), HEADER,
        {"SessionID": "0102", "{urn:x}Foo": [{"value": "1"}, {"value": "2"}, {"value": "3"}]}),
    "undeclared-attribute": ("iso2", iso2(SSR, header_attrs=' foo="1"'), HEADER,
                             {"foo": "1", "SessionID": "0102"}),
    "keyinfo-other-namespace": (
        "iso2", signed('<ds:KeyInfo><x:Key xmlns:x="urn:x">k1</x:Key></ds:KeyInfo>'),
        SIGNATURE + ["KeyInfo"], {"{urn:x}Key": [{"value": "k1"}]}),
    "object-mixed-any": (
        "iso2", signed('<ds:Object Id="o">text<x:A xmlns:x="urn:x" b="1">v</x:A></ds:Object>'),
        SIGNATURE + ["Object"], [{"Id": "o", "value": "text",
                                  "{urn:x}A": [{"b": "1", "value": "v"}]}]),
    "object-declared-element": (
        "iso2", signed('<ds:Object><ds:KeyName>n</ds:KeyName></ds:Object>'),
        SIGNATURE + ["Object"], [{"{http://www.w3.org/2000/09/xmldsig#}KeyName": ["n"]}]),
    "signature-properties": (
        "iso2", signed('<ds:Object><ds:SignatureProperties><ds:SignatureProperty Target="#a">'
                       '<x:P xmlns:x="urn:x">p</x:P></ds:SignatureProperty>'
                       '</ds:SignatureProperties></ds:Object>'),
        SIGNATURE + ["Object"],
        [{"{http://www.w3.org/2000/09/xmldsig#}SignatureProperties": [
            {"SignatureProperty": [{"Target": "#a", "{urn:x}P": [{"value": "p"}]}]}]}]),
    # position among declared siblings: "#order" (absent when they all come last)
    "undeclared-before-declared": (
        "iso2", iso2('<b:SessionSetupReq><b:Extra>e</b:Extra><b:EVCCID>0A0B</b:EVCCID>'
                     '</b:SessionSetupReq>'), ["V2G_Message", "Body"],
        {"SessionSetupReq": {"{urn:iso:15118:2:2013:MsgBody}Extra": [{"value": "e"}],
                             "EVCCID": "0A0B",
                             "#order": [["{urn:iso:15118:2:2013:MsgBody}Extra", 0]]}}),
    "undeclared-first-in-header": (
        "iso2", iso2(SSR).replace("<h:SessionID>", '<Foo xmlns="urn:x">bar</Foo><h:SessionID>'),
        HEADER, {"{urn:x}Foo": [{"value": "bar"}], "SessionID": "0102",
                 "#order": [["{urn:x}Foo", 0]]}),
    "undeclared-around-declared": (
        "iso2", iso2(SSR, '<Foo xmlns="urn:x">2</Foo>').replace(
            "<h:SessionID>", '<Foo xmlns="urn:x">1</Foo><h:SessionID>'),
        HEADER, {"{urn:x}Foo": [{"value": "1"}, {"value": "2"}], "SessionID": "0102",
                 "#order": [["{urn:x}Foo", 0], ["{urn:x}Foo", 1]]}),
    "undeclared-interleaved": (
        "iso2", iso2(SSR, '<Foo xmlns="urn:x">1</Foo><Bar xmlns="urn:x"/><Foo xmlns="urn:x">2'
                          '</Foo>'), HEADER,
        {"SessionID": "0102", "{urn:x}Foo": [{"value": "1"}, {"value": "2"}],
         "{urn:x}Bar": [{}], "#order": [["{urn:x}Foo", 1], ["{urn:x}Bar", 1],
                                         ["{urn:x}Foo", 1]]}),
    "undeclared-interleaved-children": (
        "iso2", iso2(SSR, '<Foo xmlns="urn:x"><A>1</A><B/><A>2</A></Foo>'), HEADER,
        {"SessionID": "0102", "{urn:x}Foo": [{
            "{urn:x}A": [{"value": "1"}, {"value": "2"}], "{urn:x}B": [{}],
            "#order": [["{urn:x}A", 0], ["{urn:x}B", 0], ["{urn:x}A", 0]]}]}),
    "transform-any-before-xpath": (
        "iso2", signed("", SIGNED_INFO.replace(
            "<ds:DigestMethod", '<ds:Transforms><ds:Transform Algorithm="t"><y:Q xmlns:y="urn:y">'
            'q</y:Q><ds:XPath>/a</ds:XPath></ds:Transform></ds:Transforms><ds:DigestMethod')),
        SIGNATURE + ["SignedInfo", "Reference", 0, "Transforms", "Transform"],
        [{"Algorithm": "t", "XPath": ["/a"], "{urn:y}Q": [{"value": "q"}],
          "#order": [["{urn:y}Q", 0]]}]),
    "transform-xpath-and-any": (
        "iso2", signed("", SIGNED_INFO.replace(
            "<ds:DigestMethod", '<ds:Transforms><ds:Transform Algorithm="t"><ds:XPath>/a'
            '</ds:XPath><y:Q xmlns:y="urn:y">q</y:Q></ds:Transform></ds:Transforms>'
            "<ds:DigestMethod")),
        SIGNATURE + ["SignedInfo", "Reference", 0, "Transforms", "Transform"],
        [{"Algorithm": "t", "XPath": ["/a"], "{urn:y}Q": [{"value": "q"}]}]),
}
# wildcard content in an EXI fragment (what xmldsig digests and signatures are computed
# over): case -> (schema, XML of the fragment element); decoded, re-encoded byte for byte
FRAGMENTS: dict[str, tuple[str, str]] = {
    "fragment-signedinfo-transform-any": ("xmldsig", SIGNED_INFO.replace(
        "<ds:DigestMethod", '<ds:Transforms><ds:Transform Algorithm="t"><ds:XPath>/a'
        '</ds:XPath><y:Q xmlns:y="urn:y" k="v">q</y:Q><y:Q xmlns:y="urn:y"/></ds:Transform>'
        '</ds:Transforms><ds:DigestMethod').split("<ds:SignatureValue>")[0].replace(
        "<ds:SignedInfo>", '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">')),
}
# what EXIficient decodes but does not write: case -> (schema, JSON tree we encode)
SESSION_SETUP = {"SessionSetupReq": {"EVCCID": "0A0B"}}
STREAMS: dict[str, tuple[str, dict]] = {
    "nil-false-simple": ("iso2", {"V2G_Message": {"Header": {"SessionID": "0102"}, "Body": {
        "SessionSetupReq": {"EVCCID": {"xsi:nil": False, "value": "0A0B"}}}}}),
    "nil-false-simple-header": ("iso2", {"V2G_Message": {
        "Header": {"SessionID": {"xsi:nil": False, "value": "0102"}}, "Body": SESSION_SETUP}}),
    "nil-false-simple-with-type": ("iso2", {"V2G_Message": {
        "Header": {"SessionID": "0102"}, "Body": {"SessionSetupReq": {"EVCCID": {
            "xsi:type": "{urn:iso:15118:2:2013:MsgDataTypes}evccIDType", "xsi:nil": False,
            "value": "0A0B"}}}}}),
    "nil-false-complex": ("iso2", {"V2G_Message": {"Header": {"SessionID": "0102"}, "Body": {
        "SessionSetupReq": {"xsi:nil": False, "EVCCID": "0A0B"}}}}),
}
GRAMMAR = {"iso2": "iso15118_2_Grammar", "din": "dinspec_70121",
           "iso20_CommonMessages": "iso15118_20_V2G_CI_CommonMessages",
           "xmldsig": "core_schema_Protocol"}


def ask(oracle: list[str], jobs: list[dict]) -> list[dict]:
    """One run of the EXIficient oracle: a result per job, in order."""
    lines = "".join(json.dumps(job) + "\n" for job in jobs)
    return [json.loads(x) for x in subprocess.run(
        oracle, input=lines, capture_output=True, text=True, check=True).stdout.splitlines()]


def main(argv: list[str] | None = None) -> int:
    from lxml import etree

    from chargescope.dissectors import exi
    from chargescope.dissectors.exi.xml import canonical, to_xml

    parser = argparse.ArgumentParser(prog="python -m tools.exi_second_level_golden",
                                     description=__doc__)
    parser.add_argument("--oracle-python", required=True)
    parser.add_argument("--jar", required=True)
    parser.add_argument("--update", action="store_true")
    args = parser.parse_args(argv)
    oracle = [args.oracle_python, str(Path(__file__).with_name(
        "exificient_fragment_oracle.py")), args.jar]
    cases = {**CASES, **{n: c[:2] for n, c in WILDCARD.items()}}
    names = list(cases)
    encoded = ask(oracle, [{"xml": cases[n][1], "grammar": GRAMMAR[cases[n][0]],
                            "fragment": False} for n in names])
    decoded = ask(oracle, [{"hex": e.get("hex") or "80", "grammar": GRAMMAR[cases[n][0]],
                            "fragment": False} for n, e in zip(names, encoded, strict=True)])
    rows = []
    for name, enc, dec in zip(names, encoded, decoded, strict=True):
        schema = cases[name][0]
        if not enc.get("hex") or not dec.get("xml"):
            print(f"{name}: EXIficient failed: {enc.get('err') or dec.get('err')}")
            continue
        reference = canonical(etree.fromstring(dec["xml"].encode()))
        data = bytes.fromhex(enc["hex"])
        if name in WILDCARD:
            path, expected = WILDCARD[name][2:]
            try:
                node = exi.decode(data, schema)
                for step in path:
                    node = node[step]
            except (exi.ExiError, KeyError, IndexError) as exc:
                print(f"{name}: {exc}")
                continue
            if node != expected:
                print(f"{name}: decodes to {node}, expected {expected}")
                continue
            tree = exi.decode(data, schema)
            if exi.encode(tree, schema) != data:
                print(f"{name}: re-encodes differently")
                continue
            if canonical(to_xml(tree, schema)) != reference:
                print(f"{name}: XML differs")
                continue
            rows.append({"case": name, "schema": schema, "hex": enc["hex"], "c14n": reference,
                         "path": path, "expected": expected, "wildcard": True})
            continue
        try:
            tree = exi.decode(data, schema)
            again = exi.encode(tree, schema)
            ours = canonical(to_xml(tree, schema))
        except exi.ExiError as exc:
            print(f"{name}: {exc}")
            continue
        if again != data or ours != reference:
            print(f"{name}: differs\n  ref {enc['hex']}\n  our {again.hex().upper()}\n"
                  f"  ref {reference}\n  our {ours}")
            continue
        rows.append({"case": name, "schema": schema, "hex": enc["hex"], "c14n": reference,
                     "json": tree})
    encoded = ask(oracle, [{"xml": xml, "grammar": GRAMMAR[schema], "fragment": True}
                           for schema, xml in FRAGMENTS.values()])
    for (name, (schema, _)), enc in zip(FRAGMENTS.items(), encoded, strict=True):
        if not enc.get("hex"):
            print(f"{name}: EXIficient failed: {enc.get('err')}")
            continue
        data = bytes.fromhex(enc["hex"])
        try:
            tree = exi.decode_fragment(data, schema)
            (element, content), = tree.items()
            again = exi.encode_fragment(element, content, schema)
        except (exi.ExiError, ValueError) as exc:
            print(f"{name}: {exc}")
            continue
        if again != data:
            print(f"{name}: differs\n  ref {enc['hex']}\n  our {again.hex().upper()}")
            continue
        rows.append({"case": name, "schema": schema, "hex": enc["hex"], "json": tree,
                     "fragment": True})
    made = {name: exi.encode(tree, schema).hex().upper()
            for name, (schema, tree) in STREAMS.items()}
    decoded = ask(oracle, [{"hex": made[name], "grammar": GRAMMAR[schema], "fragment": False}
                           for name, (schema, _) in STREAMS.items()])
    for (name, (schema, tree)), dec in zip(STREAMS.items(), decoded, strict=True):
        if not dec.get("xml"):
            print(f"{name}: EXIficient failed: {dec.get('err')}")
            continue
        reference = canonical(etree.fromstring(dec["xml"].encode()))
        back = exi.decode(bytes.fromhex(made[name]), schema)
        ours = canonical(to_xml(back, schema))
        if back != tree or ours != reference:
            print(f"{name}: differs\n  ref {reference}\n  our {ours}\n  tree {back}")
            continue
        rows.append({"case": name, "schema": schema, "hex": made[name], "c14n": reference,
                     "json": back, "made_by": "chargescope"})
    cases.update(FRAGMENTS)
    cases.update(STREAMS)
    print(f"{len(rows)} of {len(cases)} cases agree")
    if args.update:
        OUT.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
