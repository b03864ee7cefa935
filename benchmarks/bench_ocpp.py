"""OCPP parse + schema validation: chargescope beside the peers, one run, same input.

    python benchmarks/bench_ocpp.py [--seconds 1.0] [--capture-messages 20000] [--capture-only]

Input: one 1.3 kB OCPP 2.0.1 TransactionEventRequest (the message of PERFORMANCE.md),
as the bytes of a WebSocket text payload. Paths, all ending in a schema verdict:

* chargescope: `OcppDecoder.decode(bytes)` -> Message (parse, RPC checks, pairing,
  validation against the official schema, fields built)
* chargescope schema only: orjson + jsonschema-rs, and orjson + the compiled checker
* `ocpp` package: `unpack()` + `validate_payload()` (jsonschema, as its CSMS does)
* json.loads + jsonschema (Draft6Validator, prebuilt)
* json.loads + fastjsonschema (compiled once)
* json.loads only (no validation; the parsing floor)

Then the capture path: a synthetic pcap of N such CALLs and their CALLRESULTs over one
WebSocket connection, pcap -> validated OCPP Messages through chargescope (Cython
backends, and the pure-Python twins in a subprocess) beside tshark's WebSocket + JSON
dissection in one run. tshark does not dissect WebSocket text by default (`-Y json`
then matches nothing and tshark does less work), so it runs with
`-o websocket.text_type:As json`, one pass (its fastest way), two passes, and `-T ek`;
a row without JSON subdissection is printed for reference. Every tshark row checks that
it matched every message. A stage table splits chargescope's time per message: reading
frames, decode + TCP reassembly + the pipeline's dispatch, WebSocket, OCPP parse +
validation + Message.
Capture-path rates are per CPU second (user + sys of our process; of its tshark child
for tshark, as bench_pipeline.py does), so a busy shared machine skews them less than
wall time would. Medians of `--repeat` runs (5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib import resources
from pathlib import Path


def transaction_event() -> bytes:
    sampled = [{"value": v, "measurand": m, "unitOfMeasure": {"unit": u}, "context": "Sample.Periodic"}
               for v, m, u in ((12345.6, "Energy.Active.Import.Register", "Wh"),
                               (7400.0, "Power.Active.Import", "W"),
                               (32.0, "Current.Import", "A"), (230.1, "Voltage", "V"),
                               (55.0, "SoC", "Percent"))]
    payload = {
        "eventType": "Updated", "timestamp": "2024-05-01T10:15:00.000Z",
        "triggerReason": "MeterValuePeriodic", "seqNo": 17, "offline": False,
        "numberOfPhasesUsed": 3, "cableMaxCurrent": 32,
        "transactionInfo": {"transactionId": "f3a1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b",
                            "chargingState": "Charging", "timeSpentCharging": 900},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "DE-ABC-C12345678-X", "type": "eMAID",
                    "additionalInfo": [{"additionalIdToken": "04A2B3C4D5E6F7", "type": "RFID"}]},
        "meterValue": [{"timestamp": "2024-05-01T10:15:00.000Z", "sampledValue": sampled},
                       {"timestamp": "2024-05-01T10:14:00.000Z", "sampledValue": sampled[:1]}],
    }
    return json.dumps([2, "0b6c4c38-1f5a-4ab6-8a0d-1c2b3a4d5e6f", "TransactionEvent", payload],
                      separators=(",", ":")).encode()


RESULT_TEXT = json.dumps([3, "0b6c4c38-1f5a-4ab6-8a0d-1c2b3a4d5e6f", {}]).encode()


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second: median of 5 timed batches."""
    fn()
    n = 1
    while True:  # size a batch to ~seconds/5
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > seconds / 5 or n > 10**7:
            break
        n *= 2
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append(n / (time.perf_counter() - t0))
    return statistics.median(samples)


def schema_201(name: str) -> dict:
    return json.loads(resources.files("ocpp").joinpath("v201", "schemas", f"{name}.json").read_text())


