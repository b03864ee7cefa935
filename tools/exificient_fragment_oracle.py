"""EXIficient as a fragment/XML oracle: run with a Python that has py4j (not chargescope's venv).

    PYTHON_WITH_PY4J tools/exificient_fragment_oracle.py JAR < jobs.jsonl > results.jsonl

JAR is EXICodec.jar from the PyPI package iso15118. Each input line is one job (JSON):

    {"json": TREE, "namespace": NS}
        what the iso15118 package does to sign: EXICodec.encode(json, namespace). For the
        signed elements (AuthorizationReq, eMAID, SignedInfo with the xmldsig namespace,
        PnC_AReqAuthorizationMode, ...) the codec switches its EXIFactory to fragment mode.
        Output {"hex"} or {"err"}; also "xml": that stream decoded back as a fragment.
    {"xml": TEXT, "grammar": FIELD, "fragment": BOOL}
        EXI-encode an XML instance with one of the codec's precompiled grammars (FIELD is a
        field of AbstractEXICodec: iso15118_2_Grammar, core_schema_Protocol,
        iso15118_20_V2G_CI_CommonMessages, ...) and the codec's EXIFactory options, as a
        document or a fragment. Output {"hex"} or {"err"}.
    {"hex": HEX, "grammar": FIELD, "fragment": BOOL}
        decode to XML text. Output {"xml"} or {"err"}.

Used by tools/exi_fragment_golden.py to make committed vectors; never at runtime.
"""

import json
import sys

from py4j.java_gateway import JavaGateway
from py4j.protocol import Py4JJavaError

GRAMMAR_OF_NAMESPACE = {
    "http://www.w3.org/2000/09/xmldsig#": "core_schema_Protocol",
    "urn:iso:15118:2:2013:MsgDef": "iso15118_2_Grammar",
    "urn:iso:std:iso:15118:-20:CommonMessages": "iso15118_20_V2G_CI_CommonMessages",
    "urn:iso:std:iso:15118:-20:AC": "iso15118_20_V2G_CI_AC",
    "urn:iso:std:iso:15118:-20:DC": "iso15118_20_V2G_CI_DC",
    "urn:iso:std:iso:15118:-20:WPT": "iso15118_20_V2G_CI_WPT",
    "urn:iso:std:iso:15118:-20:ACDP": "iso15118_20_V2G_CI_ACDP",
    "urn:din:70121:2012:MsgDef": "dinspec_70121",
    "urn:iso:15118:2:2010:AppProtocol": "commonAppProtocol",
}


class Oracle:
    def __init__(self, jar: str) -> None:
        self.gw = JavaGateway.launch_gateway(
            classpath=jar, die_on_exit=True,
            javaopts=["--add-opens", "java.base/java.lang=ALL-UNNAMED"])
        jvm = self.jvm = self.gw.jvm
        self.codec = jvm.com.siemens.ct.exi.main.cmd.EXICodec()
        self.base = self.codec.getClass().getSuperclass()
        field = self.base.getDeclaredField("exiFactory")
        field.setAccessible(True)
        self.factory = field.get(self.codec)
        self.transformers = jvm.javax.xml.transform.TransformerFactory.newInstance()
        parsers = jvm.javax.xml.parsers.SAXParserFactory.newInstance()
        parsers.setNamespaceAware(True)
        self.parsers = parsers

    def grammar(self, name: str):
        field = self.base.getDeclaredField(name)
        field.setAccessible(True)
        return field.get(self.codec)

    def decode_xml(self, data: bytes, grammar: str, fragment: bool) -> str:
        jvm = self.jvm
        self.factory.setGrammars(self.grammar(grammar))
        self.factory.setFragment(fragment)
        try:
            reader = jvm.com.siemens.ct.exi.main.api.sax.EXISource(self.factory).getXMLReader()
            source = jvm.javax.xml.transform.sax.SAXSource(
                reader, jvm.org.xml.sax.InputSource(jvm.java.io.ByteArrayInputStream(data)))
            out = jvm.java.io.StringWriter()
            self.transformers.newTransformer().transform(
                source, jvm.javax.xml.transform.stream.StreamResult(out))
            return out.toString()
        finally:
            self.factory.setFragment(False)

    def encode_xml(self, xml: str, grammar: str, fragment: bool) -> bytes:
        jvm = self.jvm
        self.factory.setGrammars(self.grammar(grammar))
        self.factory.setFragment(fragment)
        try:
            out = jvm.java.io.ByteArrayOutputStream()
            result = jvm.com.siemens.ct.exi.main.api.sax.EXIResult(self.factory)
            result.setOutputStream(out)
            reader = self.parsers.newSAXParser().getXMLReader()
            reader.setContentHandler(result.getHandler())
            reader.parse(jvm.org.xml.sax.InputSource(jvm.java.io.StringReader(xml)))
            return bytes(out.toByteArray())
        finally:
            self.factory.setFragment(False)

    def run(self, job: dict) -> dict:
        try:
            if "json" in job:
                encoded = self.codec.encode(json.dumps(job["json"]), job["namespace"])
                if not encoded:
                    return {"err": str(self.codec.get_last_encoding_error())}
                data = bytes(encoded)
                out = {"hex": data.hex().upper()}
                grammar = GRAMMAR_OF_NAMESPACE[job["namespace"]]
                try:
                    out["xml"] = self.decode_xml(data, grammar, True)
                except Py4JJavaError as exc:
                    out["xml_err"] = str(exc.java_exception)
                return out
            if "xml" in job:
                data = self.encode_xml(job["xml"], job["grammar"], job["fragment"])
                return {"hex": data.hex().upper()}
            return {"xml": self.decode_xml(bytes.fromhex(job["hex"]), job["grammar"],
                                           job["fragment"])}
        except Py4JJavaError as exc:
            return {"err": str(exc.java_exception)}


def main() -> None:
    oracle = Oracle(sys.argv[1])
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(oracle.run(json.loads(line))), flush=True)
    oracle.gw.shutdown()


if __name__ == "__main__":
    main()
