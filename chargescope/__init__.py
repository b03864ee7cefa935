"""chargescope: a protocol analyzer for EV charging sessions.

The import root. Sub-packages live in top-level folders of the repository
(`analyzer/`, `dissectors/`, `ext/`, `tui/`, `plugins/`) and are mapped here by
setuptools' package-dir, so nothing generic lands in site-packages.
"""

__version__ = "0.1.0"
