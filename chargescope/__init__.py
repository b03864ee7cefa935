"""chargescope: a protocol analyzer for EV charging sessions.

The import root. Sub-packages live in top-level folders of the repository
(`analyzer/`, `dissectors/`, `ext/`, `tui/`, `plugins/`) and are mapped here by
setuptools' package-dir, so nothing generic lands in site-packages.
"""

__version__ = "0.1.0"


def open(paths, site=None, limits=None):  # noqa: A001 - the notebook API is `chargescope.open`
    """Analyse captures from Python: ``chargescope.open(["a.pcapng", "b.pcap"]).sessions``.

    `paths` is one path or a list (each file one capture source with its own clock);
    `site` an optional site map path; `limits` an optional
    `chargescope.analyzer.limits.Limits` (resource caps). Returns an `Analysis` with `.sessions`,
    `.findings`, `.messages`, `.problems` and `.dataframes()`.
    """
    from pathlib import Path

    from chargescope.analyzer.analysis import analyze
    from chargescope.analyzer.correlate import SiteMap

    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            from chargescope.cli.common import SOURCE_SUFFIXES, expand_captures

            files.extend(expand_captures((path,), SOURCE_SUFFIXES))
        else:
            files.append(path)
    from chargescope.analyzer.limits import DEFAULT_LIMITS

    return analyze(files, SiteMap.load(site) if site else None, keep_messages=True,
                   limits=limits or DEFAULT_LIMITS)