def single_message_paths(data: bytes) -> list[tuple[str, Callable[[], object] | None, str]]:
    from chargescope.dissectors.ocpp.codec import parse_rpc
    from chargescope.dissectors.ocpp.conversation import OcppDecoder
    from chargescope.dissectors.ocpp.schemas import default_store

    paths: list[tuple[str, Callable[[], object] | None, str]] = []
    dec = OcppDecoder(0, version="2.0.1", version_source="option")
    assert dec.decode(data, direction=0, ts_ns=0, src="a", dst="b").fields["schema"] == "valid"
    paths.append(("chargescope OcppDecoder.decode -> Message", lambda: dec.decode(
        data, direction=0, ts_ns=0, src="a", dst="b"), "parse + validate + Message"))
    validator = default_store().validator("2.0.1", "TransactionEvent", False)

    def cs_schema_only():
        rpc = parse_rpc(data)
        return validator.check(rpc.payload)

    paths.append(("chargescope parse_rpc + jsonschema-rs", cs_schema_only, "orjson + jsonschema-rs"))
    fast = validator.fast
    paths.append(("chargescope parse_rpc + compiled checker", lambda: fast(parse_rpc(data).payload),
                  "orjson + hot path ocppschema"))

    from ocpp.messages import unpack, validate_payload

    loop = asyncio.new_event_loop()
    text = data.decode()

    def ocpp_pkg():
        msg = unpack(text)
        loop.run_until_complete(validate_payload(msg, "2.0.1"))

    paths.append(("ocpp package unpack + validate_payload", ocpp_pkg, "jsonschema, per call"))
    schema = schema_201("TransactionEventRequest")
    import jsonschema

    v = jsonschema.Draft6Validator(schema)
    paths.append(("json.loads + jsonschema (prebuilt)", lambda: v.is_valid(json.loads(data)[3]), ""))
    try:
        import fastjsonschema

        fv = fastjsonschema.compile(schema)
        paths.append(("json.loads + fastjsonschema", lambda: fv(json.loads(data)[3]), ""))
    except ImportError:
        paths.append(("json.loads + fastjsonschema", None, "not installed"))
    paths.append(("json.loads only (no validation)", lambda: json.loads(data), "floor"))
    return paths


def synthetic_capture(path: Path, data: bytes, n: int) -> None:
    """pcap of one WebSocket connection carrying n copies of `data` and their results."""
    import dpkt

    from chargescope.dissectors.websocket.frames import build_frame

    result = RESULT_TEXT
    cli, srv = (b"\x0a\x00\x00\x02", 40000), (b"\x0a\x00\x00\x01", 9000)
    seq = {0: 1000, 1: 5000}

    def packet(direction: int, payload: bytes, flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH) -> bytes:
        (sip, sport), (dip, dport) = (cli, srv) if direction == 0 else (srv, cli)
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq[direction], ack=seq[1 - direction],
                           flags=flags, data=payload)
        seq[direction] += len(payload) + (1 if flags & dpkt.tcp.TH_SYN else 0)
        ip = dpkt.ip.IP(src=sip, dst=dip, p=6, data=tcp, ttl=64)
        ip.len = len(ip)
        return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=0x0800, data=ip))

    upgrade = (b"GET /ocpp/CS1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n")
    answer = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n")
    call_frame = build_frame(data, mask_key=b"\x12\x34\x56\x78")
    result_frame = build_frame(result)
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh)
        t = 1_700_000_000.0
        w.writepkt(packet(0, b"", dpkt.tcp.TH_SYN), t)
        w.writepkt(packet(1, b"", dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK), t)
        w.writepkt(packet(0, upgrade), t)
        w.writepkt(packet(1, answer), t)
        for _ in range(n):
            t += 0.001
            w.writepkt(packet(0, call_frame), t)
            w.writepkt(packet(1, result_frame), t)


TSHARK_JSON = ("-o", "websocket.text_type:As json")  # default: no subdissection of text


