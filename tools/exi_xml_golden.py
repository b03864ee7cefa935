"""Regenerate tests/data/exi/reference_xml_c14n.json: EXIficient's XML for every reference
vector, as SHA-256 digests of its C14N 2.0 form (prefixes rewritten), so the test can check
`dissectors.exi.xml.to_xml` against it without storing megabytes of XML.

    python -m tools.exi_xml_golden --oracle-python PY --jar EXICodec.jar [--update]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "data" / "exi" / "reference_xml_c14n.json"
VECTORS = REPO.parent / "shared" / "corpus" / "exi-reference"


def c14n_digest(root: etree._Element) -> str:
    """SHA-256 of the C14N 2.0 form with prefixes rewritten (prefixes carry no meaning here)."""
    from chargescope.dissectors.exi.xml import canonical

    return hashlib.sha256(canonical(root).encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracle-python", required=True)
    parser.add_argument("--jar", required=True)
    parser.add_argument("--update", action="store_true")
    args = parser.parse_args()
    vectors = [json.loads(line) for path in sorted(VECTORS.glob("*/*.jsonl"))
               for line in path.read_text().splitlines()]
    lines = "".join(f"{v['namespace']} {v['hex']}\n" for v in vectors)
    done = subprocess.run([args.oracle_python, str(Path(__file__).with_name(
        "exificient_xml_oracle.py")), args.jar], input=lines, capture_output=True, text=True,
        check=True)
    digests = {}
    for v, line in zip(vectors, done.stdout.splitlines(), strict=True):
        ref = json.loads(line)
        key = f"{v['namespace']}|{v['message']}|{v['variant']}"
        digests[key] = c14n_digest(etree.fromstring(ref["xml"].encode()))
    print(f"{len(digests)} reference XML digests")
    if args.update:
        OUT.write_text(json.dumps(digests, indent=0, sort_keys=True) + "\n")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
