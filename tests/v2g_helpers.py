"""Test helpers for link A: an EXI oracle built from the reference vectors, stream builders,
and a small dpkt-based reader that turns real captures into the stream events the pipeline
produces (test scaffolding only; the product uses chargescope.analyzer.pipeline)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import dpkt

from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Endpoint,
    StreamData,
    StreamGap,
)

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
REFERENCE = CORPUS / "exi-reference"


@lru_cache(maxsize=1)
def reference_vectors() -> dict[tuple[str, str, str], dict]:
    """(schema, message, variant) -> vector, from EXIficient's reference output."""
    out = {}
    for path in sorted(REFERENCE.glob("*/*.jsonl")):
        for line in path.read_text().splitlines():
            vec = json.loads(line)
            out[(path.parent.name, vec["message"], vec["variant"])] = vec
    return out


class OracleDecoder:
    """decode(data, schema) answering from the reference vectors: exactly what EXIficient
    decoded for those bytes; anything else raises like a codec would."""

    def __init__(self) -> None:
        self.table = {(bytes.fromhex(v["hex"]), schema): v["json"]
                      for (schema, _m, _v), v in reference_vectors().items()}
        self.calls: list[str] = []

    def __call__(self, data: bytes, schema: str) -> dict:
        self.calls.append(schema)
        try:
            return json.loads(json.dumps(self.table[(bytes(data), schema)]))
        except KeyError:
            raise ValueError(f"not decodable as {schema}") from None


def vector(schema: str, message: str, variant: str = "min") -> dict:
    if not REFERENCE.exists():
        import pytest
        pytest.skip(f"EXI reference vectors not present: {REFERENCE}")
    return reference_vectors()[(schema, message, variant)]


CONN = Connection(0, Endpoint("fe80::2", 50000), Endpoint("fe80::1", 15118), "test.pcap")


def data_events(chunks: list[bytes], direction: int = 0, conn: Connection = CONN,
                start: int = 0, ts0: int = 1_000) -> list[StreamData]:
    """StreamData events for consecutive chunks, each chunk one frame (numbered from 1)."""
    out, offset = [], start
    for i, chunk in enumerate(chunks):
        ref = ByteRef(conn.source, i + 1, 54, len(chunk))
        out.append(StreamData(conn, direction, offset, chunk, ts0 + i, (ref,)))
        offset += len(chunk)
    return out


# --- real captures -------------------------------------------------------------------------

def _packets(path: Path) -> Iterator[tuple[int, int, bytes]]:
    with path.open("rb") as fh:
        magic = fh.read(4)
        fh.seek(0)
        reader = dpkt.pcapng.Reader(fh) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(fh)
        for number, (ts, buf) in enumerate(reader, start=1):
            yield number, int(round(ts * 1e9)), buf


class Segment(NamedTuple):
    frame: int
    ts_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    proto: str  # "tcp" or "udp"
    payload: bytes
    offset: int  # of the payload in the frame
    seq: int = 0
    flags: int = 0


def ipv6_segments(path: Path) -> Iterator[Segment]:
    """Every IPv6 TCP/UDP segment of an Ethernet capture, in file order."""
    for number, ts_ns, buf in _packets(path):
        try:
            eth = dpkt.ethernet.Ethernet(buf)
        except (dpkt.UnpackError, IndexError):
            continue
        ip = eth.data
        if not isinstance(ip, dpkt.ip6.IP6):
            continue
        l4 = ip.data
        if not isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
            continue
        payload = bytes(l4.data)
        src = socket.inet_ntop(socket.AF_INET6, ip.src)
        dst = socket.inet_ntop(socket.AF_INET6, ip.dst)
        if isinstance(l4, dpkt.tcp.TCP):
            yield Segment(number, ts_ns, src, l4.sport, dst, l4.dport, "tcp", payload,
                          len(buf) - len(payload), l4.seq, l4.flags)
        else:
            yield Segment(number, ts_ns, src, l4.sport, dst, l4.dport, "udp", payload,
                          len(buf) - len(payload))


