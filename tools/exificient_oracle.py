"""EXIficient as an oracle: run with a Python that has py4j (not chargescope's venv).

    PYTHON_WITH_PY4J tools/exificient_oracle.py JAR < lines > jsonl

Each input line is "NAMESPACE HEX" (decode) or a JSON object {"namespace", "hex", "json"}
(decode the hex and encode the tree). Each output line is {"hex", "json" (EXIficient's JSON
text or null), "err"} plus, for tree inputs, {"encoded" (hex or null), "enc_err"}. JAR is
EXICodec.jar from the PyPI package iso15118 (the codec it reaches through py4j). Used by
tools/exi_golden.py; never at runtime.
"""

import json
import sys

from py4j.java_gateway import JavaGateway
from py4j.protocol import Py4JJavaError


def main() -> None:
    gateway = JavaGateway.launch_gateway(classpath=sys.argv[1], die_on_exit=True,
                                         javaopts=["--add-opens",
                                                   "java.base/java.lang=ALL-UNNAMED"])
    codec = gateway.jvm.com.siemens.ct.exi.main.cmd.EXICodec()
    for line in sys.stdin:
        tree = None
        if line.startswith("{"):
            job = json.loads(line)
            namespace, hex_, tree = job["namespace"], job["hex"], job["json"]
        else:
            namespace, hex_ = line.split()
        try:
            text = codec.decode(bytes.fromhex(hex_), namespace)
            err = None if text else str(codec.get_last_decoding_error())
        except Py4JJavaError as exc:  # the codec's JAXB binding throws on some content
            text, err = None, str(exc.java_exception)
        out = {"hex": hex_, "json": text, "err": err}
        if tree is not None:
            try:
                encoded = codec.encode(json.dumps(tree), namespace)
                enc_err = None if encoded else str(codec.get_last_encoding_error())
            except Py4JJavaError as exc:
                encoded, enc_err = None, str(exc.java_exception)
            out["encoded"] = bytes(encoded).hex().upper() if encoded else None
            out["enc_err"] = enc_err
        print(json.dumps(out), flush=True)
    gateway.shutdown()


if __name__ == "__main__":
    main()
