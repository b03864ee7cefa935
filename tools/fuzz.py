"""Fuzz one public entry point of chargescope: `python -m tools.fuzz TARGET --runs N`.

Driver: a deterministic random-mutation fuzzer (bit flips, interesting values, inserts,
deletes, duplicated ranges, splices between seeds, truncation) seeded from the shared
corpus and the test fixtures. With `--atheris` and the atheris package importable,
the same target runs under atheris (coverage-guided) instead.

A target is a function taking bytes. Its *documented* failure (the error type the entry
point's docstring names, or a Message carrying Problems) is fine; any other exception
is a crash, and an input that runs longer than `--timeout` seconds is a hang. Crashing
and hanging inputs are written to `--out` (one file per finding) and the exit code is 1.

Stream targets take a small framing of their own so that one input can hold a whole
two-way conversation: records of ``direction(1) | length(2, big-endian) | bytes``;
`encode_chunks`/`decode_chunks` are that framing (decode is lenient, never raises).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
TEST_DATA = REPO / "tests" / "data"
MAX_INPUT = 1 << 16  # mutations never grow an input beyond this

# Captures that seed the frame/stream targets: small ones, each protocol represented.
SEED_CAPTURES = (
    "pcaps/dspace-group+dsV2Gshark/DIN_DC_DS5366_Josev.pcapng",
    "pcaps/dspace-group+dsV2Gshark/ISO-2_AC_DS5366.pcapng",
    "pcaps/dspace-group+dsV2Gshark/ISO-20_BPT_AC_DS5366_Josev.pcapng",
    "pcaps/uhi22+pyPLC/2023-05-03_TaycanLeftside_slacFail.pcapng",
    "pcaps/dspace-group+dsV2Gshark/ISO-20_TLS13_DC_DS5366_Josev.pcapng",
    "pcaps/dspace-group+dsV2Gshark/ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng",
)
TEST_CAPTURES = ("ocpp/ocpp16_basic.pcap", "ocpp/ocpp16_badframe.pcap",
                 "ocpp/ocpp201_deflate.pcap", "ocpp/ocpp21_nocontext.pcap",
                 "ocpi/ocpi211-extrawest.pcap", "ocpi/ocpi221-extrawest.pcap")
EXI_SCHEMAS = {"exi-apphand": "appHand", "exi-din": "din", "exi-iso2": "iso2",
               "exi-iso20": "iso20_CommonMessages", "exi-iso20-dc": "iso20_DC",
               "exi-iso20-ac": "iso20_AC"}


class Hang(BaseException):  # not Exception: a target's broad handler must not swallow it
    """Raised from the alarm handler when one input runs past the time bound."""


# --------------------------------------------------------------------------- framing

def encode_chunks(chunks: Iterable[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for direction, data in chunks:
        data = data[:0xFFFF]
        out += struct.pack(">BH", direction & 1, len(data)) + data
    return bytes(out)


def decode_chunks(data: bytes) -> list[tuple[int, bytes]]:
    chunks, pos = [], 0
    while pos + 3 <= len(data):
        direction, length = data[pos] & 1, int.from_bytes(data[pos + 1:pos + 3], "big")
        chunks.append((direction, data[pos + 3:pos + 3 + length]))
        pos += 3 + length
    return chunks


def encode_frames(frames: Iterable[bytes]) -> bytes:
    return b"".join(struct.pack(">H", len(f[:0xFFFF])) + f[:0xFFFF] for f in frames)


def decode_frames(data: bytes) -> list[bytes]:
    frames, pos = [], 0
    while pos + 2 <= len(data):
        length = int.from_bytes(data[pos:pos + 2], "big")
        frames.append(data[pos + 2:pos + 2 + length])
        pos += 2 + length
    return frames


# --------------------------------------------------------------------------- seeds

def _capture_frames(path: Path, limit: int = 4000) -> list:
    from chargescope.analyzer.capture import open_capture

    with open_capture(path) as cap:
        out = []
        for frame in cap.frames():
            out.append(frame)
            if len(out) >= limit:
                break
        return out


@cache
def _harvest() -> dict[str, list[bytes]]:
    """Walk the seed captures once: frames, UDP/HomePlug payloads, TCP conversations."""
    from chargescope.analyzer import net
    from chargescope.analyzer.pipeline import iter_stream_events
    from chargescope.analyzer.records import StreamData

    seeds: dict[str, list[bytes]] = {k: [] for k in
                                     ("frames", "homeplug", "sdp", "v2gtp", "websocket", "http",
                                      "tls")}
    paths = [CORPUS / p for p in SEED_CAPTURES] + [TEST_DATA / p for p in TEST_CAPTURES]
    for path in paths:
        if not path.is_file():
            continue
        frames = _capture_frames(path)
        for i in range(0, min(len(frames), 400), 40):
            seeds["frames"].append(encode_frames(f.data for f in frames[i:i + 40]))
        convs: dict[int, list[tuple[int, bytes]]] = {}
        for item in iter_stream_events(frames):
            if isinstance(item, StreamData):
                convs.setdefault(item.conn.index, []).append((item.direction, item.data))
            elif isinstance(item, net.Packet) and item.status == "decoded":
                payload = item.payload
                if item.ethertype == 0x88E1 and len(seeds["homeplug"]) < 200:
                    seeds["homeplug"].append(item.frame.data[item.l3_offset:])
                elif item.is_udp and 15118 in (item.sport, item.dport):
                    seeds["sdp"].append(payload)
        for conv in convs.values():
            first = conv[0][1]
            kind = ("v2gtp" if first[:2] == b"\x01\xfe" else
                    "tls" if first[:1] == b"\x16" and first[1:2] == b"\x03" else
                    "websocket" if b"Upgrade: websocket" in first or first[:1] in (b"\x81", b"\x82")
                    else "http" if first[:4] in (b"GET ", b"POST", b"PUT ", b"PATC", b"HTTP",
                                                 b"DELE")
                    else "")
            if kind:
                for i in range(0, len(conv), 16):
                    seeds[kind].append(encode_chunks(conv[i:i + 16])[:MAX_INPUT])
    return seeds


def _exi_seeds(schema: str) -> list[bytes]:
    import json

    folder = CORPUS / "exi-reference" / schema
    out = []
    for f in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
        for line in f.read_text().splitlines():
            if line.strip():
                out.append(bytes.fromhex(json.loads(line)["hex"]))
    return out


def _ocpp_seeds() -> list[bytes]:
    out = []
    for f in sorted((TEST_DATA / "ocpp").glob("*.jsonl")):
        for line in f.read_bytes().splitlines():
            if line.strip():
                out.append(line)
    return out or [b'[2,"1","Heartbeat",{}]']


def _v2gtp_from_exi() -> list[bytes]:
    out = []
    for schema in ("appHand", "din", "iso2"):
        for payload in _exi_seeds(schema)[:40]:
            out.append(encode_chunks([(0, b"\x01\xfe\x80\x01" + struct.pack(">I", len(payload))
                                       + payload)]))
    return out


# --------------------------------------------------------------------------- targets

def _conn():
    from chargescope.analyzer.records import Connection, Endpoint

    return Connection(1, Endpoint("fe80::1", 50000), Endpoint("fe80::2", 15118), "fuzz")


def _feed_stream(dissector, data: bytes) -> list:
    from chargescope.analyzer.records import StreamClose, StreamData

    conn, out, offsets = dissector_conn(dissector), [], [0, 0]
    for i, (direction, chunk) in enumerate(decode_chunks(data)):
        out += dissector.on_data(StreamData(conn, direction, offsets[direction], chunk, i))
        offsets[direction] += len(chunk)
    out += dissector.on_close(StreamClose(conn, -1, len(out), "end-of-capture"))
    check_books(dissector, offsets)
    return out


def check_books(dissector, fed: list[int]) -> None:
    """Every byte fed is consumed or reported undecodable (analyzer/accounting.py)."""
    from chargescope.analyzer.accounting import StreamTotals, fold

    account = getattr(dissector, "accounting", None)
    if account is None:
        return
    totals: dict[str, StreamTotals] = {}
    fold(totals, "stream", fed, [0, 0], fed, account)
    if not all(row.balanced for row in totals.values()):
        raise AssertionError(f"stream books unbalanced: fed {fed}, {account}")


def dissector_conn(dissector):
    return getattr(dissector, "conn", None) or _conn()


def run_capture(data: bytes) -> None:
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.capture.model import NotACaptureError

    fd, name = tempfile.mkstemp(suffix=".pcap", dir=_tmpdir())
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            with open_capture(name) as cap:
                for _ in cap.frames():
                    pass
        except NotACaptureError:
            pass
    finally:
        os.unlink(name)


@cache
def _tmpdir() -> str:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


def run_net(data: bytes) -> None:
    from chargescope import backends
    from chargescope.analyzer.records import Frame

    linktype = (1, 101, 113, 276, 0)[data[0] % 5] if data else 1
    decode = backends.load("netdecode").decode  # the extension unless --pure
    packet = decode(Frame(1, 0, linktype, data[1:], len(data)))
    packet.payload  # noqa: B018 (the property slices with the decoded offsets)


def run_pipeline(data: bytes) -> None:
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.records import Frame

    frames = [Frame(i + 1, i * 1000, 1, f, len(f), source="fuzz")
              for i, f in enumerate(decode_frames(data))]
    pipe = Pipeline()
    for _ in pipe.run(frames):
        pass
    s = pipe.stats
    if s.frames != s.decoded + s.malformed + s.out_of_scope or s.frames != len(frames):
        raise AssertionError(f"accounting broken: {s.as_dict()} for {len(frames)} frames")
    if not all(row.balanced for row in s.streams.values()):
        raise AssertionError(f"stream books unbalanced: {s.as_dict()['streams']}")


def run_homeplug(data: bytes) -> None:
    from chargescope.dissectors.homeplug.mme import HomePlugDissector, decode_mme

    decode_mme(data)
    HomePlugDissector().feed(b"\x00\xb0\x52\x00\x00\x01\x02\x00\x00\x00\x00\x02\x88\xe1" + data)


def run_sdp(data: bytes) -> None:
    from chargescope.dissectors import sdp

    sdp.decode(sdp.Datagram(data))


def run_v2gtp(data: bytes) -> None:
    from chargescope.dissectors.v2gtp import V2gtpStream

    _feed_stream(V2gtpStream(_conn()), data)


def run_websocket(data: bytes) -> None:
    from chargescope.dissectors.ocpp import stream_handoff

    _feed_stream(stream_handoff().factory(_conn()), data)


def run_ocpp(data: bytes) -> None:
    from chargescope.dissectors.ocpp import OcppDecoder

    dec = OcppDecoder(1, version=None)
    dec.decode(data, direction=data[:1] == b"[" and 0 or 1, ts_ns=0, src="a", dst="b")


def run_http(data: bytes) -> None:
    from chargescope.dissectors.http.stream import HttpStream

    _feed_stream(HttpStream(_conn()), data)


def run_tls(data: bytes) -> None:
    """TLS records (no keys: handshake decoding, record framing, the pending-record cap)."""
    from chargescope.analyzer import handoff
    from chargescope.analyzer.tls.keylog import KeyLog
    from chargescope.dissectors.tls.stream import tls_handoff

    _feed_stream(tls_handoff(KeyLog(), handoff.stream_handoffs()).factory(_conn()), data)


def run_ocpi(data: bytes) -> None:
    from chargescope.dissectors.ocpi.stream import ocpi_handoff

    _feed_stream(ocpi_handoff().factory(_conn()), data)


def _exi_runner(schema: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        from chargescope.dissectors import exi

        try:
            exi.decode(data, schema)
        except exi.ExiError:
            pass
    return run


def run_canlog(data: bytes) -> None:
    from chargescope.analyzer.chademo.analyze import analyze_recording
    from chargescope.analyzer.chademo.canlog import NotACanRecording

    fd, name = tempfile.mkstemp(suffix=".log", dir=_tmpdir())
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            analyze_recording(name)
        except NotACanRecording:
            pass
    finally:
        os.unlink(name)


def run_chademo(data: bytes) -> None:
    from chargescope.analyzer.chademo.can import CanFrame, can_from_frame
    from chargescope.analyzer.records import Frame
    from chargescope.dissectors.chademo import decode_can

    linktype = (227, 113, 276)[data[0] % 3] if data else 227
    can = can_from_frame(Frame(1, 0, linktype, data[1:], len(data) - 1))
    if isinstance(can, CanFrame):
        decode_can(can)


def _canlog_seeds() -> list[bytes]:
    folder = CORPUS / "can"
    return [p.read_bytes()[:8000] for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix != ".md"] if folder.is_dir() else []


def _chademo_seeds() -> list[bytes]:
    from chargescope.analyzer.chademo.can import socketcan_bytes

    return [b"\x00" + socketcan_bytes(can_id, bytes(range(8)))
            for can_id in (0x100, 0x101, 0x102, 0x108, 0x109, 0x200, 0x201)]


@dataclass(frozen=True, slots=True)
class Target:
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]


def _capture_seeds() -> list[bytes]:
    out = []
    for p in list(SEED_CAPTURES[:2]) + ["pcaps/uhi22+pyPLC/2026-02-03_pyPLC_FoccciCape_with_Ioniq_runs_10_minutes.pcap"]:
        path = CORPUS / p
        if path.is_file():
            with path.open("rb") as fh:
                out.append(fh.read(6000))
    for p in TEST_CAPTURES[:2]:
        out.append((TEST_DATA / p).read_bytes()[:6000])
    return out


def _net_seeds() -> list[bytes]:
    return [b"\x00" + f for s in _harvest()["frames"][:20] for f in decode_frames(s)[:10]]


TARGETS: dict[str, Target] = {
    "capture": Target(run_capture, _capture_seeds),
    "net": Target(run_net, _net_seeds),
    "pipeline": Target(run_pipeline, lambda: _harvest()["frames"]),
    "homeplug": Target(run_homeplug, lambda: _harvest()["homeplug"]),
    "sdp": Target(run_sdp, lambda: _harvest()["sdp"] or [b"\x01\xfe\x90\x00\x00\x00\x00\x02\x10\x00"]),
    "v2gtp": Target(run_v2gtp, lambda: _harvest()["v2gtp"] + _v2gtp_from_exi()),
    "websocket": Target(run_websocket, lambda: _harvest()["websocket"]),
    "ocpp": Target(run_ocpp, _ocpp_seeds),
    "http": Target(run_http, lambda: _harvest()["http"]),
    "ocpi": Target(run_ocpi, lambda: _harvest()["http"]),
    "tls": Target(run_tls, lambda: _harvest()["tls"]),
    "canlog": Target(run_canlog, _canlog_seeds),
    "chademo": Target(run_chademo, _chademo_seeds),
    **{name: Target(_exi_runner(schema), lambda schema=schema: _exi_seeds(schema))
       for name, schema in EXI_SCHEMAS.items()},
}


# --------------------------------------------------------------------------- mutation

_INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\x7f\xff",
                b"\x80\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00",
                b"\x80\x00\x00\x00", b"\x01\xfe", b"\r\n", b"\r\n\r\n", b"[", b"{", b'"')


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """One to four stacked mutations of `data` (never longer than MAX_INPUT)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        n = len(buf)
        if op == 0 and n:  # flip a bit
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # overwrite with an interesting value
            v = rng.choice(_INTERESTING)
            i = rng.randrange(n)
            buf[i:i + len(v)] = v
        elif op == 2:  # insert random bytes
            i = rng.randint(0, n)
            buf[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 3 and n:  # delete a range
            i = rng.randrange(n)
            del buf[i:i + rng.randint(1, 16)]
        elif op == 4 and n:  # duplicate a range
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 64))
            buf[j:j] = buf[i:j]
        elif op == 5 and n:  # truncate
            del buf[rng.randrange(n):]
        elif op == 6 and pool:  # splice with another seed
            other = rng.choice(pool)
            if other:
                cut, start = rng.randint(0, n), rng.randrange(len(other))
                buf[cut:] = other[start:]
        elif n:  # random byte
            buf[rng.randrange(n)] = rng.randrange(256)
    return bytes(buf[:MAX_INPUT])


