"""Regenerate the SLAC golden files: `chargescope slac --json` documents of corpus captures.

    python tools/slac_golden.py            # compare; exit 1 and list what differs
    python tools/slac_golden.py --update   # rewrite tests/data/homeplug/*.slac.json

Review the diff of an update like any code change (the files pin decoder fields, runs,
verdicts and finding codes on real captures).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "pcaps"
GOLDEN = REPO / "tests" / "data" / "homeplug"

# golden name -> capture path under the corpus pcaps folder
CASES: dict[str, str] = {
    "taycan_left_slacfail": "uhi22+pyPLC/2023-05-03_TaycanLeftside_slacFail.pcapng",
    "multi_evse": "dspace-group+dsV2Gshark/ISO-2_DC_multi_EVSE_SLAC_DS5366_Josev.pcapng",
    "audi_q4_ac_iso2": "EVerest+logfiles/Audi/Q4/ac_iso2-1.dump",
    "dspace_din_cp_states": "dspace-group+dsV2Gshark/DIN_DC_DS5366_Josev.pcapng",
    "listen_mode_broadcast_only": "uhi22+pyPLC/2025-01-21_listenMode_01_slow_and_only_broadcast_visible.pcapng",
}


def document(name: str) -> dict[str, Any]:
    from chargescope.analyzer.slac.capture import analyze_capture
    from chargescope.analyzer.slac.report import capture_json

    doc = capture_json(analyze_capture(CORPUS / CASES[name]))
    doc["capture"] = CASES[name]
    # Findings' evidence and problem texts name the capture by its absolute path, which
    # differs per checkout (CI clones elsewhere): pin the corpus-relative name instead.
    text = json.dumps(doc).replace(json.dumps(str(CORPUS / CASES[name]))[1:-1], CASES[name])
    return json.loads(text)


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.slac.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the golden files")
    args = parser.parse_args(argv)
    if not CORPUS.exists():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    differs = 0
    for name in CASES:
        doc = document(name)
        path = golden_path(name)
        if args.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
            print(f"wrote {path.relative_to(REPO)}")
        elif not path.exists() or json.loads(path.read_text()) != doc:
            differs += 1
            print(f"differs: {path.relative_to(REPO)}")
    return 1 if differs else 0


if __name__ == "__main__":
    raise SystemExit(main())
