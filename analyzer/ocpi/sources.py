"""Where link-C Messages come from: captures (through the pipeline), HAR files, JSON-lines logs.

Every input is decoded by one `OcpiDecoder` per source, so endpoints learned from a
versions/details exchange apply to every connection of that source.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from chargescope.analyzer.limits import DEFAULT_LIMITS, Limits
from chargescope.analyzer.records import Message, Problem
from chargescope.dissectors.http.logs import har_messages, jsonl_messages
from chargescope.dissectors.ocpi.decode import OcpiContext, OcpiDecoder
from chargescope.dissectors.ocpi.stream import ocpi_handoff

LOG_SUFFIXES = (".jsonl", ".ndjson")


def is_har(path: Path) -> bool:
    if path.suffix.lower() == ".har":
        return True
    if path.suffix.lower() != ".json":
        return False
    with path.open("rb") as handle:
        head = handle.read(4096)
    return b'"log"' in head and b'"entries"' in head


def is_http_log(path: Path) -> bool:
    """A JSON-lines HTTP log: the first non-blank line is an object with type request/response."""
    if path.suffix.lower() not in LOG_SUFFIXES + (".log", ".json"):
        return False
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip() and not line.lstrip().startswith("#"):
                    entry = json.loads(line)
                    return isinstance(entry, dict) and entry.get("type") in ("request",
                                                                             "response")
    except (OSError, ValueError):
        return False
    return False


def read_http_file(path: Path, *, show_secrets: bool = False) -> Iterator[Message]:
    """OCPI/HTTP Messages from a HAR file or JSON-lines log."""
    decoder = OcpiDecoder(OcpiContext(), show_secrets=show_secrets)
    reader = har_messages if is_har(path) else jsonl_messages
    for message in reader(path):
        yield decoder.decode(message)


def read_capture(path: Path, *, show_secrets: bool = False,
                 keylog_files: tuple[Path, ...] = (),
                 limits: Limits = DEFAULT_LIMITS) -> Iterator[Message | Problem]:
    """OCPI/HTTP Messages (and capture Problems) from a pcap/pcapng through the pipeline;
    HTTPS is decrypted with keys from `keylog_files`, the capture's DSBs and in-band lines."""
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs

    keylog = load_key_logs(keylog_files)
    pipeline = Pipeline(frame_handoffs=(), stream_handoffs=(
        ocpi_handoff(OcpiContext(), show_secrets=show_secrets, limits=limits),),
        keylog=keylog, limits=limits)
    with open_capture(path) as capture:
        yield from pipeline.run(frames_with_secrets(capture, keylog))
        yield from capture.problems


def read_any(path: Path, *, show_secrets: bool = False, keylog_files: tuple[Path, ...] = (),
             limits: Limits = DEFAULT_LIMITS) -> Iterator[Message | Problem]:
    """HAR/JSON-lines logs (already whole bodies) or a capture through the pipeline under
    `limits`."""
    if is_har(path) or is_http_log(path):
        yield from read_http_file(path, show_secrets=show_secrets)
    else:
        yield from read_capture(path, show_secrets=show_secrets, keylog_files=keylog_files,
                                limits=limits)