def inputs(seeds: list[bytes], runs: int, seed: int) -> Iterator[bytes]:
    """The seeds themselves first, then `runs - len(seeds)` mutants (deterministic)."""
    rng = random.Random(seed)
    pool = list(seeds) or [b""]
    for i in range(runs):
        if i < len(seeds):
            yield seeds[i]
        else:
            yield mutate(rng, rng.choice(pool), pool)


# --------------------------------------------------------------------------- running

@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # "crash" or "hang"
    data: bytes
    error: str


def _alarm(signum, frame) -> None:
    raise Hang()


def run_one(run: Callable[[bytes], None], data: bytes, timeout: float) -> Finding | None:
    """Run one input; a Finding when it crashed or hung, else None."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        run(data)
    except Hang:
        return Finding("hang", data, f"no result after {timeout} s")
    except Exception as exc:  # noqa: BLE001 - every undocumented exception is a finding
        return Finding("crash", data, "".join(traceback.format_exception(exc)[-4:]))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return None


def campaign(target: str, runs: int, seed: int = 0, timeout: float = 5.0,
             max_seconds: float | None = None) -> tuple[int, list[Finding]]:
    """Run `runs` inputs against `target`: (inputs run, findings, one per distinct error)."""
    spec = TARGETS[target]
    findings: dict[str, Finding] = {}
    started, done = time.monotonic(), 0
    for data in inputs(spec.seeds(), runs, seed):
        found = run_one(spec.run, data, timeout)
        done += 1
        if found is not None:
            key = found.kind + found.error.strip().splitlines()[-1]
            findings.setdefault(key, found)
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
    return done, list(findings.values())


def _atheris(target: str, runs: int, timeout: float) -> None:
    """Coverage-guided: atheris (libFuzzer) over the same target, seeds from our corpus."""
    import atheris  # optional dependency: pip install atheris

    spec = TARGETS[target]
    seeds = spec.seeds()  # imports the chargescope modules the target reaches
    seed_dir = Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))
    for i, data in enumerate(seeds):
        (seed_dir / f"seed{i:05d}").write_bytes(data)
    for data in seeds[:1]:  # import every module the target reaches, so all get instrumented
        run_one(spec.run, data, timeout)
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], f"-runs={runs}", f"-timeout={int(timeout) or 1}",
                   f"-max_len={MAX_INPUT}", str(seed_dir)], spec.run)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=sorted(TARGETS) + ["all"])
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per input (hang bound)")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "chargescope-fuzz")
    ap.add_argument("--atheris", action="store_true", help="run under atheris instead")
    ap.add_argument("--pure", action="store_true",
                    help="fuzz the pure-Python twins of the Cython hot paths")
    args = ap.parse_args(argv)
    if args.pure:  # read by chargescope.backends when a hot path is first loaded
        os.environ["CHARGESCOPE_PUREPYTHON"] = "1"
    if args.atheris:
        if args.target == "all":
            ap.error("--atheris runs one target at a time")
        _atheris(args.target, args.runs, args.timeout)
        return 0
    failed = False
    for target in sorted(TARGETS) if args.target == "all" else [args.target]:
        started = time.monotonic()
        done, findings = campaign(target, args.runs, args.seed, args.timeout)
        print(f"{target}: {done} inputs, {len(findings)} findings, "
              f"{time.monotonic() - started:.1f} s", flush=True)
        for f in findings:
            failed = True
            args.out.mkdir(parents=True, exist_ok=True)
            name = f"{target}-{f.kind}-{hashlib.sha1(f.data).hexdigest()[:12]}"
            (args.out / f"{name}.bin").write_bytes(f.data)
            (args.out / f"{name}.txt").write_text(f.error)
            print(f"  {f.kind}: {args.out / name}.bin\n    {f.error.strip().splitlines()[-1]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
