"""EXIficient as a decode oracle: run with a Python that has py4j (not chargescope's venv).

    PYTHON_WITH_PY4J tools/exificient_oracle.py JAR < lines > jsonl

Each input line is "NAMESPACE HEX"; each output line {"hex", "json" (EXIficient's JSON text or
null), "err"}. JAR is EXICodec.jar from the PyPI package iso15118 (the codec it reaches
through py4j). Used by tools/exi_golden.py; never at runtime.
"""

import json
import sys

from py4j.java_gateway import JavaGateway


def main() -> None:
    gateway = JavaGateway.launch_gateway(classpath=sys.argv[1], die_on_exit=True,
                                         javaopts=["--add-opens",
                                                   "java.base/java.lang=ALL-UNNAMED"])
    codec = gateway.jvm.com.siemens.ct.exi.main.cmd.EXICodec()
    for line in sys.stdin:
        namespace, hex_ = line.split()
        text = codec.decode(bytes.fromhex(hex_), namespace)
        err = None if text else str(codec.get_last_decoding_error())
        print(json.dumps({"hex": hex_, "json": text, "err": err}), flush=True)
    gateway.shutdown()


if __name__ == "__main__":
    main()
