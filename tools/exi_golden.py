"""Regenerate tests/data/exi/corpus_golden.jsonl: real V2G messages cross-checked with EXIficient.

    python -m tools.exi_golden --oracle-python PY --jar EXICodec.jar [--update]

Runs the capture pipeline over ../shared/corpus/pcaps, records every EXI payload the V2GTP
layer decodes, keeps a spread of sizes per (schema, message) and asks EXIficient (through
tools/exificient_oracle.py in an interpreter with py4j) for its JSON. Only messages on which
both codecs agree are written, with the reference JSON; disagreements are printed for
review. Without --update it prints the diff summary and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "data" / "exi" / "corpus_golden.jsonl"
PCAPS = REPO.parent / "shared" / "corpus" / "pcaps"


def collect() -> list[tuple[str, str, str, str]]:
    """(schema, message, hex, capture) samples from the corpus captures."""
    import chargescope.dissectors.v2gtp as v2gtp
    from chargescope.analyzer.capture.merge import iter_frames
    from chargescope.analyzer.pipeline import Pipeline

    seen: dict[tuple[str, str], tuple[str, str]] = {}
    original = v2gtp.default_exi_decoder
    current = [""]

    def recording(data: bytes, schema: str) -> dict:
        tree = original(data, schema)
        seen.setdefault((schema, bytes(data).hex().upper()),
                        (v2gtp.message_name(tree), current[0]))
        return tree

    v2gtp.default_exi_decoder = recording
    try:
        for path in sorted(PCAPS.rglob("*")):
            if path.suffix in (".pcap", ".pcapng", ".dump"):
                current[0] = str(path.relative_to(PCAPS))
                for _ in Pipeline().run(iter_frames([path])):
                    pass
    finally:
        v2gtp.default_exi_decoder = original
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for (schema, hex_), (name, capture) in seen.items():
        groups[(schema, name)].append((hex_, capture))
    picked = []
    for (schema, name), items in sorted(groups.items()):
        items.sort(key=lambda it: (len(it[0]), it[0]))
        idx = sorted({0, len(items) - 1, len(items) // 2, *range(0, len(items),
                                                                  max(1, len(items) // 5))})
        picked += [(schema, name, items[i][0], items[i][1]) for i in idx]
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracle-python", required=True)
    parser.add_argument("--jar", required=True)
    parser.add_argument("--update", action="store_true")
    args = parser.parse_args()
    from chargescope.dissectors import exi

    samples = collect()
    lines = "".join(f"{exi.SCHEMAS[s]} {h}\n" for s, _, h, _ in samples)
    done = subprocess.run([args.oracle_python, str(Path(__file__).with_name(
        "exificient_oracle.py")), args.jar], input=lines, capture_output=True, text=True,
        check=True)
    rows, disagreements = [], 0
    for (schema, name, hex_, capture), line in zip(samples, done.stdout.splitlines(),
                                                   strict=True):
        ref = json.loads(line)
        ours = exi.decode(bytes.fromhex(hex_), schema)
        if ref["json"] is None or json.loads(ref["json"]) != ours:
            disagreements += 1
            print(f"disagree: {schema} {name} {capture} {hex_[:40]}... "
                  f"reference: {ref['err'] or ref['json'][:200]}")
            continue
        rows.append({"schema": schema, "message": name, "capture": capture, "hex": hex_,
                     "json": json.loads(ref["json"])})
    print(f"{len(rows)} agree, {disagreements} disagree")
    if args.update:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
