"""Real TLS sessions made on this machine: Python's `ssl` on memory BIOs, both ends in process.

`run_session` performs a handshake between an `ssl` client and server (self-signed EC
certificate made with `cryptography`), exchanges the given application data, closes with
close_notify, and returns every byte each side put on the wire in order, plus the NSS key
log the client's `SSLContext.keylog_filename` wrote. `to_capture` lays those bytes on a
synthetic Ethernet/IPv6 TCP conversation (the simulate frame synthesiser) as a pcapng.
"""

from __future__ import annotations

import datetime
import random
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargescope.analyzer.capture.model import SECRETS_TLS_KEY_LOG
from chargescope.analyzer.capture.writer import PcapngWriter
from chargescope.analyzer.simulate.netbuild import MS, Node, Wire


@dataclass(frozen=True)
class TlsSession:
    chunks: list[tuple[int, bytes]]  # (direction 0 client->server / 1 server->client, bytes)
    keylog: bytes
    received: tuple[bytes, bytes]  # application bytes each side read (server, client)
    version: str
    cipher: str


def make_identity(directory: Path, cn: str = "SECC.test") -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "secc.pem", directory / "secc.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def run_session(directory: Path, exchange: list[tuple[int, bytes]], *,
                version: ssl.TLSVersion, ciphers: str | None = None,
                post_handshake_auth: bool = False) -> TlsSession:
    """`post_handshake_auth` (TLS 1.3): the server asks for the client's certificate after
    the handshake (CertificateRequest, then the client's Certificate, CertificateVerify and
    Finished travel under the application traffic keys)."""
    cert, key = make_identity(directory)
    keylog_path = directory / "client.keylog"
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.keylog_filename = str(keylog_path)
    if post_handshake_auth:
        (directory / "ev").mkdir(exist_ok=True)
        ev_cert, ev_key = make_identity(directory / "ev", "EV.test")
        client_ctx.load_cert_chain(ev_cert, ev_key)
        client_ctx.post_handshake_auth = server_ctx.post_handshake_auth = True
        server_ctx.verify_mode = ssl.CERT_OPTIONAL
        server_ctx.load_verify_locations(ev_cert)
    for ctx in (server_ctx, client_ctx):
        ctx.minimum_version = ctx.maximum_version = version
        if ciphers:
            ctx.set_ciphers(ciphers)
    bios = [ssl.MemoryBIO() for _ in range(4)]  # client in/out, server in/out
    client = client_ctx.wrap_bio(bios[0], bios[1], server_hostname="SECC.test")
    server = server_ctx.wrap_bio(bios[2], bios[3], server_side=True)
    chunks: list[tuple[int, bytes]] = []
    received = [bytearray(), bytearray()]

    def pump() -> None:
        moved = True
        while moved:
            moved = False
            for direction, (out, into) in enumerate(((bios[1], bios[2]), (bios[3], bios[0]))):
                data = out.read()
                if data:
                    chunks.append((direction, data))
                    into.write(data)
                    moved = True
            for index, end in enumerate((server, client)):
                try:
                    while True:
                        got = end.read(65536)
                        if not got:
                            break
                        received[index] += got
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    pass
                except ssl.SSLError:
                    pass

    done = [False, False]
    while not all(done):
        for index, end in enumerate((client, server)):
            if not done[index]:
                try:
                    end.do_handshake()
                    done[index] = True
                except ssl.SSLWantReadError:
                    pass
        for direction, (out, into) in enumerate(((bios[1], bios[2]), (bios[3], bios[0]))):
            data = out.read()
            if data:
                chunks.append((direction, data))
                into.write(data)
    if post_handshake_auth:
        server.verify_client_post_handshake()  # sent with the server's next record
    for direction, data in exchange:
        (client if direction == 0 else server).write(data)
        pump()
    try:
        client.unwrap()
    except ssl.SSLWantReadError:
        pass
    pump()
    return TlsSession(chunks, keylog_path.read_bytes(), (bytes(received[0]), bytes(received[1])),
                      client.version(), client.cipher()[0])


EV = Node("02:00:00:00:00:01", "fe80::1")
SECC = Node("02:00:00:00:00:02", "fe80::2")


def to_capture(session: TlsSession, path: Path, *, dsb: bytes | None = None,
               inband: bytes | None = None, server_port: int = 50000,
               client: Node = EV, server: Node = SECC, late: bool = False) -> Path:
    """The session's bytes as a pcapng: TCP over IPv6 link-local, one send per chunk.

    `dsb` writes a Decryption Secrets Block; `inband` sends key log lines in a UDP datagram
    right after the handshake (the V2G test-device convention), or after the close (`late`)."""
    wire = Wire(random.Random(7))
    conn = wire.tcp(client, server, server_port)
    ts = conn.connect(1_000 * MS)
    for index, (direction, data) in enumerate(session.chunks):
        ts = conn.send(ts + MS, data, from_client=direction == 0)
        if inband is not None and index == 3 and not late:
            wire.udp(ts + MS, server, 52345, client, 52345, inband)
            ts += 2 * MS
    ts = conn.close(ts + MS)
    if inband is not None and late:
        wire.udp(ts + 50 * MS, server, 52345, client, 52345, inband)
    with PcapngWriter(path) as writer:
        writer.add_interface(linktype=1)
        if dsb is not None:
            writer.write_secret(SECRETS_TLS_KEY_LOG, dsb)
        for frame in wire.ordered():
            writer.write(frame.data, frame.ts_ns)
    return path


WSS_CHARGE_POINT = Node("02:00:00:00:00:07", "10.0.0.7")
WSS_CSMS = Node("02:00:00:00:00:01", "10.0.0.1")


def wss_capture(directory: Path, exchange: list[tuple[int, bytes]],
                version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
                ciphers: str | None = "ECDHE-ECDSA-AES128-GCM-SHA256") -> tuple[Path, Path]:
    """An OCPP-over-wss conversation (charge point 10.0.0.7 -> CSMS 10.0.0.1:443) run through
    real TLS and written as `wss.pcapng`; returns (capture, key log file)."""
    session = run_session(directory, exchange, version=version, ciphers=ciphers)
    keyfile = directory / "keys.log"
    keyfile.write_bytes(session.keylog)
    path = to_capture(session, directory / "wss.pcapng", server_port=443,
                      client=WSS_CHARGE_POINT, server=WSS_CSMS)
    return path, keyfile
