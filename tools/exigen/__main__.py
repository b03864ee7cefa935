"""python -m tools.exigen --schemas DIR --out dissectors/exi/generated [--only NAME...]"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import LOOP_ABOVE, SCHEMA_SETS
from .emit import render
from .grammar import GrammarSet
from .xsd import SchemaSet


def generate(schemas: Path, name: str) -> str:
    root, namespace = SCHEMA_SETS[name]
    schema_set = SchemaSet(schemas / root, schemas)
    if schema_set.root_namespace != namespace:
        raise SystemExit(f"{root}: namespace {schema_set.root_namespace}, expected {namespace}")
    return render(name, namespace, root, GrammarSet(schema_set, LOOP_ABOVE.get(name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.exigen", description=__doc__)
    parser.add_argument("--schemas", type=Path, required=True,
                        help="folder iso15118/shared/schemas of the iso15118 package")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=sorted(SCHEMA_SETS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        (args.out / f"{name}.py").write_text(generate(args.schemas, name))
        print(f"wrote {args.out / (name + '.py')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
