"""Which captures form one analysis (a group), and the group's identity.

Conventions (documented in `chargescope batch --help` and the README):

* ``--group-by file`` (default): every capture file is its own group.
* ``--group-by dir``: all capture files in one directory are the sources of one
  capture set (e.g. the PLC sniffer, the CSMS tcpdump and the OCPI gateway log of one
  test run); a ``site.toml`` in that directory is its site map.
* ``--manifest FILE``: a TOML file with ``[[group]]`` tables (``name``, ``files``: a
  list of paths relative to the manifest, optional ``site``) — whatever the layout.

A group's key is the SHA-256 of its files' contents (and site map), so a renamed or
moved capture is still recognised as analysed, and a changed one is analysed again.
"""

from __future__ import annotations

import glob
import hashlib
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.cli.common import SOURCE_SUFFIXES

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    files: tuple[str, ...]
    site: str | None = None

    def key(self, limits: Limits | None = None) -> str:
        """Content hash of the files (and site map), plus every cap `limits` changes from
        the default: a batch run again with another --limit analyses the group again,
        while default caps keep the keys datasets written before caps existed."""
        digest = hashlib.sha256()
        for path in sorted(self.files) + ([self.site] if self.site else []):
            digest.update(b"\0file\0")
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
        for name, value in changed_limits(limits or DEFAULT_LIMITS):
            digest.update(f"\0limit\0{name}={value}".encode())
        return digest.hexdigest()


def changed_limits(limits: Limits) -> list[tuple[str, int]]:
    """(field, value) of every cap of `limits` that differs from the default, by name."""
    return [(f.name, getattr(limits, f.name)) for f in fields(limits)
            if getattr(limits, f.name) != getattr(DEFAULT_LIMITS, f.name)]


class PlanError(ValueError):
    """The inputs or the manifest are not usable; the message says which and why."""


def _expand(patterns: list[str]) -> list[Path]:
    out: list[Path] = []
    for pattern in patterns:
        matches = [Path(p) for p in sorted(glob.glob(pattern, recursive=True))] or [Path(pattern)]
        for path in matches:
            if path.is_dir():
                out.extend(sorted(p for p in path.rglob("*")
                                  if p.is_file() and p.name.lower().endswith(SOURCE_SUFFIXES)))
            elif path.is_file():
                out.append(path)
            else:
                raise PlanError(f"{pattern}: no such file or directory")
    return list(dict.fromkeys(out))


def plan(patterns: list[str], group_by: str = "file", manifest: str | None = None) -> list[Group]:
    if manifest:
        return _from_manifest(Path(manifest))
    files = _expand(patterns)
    if group_by == "file":
        return [Group(str(p), (str(p),)) for p in files]
    if group_by != "dir":
        raise PlanError(f"--group-by must be 'file' or 'dir', not {group_by!r}")
    by_dir: dict[Path, list[str]] = {}
    for path in files:
        by_dir.setdefault(path.parent, []).append(str(path))
    groups = []
    for folder, members in by_dir.items():
        site = folder / "site.toml"
        groups.append(Group(str(folder), tuple(members), str(site) if site.is_file() else None))
    return groups


def _from_manifest(path: Path) -> list[Group]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PlanError(f"{path}: cannot read manifest: {exc}") from exc
    groups = []
    for n, entry in enumerate(doc.get("group", []), 1):
        files = entry.get("files")
        if not isinstance(files, list) or not files:
            raise PlanError(f"{path}: group #{n} needs a non-empty 'files' list")
        resolved = [str((path.parent / f).resolve()) for f in files]
        missing = [f for f in resolved if not Path(f).is_file()]
        if missing:
            raise PlanError(f"{path}: group #{n}: missing file(s) {', '.join(missing)}")
        site = entry.get("site")
        groups.append(Group(str(entry.get("name", f"group{n}")), tuple(resolved),
                            str((path.parent / site).resolve()) if site else None))
    if not groups:
        raise PlanError(f"{path}: no [[group]] tables")
    return groups