def chargescope_capture_run(pcap: Path, stage: str = "full") -> int:
    """One pass over `pcap` up to `stage`; returns the count that stage produces.

    Stages (each includes the ones before it): "frames" (capture reader), "streams"
    (the pipeline: link/IP decode, TCP reassembly and the stream data handed to a
    dissector that does nothing; the pipeline runs these in one loop, so stream events
    alone would time another path), "websocket" (the WebSocket dissector added, payloads
    handed to a handler that returns a constant Message), "full" (pcap -> validated OCPP
    Messages: counts those whose schema verdict is valid).
    """
    from chargescope.analyzer.capture import open_capture

    with open_capture(pcap) as cap:
        if stage == "frames":
            return sum(1 for _ in cap.frames())
        from chargescope.analyzer.handoff import StreamHandoff
        from chargescope.analyzer.pipeline import Pipeline
        from chargescope.dissectors.websocket import probe

        if stage == "streams":
            class Nothing:
                """A stream dissector that does nothing: its on_data is C calls only (no
                Python frame per segment, as WebSocket's), answering an empty (dict) of
                Messages."""

                on_data = staticmethod(partial(dict.fromkeys, ()))

                def on_gap(self, event):
                    return []

                def on_close(self, event):
                    return []

            pipeline = Pipeline(frame_handoffs=(), stream_handoffs=(
                StreamHandoff("websocket", (), probe, lambda conn: Nothing()),))
            return sum(1 for _ in pipeline.run(cap.frames()))
        from chargescope.dissectors.ocpp import stream_handoff

        if stage == "websocket":
            from chargescope.analyzer.records import Link, Message
            from chargescope.dissectors.ocpp import looks_like_ocpp
            from chargescope.dissectors.ocpp.conversation import known_subprotocols
            from chargescope.dissectors.websocket import stream_factory
            from chargescope.dissectors.websocket.stream import PayloadHandoff

            const = Message(Link.B, "ocpp", "-", 0, "", "", {}, (), ())

            class Constant:
                """A handler doing no work, with the fast entry (`deliver`) OCPP's handler
                has: the WebSocket layer takes the path it takes for OCPP."""

                def __call__(self, payload, info):
                    return const

                def deliver(self, payload, direction, ts_ns, src, dst, refs, subprotocol,
                            charge_point_id, websocket):
                    return const

            handoff = PayloadHandoff("ocpp", known_subprotocols(), looks_like_ocpp,
                                     lambda conn: Constant())
            pipeline = Pipeline(frame_handoffs=(), stream_handoffs=(
                StreamHandoff("websocket", (), probe, stream_factory([handoff])),))
            return sum(1 for item in pipeline.run(cap.frames()) if item is const)
        pipeline = Pipeline(frame_handoffs=(), stream_handoffs=(stream_handoff(),))
        count = 0
        for item in pipeline.run(cap.frames()):
            if getattr(item, "protocol", "") == "ocpp" and item.fields.get("schema") == "valid":
                count += 1
        return count


def floor_seconds(data: bytes, repeat: int, validator: str = "fast") -> float:
    """CPU seconds per message of the capture's mix (one CALL, one CALLRESULT) spent in
    orjson.loads + a schema verdict alone (`validator`: "fast", the compiled checker the
    decoder asks first; "rs", jsonschema-rs's is_valid; "none", parsing only): what no
    decoder built on them can go under."""
    import orjson

    from chargescope.dissectors.ocpp.schemas import default_store

    result = RESULT_TEXT
    request = default_store().validator("2.0.1", "TransactionEvent", False)
    response = default_store().validator("2.0.1", "TransactionEvent", True)
    if validator == "none":
        request_ok = result_ok = bool
    else:
        request_ok = request.fast if validator == "fast" else request.check
        result_ok = response.fast if validator == "fast" else response.check
    loads = orjson.loads
    n = 2000
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        for _ in range(n):
            request_ok(loads(data)[3])
            result_ok(loads(result)[2])
        times.append(time.process_time() - t0)
    return statistics.median(times) / (2 * n)


def timed_stages(pcap: Path, repeat: int) -> dict[str, float]:
    """Median CPU seconds per stage (this process's backend)."""
    out = {}
    for stage in ("frames", "streams", "websocket", "full"):
        chargescope_capture_run(pcap, stage)  # warm: schemas compiled, modules imported
        times = []
        for _ in range(repeat):
            t0 = time.process_time()
            chargescope_capture_run(pcap, stage)
            times.append(time.process_time() - t0)
        out[stage] = statistics.median(times)
    return out


