"""Key material known before the first frame: ``--keylog`` files and pcapng DSBs.

    keylog = load_key_logs(paths)                  # KeyLog from NSS key log files
    for frame in frames_with_secrets(capture, keylog):   # adds each TLS DSB as it is read
        ...
    Pipeline(keylog=keylog).run(...)               # in-band UDP lines are added by the pipeline
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from chargescope.analyzer.capture.model import SECRETS_TLS_KEY_LOG
from chargescope.analyzer.records import Frame
from chargescope.analyzer.tls.keylog import KeyLog


def load_key_logs(paths: Iterable[Path] = ()) -> KeyLog:
    """A KeyLog holding every entry of the given NSS key log files."""
    keylog = KeyLog()
    for path in paths:
        keylog.add_file(Path(path))
    return keylog


def add_capture_secrets(capture: Any, keylog: KeyLog, start: int = 0) -> int:
    """Add the TLS key log DSBs of `capture.secrets[start:]`; the new count of DSBs seen."""
    secrets = capture.secrets
    for index in range(start, len(secrets)):
        secret = secrets[index]
        if secret.type == SECRETS_TLS_KEY_LOG:
            keylog.add_text(secret.data, f"{capture.source} DSB#{index}")
    return len(secrets)


def frames_with_secrets(capture: Any, keylog: KeyLog) -> Iterator[Frame]:
    """The capture's frames; each Decryption Secrets Block goes into `keylog` as soon as the
    reader has met it (pcapng puts DSBs before the packets that need them)."""
    seen = 0
    for batch in capture.batches():
        if len(capture.secrets) != seen:
            seen = add_capture_secrets(capture, keylog, seen)
        yield from batch
    add_capture_secrets(capture, keylog, seen)
