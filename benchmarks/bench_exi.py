"""EXI codec benchmark: chargescope Cython vs pure Python vs EXIficient, same messages.

    python benchmarks/bench_exi.py [--seconds 1.0] [--exificient-python PATH --jar PATH]

Message families come from the reference vectors (../shared/corpus/exi-reference): every
variant of the message type(s) named below. EXIficient runs through py4j (the path of the
`iso15118` package) in another interpreter given by --exificient-python (it needs py4j;
e.g. a venv made with `pip install py4j`) and the EXICodec.jar of the `iso15118` package.
Not a test: prints one table with messages/s and ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from chargescope import backends
from chargescope.dissectors.exi.tables import grammar

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "exi-reference"
FAMILIES = {
    "supportedAppProtocolReq": [("appHand", "supportedAppProtocolReq")],
    "SessionSetup": [("din", "SessionSetupReq"), ("din", "SessionSetupRes"),
                     ("iso2", "SessionSetupReq"), ("iso2", "SessionSetupRes")],
    "ChargeParameterDiscovery": [("din", "ChargeParameterDiscoveryReq"),
                                 ("iso2", "ChargeParameterDiscoveryReq"),
                                 ("iso2", "ChargeParameterDiscoveryRes")],
    "CurrentDemand": [("din", "CurrentDemandReq"), ("din", "CurrentDemandRes"),
                      ("iso2", "CurrentDemandReq"), ("iso2", "CurrentDemandRes")],
    "PowerDelivery+Signature": [("iso2", "PowerDeliveryReq"), ("iso2", "PowerDeliveryRes")],
    "ISO-20 DC_ChargeLoop": [("iso20_DC", "DC_ChargeLoopReq"), ("iso20_DC", "DC_ChargeLoopRes")],
}


def load_session_mix():
    """Real messages: the DIN session of pyPLC's RawExiLog (V2GTP frames, hex per line)."""
    from chargescope.dissectors import exi

    path = CORPUS.parent / "vectors" / "uhi22+pyPLC" / "RawExiLog.txt"
    items = []
    for line in path.read_text().split():
        payload = bytes.fromhex(line)[8:]
        items.append(("urn:din:70121:2012:MsgDef", payload.hex(), exi.decode(payload, "din")))
    return items


def load_family(members):
    items = []
    for schema, message in members:
        for line in (CORPUS / schema / f"{message}.jsonl").read_text().splitlines():
            v = json.loads(line)
            if v["variant"] == "max" and len(v["hex"]) > 4000:
                continue  # arrays at maximum size: not what a session carries
            items.append((v["namespace"], v["hex"], v["json"]))
    return items


CLOCK = time.process_time  # set by --clock


def rate(fn, items, seconds):
    n = 0
    start = CLOCK()
    while CLOCK() - start < seconds:
        for item in items:
            fn(item)
        n += len(items)
    return n / (CLOCK() - start)


def measure(impl, items, seconds):
    prepared = [(grammar(ns), bytes.fromhex(h), tree) for ns, h, tree in items]
    return (rate(lambda it: impl.decode(it[1], it[0]), prepared, seconds),
            rate(lambda it: impl.encode(it[2], it[0]), prepared, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--exificient-python", help="python with py4j installed")
    parser.add_argument("--jar", help="EXICodec.jar from the iso15118 package")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="chargescope rates per CPU second of this process (default; "
                             "steady on a shared machine) or per wall-clock second. "
                             "EXIficient always runs on the wall clock: its work is in the JVM")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    families = {name: load_family(m) for name, m in FAMILIES.items()}
    families["real DIN session (pyPLC)"] = load_session_mix()
    twin, ext = backends.load_twin("exi"), backends.load_extension("exi")
    reference = {}
    if args.exificient_python and args.jar:
        job = {"jar": args.jar, "seconds": args.seconds,
               "families": {n: [(ns, h, json.dumps(t)) for ns, h, t in items]
                            for n, items in families.items()}}
        done = subprocess.run([args.exificient_python,
                               str(Path(__file__).with_name("exificient_driver.py"))],
                              input=json.dumps(job), capture_output=True, text=True, check=True)
        reference = json.loads(done.stdout)
    header = (f"{'family':26} {'msgs':>4} | {'cython dec':>10} {'python dec':>10} "
              f"{'EXIfic dec':>10} {'cy/EXI':>7} | {'cython enc':>10} {'python enc':>10} "
              f"{'EXIfic enc':>10} {'cy/EXI':>7}")
    print(f"chargescope: msgs per {args.clock} second; EXIficient: msgs per wall second")
    print(header)
    print("-" * len(header))
    for name, items in families.items():
        py_dec, py_enc = measure(twin, items, args.seconds)
        cy_dec, cy_enc = measure(ext, items, args.seconds) if ext else (float("nan"),) * 2
        ref = reference.get(name, {})
        r_dec, r_enc = ref.get("decode", float("nan")), ref.get("encode", float("nan"))
        print(f"{name:26} {len(items):>4} | {cy_dec:>10,.0f} {py_dec:>10,.0f} {r_dec:>10,.0f} "
              f"{cy_dec / r_dec:>6,.0f}x | {cy_enc:>10,.0f} {py_enc:>10,.0f} {r_enc:>10,.0f} "
              f"{cy_enc / r_enc:>6,.0f}x")


if __name__ == "__main__":
    main()