def tcp_events(path: Path, source: str = "") -> list[StreamData | StreamGap]:
    """In-order TCP payload per connection (retransmissions dropped, holes as gaps)."""
    conns: dict[frozenset, Connection] = {}
    nxt: dict[tuple, int] = {}
    out: list[StreamData | StreamGap] = []
    for seg in ipv6_segments(path):
        if seg.proto != "tcp":
            continue
        ckey = frozenset({(seg.src, seg.sport), (seg.dst, seg.dport)})
        if ckey not in conns:
            if seg.flags & dpkt.tcp.TH_SYN and not seg.flags & dpkt.tcp.TH_ACK:
                client, server = Endpoint(seg.src, seg.sport), Endpoint(seg.dst, seg.dport)
            elif seg.sport > seg.dport:
                client, server = Endpoint(seg.src, seg.sport), Endpoint(seg.dst, seg.dport)
            else:
                client, server = Endpoint(seg.dst, seg.dport), Endpoint(seg.src, seg.sport)
            conns[ckey] = Connection(len(conns), client, server, source)
        conn = conns[ckey]
        direction = 0 if (seg.src, seg.sport) == (conn.client.ip, conn.client.port) else 1
        key = (conn.index, direction)
        if seg.flags & dpkt.tcp.TH_SYN:
            nxt[key] = seg.seq + 1
            continue
        if key not in nxt:
            nxt[key] = seg.seq
        origin_key = ("origin",) + key
        if origin_key not in nxt:
            nxt[origin_key] = nxt[key]
        origin = nxt[origin_key]
        payload, offset = seg.payload, seg.offset
        if not payload:
            continue
        rel = (seg.seq - origin) % (1 << 32)
        expected = (nxt[key] - origin) % (1 << 32)
        if rel + len(payload) <= expected:
            continue  # retransmission
        if rel < expected:
            cut = expected - rel
            payload, offset, rel = payload[cut:], offset + cut, expected
        if rel > expected:
            out.append(StreamGap(conn, direction, expected, rel - expected, seg.ts_ns))
        out.append(StreamData(conn, direction, rel, payload, seg.ts_ns,
                              (ByteRef(source, seg.frame, offset, len(payload)),)))
        nxt[key] = (origin + rel + len(payload)) % (1 << 32)
    return out


# --- decoded sessions from reference trees -------------------------------------------------

EVCC, SECC = "[fe80::2]:50000", "[fe80::1]:61000"
SID = "0102030405060708"
HANDSHAKE = {
    "din": "urn:din:70121:2012:MsgDef",
    "iso2": "urn:iso:15118:2:2013:MsgDef",
    "iso20_CommonMessages": "urn:iso:std:iso:15118:-20:DC",
}


def _set(tree: dict, path: str, value) -> None:
    keys = path.split(".")
    for k in keys[:-1]:
        tree = tree.setdefault(k, {})
    if value is None:
        tree.pop(keys[-1], None)
    else:
        tree[keys[-1]] = value


class Script:
    """Builds a decoded V2G conversation: each call appends one Message made from the
    reference tree of that message type (EXIficient output), patched where the test says."""

    def __init__(self, schema: str = "din", stream: int = 0, source: str = "t.pcap",
                 t0_ms: float = 0.0) -> None:
        self.schema = schema
        self.stream = stream
        self.source = source
        self.t_ms = t0_ms
        self.messages: list = []

    def _schema_for(self, name: str) -> str:
        if self.schema.startswith("iso20"):
            for s in ("iso20_CommonMessages", "iso20_DC", "iso20_AC"):
                if (s, name, "min") in reference_vectors():
                    return s
        return self.schema

    def add(self, name: str, dt_ms: float = 10.0, sid: str | None = SID, **patch) -> Script:
        from chargescope.analyzer.records import ByteRef, Link, Message
        self.t_ms += dt_ms
        if name.startswith("supportedAppProtocol"):
            schema = "appHand"
        else:
            schema = self._schema_for(name)
        tree = json.loads(json.dumps(vector(schema, name, "min")["json"]))
        if "V2G_Message" in tree:
            if sid is not None:
                tree["V2G_Message"]["Header"]["SessionID"] = sid
            node = tree["V2G_Message"]["Body"][name]
        else:
            node = tree[name]
            if sid is not None and "Header" in node:
                node["Header"]["SessionID"] = sid
        for path, value in patch.items():
            _set(node, path.replace("__", "."), value)
        src, dst = (EVCC, SECC) if name.endswith("Req") else (SECC, EVCC)
        fields = {"v2gtp": {"payload_type": 0x8001, "tcp_stream": self.stream},
                  "schema": schema, **tree}
        ref = ByteRef(self.source, len(self.messages) + 1, 74, 20)
        self.messages.append(Message(Link.A, "exi", name, int(self.t_ms * 1e6), src, dst,
                                     fields, (ref,)))
        return self

    def pair(self, base: str, res_dt_ms: float = 5.0, req: dict | None = None,
             dt_ms: float = 10.0, **res) -> Script:
        self.add(base + "Req", dt_ms, **(req or {}))
        return self.add(base + "Res", res_dt_ms, **res)

    def handshake(self, namespace: str | None = None, ok: bool = True) -> Script:
        ns = namespace or HANDSHAKE[self.schema]
        self.add("supportedAppProtocolReq", sid=None, AppProtocol=[
            {"ProtocolNamespace": ns, "VersionNumberMajor": 2, "VersionNumberMinor": 0,
             "SchemaID": 1, "Priority": 1}])
        return self.add("supportedAppProtocolRes", 5, sid=None,
                        ResponseCode="OK_SuccessfulNegotiation" if ok else "Failed_NoNegotiation",
                        SchemaID=1 if ok else None)

    def close(self, reason: str = "fin", dt_ms: float = 5.0, by: str = "client") -> Script:
        from chargescope.analyzer.records import Link, Message
        self.t_ms += dt_ms
        self.messages.append(Message(Link.A, "v2gtp", "ConnectionClosed", int(self.t_ms * 1e6),
                                     EVCC, SECC, {"v2gtp": {"tcp_stream": self.stream},
                                                  "reason": reason, "closed_by": by}))
        return self