def pure_twin_stages(pcap: Path, repeat: int) -> dict[str, float] | None:
    """The same stages with CHARGESCOPE_PUREPYTHON=1, in a subprocess (backends are
    chosen at import)."""
    env = {**os.environ, "CHARGESCOPE_PUREPYTHON": "1"}
    proc = subprocess.run([sys.executable, __file__, "--stages-of", str(pcap),
                           "--repeat", str(repeat)], env=env, capture_output=True, text=True)
    if proc.returncode:
        print(proc.stderr, file=sys.stderr)
        return None
    return json.loads(proc.stdout)


def children_cpu() -> float:
    """CPU seconds (user + sys) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tshark_rate(pcap: Path, args: list[str], msgs: int, repeat: int) -> tuple[float, int]:
    """(messages/s, lines printed) for one tshark invocation, median of `repeat`."""
    tshark = shutil.which("tshark")
    assert tshark
    times, lines = [], 0
    for _ in range(repeat):
        t0 = children_cpu()
        proc = subprocess.run([tshark, "-n", "-r", str(pcap), *args], check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        times.append(children_cpu() - t0)
        lines = proc.stdout.count(b"\n")
    return msgs / statistics.median(times), lines


def capture_paths(data: bytes, n: int, pyshark_n: int = 500, repeat: int = 5,
                  ) -> tuple[list[tuple[str, float | None, str]], list[tuple[str, dict | None]]]:
    out: list[tuple[str, float | None, str]] = []
    stages: list[tuple[str, dict | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "ocpp.pcap"
        synthetic_capture(pcap, data, n)
        msgs = 2 * n
        try:
            assert chargescope_capture_run(pcap) == msgs, "every message must decode and validate"
            cy = timed_stages(pcap, repeat)
            stages.append(("Cython", cy))
            out.append(("chargescope pcap -> validated Messages (Cython)", msgs / cy["full"], ""))
            py = pure_twin_stages(pcap, repeat)
            stages.append(("pure Python", py))
            out.append(("chargescope pcap -> validated Messages (pure twin)",
                        msgs / py["full"] if py else None, "CHARGESCOPE_PUREPYTHON=1"))
        except ImportError as exc:
            out.append(("chargescope pcap -> validated Messages", None, f"pipeline missing: {exc.name}"))
        if shutil.which("tshark"):
            runs = (
                ("tshark -Y json -T fields (WebSocket + JSON, one pass)",
                 [*TSHARK_JSON, "-Y", "json", "-T", "fields", "-e", "frame.number"], repeat),
                ("tshark -2 -Y json -T fields (two passes)",
                 [*TSHARK_JSON, "-2", "-Y", "json", "-T", "fields", "-e", "frame.number"], 3),
                ("tshark -Y json -T ek (JSON tree out)", [*TSHARK_JSON, "-Y", "json", "-T", "ek"], 1),
            )
            for name, args, reps in runs:
                r, lines = tshark_rate(pcap, args, msgs, reps)
                # -T ek prints an index line before each packet's document
                got = lines // 2 if "ek" in args else lines
                out.append((name, r if got == msgs else None,
                            "no schema validation" if got == msgs else f"{got} of {msgs} matched"))
            r, lines = tshark_rate(pcap, ["-Y", "websocket", "-T", "fields", "-e", "frame.number"],
                                   msgs, repeat)
            out.append(("tshark -Y websocket, text not subdissected (less work)", r,
                        "tshark's default: no JSON dissection"))
        else:
            out.append(("tshark -Y json -T fields (WebSocket + JSON, one pass)", None,
                        "tshark not installed"))
        out.append(pyshark_path(data, Path(tmp) / "small.pcap", pyshark_n))
    return out, stages


def pyshark_path(data: bytes, pcap: Path, n: int) -> tuple[str, float | None, str]:
    """pyshark (tshark PDML behind a Python API): the Python peer, on a smaller capture."""
    name = "pyshark FileCapture (WebSocket + JSON)"
    try:
        import pyshark
    except ImportError:
        return name, None, "pyshark not installed"
    if not shutil.which("tshark"):
        return name, None, "tshark not installed"
    synthetic_capture(pcap, data, n)
    t0 = time.process_time() + children_cpu()
    cap = pyshark.FileCapture(str(pcap), display_filter="json",
                              override_prefs={"websocket.text_type": "As json"})
    count = 0
    try:
        for pkt in cap:
            if hasattr(pkt, "json"):
                count += 1
    finally:
        cap.close()
    dt = time.process_time() + children_cpu() - t0
    return name, count / dt, f"{count} messages, {2 * n} in capture; no schema validation"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per path")
    parser.add_argument("--capture-messages", type=int, default=20000,
                        help="calls in the synthetic capture (results double the messages)")
    parser.add_argument("--pyshark-messages", type=int, default=500,
                        help="calls in the smaller capture given to pyshark (it is slow)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per capture path (median)")
    parser.add_argument("--capture-only", action="store_true",
                        help="skip the single-message table")
    parser.add_argument("--stages-of", type=Path, help=argparse.SUPPRESS)  # subprocess mode
    args = parser.parse_args()
    if args.stages_of:
        print(json.dumps(timed_stages(args.stages_of, args.repeat)))
        return
    data = transaction_event()
    rows: list[tuple[str, float | None, str]] = []
    if not args.capture_only:
        for name, fn, note in single_message_paths(data):
            rows.append((name, rate(fn, args.seconds) if fn else None, note))
        base = next(r for n, r, _ in rows if n.startswith("ocpp package"))
        print(f"OCPP parse + validation, {len(data)}-byte TransactionEventRequest "
              f"(python {platform.python_version()}, {platform.machine()})\n")
        print("| path | msgs/s | vs ocpp package | note |")
        print("|---|---:|---:|---|")
        for name, r, note in rows:
            cell = f"{r:,.0f}" if r else "-"
            ratio = f"{r / base:.1f}x" if r and base else "-"
            print(f"| {name} | {cell} | {ratio} | {note} |")
    msgs = 2 * args.capture_messages
    cap_rows, stages = capture_paths(data, args.capture_messages, args.pyshark_messages,
                                     args.repeat)
    print(f"\nCapture path ({msgs} messages over one WebSocket connection, "
          f"{msgs + 4} frames):\n")
    ours = next((r for n, r, _ in cap_rows if n.startswith("chargescope")), None)
    tsharks = [r for n, r, _ in cap_rows if n.startswith("tshark") and "json" in n and r]
    print("| path | msgs/s | Cython is | note |")
    print("|---|---:|---:|---|")
    for name, r, note in cap_rows:
        cell = f"{r:,.0f}" if r else "-"
        ratio = f"{ours / r:.1f}x faster" if r and ours and "(Cython)" not in name else "-"
        print(f"| {name} | {cell} | {ratio} | {note} |")
    if ours and tsharks:
        print(f"\nCython vs the fastest tshark WebSocket + JSON run: {ours / max(tsharks):.1f}x")
    print("\nWhere the time goes (microseconds per message, cumulative stage minus the one "
          "before):\n")
    print("| backend | read frames | decode + TCP reassembly + pipeline | WebSocket "
          "| OCPP parse + validate + Message | total |")
    print("|---|---:|---:|---:|---:|---:|")
    for backend, st in stages:
        if not st:
            print(f"| {backend} | - | - | - | - | - |")
            continue
        cells, prev = [], 0.0
        for stage in ("frames", "streams", "websocket", "full"):
            cells.append(f"{(st[stage] - prev) / msgs * 1e6:.2f}")
            prev = st[stage]
        print(f"| {backend} | {' | '.join(cells)} | {st['full'] / msgs * 1e6:.2f} |")
    cy = dict(stages).get("Cython")
    if cy:
        floors = {v: floor_seconds(data, args.repeat, v) for v in ("none", "rs", "fast")}
        floor = floors["fast"]
        best = 1 / (cy["streams"] / msgs + floor)
        print(f"\nFloor, per message of this mix: orjson.loads alone {floors['none'] * 1e6:.2f} "
              f"us; + jsonschema-rs is_valid {floors['rs'] * 1e6:.2f} us; + the compiled "
              f"checker (hot path ocppschema) {floor * 1e6:.2f} us. With frames read, TCP "
              f"reassembled and dispatched as now and WebSocket and Message building free, the "
              f"ceiling is {best:,.0f} msgs/s" + (f" = {best / max(tsharks):.1f}x the fastest "
                                                  "tshark run." if tsharks else "."))


if __name__ == "__main__":
    main()
