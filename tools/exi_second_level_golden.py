"""Regenerate tests/data/exi/second_level.jsonl: strict=false second-level events, by EXIficient.

    python -m tools.exi_second_level_golden --oracle-python PY --jar EXICodec.jar [--update]

Each case is an XML instance using what the V2G profile's strict=false allows beyond the
schema (xsi:nil, xsi:type, undeclared elements and attributes, characters in element-only
content, wildcard content). EXIficient (tools/exificient_fragment_oracle.py, py4j) encodes it
with the iso15118 package codec's own grammar and options, then decodes its stream back to
XML. A vector is {"case", "schema", "hex", "c14n", "json"}: EXIficient's bytes, the canonical
form (C14N 2.0, prefixes rewritten) of EXIficient's XML for them, and our decoded tree. Only
cases where our decoder reads the bytes, re-encodes them identically and writes the same
canonical XML are kept; the others are printed.
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

# case -> (schema, grammar field of EXIficient's codec, XML)
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
}
GRAMMAR = {"iso2": "iso15118_2_Grammar", "din": "dinspec_70121",
           "iso20_CommonMessages": "iso15118_20_V2G_CI_CommonMessages",
           "xmldsig": "core_schema_Protocol"}


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
    names = list(CASES)
    jobs = "".join(json.dumps({"xml": CASES[n][1], "grammar": GRAMMAR[CASES[n][0]],
                               "fragment": False}) + "\n" for n in names)
    encoded = [json.loads(x) for x in subprocess.run(
        oracle, input=jobs, capture_output=True, text=True, check=True).stdout.splitlines()]
    jobs = "".join(json.dumps({"hex": e.get("hex") or "80", "grammar": GRAMMAR[CASES[n][0]],
                               "fragment": False}) + "\n" for n, e in zip(names, encoded,
                                                                         strict=True))
    decoded = [json.loads(x) for x in subprocess.run(
        oracle, input=jobs, capture_output=True, text=True, check=True).stdout.splitlines()]
    rows = []
    for name, enc, dec in zip(names, encoded, decoded, strict=True):
        schema = CASES[name][0]
        if not enc.get("hex") or not dec.get("xml"):
            print(f"{name}: EXIficient failed: {enc.get('err') or dec.get('err')}")
            continue
        reference = canonical(etree.fromstring(dec["xml"].encode()))
        data = bytes.fromhex(enc["hex"])
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
    print(f"{len(rows)} of {len(CASES)} cases agree")
    if args.update:
        OUT.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
