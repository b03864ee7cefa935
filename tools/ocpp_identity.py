"""Dump every OCPP/WebSocket Message of the OCPP inputs, to compare two code versions.

    python -m tools.ocpp_identity OUT.jsonl [--extra PCAP ...]

Reads every capture under tests/data and captures/, the OCPP log files of tests/data and
the corpus's EVerest OCPP logs, and writes one JSON line per Message (link B protocols:
name, time, ends, fields, byte references, problems) plus the pipeline stats of each
capture. Run it before and after a change (and with CHARGESCOPE_PUREPYTHON=1 for the
twins), then `cmp` the files: performance work on the OCPP path must leave them equal,
the order of every Message's field keys included (records are written in their own order).
Paths are written relative to their root, so runs from different checkouts compare.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def _inputs(extra: list[Path]) -> list[tuple[str, Path]]:
    caps = sorted(p for root in (REPO / "tests" / "data", REPO / "captures")
                  for p in root.rglob("*") if p.suffix in (".pcap", ".pcapng"))
    logs = sorted(p for p in (REPO / "tests" / "data" / "ocpp").glob("*")
                  if p.suffix in (".log", ".jsonl"))
    logs += sorted((CORPUS / "vectors").rglob("ocpp/*.log")) if CORPUS.is_dir() else []
    out = [("capture", p) for p in caps] + [("log", p) for p in logs]
    return out + [("capture", p) for p in extra]


def _name(path: Path) -> str:
    for root in (REPO, CORPUS):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return path.name


def _record(item: Any) -> dict:
    from chargescope.analyzer.records import Message

    if isinstance(item, Message):
        return {"name": item.name, "protocol": item.protocol, "ts": item.ts_ns,
                "src": item.src, "dst": item.dst, "fields": item.fields,
                "refs": [list(r) if isinstance(r, tuple) else repr(r) for r in item.refs],
                "problems": [repr(p) for p in item.problems]}
    return {"problem": repr(item)}


def dump(out: Path, extra: list[Path]) -> int:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.ocpp.logs import read_log
    from chargescope.analyzer.pipeline import Pipeline

    lines = 0
    with out.open("w") as fh:
        for kind, path in _inputs(extra):
            name = _name(path)
            if kind == "capture":
                pipeline = Pipeline()
                with open_capture(path) as cap:
                    items = list(pipeline.run(cap.frames()))
                stats = pipeline.stats.as_dict()
            else:
                items = list(read_log(path))
                stats = {}
            for item in items:
                if getattr(item, "protocol", "ocpp") not in ("ocpp", "websocket"):
                    continue  # other links; Problems (no protocol) are kept
                # key order kept: a Message's fields are serialised in their order, so a
                # change of order is a change of output
                fh.write(json.dumps({"input": name, **_record(item)}, default=repr) + "\n")
                lines += 1
            fh.write(json.dumps({"input": name, "stats": stats}, sort_keys=True,
                                default=repr) + "\n")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ocpp_identity", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--extra", type=Path, nargs="*", default=[],
                        help="more captures (e.g. the benchmark's synthetic one)")
    args = parser.parse_args(argv)
    print(f"{dump(args.out, args.extra)} records -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
