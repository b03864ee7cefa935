"""Record real OCPP-J traffic on loopback: the `ocpp` package's charge point and CSMS.

    python tools/make_ocpp_captures.py [--out tests/data/ocpp]

For each scenario a CSMS (`ocpp` package, `websockets` server) and a charge point
(`ocpp` package, `websockets` client) talk on 127.0.0.1 while `tcpdump -i lo`
records the port. Written per scenario:

* `<name>.pcap` - the capture;
* `<name>.truth.json` - every OCPP-J text as sent (direction, unique id, raw text),
  the subprotocol and compression used, and the transactions the scenario made;
* `<name>.jsonl` and `<name>.log` - the same messages as a CSMS would log them, in
  the JSON-lines and timestamp-prefixed text formats `chargescope ocpp` reads.

Needs root (tcpdump on lo) and `pip install ocpp websockets`. Scenarios:
v16 (ocpp1.6, no compression, Basic auth), v201 (ocpp2.0.1, permessage-deflate with
context takeover), v21 (ocpp2.1, permessage-deflate without context takeover and
10-bit windows), v16-unauthorized (HTTP 401 on the upgrade) and v16-badframe (a frame
with a reserved opcode written raw to the socket; the CSMS closes with 1002).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as res16
from ocpp.v21 import ChargePoint as Cp21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as res21
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as res201
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

HOST = "127.0.0.1"
PASSWORD = "s3cret-pass"  # Basic-auth password the analyzer must never print


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Recorder:
    """Wraps a websockets connection and logs every text in both directions."""

    conn: Any
    side: str  # "cp" or "csms": whose connection this is
    cp_id: str
    log: list[dict] = field(default_factory=list)

    async def send(self, text: str) -> None:
        self._note(text, outgoing=True)
        await self.conn.send(text)

    async def recv(self) -> str:
        text = await self.conn.recv()
        self._note(text, outgoing=False)
        return text

    def _note(self, text: str, outgoing: bool) -> None:
        from_cp = outgoing == (self.side == "cp")
        self.log.append({"ts_ns": time.time_ns(), "direction": "cp->csms" if from_cp else "csms->cp",
                         "charge_point_id": self.cp_id, "text": text})


# ----------------------------------------------------------------------------- CSMS

class Csms16(Cp16):
    @on("BootNotification")
    def on_boot(self, **_):
        return res16.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self):
        return res16.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **_):
        return res16.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_tag):
        return res16.Authorize(id_tag_info={"status": "Accepted" if id_tag == "GOODTAG1" else "Invalid"})

    @on("StartTransaction")
    def on_start(self, **_):
        return res16.StartTransaction(transaction_id=42, id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter(self, **_):
        return res16.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **_):
        return res16.StopTransaction()

    @on("FirmwareStatusNotification")
    async def on_firmware(self, **_):
        await asyncio.sleep(3)  # never answers before the charge point gives up
        return res16.FirmwareStatusNotification()


class Csms201(Cp201):
    @on("BootNotification")
    def on_boot(self, **_):
        return res201.BootNotification(current_time=now(), interval=60, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self):
        return res201.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **_):
        return res201.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_token, **_):
        ok = id_token["id_token"] == "TOKEN201"
        return res201.Authorize(id_token_info={"status": "Accepted" if ok else "Blocked"})

    @on("TransactionEvent")
    def on_tx(self, **_):
        return res201.TransactionEvent()


class Csms21(Cp21):
    boots = 0

    @on("BootNotification")
    def on_boot(self, **_):
        Csms21.boots += 1
        status = "Pending" if Csms21.boots == 1 else "Accepted"
        return res21.BootNotification(current_time=now(), interval=1 if status == "Pending" else 60,
                                      status=status)

    @on("Heartbeat")
    def on_heartbeat(self):
        return res21.Heartbeat(current_time=now())

    @on("TransactionEvent")
    def on_tx(self, **_):
        return res21.TransactionEvent()


class Cp201Client(Cp201):
    @on("RequestStartTransaction")
    def on_request_start(self, id_token, remote_start_id, **_):
        return res201.RequestStartTransaction(status="Accepted")


class Cp16Client(Cp16):
    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id):
        return res16.RemoteStopTransaction(status="Accepted")


# ----------------------------------------------------------------------------- scenarios

async def scenario_v16(cp: Cp16Client, csms: Csms16, ws: Any) -> list[dict]:
    await cp.call(call16.BootNotification(charge_point_vendor="ChargeScope", charge_point_model="Loop-16",
                                          charge_point_serial_number="SN-16-0001",
                                          firmware_version="1.6.0"))
    await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    await cp.call(call16.Heartbeat())
    await cp.call(call16.Authorize(id_tag="BADTAG01"))
    await cp.call(call16.Authorize(id_tag="GOODTAG1"))
    await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
    await cp.call(call16.StartTransaction(connector_id=1, id_tag="GOODTAG1", meter_start=1000,
                                          timestamp=now()))
    await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
    for wh in (1500, 2100):
        await cp.call(call16.MeterValues(connector_id=1, transaction_id=42, meter_value=[{
            "timestamp": now(), "sampled_value": [{"value": str(wh), "measurand": "Energy.Active.Import.Register",
                                                   "unit": "Wh"}]}]))
    await cp.call(call16.DataTransfer(vendor_id="com.example", message_id="Hello", data="{}"))  # CALLERROR
    await csms.call(call16.RemoteStopTransaction(transaction_id=42))
    await cp.call(call16.StopTransaction(meter_stop=2500, timestamp=now(), transaction_id=42,
                                         reason="Remote", id_tag="GOODTAG1"))
    await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Finishing"))
    await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    await ws.send('[2,"bad-1","Heartbeat",{')  # malformed JSON, sent raw
    await asyncio.sleep(0.2)
    try:  # unanswered: the CSMS handler sleeps past the charge point's timeout
        await cp.call(call16.FirmwareStatusNotification(status="Idle"))
    except TimeoutError:
        pass
    return [{"transaction_id": 42, "id_tag": "GOODTAG1", "meter_start": 1000, "meter_stop": 2500,
             "reason": "Remote", "connector_id": 1}]


async def scenario_v201(cp: Cp201, csms: Csms201, ws: Any) -> list[dict]:
    await cp.call(call201.BootNotification(
        charging_station={"model": "Loop-201", "vendor_name": "ChargeScope",
                          "serial_number": "SN-201-0001", "firmware_version": "2.0.1"},
        reason="PowerUp"))
    await cp.call(call201.StatusNotification(timestamp=now(), connector_status="Available", evse_id=1,
                                             connector_id=1))
    await cp.call(call201.Authorize(id_token={"id_token": "STOLEN01", "type": "ISO14443"}))  # Blocked
    await csms.call(call201.RequestStartTransaction(id_token={"id_token": "TOKEN201", "type": "ISO14443"},
                                                    remote_start_id=77, evse_id=1))
    await cp.call(call201.Authorize(id_token={"id_token": "TOKEN201", "type": "ISO14443"}))
    evse = {"id": 1, "connector_id": 1}
    token = {"id_token": "TOKEN201", "type": "ISO14443"}

    def energy(wh: float) -> list[dict]:
        return [{"timestamp": now(), "sampled_value": [
            {"value": wh, "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "Wh"}}]}]

    await cp.call(call201.TransactionEvent(event_type="Started", timestamp=now(), trigger_reason="Authorized",
                                           seq_no=0, transaction_info={"transaction_id": "tx-201-1",
                                                                       "remote_start_id": 77},
                                           evse=evse, id_token=token, meter_value=energy(0)))
    await cp.call(call201.StatusNotification(timestamp=now(), connector_status="Occupied", evse_id=1,
                                             connector_id=1))
    await cp.call(call201.TransactionEvent(event_type="Updated", timestamp=now(), trigger_reason="MeterValuePeriodic",
                                           seq_no=1, transaction_info={"transaction_id": "tx-201-1",
                                                                       "charging_state": "Charging"},
                                           meter_value=energy(1200)))
    # seqNo 2 is never sent: a gap the analyzer must report
    await cp.call(call201.TransactionEvent(event_type="Updated", timestamp=now(), trigger_reason="MeterValuePeriodic",
                                           seq_no=3, transaction_info={"transaction_id": "tx-201-1"},
                                           meter_value=energy(2400)))
    await cp.call(call201.NotifyEVChargingNeeds(evse_id=1, charging_needs={
        "requested_energy_transfer": "DC"}))  # no CSMS handler: CALLERROR NotImplemented
    await cp.call(call201.TransactionEvent(event_type="Ended", timestamp=now(), trigger_reason="EVCommunicationLost",
                                           seq_no=4, transaction_info={"transaction_id": "tx-201-1",
                                                                       "stopped_reason": "EVDisconnected"},
                                           meter_value=energy(3000)))
    await cp.call(call201.StatusNotification(timestamp=now(), connector_status="Faulted", evse_id=1,
                                             connector_id=1))
    await cp.call(call201.Heartbeat())
    return [{"transaction_id": "tx-201-1", "id_token": "TOKEN201", "seq_gap": [2], "stopped_reason":
             "EVDisconnected", "energy_wh": 3000, "remote_start": True}]


async def scenario_v21(cp: Cp21, csms: Csms21, ws: Any) -> list[dict]:
    station = {"model": "Loop-21", "vendor_name": "ChargeScope", "serial_number": "SN-21-0001"}
    await cp.call(call21.BootNotification(charging_station=station, reason="PowerUp"))
    await asyncio.sleep(0.1)
    await cp.call(call21.BootNotification(charging_station=station, reason="PowerUp"))
    await cp.call(call21.Heartbeat())
    await cp.call(call21.TransactionEvent(event_type="Started", timestamp=now(), trigger_reason="CablePluggedIn",
                                          seq_no=0, transaction_info={"transaction_id": "tx-21-1"},
                                          evse={"id": 1, "connector_id": 1}))
    await cp.call(call21.TransactionEvent(event_type="Ended", timestamp=now(), trigger_reason="EVDeparted",
                                          seq_no=1, transaction_info={"transaction_id": "tx-21-1",
                                                                      "stopped_reason": "Local"}))
    return [{"transaction_id": "tx-21-1", "stopped_reason": "Local"}]


async def scenario_badframe(cp: Cp16Client, csms: Csms16, ws: Any) -> list[dict]:
    """A boot, then a frame with a reserved opcode and an unmasked text frame, raw on the socket."""
    await cp.call(call16.BootNotification(charge_point_vendor="ChargeScope", charge_point_model="Loop-16"))
    transport = ws.conn.transport
    transport.write(b"\x83\x80\x00\x00\x00\x00")  # opcode 0x3 (reserved), masked, empty
    await asyncio.sleep(0.3)
    return []


@dataclass(frozen=True)
class Scenario:
    name: str
    port: int
    subprotocol: str
    cp_id: str
    csms_cls: type
    cp_cls: type
    run: Any
    compression: str  # "off", "deflate", "deflate-no-context"
    reject: bool = False


SCENARIOS = (
    Scenario("ocpp16_basic", 9016, "ocpp1.6", "CP16-001", Csms16, Cp16Client, scenario_v16, "off"),
    Scenario("ocpp201_deflate", 9201, "ocpp2.0.1", "CS201-001", Csms201, Cp201Client, scenario_v201,
             "deflate"),
    Scenario("ocpp21_nocontext", 9210, "ocpp2.1", "CS21-001", Csms21, Cp21, scenario_v21,
             "deflate-no-context"),
    Scenario("ocpp16_unauthorized", 9017, "ocpp1.6", "CP16-401", Csms16, Cp16Client, scenario_v16, "off",
             reject=True),
    Scenario("ocpp16_badframe", 9018, "ocpp1.6", "CP16-BAD", Csms16, Cp16Client, scenario_badframe, "off"),
)


def _server_ext(s: Scenario):
    if s.compression == "off":
        return None, []
    if s.compression == "deflate":
        return "deflate", None
    return None, [ServerPerMessageDeflateFactory(server_no_context_takeover=True,
                                                 client_no_context_takeover=True,
                                                 server_max_window_bits=10,
                                                 client_max_window_bits=10)]


def _client_ext(s: Scenario):
    if s.compression == "off":
        return None, []
    if s.compression == "deflate":
        return "deflate", None
    return None, [ClientPerMessageDeflateFactory(server_no_context_takeover=True,
                                                 client_no_context_takeover=True,
                                                 server_max_window_bits=10,
                                                 client_max_window_bits=10)]


async def run_scenario(s: Scenario) -> dict:
    csms_box: dict[str, Any] = {}
    done = asyncio.Event()

    async def handler(conn):
        rec = Recorder(conn, "csms", s.cp_id)
        csms = s.csms_cls(s.cp_id, rec, response_timeout=2)
        csms_box["csms"] = csms
        csms_box["ready"].set()
        try:
            await csms.start()
        except websockets.ConnectionClosed:
            pass
        done.set()

    def process_request(conn, request):
        if s.reject:
            return conn.respond(401, "Unauthorized\n")
        return None

    csms_box["ready"] = asyncio.Event()
    compression, extensions = _server_ext(s)
    kwargs: dict[str, Any] = {"subprotocols": [s.subprotocol], "process_request": process_request,
                              "compression": compression}
    if extensions is not None:
        kwargs["extensions"] = extensions
    transactions: list[dict] = []
    cp_log: list[dict] = []
    async with websockets.serve(handler, HOST, s.port, **kwargs):
        auth = base64.b64encode(f"{s.cp_id}:{PASSWORD}".encode()).decode()
        compression, extensions = _client_ext(s)
        ckwargs: dict[str, Any] = {"subprotocols": [s.subprotocol], "compression": compression,
                                   "additional_headers": {"Authorization": f"Basic {auth}"}}
        if extensions is not None:
            ckwargs["extensions"] = extensions
        try:
            async with websockets.connect(f"ws://{HOST}:{s.port}/ocpp/{s.cp_id}", **ckwargs) as ws:
                rec = Recorder(ws, "cp", s.cp_id)
                cp = s.cp_cls(s.cp_id, rec, response_timeout=1)
                runner = asyncio.create_task(cp.start())
                await csms_box["ready"].wait()
                try:
                    transactions = await s.run(cp, csms_box["csms"], rec)
                except websockets.ConnectionClosed:
                    transactions = []
                cp_log = rec.log
                runner.cancel()
        except websockets.InvalidStatus as exc:
            transactions = []
            cp_log = []
            print(f"{s.name}: handshake rejected as intended: {exc}")
        await asyncio.sleep(0.3)
    return {"scenario": s.name, "subprotocol": s.subprotocol, "compression": s.compression,
            "charge_point_id": s.cp_id, "port": s.port, "rejected": s.reject,
            "transactions": transactions,
            "messages": [{"direction": e["direction"], "text": e["text"],
                          "unique_id": json.loads(e["text"])[1] if _is_json(e["text"]) else None}
                         for e in cp_log],
            "_log": cp_log}


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def write_logs(out: Path, name: str, log: list[dict]) -> None:
    with open(out / f"{name}.jsonl", "w") as f:
        for e in log:
            msg: Any = json.loads(e["text"]) if _is_json(e["text"]) else e["text"]
            ts = datetime.fromtimestamp(e["ts_ns"] / 1e9, UTC).isoformat(timespec="milliseconds")
            f.write(json.dumps({"timestamp": ts.replace("+00:00", "Z"), "direction": e["direction"],
                                "charge_point_id": e["charge_point_id"], "message": msg}) + "\n")
    with open(out / f"{name}.log", "w") as f:
        for e in log:
            ts = datetime.fromtimestamp(e["ts_ns"] / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
            verb = "Received" if e["direction"] == "cp->csms" else "Sending"
            f.write(f"{ts} INFO  [ocpp] chargeBoxId={e['charge_point_id']} {verb}: {e['text']}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests/data/ocpp")
    parser.add_argument("--only", action="append", help="scenario name(s) to record")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for s in SCENARIOS:
        if args.only and s.name not in args.only:
            continue
        pcap = args.out / f"{s.name}.pcap"
        dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", str(pcap),
                                 f"tcp port {s.port}"], stderr=subprocess.PIPE, text=True)
        # tcpdump says "listening on lo" once the capture is armed; start only then.
        assert dump.stderr is not None
        while "listening on" not in (dump.stderr.readline() or "listening on"):
            pass
        time.sleep(0.3)
        try:
            truth = asyncio.run(run_scenario(s))
        finally:
            time.sleep(1.0)
            os.kill(dump.pid, signal.SIGINT)
            dump.wait()
        log = truth.pop("_log")
        (args.out / f"{s.name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
        if log:
            write_logs(args.out, s.name, log)
        print(f"{s.name}: {pcap.stat().st_size} bytes, {len(truth['messages'])} messages")


if __name__ == "__main__":
    main()
