"""Regenerate `captures/demo/`: a happy session and a few failures, byte for byte.

    python tools/make_demo_captures.py            # rewrite captures/demo/
    python tools/make_demo_captures.py --check    # exit 1 if the committed files differ

Same as `chargescope simulate dc-pnc-happy auth-rejected-b cablecheck-failure
energy-mismatch --out captures/demo --seed 0` (captures plus `site.toml`), plus the check
mode for CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from chargescope.analyzer.simulate.render import render, site_map
from chargescope.analyzer.simulate.scenarios import SCENARIOS

DEMO = ("dc-pnc-happy", "auth-rejected-b", "cablecheck-failure", "energy-mismatch")
SEED = 0
OUT = Path(__file__).resolve().parent.parent / "captures" / "demo"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing")
    args = parser.parse_args()
    site = site_map([SCENARIOS[name] for name in DEMO])
    if not args.check:
        for name in DEMO:
            for path in render(SCENARIOS[name], OUT, seed=SEED):
                print(f"{path.relative_to(OUT.parent.parent)}  {path.stat().st_size} bytes")
        (OUT / "site.toml").write_text(site, encoding="utf-8")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = [p for name in DEMO for p in render(SCENARIOS[name], Path(tmp), seed=SEED)]
        stale = [p.name for p in fresh
                 if not (OUT / p.name).exists() or (OUT / p.name).read_bytes() != p.read_bytes()]
    if not (OUT / "site.toml").exists() or (OUT / "site.toml").read_text("utf-8") != site:
        stale.append("site.toml")
    for name in stale:
        print(f"differs: captures/demo/{name}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
