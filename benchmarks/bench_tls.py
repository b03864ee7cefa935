"""TLS record decryption throughput of the TLS stream dissector, per cipher suite, beside
tshark decrypting the same capture with the same key log (`-z follow,tls,raw`).

    python benchmarks/bench_tls.py [--records 5000] [--size 1000]

Sessions are made on this machine with Python's `ssl` (tests/tls_session.py): the server
sends `--records` application writes of `--size` bytes each.
"""

from __future__ import annotations

import argparse
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chargescope.analyzer.handoff import StreamHandoff  # noqa: E402
from chargescope.analyzer.records import (  # noqa: E402
    Connection,
    Endpoint,
    StreamData,
)
from chargescope.analyzer.tls.keylog import KeyLog  # noqa: E402
from chargescope.dissectors.tls.stream import TlsStream  # noqa: E402
from tests.tls_session import run_session, to_capture  # noqa: E402

CONFIGS = [(ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"),
           (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"),
           (ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305"),
           (ssl.TLSVersion.TLSv1_3, None)]


class _Sink:
    def on_data(self, event):
        return []

    def on_gap(self, event):
        return []

    def on_close(self, event):
        return []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    conn = Connection(0, Endpoint("fe80::1", 1), Endpoint("fe80::2", 2))
    sink = StreamHandoff("sink", (), lambda data, direction: True, lambda c: _Sink())
    for version, ciphers in CONFIGS:
        tmp = Path(tempfile.mkdtemp())
        session = run_session(tmp, [(1, b"x" * args.size)] * args.records, version=version,
                              ciphers=ciphers)
        keylog = KeyLog()
        keylog.add_text(session.keylog, "bench")
        total = sum(len(d) for _, d in session.chunks)
        stream = TlsStream(conn, keylog, (sink,))
        offsets = [0, 0]
        start = time.perf_counter()
        for direction, data in session.chunks:
            stream.on_data(StreamData(conn, direction, offsets[direction], data, 0))
            offsets[direction] += len(data)
        ours = time.perf_counter() - start
        line = (f"{session.version} {session.cipher:32} {total / 1e6:5.1f} MB  chargescope "
                f"{total / 1e6 / ours:6.1f} MB/s ({args.records / ours:7.0f} records/s)")
        if shutil.which("tshark"):
            (tmp / "keys.log").write_bytes(session.keylog)
            path = to_capture(session, tmp / "s.pcapng")
            start = time.perf_counter()
            subprocess.run(["tshark", "-r", str(path), "-o",
                            f"tls.keylog_file:{tmp / 'keys.log'}", "-q", "-z",
                            "follow,tls,raw,0"], capture_output=True, check=True)
            theirs = time.perf_counter() - start
            line += f"  tshark (whole run) {total / 1e6 / theirs:6.1f} MB/s"
        print(line)
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
