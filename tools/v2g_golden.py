"""Golden verdicts of every link-A capture in the corpus (tests/data/v2g/corpus_verdicts.json).

    python tools/v2g_golden.py            # compare, print the differences, exit 1 if any
    python tools/v2g_golden.py --update   # rewrite the golden file (review the diff!)

One record per V2G session: protocol, outcome, message count and the finding codes, so any
change in framing, decoding or judgement shows up as a reviewed diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PCAPS = REPO.parent / "shared" / "corpus" / "pcaps"
GOLDEN = REPO / "tests" / "data" / "v2g" / "corpus_verdicts.json"


def current() -> dict[str, list[dict]]:
    from chargescope.cli.v2g import analyse_capture

    out: dict[str, list[dict]] = {}
    for path in sorted(p for p in PCAPS.rglob("*") if p.suffix in (".pcap", ".pcapng", ".dump")):
        report, _problems = analyse_capture(path)
        rows = [{"protocol": s.protocol, "status": s.outcome.status, "stage": s.outcome.stage,
                 "code": s.outcome.code, "messages": len(s.messages),
                 "findings": sorted({f.code for f in s.findings})} for s in report.sessions]
        out[str(path.relative_to(PCAPS))] = rows + [
            {"discovery": sorted({f.code for f in report.findings})}]
    return out


def main() -> int:
    now = current()
    if "--update" in sys.argv:
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}")
        return 0
    golden = json.loads(GOLDEN.read_text())
    diffs = [name for name in sorted(set(now) | set(golden)) if now.get(name) != golden.get(name)]
    for name in diffs:
        print(f"{name}:\n  golden:  {golden.get(name)}\n  now:     {now.get(name)}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
