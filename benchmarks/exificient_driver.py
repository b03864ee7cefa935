"""EXIficient timing driver, run by bench_exi.py in a separate interpreter that has py4j.

Reads {"jar": path, "families": {name: [[namespace, hex, json_text], ...]}, "seconds": s}
on stdin; prints {name: {"decode": msgs/s, "encode": msgs/s}} on stdout. This is the path
the `iso15118` package takes (py4j gateway to com.siemens.ct.exi.main.cmd.EXICodec).
"""

import json
import sys
import time

from py4j.java_gateway import JavaGateway


def rate(fn, items, seconds):
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for item in items:
            fn(item)
        n += len(items)
    return n / (time.perf_counter() - start)


def main():
    job = json.load(sys.stdin)
    gateway = JavaGateway.launch_gateway(classpath=job["jar"], die_on_exit=True,
                                         javaopts=["--add-opens",
                                                   "java.base/java.lang=ALL-UNNAMED"])
    codec = gateway.jvm.com.siemens.ct.exi.main.cmd.EXICodec()
    out = {}
    for name, items in job["families"].items():
        decode_items = [(ns, bytes.fromhex(h)) for ns, h, _ in items]
        encode_items = [(ns, text) for ns, _, text in items]
        for ns, data in decode_items[:2]:  # warm the JVM
            codec.decode(data, ns)
        out[name] = {
            "decode": rate(lambda it: codec.decode(it[1], it[0]), decode_items, job["seconds"]),
            "encode": rate(lambda it: codec.encode(it[1], it[0]), encode_items, job["seconds"]),
        }
    gateway.shutdown()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
