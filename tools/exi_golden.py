"""Regenerate the EXIficient-checked golden sets under tests/data/exi/.

    python -m tools.exi_golden --oracle-python PY --jar EXICodec.jar [--generated N] [--update]

corpus_golden.jsonl: real V2G messages cross-checked with EXIficient.
generated_golden.jsonl (with --generated N): N random schema-valid messages per schema set
(hypothesis, derandomised, message roots only), kept when EXIficient encodes the same tree to
exactly our bytes; `reference_decodes_equal` says whether its JSON binding also gives the
tree back (it does not for a supportedAppProtocolRes without SchemaID, to which it adds 0,
nor for HMACOutputLength, which it binds as a list).

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
OUT_GENERATED = REPO / "tests" / "data" / "exi" / "generated_golden.jsonl"
GENERATED_SCHEMAS = ("appHand", "din", "iso2", "iso20_CommonMessages", "iso20_AC", "iso20_DC")
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


def generated(per_schema: int) -> list[dict]:
    """Random message trees (tests/exi_trees.py strategy) with our encoding."""
    import sys

    from hypothesis import HealthCheck, Phase, given, settings

    from chargescope.dissectors import exi
    from chargescope.dissectors.exi.tables import grammar

    sys.path.insert(0, str(REPO))
    from tests.exi_trees import trees

    rows = []
    for schema in GENERATED_SCHEMAS:
        g = grammar(schema)
        roots = tuple(r[0] for r in g.document[1] if r[0] == "V2G_Message" or (
            schema.startswith(("iso20", "appHand")) and r[0].endswith(("Req", "Res"))))
        got: list[dict] = []

        @settings(max_examples=per_schema, database=None, derandomize=True, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(trees(schema, roots))
        def collect(tree: dict) -> None:
            got.append(tree)  # noqa: B023  (collect runs inside this iteration)

        collect()
        rows += [{"schema": schema, "namespace": exi.SCHEMAS[schema],
                  "hex": exi.encode(t, schema).hex().upper(), "json": t} for t in got]
    return rows


def oracle(args: argparse.Namespace, lines: str) -> list[dict]:
    done = subprocess.run([args.oracle_python, str(Path(__file__).with_name(
        "exificient_oracle.py")), args.jar], input=lines, capture_output=True, text=True,
        check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def main_generated(args: argparse.Namespace) -> None:
    rows = generated(args.generated)
    refs = oracle(args, "".join(json.dumps({k: r[k] for k in ("namespace", "hex", "json")})
                                + "\n" for r in rows))
    kept = []
    for row, ref in zip(rows, refs, strict=True):
        if ref.get("encoded") != row["hex"]:
            continue  # the reference's JSON binding cannot take this tree (or disagrees)
        equal = ref["json"] is not None and json.loads(ref["json"]) == row["json"]
        kept.append({"schema": row["schema"], "hex": row["hex"], "json": row["json"],
                     "reference_decodes_equal": equal})
    print(f"{len(kept)} of {len(rows)} generated messages encoded identically by EXIficient")
    if args.update:
        OUT_GENERATED.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
        print(f"wrote {OUT_GENERATED}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracle-python", required=True)
    parser.add_argument("--jar", required=True)
    parser.add_argument("--update", action="store_true")
    parser.add_argument("--generated", type=int, default=0,
                        help="write generated_golden.jsonl from N random messages per schema")
    args = parser.parse_args()
    if args.generated:
        main_generated(args)
        return
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
