"""Digest everything the capture pipeline yields per capture, to compare two code versions.

    python -m tools.pipeline_identity OUT.txt [--full] [--extra PCAP ...]

For every capture under tests/data, captures/ and the corpus's pcaps/, writes one line:
the capture, how many items, and the sha256 of the `repr` of every item `Pipeline().run`
yields (each Message with its fields in key order, refs and problems; each Problem), of
`pipeline.stats.as_dict()` (frames, decoded, malformed, out of scope, protocols, stream
books) and of every item `iter_stream_events` yields (Packets, stream events, Problems).
With `--full` every item is written too (one line each), to find where two runs part.
Run it before and after a change to the decode / reassembly / pipeline layers, with and
without CHARGESCOPE_PUREPYTHON=1, and `cmp` the files. Paths are written relative to
their root, so runs from different checkouts compare.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def inputs(extra: list[Path], corpus: Path) -> list[Path]:
    roots = [REPO / "tests" / "data", REPO / "captures", corpus / "pcaps"]
    found = sorted(p for root in roots if root.is_dir() for p in root.rglob("*")
                   if p.is_file() and p.name.endswith(SUFFIXES))
    return found + list(extra)


def name_of(path: Path, corpus: Path) -> str:
    for root in (REPO, corpus):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return path.name


def _relative(text: str, corpus: Path) -> str:
    """`text` without this checkout's absolute paths (Problems name their source)."""
    return text.replace(str(REPO), "<repo>").replace(str(corpus), "<corpus>")


def items_of(path: Path, corpus: Path) -> tuple[list[str], list[str]] | None:
    """(the pipeline's items and stats, iter_stream_events' items), as reprs; None when
    the file is not a capture chargescope reads."""
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.capture.model import NotACaptureError
    from chargescope.analyzer.pipeline import Pipeline, iter_stream_events

    try:
        with open_capture(path) as cap:
            frames = list(cap.frames())
    except NotACaptureError:
        return None
    pipeline = Pipeline()
    run = [_relative(repr(item), corpus) for item in pipeline.run(iter(frames))]
    run.append(_relative(repr(pipeline.stats.as_dict()), corpus))
    events = [_relative(repr(item), corpus) for item in iter_stream_events(iter(frames))]
    return run, events


def dump(out: Path, extra: list[Path], full: bool, corpus: Path = CORPUS) -> int:
    count = 0
    with out.open("w") as fh:
        for path in sorted(inputs(extra, corpus), key=lambda p: name_of(p, corpus)):
            got = items_of(path, corpus)
            if got is None:
                continue
            name = name_of(path, corpus)
            for label, lines in zip(("run", "events"), got, strict=True):
                digest = hashlib.sha256("\n".join(lines).encode("utf-8", "backslashreplace"))
                fh.write(f"{name} {label} {len(lines)} {digest.hexdigest()}\n")
                if full:
                    for line in lines:
                        fh.write(f"  {line}\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pipeline_identity",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--full", action="store_true", help="write every item, not only digests")
    parser.add_argument("--extra", type=Path, nargs="*", default=[], help="more captures")
    parser.add_argument("--corpus", type=Path, default=CORPUS,
                        help="the shared corpus (default: ../shared/corpus of the checkout)")
    args = parser.parse_args(argv)
    count = dump(args.out, args.extra, args.full, args.corpus.resolve())
    print(f"{count} captures -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
