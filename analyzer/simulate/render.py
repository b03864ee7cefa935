"""Render a scenario: run the link scripts, put their units on the wire, write one capture per source.

`render(scenario, out_dir, seed=0)` writes `<scenario>-linkA-plc.pcapng`,
`<scenario>-linkB-csms.pcapng` and `<scenario>-linkC-ocpi.pcap` (the sources that saw
traffic) and returns their paths. Each source is stamped with its own clock
(`Scenario.clock_offsets_ns`). Same scenario and seed: identical bytes.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import h11

from chargescope.analyzer.simulate import encoders as enc
from chargescope.analyzer.simulate import linka, linkb, linkc
from chargescope.analyzer.simulate import netbuild as nb
from chargescope.analyzer.simulate.events import (
    Http,
    Mme,
    Ocpp,
    Sdp,
    TcpClose,
    TcpOpen,
    V2g,
    WsOpen,
)
from chargescope.analyzer.simulate.facts import Facts
from chargescope.analyzer.simulate.scenarios import Scenario

HTTP_PORT = 80
SDP_GROUP = "ff02::1"
LINKTYPE_ETHERNET = 1


@dataclass(frozen=True, slots=True)
class Source:
    """One capture source: where it sat, which link it saw, how its file is written."""

    name: str  # key into Scenario.clock_offsets_ns
    link: str
    suffix: str  # file name part after the scenario name
    fmt: str  # "pcapng" or "pcap"
    interface: str
    description: str


SOURCES: tuple[Source, ...] = (
    Source("plc", "A", "linkA-plc.pcapng", "pcapng", "plc0",
           "HomePlug GP sniffer on the CP line (EV <-> charger)"),
    Source("csms", "B", "linkB-csms.pcapng", "pcapng", "eth0",
           "tcpdump on the CSMS (charger <-> CSMS, OCPP)"),
    Source("ocpi", "C", "linkC-ocpi.pcap", "pcap", "eth1",
           "tcpdump on the CPO's OCPI gateway (CPO <-> eMSP)"),
)


@dataclass(frozen=True, slots=True)
class Rendered:
    """The frames of every source that saw traffic, before they are written."""

    frames: dict[str, list[nb.WireFrame]]
    events: dict[str, list[Any]]  # source -> the link script's events (what was said)
    facts: Facts


def _rng(master: random.Random) -> random.Random:
    return random.Random(master.getrandbits(64))


def build(scenario: Scenario, seed: int = 0) -> Rendered:
    """Run the link scripts and synthesise every source's frames (nothing written)."""
    master = random.Random(f"{scenario.name}:{seed}")
    rngs = {name: _rng(master) for name in ("a", "b", "c", "wire_a", "wire_b", "wire_c")}
    facts = Facts(scenario)
    a_events = linka.script(scenario, facts, rngs["a"])
    cert_tree = next((e for e in a_events if isinstance(e, V2g) and
                      "CertificateInstallationReq" in json.dumps(e.tree)[:80]), None)

    def cert_exi() -> str:
        if cert_tree is None:
            return ""
        return base64.b64encode(enc.exi(cert_tree.tree, cert_tree.schema)).decode()

    b_events = linkb.script(scenario, facts, rngs["b"], cert_exi)
    c_events = linkc.script(scenario, facts, rngs["c"])
    frames: dict[str, list[nb.WireFrame]] = {}
    said = {"plc": a_events, "csms": b_events, "ocpi": c_events}
    for source, events, wire_rng, render_link in (
            (SOURCES[0], a_events, rngs["wire_a"], _link_a),
            (SOURCES[1], b_events, rngs["wire_b"], _link_b),
            (SOURCES[2], c_events, rngs["wire_c"], _link_c)):
        if not events:
            continue
        wire = nb.Wire(wire_rng)
        render_link(wire, scenario, events, scenario.offset_ns(source.name))
        frames[source.name] = wire.ordered()
    return Rendered(frames, said, facts)


