"""EXIficient as an XML oracle: run with a Python that has py4j (not chargescope's venv).

    PYTHON_WITH_PY4J tools/exificient_xml_oracle.py JAR < lines > jsonl

Each input line is "NAMESPACE HEX"; each output line {"hex", "xml"}: the XML EXIficient's SAX
decoder writes, with the EXIFactory the iso15118 package's EXICodec configures for that
namespace (read through reflection after a JSON decode has set it up). Never at runtime.
"""

import json
import sys

from py4j.java_gateway import JavaGateway


def main() -> None:
    gw = JavaGateway.launch_gateway(classpath=sys.argv[1], die_on_exit=True,
                                    javaopts=["--add-opens", "java.base/java.lang=ALL-UNNAMED"])
    jvm = gw.jvm
    codec = jvm.com.siemens.ct.exi.main.cmd.EXICodec()
    field = codec.getClass().getSuperclass().getDeclaredField("exiFactory")
    field.setAccessible(True)
    transformers = jvm.javax.xml.transform.TransformerFactory.newInstance()
    for line in sys.stdin:
        namespace, hex_ = line.split()
        data = bytes.fromhex(hex_)
        codec.decode(data, namespace)  # configures the factory's grammars for the namespace
        reader = jvm.com.siemens.ct.exi.main.api.sax.EXISource(field.get(codec)).getXMLReader()
        source = jvm.javax.xml.transform.sax.SAXSource(
            reader, jvm.org.xml.sax.InputSource(jvm.java.io.ByteArrayInputStream(data)))
        out = jvm.java.io.StringWriter()
        transformers.newTransformer().transform(
            source, jvm.javax.xml.transform.stream.StreamResult(out))
        print(json.dumps({"hex": hex_, "xml": out.toString()}), flush=True)
    gw.shutdown()


if __name__ == "__main__":
    main()
