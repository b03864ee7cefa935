"""Capture anonymisation for sharing: consistent, keyed, same-length pseudonyms.

`Pseudonymizer` maps each identifier (MAC, IP, EVCCID, EVSEID, eMAID, idTag, ...) the
same way every time for one key; `collect_identifiers` finds the identifiers in the
decoded messages; `anonymize_files` rewrites captures frame by frame.
"""

from chargescope.analyzer.anonymize.pseudonym import Pseudonymizer
from chargescope.analyzer.anonymize.run import AnonymizeReport, anonymize_files

__all__ = ["AnonymizeReport", "Pseudonymizer", "anonymize_files"]