def render(scenario: Scenario, out_dir: Path, seed: int = 0) -> list[Path]:
    """Write the scenario's captures into `out_dir`; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rendered = build(scenario, seed)
    writer = enc.writer_module()
    paths = []
    for source in SOURCES:
        frames = rendered.frames.get(source.name)
        if not frames:
            continue
        path = out_dir / f"{scenario.name}-{source.suffix}"
        if source.fmt == "pcapng":
            with writer.PcapngWriter(path, application="chargescope simulate") as out:
                index = out.add_interface(LINKTYPE_ETHERNET, 0, source.interface,
                                          description=source.description)
                for frame in frames:
                    out.write(frame.data, frame.ts_ns, index)
        else:
            with writer.PcapWriter(path, linktype=LINKTYPE_ETHERNET, nano=False) as out:
                for frame in frames:
                    out.write(frame.data, frame.ts_ns)
        paths.append(path)
    return paths


def site_map(scenarios: list[Scenario]) -> str:
    """The site map (TOML, see analyzer/correlate/sitemap.py) of the scenarios' chargers.

    What a site operator knows and the captures do not say: which SECC MAC and which
    EVSEID belong to which OCPP charge point and connector. `analyze --site` uses it to
    join link A and link B sessions that share no identifier (EIM sessions).
    """
    lines = ["# chargescope simulate: the charging site of the generated captures", ""]
    seen: set[str] = set()
    for scn in scenarios:
        ids = scn.ids
        if ids.charge_point_id in seen:
            continue
        seen.add(ids.charge_point_id)
        connector = str(ids.connector_id) if scn.ocpp == "ocpp1.6" else f"1:{ids.connector_id}"
        lines += ["[[charger]]", f'charge_point_id = "{ids.charge_point_id}"',
                  f'secc_mac = "{ids.secc_mac}"', f'location_id = "{ids.location_id}"', "",
                  "[[charger.evse]]", f'connector = "{connector}"', f'evse_id = "{ids.evse_id}"',
                  f'evse_uid = "{ids.evse_uid}"', f'secc_mac = "{ids.secc_mac}"', ""]
    return "\n".join(lines)


# ---- link A ---------------------------------------------------------------------------

def _link_a(wire: nb.Wire, scn: Scenario, events: list[Any], offset: int) -> None:
    ids = scn.ids
    ev = nb.Node(ids.ev_mac, nb.link_local_ipv6(ids.ev_mac))
    secc = nb.Node(ids.secc_mac, nb.link_local_ipv6(ids.secc_mac))
    group = nb.Node(nb.multicast_mac(SDP_GROUP), SDP_GROUP)
    sdp_port = wire.rng.randrange(49152, 65535)
    conv: nb.TcpConversation | None = None
    for event in events:
        ts = event.ts_ns + offset
        if isinstance(event, Mme):
            wire.homeplug(ts, event.src_mac, event.dst_mac,
                          enc.mme(event.name, event.variant, event.fields))
        elif isinstance(event, Sdp) and event.request:
            wire.udp(ts, ev, sdp_port, group, 15118, enc.sdp_request(), ttl=255)
        elif isinstance(event, Sdp):
            wire.udp(ts, secc, 15118, ev, sdp_port, enc.sdp_response(secc.ip, linka.SECC_PORT),
                     ttl=255)
        elif isinstance(event, TcpOpen):
            conv = wire.tcp(ev, secc, linka.SECC_PORT, rtt_ns=3 * nb.MS)
            conv.connect(ts)
        elif isinstance(event, V2g) and conv is not None:
            unit = enc.v2gtp(event.payload_type, enc.exi(event.tree, event.schema))
            conv.send(ts, unit, from_client=event.from_ev)
        elif isinstance(event, TcpClose) and conv is not None:
            conv.close(ts, from_client=event.by_client)


# ---- link B ---------------------------------------------------------------------------

def _h11_bytes(conn: h11.Connection, *events: Any) -> bytes:
    return b"".join(conn.send(e) or b"" for e in events)


def _link_b(wire: nb.Wire, scn: Scenario, events: list[Any], offset: int) -> None:
    ids = scn.ids
    # the CSMS sees the charger behind its site router
    cp = nb.Node("02:00:5e:20:00:01", ids.cp_ip)
    csms = nb.Node("02:00:5e:20:00:fe", ids.csms_ip)
    conv: nb.TcpConversation | None = None
    for event in events:
        ts = event.ts_ns + offset
        if isinstance(event, WsOpen):
            conv = wire.tcp(cp, csms, HTTP_PORT, rtt_ns=38 * nb.MS)
            t = conv.connect(ts)
            key = base64.b64encode(wire.rng.randbytes(16)).decode()
            client, server = h11.Connection(h11.CLIENT), h11.Connection(h11.SERVER)
            request = h11.Request(method="GET", target=f"/ocpp/{ids.charge_point_id}", headers=[
                ("Host", f"{ids.csms_ip}"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Protocol", scn.ocpp), ("User-Agent", "Simulated-CP/4.2.1")])
            raw = _h11_bytes(client, request)
            server.receive_data(raw)
            server.next_event()
            t = conv.send(t + 2 * nb.MS, raw, from_client=True)
            reply = h11.InformationalResponse(status_code=101, reason=b"Switching Protocols",
                                              headers=[
                ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", enc.ws_accept(key)),
                ("Sec-WebSocket-Protocol", scn.ocpp)])
            conv.send(t + 4 * nb.MS, _h11_bytes(server, reply), from_client=False)
        elif isinstance(event, Ocpp) and conv is not None:
            text = json.dumps(event.frame, separators=(",", ":")).encode()
            mask = wire.rng.randbytes(4) if event.from_cp else b""
            conv.send(ts, enc.ws_frame(text, mask), from_client=event.from_cp)


# ---- link C ---------------------------------------------------------------------------

def _link_c(wire: nb.Wire, scn: Scenario, events: list[Any], offset: int) -> None:
    ids = scn.ids
    # the OCPI gateway is captured on its tagged uplink (VLAN 120), as port mirrors often are
    cpo = nb.Node("02:00:5e:30:00:0a", ids.cpo_ip, vlan=120)
    emsp = nb.Node("02:00:5e:30:00:01", ids.emsp_ip, vlan=120)  # the default router
    tokens = {True: "Q1BPLXRva2VuLXNpbXVsYXRlZA==", False: "RU1TUC10b2tlbi1zaW11bGF0ZWQ="}
    for event in events:
        if not isinstance(event, Http):
            continue
        client, server = (cpo, emsp) if event.from_cpo else (emsp, cpo)
        host = "emsp.example" if event.from_cpo else "cpo.example"
        frm, to = (ids.cpo_party, ids.emsp_party) if event.from_cpo else (
            ids.emsp_party, ids.cpo_party)
        body = b"" if event.body is None else json.dumps(event.body, separators=(",", ":")).encode()
        request_id = str(uuid.UUID(int=wire.rng.getrandbits(128), version=4))
        headers = [("Host", host), ("Authorization", f"Token {tokens[event.from_cpo]}"),
                   ("X-Request-ID", request_id), ("X-Correlation-ID", request_id),
                   ("OCPI-from-country-code", frm[0]), ("OCPI-from-party-id", frm[1]),
                   ("OCPI-to-country-code", to[0]), ("OCPI-to-party-id", to[1])]
        if body:
            headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        else:
            headers += [("Content-Length", "0")]
        reply = json.dumps(event.response, separators=(",", ":")).encode()
        _http_exchange(wire, client, server, event.ts_ns + offset, event.response_ns + offset,
                       h11.Request(method=event.method, target=event.path, headers=headers),
                       body, event.status, reply, request_id)


def _http_exchange(wire: nb.Wire, client: nb.Node, server: nb.Node, ts: int, answer_ts: int,
                   request: h11.Request, body: bytes, status: int, reply: bytes,
                   request_id: str) -> None:
    """One HTTP/1.1 request and response on its own connection (serialised by h11)."""
    conv = wire.tcp(client, server, HTTP_PORT, rtt_ns=24 * nb.MS)
    c, s = h11.Connection(h11.CLIENT), h11.Connection(h11.SERVER)
    raw = _h11_bytes(c, request, *([h11.Data(data=body)] if body else []), h11.EndOfMessage())
    s.receive_data(raw)
    while s.next_event() not in (h11.NEED_DATA, h11.PAUSED):
        pass
    t = conv.connect(ts - 2 * conv.rtt_ns)
    conv.send(max(t + 1, ts), raw, from_client=True)
    answer = _h11_bytes(s, h11.Response(status_code=status, reason=HTTPStatus(status).phrase,
                                         headers=[
        ("Content-Type", "application/json"), ("Content-Length", str(len(reply))),
        ("X-Request-ID", request_id), ("X-Correlation-ID", request_id)]),
        h11.Data(data=reply), h11.EndOfMessage())
    t = conv.send(answer_ts, answer, from_client=False)
    conv.close(t + 3 * nb.MS, from_client=True)
