"""Golden files for link B: the analysis of every fixture in tests/data/ocpp, reduced.

    python tools/update_ocpp_golden.py            # compare, exit 1 on a difference
    python tools/update_ocpp_golden.py --update   # rewrite tests/data/ocpp/*.golden.json

The reduced form keeps what must not change silently (message names, ids, actions,
schema verdicts, problem kinds, frame numbers, transactions, status timeline, finding
codes with severities, requirements and evidence frames) and leaves out sentences.
Review the diff of a rewrite like a snapshot update before committing it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "ocpp"
INPUTS = ("ocpp16_basic.pcap", "ocpp201_deflate.pcap", "ocpp21_nocontext.pcap",
          "ocpp16_unauthorized.pcap", "ocpp16_badframe.pcap", "ocpp16_basic.jsonl",
          "ocpp201_deflate.log")


def reduced(path: Path) -> dict:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.ocpp import analyze
    from chargescope.analyzer.ocpp.logs import is_log_file, read_log
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.cli.ocpp import transaction_id

    if is_log_file(path):
        messages = list(read_log(path))
    else:
        with open_capture(path) as cap:
            messages = [m for m in Pipeline().run(cap.frames()) if hasattr(m, "protocol")]
    report = analyze(messages)

    def frame(m):
        return m.refs[0].frame if m.refs else 0

    return {
        "messages": [[frame(m), m.protocol, m.name, m.fields.get("direction"),
                      m.fields.get("unique_id"), m.fields.get("message_type"),
                      transaction_id(m.fields), m.fields.get("schema"),
                      [p.kind for p in m.problems]] for m in messages],
        "chargers": [{
            "charge_point_id": c.charge_point_id, "boot": c.boot,
            "boot_statuses": [s for _, s in c.boot_statuses],
            "heartbeat_interval": c.heartbeat_interval, "ocpp_versions": list(c.ocpp_versions),
            "status_timeline": [[s.evse_id, s.connector_id, s.status, s.error_code]
                                for s in c.status_timeline],
            "transactions": [{k: v for k, v in t.as_dict().items()
                              if k not in ("started_ns", "ended_ns")} for t in c.transactions],
        } for c in report.chargers],
        "findings": [[f.code, str(f.severity), f.requirement, [frame(m) for m in f.evidence]]
                     for f in report.findings],
    }


def golden_path(name: str) -> Path:
    return DATA / f"{name}.golden.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite the golden files")
    args = parser.parse_args()
    status = 0
    for name in INPUTS:
        doc = json.loads(json.dumps(reduced(DATA / name)))
        path = golden_path(name)
        if args.update:
            path.write_text(json.dumps(doc, indent=1) + "\n")
            print(f"wrote {path.name}")
        elif not path.exists() or json.loads(path.read_text()) != doc:
            print(f"DIFFERS: {path.name}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
