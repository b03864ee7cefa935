"""python -m tools.ocppschemagen [--check]: write (or compare) the compiled OCPP schemas.

Writes ext/_ocppschema.pyx (Cython hot path "ocppschema") and its pure-Python twin
dissectors/ocpp/generated/schemacheck.py from the schemas of the installed `ocpp` package.
"""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path

from . import load_schemas
from .emit import render_all

REPO = Path(__file__).resolve().parents[2]
PYX = REPO / "ext" / "_ocppschema.pyx"
TWIN = REPO / "dissectors" / "ocpp" / "generated" / "schemacheck.py"


def generate() -> tuple[str, str]:
    """(Cython source, pure-Python twin source) from the installed `ocpp` schemas."""
    return render_all(load_schemas(), f"ocpp {metadata.version('ocpp')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ocppschemagen", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    args = parser.parse_args(argv)
    pyx, twin = generate()
    if args.check:
        stale = [str(p) for p, text in ((PYX, pyx), (TWIN, twin))
                 if not p.is_file() or p.read_text() != text]
        for path in stale:
            print(f"differs from the generator: {path}")
        return 1 if stale else 0
    PYX.write_text(pyx)
    TWIN.parent.mkdir(parents=True, exist_ok=True)
    init = TWIN.parent / "__init__.py"
    if not init.exists():
        init.write_text('"""Code generated from the OCPP JSON schemas (tools/ocppschemagen)."""\n')
    TWIN.write_text(twin)
    print(f"wrote {PYX.relative_to(REPO)} and {TWIN.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
