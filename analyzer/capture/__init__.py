"""Capture files into `Frame`s: pcap, pcapng, gzip-compressed, several merged by time.

Public API (other components code against these names):

- `open_capture(path, impl=None, convert=False) -> CaptureFile` (context manager):
  `.frames()` (iterator of `Frame`, one pass) or `.batches()` (the same frames as lists,
  less per-frame overhead), `.format` ("pcap"/"pcapng"), `.interfaces`, `.problems`,
  `.secrets` (+ `.tls_key_log()`), `.names`, `.stats`, counters `.frames_read`,
  `.bytes_read`, `.truncated`, `.malformed` (also as `.counters`);
  `Frame.interface` indexes `.interfaces` (file-wide; tshark 4.0 counts per section);
- `follow_capture(path, follow, stream=None)`: the same for a capture still being written
  (a dumpcap pipe or a growing file): an incomplete block at the end is waited for while
  `follow()` is true;
- `iter_frames(paths)` / `merge_frames(captures)`: several files merged in time order;
- records `Interface`, `Secret`, `NameRecord`, `InterfaceStats`; `NotACaptureError`.

The record walk is the hot path "capture" (`ext/_capture.pyx`, twin `walk.py`).
"""

from chargescope.analyzer.capture.merge import iter_frames, merge_frames
from chargescope.analyzer.capture.model import (
    SECRETS_TLS_KEY_LOG,
    Interface,
    InterfaceStats,
    NameRecord,
    NotACaptureError,
    Secret,
)
from chargescope.analyzer.capture.reader import CaptureFile, follow_capture, open_capture

__all__ = [
    "SECRETS_TLS_KEY_LOG",
    "CaptureFile",
    "Interface",
    "InterfaceStats",
    "NameRecord",
    "NotACaptureError",
    "Secret",
    "follow_capture",
    "iter_frames",
    "merge_frames",
    "open_capture",
]
