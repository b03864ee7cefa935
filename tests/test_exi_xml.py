"""XML output: canonical XML identical to EXIficient's for every reference vector.

tests/data/exi/reference_xml_c14n.json holds SHA-256 digests of EXIficient's XML (C14N 2.0,
prefixes rewritten), written by `python -m tools.exi_xml_golden --update`.
"""

from __future__ import annotations

import hashlib
import json

from chargescope.dissectors import exi
from chargescope.dissectors.exi.xml import canonical, to_xml, to_xml_bytes
from tests.conftest import DATA, corpus_path

DIGESTS = json.loads((DATA / "exi" / "reference_xml_c14n.json").read_text())


def test_xml_matches_exificient_on_all_reference_vectors():
    root = corpus_path("exi-reference")
    checked = 0
    for path in sorted(root.glob("*/*.jsonl")):
        for line in path.read_text().splitlines():
            v = json.loads(line)
            xml = to_xml(exi.decode(bytes.fromhex(v["hex"]), v["namespace"]), v["namespace"])
            digest = hashlib.sha256(canonical(xml).encode()).hexdigest()
            key = f"{v['namespace']}|{v['message']}|{v['variant']}"
            assert digest == DIGESTS[key], key
            checked += 1
    assert checked == len(DIGESTS) == 420


def test_xml_uses_schema_namespaces_and_order():
    tree = {"supportedAppProtocolRes": {"SchemaID": 1, "ResponseCode": "OK_SuccessfulNegotiation"}}
    text = to_xml_bytes(tree, "appHand").decode()
    assert text.index("ResponseCode") < text.index("SchemaID")  # schema order, not key order
    assert 'xmlns:n0="urn:iso:15118:2:2010:AppProtocol"' in text
