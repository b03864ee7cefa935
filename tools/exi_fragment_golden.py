"""Regenerate tests/data/exi/fragments/*.jsonl: EXI fragments made by EXIficient.

    python -m tools.exi_fragment_golden --oracle-python PY --jar EXICodec.jar [--update]

The signed elements of ISO 15118-2 and -20 (and SignedInfo) are taken from the reference
vectors in ../shared/corpus/exi-reference (every instance inside a message, several per
element) and handed to EXIficient (through tools/exificient_fragment_oracle.py in an interpreter with
py4j) twice: as XML, encoded in fragment mode with the codec's own precompiled grammar (the
golden bytes), and as JSON exactly as the iso15118 package does when it signs
(EXICodec.encode(json, namespace), which switches to fragment mode for these elements); the
vector records whether that path gave the same bytes. A vector is {"schema", "element",
"content", "hex", "source", "iso15118_json_path"}; `content` is the element's JSON form. Without --update it prints the agreement summary only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "data" / "exi" / "fragments"
VECTORS = REPO.parent / "shared" / "corpus" / "exi-reference"
PER_ELEMENT = 4

# schema -> (vector folders to search, elements EXIficient encodes as fragments there)
SIGNED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "iso2": (("iso2",), ("AuthorizationReq", "CertificateInstallationReq",
                         "ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey",
                         "DHpublickey", "MeteringReceiptReq", "SalesTariff", "eMAID")),
    "iso20_CommonMessages": (("iso20_CommonMessages",),
                             ("OEMProvisioningCertificateChain", "PnC_AReqAuthorizationMode",
                              "SignedInstallationData", "SignedMeteringData",
                              "AbsolutePriceSchedule", "PriceLevelSchedule")),
    "xmldsig": (("iso2", "iso20_CommonMessages", "iso20_AC", "iso20_DC"), ("SignedInfo",)),
}
# the codec's precompiled grammar per schema (a field of EXIficient's AbstractEXICodec)
GRAMMAR = {"iso2": "iso15118_2_Grammar", "iso20_CommonMessages":
           "iso15118_20_V2G_CI_CommonMessages", "xmldsig": "core_schema_Protocol"}


def _walk(node, names: tuple[str, ...], found: list) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in names:
                for item in value if isinstance(value, list) else [value]:
                    found.append((key, item))
            _walk(value, names, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, names, found)


def _as_iso15118_signs(signed_info: dict) -> dict:
    """SignedInfo as the iso15118 package builds it (create_signature): no Id, one
    Transform per Reference with only its Algorithm, no HMACOutputLength."""
    def reference(ref: dict) -> dict:
        out = {k: ref[k] for k in ("Id", "URI", "Type") if k in ref and k == "URI"}
        transforms = ref.get("Transforms", {}).get("Transform", [])
        if transforms:
            out["Transforms"] = {"Transform": [{"Algorithm": t["Algorithm"]}
                                               for t in transforms[:1]]}
        out["DigestMethod"] = {"Algorithm": ref["DigestMethod"]["Algorithm"]}
        out["DigestValue"] = ref["DigestValue"]
        return out
    return {"CanonicalizationMethod": {
                "Algorithm": signed_info["CanonicalizationMethod"]["Algorithm"]},
            "SignatureMethod": {"Algorithm": signed_info["SignatureMethod"]["Algorithm"]},
            "Reference": [reference(r) for r in signed_info["Reference"]]}


def instances() -> list[dict]:
    from chargescope.dissectors import exi

    jobs = []
    for schema, (folders, names) in SIGNED.items():
        seen: dict[str, list[str]] = {name: [] for name in names}
        for folder in folders:
            for path in sorted((VECTORS / folder).glob("*.jsonl")):
                for line in path.read_text().splitlines():
                    vector = json.loads(line)
                    found: list = []
                    _walk(vector["json"], names, found)
                    if "SignedInfo" in names:
                        found += [("SignedInfo", _as_iso15118_signs(c)) for n, c in found]
                    for name, content in found:
                        g = exi.grammar(schema)
                        if not isinstance(content, dict) and g.fragment[1][
                                g.fragment_index[name]][2] == 0:
                            # a qname declared with several types (eMAID: simple in one
                            # message, with an Id attribute in another) has the relaxed
                            # element-fragment grammar: always an object, text as "value"
                            content = {"value": content}
                        text = json.dumps(content, sort_keys=True)
                        if text in seen[name] or len(seen[name]) >= PER_ELEMENT * (2 if name == "SignedInfo" else 1):
                            continue
                        seen[name].append(text)
                        jobs.append({"schema": schema, "element": name, "content": content,
                                     "namespace": exi.schema_name(schema) and (
                                         exi.FRAGMENT_SCHEMAS.get(schema)
                                         or exi.SCHEMAS[schema]),
                                     "source": f"{folder}/{path.stem}/{vector['variant']}"})
    return jobs


def main(argv: list[str] | None = None) -> int:
    from chargescope.dissectors import exi

    parser = argparse.ArgumentParser(prog="python -m tools.exi_fragment_golden",
                                     description=__doc__)
    parser.add_argument("--oracle-python", required=True)
    parser.add_argument("--jar", required=True)
    parser.add_argument("--update", action="store_true")
    args = parser.parse_args(argv)
    from chargescope.dissectors.exi.xml import fragment_to_xml

    jobs = instances()
    lines = []
    for j in jobs:
        xml = etree.tostring(fragment_to_xml(j["element"], j["content"], j["schema"])).decode()
        lines.append(json.dumps({"xml": xml, "grammar": GRAMMAR[j["schema"]],
                                 "fragment": True}))
        lines.append(json.dumps({"json": {j["element"]: j["content"]},
                                 "namespace": j["namespace"]}))
    done = subprocess.run([args.oracle_python, str(Path(__file__).with_name(
        "exificient_fragment_oracle.py")), args.jar], input="\n".join(lines) + "\n",
        capture_output=True, text=True, check=True)
    results = [json.loads(x) for x in done.stdout.splitlines()]
    rows: dict[str, list[dict]] = {}
    agree = differ = 0
    paths: dict[str, int] = {}
    for i, job in enumerate(jobs):
        by_xml, by_json = results[2 * i], results[2 * i + 1]
        ours = exi.encode_fragment(job["element"], job["content"], job["schema"]).hex().upper()
        back = exi.decode_fragment(bytes.fromhex(by_xml["hex"]), job["schema"]) if by_xml.get(
            "hex") else None
        if ours != by_xml.get("hex") or back != {job["element"]: job["content"]}:
            differ += 1
            print(f"differ: {job['source']} {job['element']}: {by_xml.get('err')}\n"
                  f"  ref {str(by_xml.get('hex'))[:160]}\n  our {ours[:160]}")
            continue
        # the iso15118 package's own path (JSON through JAXB); it rebuilds some elements
        # from a subset of their fields (SignedInfo without Id/XPath, ...), so it may differ
        json_path = ("same" if by_json.get("hex") == ours else
                     "differs" if by_json.get("hex") else "fails")
        paths[json_path] = paths.get(json_path, 0) + 1
        agree += 1
        rows.setdefault(job["schema"], []).append(
            {"schema": job["schema"], "element": job["element"], "content": job["content"],
             "hex": ours, "source": job["source"], "iso15118_json_path": json_path})
    print(f"{agree} agree, {differ} differ; iso15118 JSON path: {paths}")
    if args.update:
        OUT.mkdir(parents=True, exist_ok=True)
        for schema, items in rows.items():
            (OUT / f"{schema}.jsonl").write_text(
                "".join(json.dumps(x, sort_keys=True) + "\n" for x in items))
            print(f"wrote {OUT / (schema + '.jsonl')} ({len(items)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