def din_dc_session(stop_ok: bool = True) -> Script:
    """A complete, healthy DIN 70121 DC session (values as a real charger sends them)."""
    v = lambda x, unit="V", m=0: {"Multiplier": m, "Unit": unit, "Value": x}  # noqa: E731
    s = Script("din").handshake()
    s.add("SessionSetupReq", sid="00", EVCCID="020000000001")
    s.add("SessionSetupRes", 5, EVSEID="49A89A")
    s.pair("ServiceDiscovery")
    s.pair("ServicePaymentSelection", req={"SelectedPaymentOption": "ExternalPayment"})
    s.pair("ContractAuthentication", EVSEProcessing="Finished")
    s.pair("ChargeParameterDiscovery", req={
        "EVRequestedEnergyTransferType": "DC_extended", "AC_EVChargeParameter": None,
        "DC_EVChargeParameter": {"DC_EVStatus": {"EVReady": True, "EVErrorCode": "NO_ERROR",
                                                 "EVRESSSOC": 40},
                                 "EVMaximumCurrentLimit": v(200, "A"),
                                 "EVMaximumVoltageLimit": v(450)}},
        EVSEProcessing="Finished")
    for processing in ("Ongoing", "Ongoing", "Finished"):
        s.pair("CableCheck", DC_EVSEStatus={"EVSEIsolationStatus": "Valid",
                                            "EVSEStatusCode": "EVSE_Ready",
                                            "NotificationMaxDelay": 0,
                                            "EVSENotification": "None"},
               EVSEProcessing=processing, dt_ms=200)
    for present in (0, 200, 385):
        s.pair("PreCharge", req={"EVTargetVoltage": v(390), "EVTargetCurrent": v(2, "A")},
               EVSEPresentVoltage=v(present))
    s.pair("PowerDelivery", req={"ReadyToChargeState": True})
    for present_v in (391, 395, 400):
        s.pair("CurrentDemand", req={"EVTargetVoltage": v(420), "EVTargetCurrent": v(100, "A")},
               EVSEPresentVoltage=v(present_v), EVSEPresentCurrent=v(99, "A"), dt_ms=100)
    s.pair("PowerDelivery", req={"ReadyToChargeState": False})
    s.pair("WeldingDetection")
    if stop_ok:
        s.pair("SessionStop")
    return s.close()


def prelude(s: Script, cpd_req: dict | None = None) -> Script:
    """Handshake up to and including ChargeParameterDiscovery, in the protocol's order."""
    s.handshake()
    s.add("SessionSetupReq", sid="00").add("SessionSetupRes", 5)
    s.pair("ServiceDiscovery")
    if s.schema == "din":
        s.pair("ServicePaymentSelection", req={"SelectedPaymentOption": "ExternalPayment"})
        s.pair("ContractAuthentication", EVSEProcessing="Finished")
    else:
        s.pair("PaymentServiceSelection", req={"SelectedPaymentOption": "ExternalPayment"})
        s.pair("Authorization", EVSEProcessing="Finished")
    if cpd_req is None:  # the reference "min" trees ask for AC; these sessions are DC
        key = "EVRequestedEnergyTransferType" if s.schema == "din" else \
            "RequestedEnergyTransferMode"
        cpd_req = {key: "DC_extended"}
    return s.pair("ChargeParameterDiscovery", req=cpd_req, EVSEProcessing="Finished")


def link_a_engine():
    """`chargescope.cli.v2g.analyse_capture`, or skip while the capture engine, the pipeline
    or the EXI codec is not installed."""
    import pytest
    pytest.importorskip("chargescope.analyzer.pipeline")
    pytest.importorskip("chargescope.analyzer.capture")
    exi = pytest.importorskip("chargescope.dissectors.exi")
    if not hasattr(exi, "decode"):
        pytest.skip("EXI codec not installed")
    from chargescope.cli.v2g import analyse_capture
    return analyse_capture
