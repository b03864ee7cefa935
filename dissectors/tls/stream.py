"""The TLS stream dissector: records and handshake without keys, decryption with them.

One `TlsStream` per TCP connection (a `StreamDissector`). It frames records per direction,
decodes the plaintext handshake (ClientHello, ServerHello, Certificate, alerts) into
Messages of protocol "tls", and once the shared `KeyLog` holds secrets for the connection's
client random it decrypts the protected records and feeds the plaintext as synthetic
`StreamData` to an inner stream dissector chosen by probing the decrypted first bytes with
the pipeline's other handoffs (V2GTP, WebSocket/OCPP, HTTP/OCPI). Plaintext bytes carry the
frame byte ranges of the ciphertext bytes they were decrypted from.

TLS 1.2 renegotiation: the second handshake travels under the current keys; each side
switches to the keys of the new client random (its own key log line) at its own second
ChangeCipherSpec, and the handshake messages of a renegotiation say so (`renegotiation`).

Keys may arrive after the handshake (in-band UDP disclosure): protected records wait, in
capture order and bounded by `max_pending` bytes, until the key appears or the stream ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from chargescope.analyzer.accounting import PlainStream, StreamBytes
from chargescope.analyzer.byteranges import refs_between, stream_problem
from chargescope.analyzer.handoff import StreamDissector, StreamHandoff
from chargescope.analyzer.records import (
    ByteRef,
    Connection,
    Link,
    Message,
    Problem,
    StreamClose,
    StreamData,
    StreamGap,
)
from chargescope.analyzer.tls.keylog import (
    CLIENT_APP,
    CLIENT_HS,
    SERVER_APP,
    SERVER_HS,
    TLS12_MASTER,
    KeyLog,
)
from chargescope.dissectors.tls import records as rl
from chargescope.dissectors.tls.decrypt import DecryptError, RecordDecryptor
from chargescope.dissectors.tls.handshake import (
    HANDSHAKE_TYPES,
    HandshakeError,
    parse_alert,
    parse_handshake,
)
from chargescope.dissectors.tls.keyschedule import hkdf_expand_label, tls12_keys, tls13_keys
from chargescope.dissectors.tls.suites import DECRYPTABLE

PROBLEM_KINDS: dict[str, str] = {
    "tls.record.malformed": "bytes where a TLS record header was expected; resynchronised",
    "tls.handshake.malformed": "a handshake message or alert does not decode",
    "tls.record.decrypt_failed": "a protected record did not decrypt/authenticate under the key",
    "tls.keys.missing": "protected records stayed encrypted: no key for this client random",
    "tls.cipher.unsupported": "the negotiated cipher suite cannot be decrypted by chargescope",
    "tls.stream.gap": "bytes of the TLS stream are missing; records after it cannot be decrypted",
    "tls.pending.overflow": "too many protected records waited for a key; the oldest were dropped",
    "tls.inner.unknown": "decrypted application data matches no known protocol",
    "tls.record.truncated": "the stream ended inside a TLS record",
}
DEFAULT_MAX_PENDING = 4 << 20  # bytes of protected records kept per connection awaiting a key
INNER_PROBE_RECORDS = 4
INNER_LINKS = {"v2gtp": Link.A, "websocket": Link.B, "http": Link.C}
TLS13 = 0x0304
MIN_RECORD = rl.HEADER_LEN + 17  # smallest protected record: TLS 1.3 type byte + AEAD tag
MAX_RESYNC_RECORDS = 1024  # sequence numbers tried after gaps (bounds hostile input)
MAX_HUNT_ATTEMPTS = 4 * MAX_RESYNC_RECORDS  # decryptions tried per gap to find the next record
MAX_HUNT_BYTES = 2 * (rl.HEADER_LEN + rl.MAX_FRAGMENT)  # how far past a gap it looks


class _Side:
    """One direction: record framing buffer and decryption state."""

    __slots__ = ("buf", "start", "segments", "synced", "hs_buf", "protected", "decryptor",
                 "epoch", "failed", "plain_offset", "undecrypted", "undecrypted_bytes",
                 "skipped", "app_secret", "key_params", "undecrypted_at", "resync",
                 "hunting", "hunt_pos", "hunt_budget", "hunt_false", "skipped_frame")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.start = 0  # stream offset of buf[0]
        self.segments: list[tuple[int, ByteRef]] = []
        self.synced = True
        self.hs_buf = bytearray()
        self.protected = False  # TLS 1.2: ChangeCipherSpec seen
        self.decryptor: RecordDecryptor | None = None
        self.epoch = 0  # TLS 1.3: 0 handshake traffic keys, 1 application traffic keys
        self.failed = False
        self.plain_offset = 0
        self.undecrypted = 0
        self.undecrypted_bytes = 0
        self.undecrypted_at: tuple[int, int] | None = None  # the first one's offset, frame
        self.skipped = 0
        self.skipped_frame = 0  # the frame of the first byte `skipped` counts
        self.resync = 0  # records a capture gap may have taken: sequence numbers to try
        # after a gap: looking for the next record that authenticates (see _hunt)
        self.hunting = False
        self.hunt_pos = 0  # buf positions before this hold no record that authenticates
        self.hunt_budget = 0  # decryptions left for this gap
        self.hunt_false = 0  # plausible headers whose record did not authenticate
        self.app_secret = b""  # TLS 1.3: current application traffic secret (KeyUpdate)
        # TLS 1.2: (client random, server random, encrypt-then-MAC) of the handshake whose
        # ChangeCipherSpec this side sent last; a renegotiation replaces them at its own CCS
        self.key_params: tuple[bytes, bytes, bool] | None = None

    def refs(self, start: int, end: int) -> tuple[ByteRef, ...]:
        return refs_between(self.segments, start, end)

    def count_undecrypted(self, rec: rl.Record) -> None:
        """One more protected record left undecrypted; the first one is where the report
        points."""
        self.undecrypted += 1
        self.undecrypted_bytes += len(rec.fragment)
        if self.undecrypted_at is None:
            self.undecrypted_at = (rec.offset, rec.frame)

    def consume(self, n: int) -> None:
        del self.buf[:n]
        self.start += n
        self.segments = [(s, r) for s, r in self.segments if s + r.length > self.start]


class TlsStream:
    """Sans-I/O TLS dissector for one TCP connection (see module docstring)."""

    def __init__(self, conn: Connection, keylog: KeyLog, inner: Sequence[StreamHandoff] = (),
                 *, max_pending: int = DEFAULT_MAX_PENDING,
                 deferred: list[tuple[TlsStream, StreamClose]] | None = None) -> None:
        self.conn = conn
        self.deferred = deferred
        self.keylog = keylog
        self.inner_handoffs = tuple(inner)
        self.max_pending = max_pending
        self.sides = (_Side(), _Side())
        self.client_random = b""
        self.server_random = b""
        self.version = 0  # negotiated (ServerHello), 0 until known
        self.suite_code = -1
        self.encrypt_then_mac = False
        self.pending: deque[rl.Record] = deque()
        self.pending_bytes = 0
        self.inner: StreamDissector | None = None
        self.inner_name = ""
        self.inner_tries = 0
        self.link = Link.A if conn.client.ip.lower().startswith("fe80") else Link.B
        client, server = str(conn.client), str(conn.server)
        self._ends = ((client, server), (server, client))
        self.fin_sides = 0
        # ciphertext bytes: records handled / skipped, undecrypted or cut short
        self._books = StreamBytes()
        self._plain_bytes = [0, 0]  # decrypted application data produced, per direction
        self._plain_fed = [0, 0]  # of which handed to the inner dissector

    @property
    def accounting(self) -> StreamBytes:
        """The record layer's books, with the decrypted stream's as `inner`."""
        inner = PlainStream(self.inner_name, list(self._plain_bytes), list(self._plain_fed),
                            getattr(self.inner, "accounting", None))
        return StreamBytes(list(self._books.consumed), list(self._books.undecodable), inner)

    @property
    def settled(self) -> bool:
        """False while records wait for a key that may still come (books not final)."""
        return not self.pending

    # -- StreamDissector --------------------------------------------------------------------

    def on_data(self, event: StreamData) -> list[Message]:
        side = self.sides[event.direction]
        out: list[Message] = []
        if not side.buf:
            side.start = event.offset
        pos = event.offset
        for ref in event.refs:
            side.segments.append((pos, ref))
            pos += ref.length
        side.buf += event.data
        self._records(side, event.direction, event.ts_ns, out)
        self._drain(out)
        return out

    def _records(self, side: _Side, direction: int, ts_ns: int, out: list[Message],
                 final: bool = False) -> None:
        event = StreamData(self.conn, direction, side.start, b"", ts_ns, ())
        while True:
            if side.hunting:
                if not self._hunt(side, direction, ts_ns, out, final):
                    return
                continue
            rec = self._next_record(side, event, out)
            if rec is None:
                return
            self._on_record(rec, out)

    def on_gap(self, event: StreamGap) -> list[Message]:
        side = self.sides[event.direction]
        out: list[Message] = []
        lost = event.length + len(side.buf)  # ciphertext gone, a record cut by the gap too
        self._books.undecodable[event.direction] += len(side.buf)
        side.buf.clear()
        side.segments.clear()
        side.hs_buf.clear()
        side.synced = False
        if side.decryptor is not None and not side.failed:
            # whole records may be gone: the next one is tried under the sequence numbers
            # they could have used (each lost record is at least MIN_RECORD bytes)
            side.resync = min(side.resync + lost // MIN_RECORD + 1, MAX_RESYNC_RECORDS)
            if not self.pending:  # records waiting in order would be overtaken
                side.hunting, side.hunt_pos, side.hunt_false = True, 0, 0
                side.hunt_budget = MAX_HUNT_ATTEMPTS
        elif not side.failed and (side.protected or self.version == TLS13):
            side.failed = True
        out.append(self._tls_message(event.direction, "Gap", event.ts_ns,
                                     {"offset": event.offset, "length": event.length}, (),
                                     self._problem("tls.stream.gap",
                                                   f"{event.length} bytes missing at stream "
                                                   f"offset {event.offset}", event.offset,
                                                   frame=event.frame)))
        if self.inner is not None:
            # the plaintext lost is at most the ciphertext lost: an inexact inner gap
            inner_gap = StreamGap(self.conn, event.direction, side.plain_offset, lost,
                                  event.ts_ns, event.frame, exact=False)
            side.plain_offset += lost
            out += self.inner.on_gap(inner_gap)
        self._drain(out)
        return out

    def on_close(self, event: StreamClose) -> list[Message]:
        out: list[Message] = []
        closing = (event.direction,) if event.direction >= 0 and event.reason == "fin" else (0, 1)
        for direction in closing:
            side = self.sides[direction]
            if side.hunting and side.buf:  # no more bytes: candidates cut short are false
                self._records(side, direction, event.ts_ns, out, final=True)
            if side.skipped:  # dropped while looking for a header that never came
                self._skip(side, direction, event.ts_ns, 0, out,
                           " (none came before the stream ended)", side.skipped_frame)
            if side.buf:  # the stream ended inside a record: report it, never drop it
                self._books.undecodable[direction] += len(side.buf)
                refs = side.refs(side.start, side.start + len(side.buf))
                out.append(self._tls_message(direction, "Record", event.ts_ns,
                                             {"length": len(side.buf)}, refs,
                                             self._problem("tls.record.truncated",
                                                           f"{len(side.buf)} bytes of an "
                                                           "unfinished record", side.start,
                                                           refs)))
                side.consume(len(side.buf))
        self._drain(out)
        if event.reason == "fin" and event.direction >= 0:
            self.fin_sides |= 1 << event.direction
        final = event.reason != "fin" or self.fin_sides == 3
        if final and self.pending and event.reason == "fin" and self.deferred is not None:
            # closed while records still wait for a key: a key disclosed later in the
            # capture can still unlock them; the pipeline calls finish_late() at its end
            self.deferred.append((self, event))
            return out
        if final:  # the connection is over: report what stayed encrypted
            self._flush_pending(event, out)
        if self.inner is not None:
            out += self.inner.on_close(event)
        return out

    def finish_late(self, event: StreamClose) -> list[Message]:
        """End of capture for a connection that closed with records waiting for a key."""
        out: list[Message] = []
        self._drain(out)
        self._flush_pending(event, out)
        if self.inner is not None:
            out += self.inner.on_close(event)
        return out

    # -- record framing ---------------------------------------------------------------------

    def _next_record(self, side: _Side, event: StreamData, out: list[Message]
                     ) -> rl.Record | None:
        buf = side.buf
        if not side.synced:
            pos = 0
            while pos < len(buf) and not rl.header_ok(buf, pos):
                pos += 1
            if pos + rl.HEADER_LEN > len(buf):
                keep = max(0, len(buf) - rl.HEADER_LEN + 1)
                if keep and not side.skipped:  # where a report at the end would point
                    head = side.refs(side.start, side.start + 1)
                    side.skipped_frame = head[0].frame if head else 0
                side.skipped += keep
                side.consume(keep)
                self._books.undecodable[event.direction] += keep
                return None
            self._skip(side, event.direction, event.ts_ns, pos, out)
        if len(buf) < rl.HEADER_LEN:
            return None
        if not rl.header_ok(buf):
            out.append(self._tls_message(
                event.direction, "Record", event.ts_ns, {"header": bytes(buf[:5]).hex()},
                side.refs(side.start, side.start + 5), self._problem(
                    "tls.record.malformed", "expected a TLS record header (type 20-24, "
                    "version 3.x, length <= 18432)", side.start,
                    side.refs(side.start, side.start + 5))))
            side.synced = False
            side.consume(1)
            self._books.undecodable[event.direction] += 1
            return self._next_record(side, event, out)
        length = int.from_bytes(buf[3:5], "big")
        if len(buf) < rl.HEADER_LEN + length:
            return None
        return self._take_record(side, event.direction, event.ts_ns)

    def _take_record(self, side: _Side, direction: int, ts_ns: int) -> rl.Record:
        """The whole record at the start of `buf`, consumed."""
        buf, start = side.buf, side.start
        length = int.from_bytes(buf[3:5], "big")
        head = side.refs(start, start + 1)
        rec = rl.Record(direction, buf[0], int.from_bytes(buf[1:3], "big"),
                        bytes(buf[5:5 + length]), start, ts_ns,
                        side.refs(start + 5, start + 5 + length), head[0].frame if head else 0)
        side.consume(rl.HEADER_LEN + length)
        return rec

    def _skip(self, side: _Side, direction: int, ts_ns: int, n: int, out: list[Message],
              why: str = "", frame: int = 0) -> None:
        """`n` bytes before the next record header are not a record: counted, reported."""
        side.skipped += n
        side.consume(n)
        self._books.undecodable[direction] += n
        side.synced = True
        if side.skipped:
            out.append(self._tls_message(direction, "Skipped", ts_ns,
                                         {"bytes": side.skipped}, (), self._problem(
                                             "tls.record.malformed",
                                             f"skipped {side.skipped} bytes to the next "
                                             f"record header{why}", side.start,
                                             side.refs(side.start, side.start + 1), frame)))
            side.skipped = 0

    def _hunt(self, side: _Side, direction: int, ts_ns: int, out: list[Message],
              final: bool) -> bool:
        """After a capture gap the bytes may start inside a record whose ciphertext holds
        something that looks like a record header. The next record is the first plausible
        header whose record authenticates under a sequence number the lost records could
        have left (or, TLS 1.3, the first under application keys); a header that fails
        is false and the scan goes on past it. Bounded by `hunt_budget` decryptions; when
        it runs out the plain framing takes over (and fails as it reports).

        The next record starts within one record of the gap's end, so the hunt also gives up
        past MAX_HUNT_BYTES (which bounds what it keeps buffered).

        False while more bytes are needed (`final`: none will come)."""
        buf = side.buf
        pos = side.hunt_pos
        while True:
            while pos + rl.HEADER_LEN <= len(buf) and not rl.header_ok(buf, pos):
                pos += 1
            if pos > MAX_HUNT_BYTES:
                break
            if pos + rl.HEADER_LEN > len(buf):
                side.hunt_pos = pos
                if not final:
                    return False
                break
            end = pos + rl.HEADER_LEN + int.from_bytes(buf[pos + 3:pos + 5], "big")
            if end > len(buf):
                if not final:
                    side.hunt_pos = pos
                    return False
                pos += 1
                continue
            if side.hunt_budget <= 0:
                break
            candidate = rl.Record(direction, buf[pos], int.from_bytes(buf[pos + 1:pos + 3], "big"),
                                  bytes(buf[pos + rl.HEADER_LEN:end]), side.start + pos, ts_ns,
                                  ())
            result = self._authenticate(side, candidate)
            if result is not False:
                false = side.hunt_false
                side.hunting, side.resync, side.hunt_pos, side.hunt_false = False, 0, 0, 0
                self._skip(side, direction, ts_ns, pos, out,
                           f" ({false} false record headers after the gap)" if false else "")
                rec = self._take_record(side, direction, ts_ns)
                if result is None:  # a plaintext record (TLS 1.3 compatibility CCS)
                    self._plain(rec, rec.content_type, rec.fragment, rec.refs, out)
                else:
                    ctype, plain, start = result
                    self._plain(rec, ctype, plain, rl.slice_refs(rec.refs, start, len(plain)),
                                out)
                return True
            side.hunt_false += 1
            pos += 1
        # out of budget (or of bytes at the end): the plain framing reports what follows
        side.hunting, side.resync, side.hunt_pos = False, 0, 0
        return True

    def _authenticate(self, side: _Side, rec: rl.Record
                      ) -> tuple[int, bytes, int] | None | bool:
        """A hunted candidate: its decryption (decryptor advanced), None for a record that
        is rightly plaintext, False when it is no record of this stream."""
        if not self._is_protected(rec):
            # only TLS 1.3's middlebox-compatibility ChangeCipherSpec travels in the clear
            return None if rec.content_type == rl.CHANGE_CIPHER_SPEC and rec.fragment == b"\x01" \
                else False
        decryptor = side.decryptor
        if decryptor is None:
            return False
        tries = min(side.resync, side.hunt_budget - 1)
        side.hunt_budget -= tries + 1
        try:  # under the next number first: a gap inside one record took only that one
            found: tuple[int, bytes, int] | None = decryptor.decrypt(
                rec.content_type, rec.version, rec.fragment)
        except DecryptError:
            found = self._lost_sequence_numbers(decryptor, rec, tries)
        if found is None and side.hunt_budget > 0:
            side.hunt_budget -= 1
            found = self._retry_application_epoch(rec)
            if found is None:  # back to the handshake keys, their sequence number kept
                side.decryptor = decryptor
        return False if found is None else found

    # -- record handling --------------------------------------------------------------------

    def _is_protected(self, rec: rl.Record) -> bool:
        if rec.content_type == rl.APPLICATION_DATA:
            return True  # never plaintext, even when the handshake was not captured
        if self.version == TLS13:
            return False
        return self.sides[rec.direction].protected

    def _on_record(self, rec: rl.Record, out: list[Message]) -> None:
        if self.pending:
            self._enqueue(rec, out)
            return
        if self._is_protected(rec):
            if self._decryptor(rec.direction) is None:
                self._enqueue(rec, out)
                return
            self._decrypt(rec, out)
        else:
            self._plain(rec, rec.content_type, rec.fragment, rec.refs, out)

    def _enqueue(self, rec: rl.Record, out: list[Message]) -> None:
        self.pending.append(rec)
        self.pending_bytes += len(rec.fragment)
        dropped = 0
        while self.pending_bytes > self.max_pending and self.pending:
            old = self.pending.popleft()
            self.pending_bytes -= len(old.fragment)
            self._books.undecodable[old.direction] += rl.HEADER_LEN + len(old.fragment)
            dropped += 1
        if dropped:
            out.append(self._tls_message(rec.direction, "Pending", rec.ts_ns,
                                         {"dropped_records": dropped}, (), self._problem(
                                             "tls.pending.overflow",
                                             f"{dropped} protected records dropped while "
                                             f"waiting for a key (limit {self.max_pending} B)",
                                             rec.offset, rec.refs, rec.frame)))

    def _drain(self, out: list[Message]) -> None:
        """Process waiting records whose keys are now known (capture order kept)."""
        while self.pending:
            rec = self.pending[0]
            if self._is_protected(rec):
                side = self.sides[rec.direction]
                if not side.failed and self._decryptor(rec.direction) is None:
                    return
            self.pending.popleft()
            self.pending_bytes -= len(rec.fragment)
            if self._is_protected(rec):
                self._decrypt(rec, out)
            else:
                self._plain(rec, rec.content_type, rec.fragment, rec.refs, out)

    def _flush_pending(self, event: StreamClose, out: list[Message]) -> None:
        """At close: what stayed encrypted is counted and reported, never dropped silently."""
        while self.pending:
            rec = self.pending.popleft()
            self.pending_bytes -= len(rec.fragment)
            if self._is_protected(rec):
                self.sides[rec.direction].count_undecrypted(rec)
                self._books.undecodable[rec.direction] += rl.HEADER_LEN + len(rec.fragment)
            else:
                self._plain(rec, rec.content_type, rec.fragment, rec.refs, out)
        for direction, side in enumerate(self.sides):
            if side.undecrypted:
                kind = ("tls.cipher.unsupported" if self.suite_code >= 0
                        and self.suite_code not in DECRYPTABLE else "tls.keys.missing")
                offset, frame = side.undecrypted_at or (0, 0)
                out.append(self._tls_message(
                    direction, "EncryptedData", event.ts_ns,
                    {"records": side.undecrypted, "bytes": side.undecrypted_bytes,
                     "client_random": self.client_random.hex()}, (),
                    self._problem(kind, f"{side.undecrypted} protected records "
                                  f"({side.undecrypted_bytes} bytes) not decrypted"
                                  + ("" if self.client_random else
                                     " (the handshake is not in the capture)"), offset,
                                  frame=frame)))
                side.undecrypted = side.undecrypted_bytes = 0
                side.undecrypted_at = None

    # -- keys -------------------------------------------------------------------------------

    def _decryptor(self, direction: int) -> RecordDecryptor | None:
        side = self.sides[direction]
        if side.decryptor is not None or side.failed:
            return side.decryptor
        suite = DECRYPTABLE.get(self.suite_code)
        if suite is None or not self.client_random:
            return None
        if self.version != TLS13:
            return self._tls12_decryptor(direction, suite)
        secrets = self.keylog.secrets_for(self.client_random)
        if not secrets:
            return None
        label = ((CLIENT_HS, SERVER_HS) if side.epoch == 0 else
                 (CLIENT_APP, SERVER_APP))[direction]
        secret = secrets.get(label)
        if secret is None:
            return None
        if side.epoch:
            side.app_secret = secret
        side.decryptor = RecordDecryptor(suite, tls13_keys(suite, secret), tls13=True)
        return side.decryptor

    def _tls12_decryptor(self, direction: int, suite) -> RecordDecryptor | None:
        """This side's keys from the master secret of the handshake it switched to (the
        current one when its ChangeCipherSpec was not captured)."""
        side = self.sides[direction]
        client_random, server_random, etm = side.key_params or (
            self.client_random, self.server_random, self.encrypt_then_mac)
        master = self.keylog.secrets_for(client_random).get(TLS12_MASTER)
        if master is None or not server_random:
            return None
        keys = tls12_keys(suite, master, client_random, server_random)
        side.decryptor = RecordDecryptor(suite, keys[direction], tls13=False,
                                         encrypt_then_mac=etm)
        return side.decryptor

    def _decrypt(self, rec: rl.Record, out: list[Message]) -> None:
        side = self.sides[rec.direction]
        decryptor = self._decryptor(rec.direction)
        if decryptor is None or side.failed:
            side.count_undecrypted(rec)
            self._books.undecodable[rec.direction] += rl.HEADER_LEN + len(rec.fragment)
            return
        try:
            ctype, plain, start = decryptor.decrypt(rec.content_type, rec.version, rec.fragment)
        except DecryptError as exc:
            retried = self._after_lost_records(side, decryptor, rec)
            if retried is None:
                retried = self._retry_application_epoch(rec)
            if retried is None:
                side.failed = True
                side.count_undecrypted(rec)
                self._books.undecodable[rec.direction] += rl.HEADER_LEN + len(rec.fragment)
                out.append(self._tls_message(rec.direction, "EncryptedRecord", rec.ts_ns,
                                             {"length": len(rec.fragment)}, rec.refs,
                                             self._problem("tls.record.decrypt_failed",
                                                           str(exc), rec.offset, rec.refs, rec.frame)))
                return
            ctype, plain, start = retried
        refs = rl.slice_refs(rec.refs, start, len(plain))
        self._plain(rec, ctype, plain, refs, out)

    @classmethod
    def _after_lost_records(cls, side: _Side, decryptor: RecordDecryptor, rec: rl.Record
                            ) -> tuple[int, bytes, int] | None:
        tries, side.resync = side.resync, 0
        return cls._lost_sequence_numbers(decryptor, rec, tries)

    @staticmethod
    def _lost_sequence_numbers(decryptor: RecordDecryptor, rec: rl.Record, tries: int
                               ) -> tuple[int, bytes, int] | None:
        """After a capture gap: the record under the sequence number it has if 1..n
        records were lost (AEAD and MAC bind the number, so only the right one verifies)."""
        base = decryptor.seq
        for skipped in range(1, tries + 1):
            decryptor.seq = base + skipped
            try:
                return decryptor.decrypt(rec.content_type, rec.version, rec.fragment)
            except DecryptError:
                continue
        decryptor.seq = base
        return None

    def _retry_application_epoch(self, rec: rl.Record) -> tuple[int, bytes, int] | None:
        """TLS 1.3: a record that fails under handshake keys may be the first one under
        application keys (the Finished that switches them was not seen)."""
        side = self.sides[rec.direction]
        if self.version != TLS13 or side.epoch != 0:
            return None
        side.epoch, side.decryptor = 1, None
        decryptor = self._decryptor(rec.direction)
        if decryptor is None:
            side.epoch, side.decryptor = 0, None
            return None
        try:
            return decryptor.decrypt(rec.content_type, rec.version, rec.fragment)
        except DecryptError:
            side.epoch, side.decryptor = 0, None
            return None

    # -- plaintext content ------------------------------------------------------------------

    def _plain(self, rec: rl.Record, ctype: int, data: bytes, refs: tuple[ByteRef, ...],
               out: list[Message]) -> None:
        direction = rec.direction
        side = self.sides[direction]
        self._books.consumed[direction] += rl.HEADER_LEN + len(rec.fragment)
        if ctype == rl.HANDSHAKE:
            side.hs_buf += data
            self._handshake_messages(rec, refs, out)
        elif ctype == rl.CHANGE_CIPHER_SPEC:
            if self.version != TLS13:  # TLS 1.3 middlebox-compatibility CCS changes nothing
                side.protected = True
                side.key_params = (self.client_random, self.server_random,
                                   self.encrypt_then_mac)
                if not side.failed:
                    side.decryptor = None  # this handshake's keys from the next record on
            out.append(self._tls_message(direction, "ChangeCipherSpec", rec.ts_ns, {}, refs))
        elif ctype == rl.ALERT:
            try:
                fields = parse_alert(data)
                problem = None
            except HandshakeError as exc:
                fields, problem = {"length": len(data)}, self._problem(
                    "tls.handshake.malformed", exc.detail, rec.offset, refs, rec.frame)
            out.append(self._tls_message(direction, "Alert", rec.ts_ns, fields, refs, problem))
        elif ctype == rl.APPLICATION_DATA:
            self._application_data(rec, data, refs, out)
        else:
            out.append(self._tls_message(direction, rl.CONTENT_TYPES.get(ctype, "Record"),
                                         rec.ts_ns, {"length": len(data)}, refs))

    def _handshake_messages(self, rec: rl.Record, refs: tuple[ByteRef, ...],
                            out: list[Message]) -> None:
        side = self.sides[rec.direction]
        buf = side.hs_buf
        while len(buf) >= 4:
            length = int.from_bytes(buf[1:4], "big")
            if len(buf) < 4 + length:
                return
            msg_type = buf[0]
            body = bytes(buf[4:4 + length])
            del buf[:4 + length]
            name = HANDSHAKE_TYPES.get(msg_type, f"Handshake{msg_type}")
            problem = None
            try:
                fields: dict[str, Any] = parse_handshake(msg_type, body,
                                                         tls13=self.version == TLS13)
            except HandshakeError as exc:
                fields = {"length": length}
                problem = self._problem("tls.handshake.malformed",
                                        f"{name}: {exc.detail} at body offset {exc.offset}",
                                        rec.offset, refs, rec.frame)
            if problem is None:
                self._learn(msg_type, fields, rec.direction)
                if msg_type in (0, 1, 2) and self.version != TLS13 and side.protected:
                    fields["renegotiation"] = True  # a handshake under the current keys
            out.append(self._tls_message(rec.direction, name, rec.ts_ns, fields, refs, problem))

    def _learn(self, msg_type: int, fields: dict[str, Any], direction: int) -> None:
        if msg_type == 1 and direction == 0:
            self.client_random = bytes.fromhex(fields["random"])
        elif msg_type == 2 and direction == 1:
            # a HelloRetryRequest already fixes version and suite (its random is not the
            # server random: the real ServerHello follows the second ClientHello)
            self.version = fields["version_code"]
            self.suite_code = fields["cipher_suite_code"]
            if not fields["hello_retry_request"]:
                self.server_random = bytes.fromhex(fields["random"])
                self.encrypt_then_mac = fields["encrypt_then_mac"]
        elif msg_type == 20 and self.version == TLS13 and self.sides[direction].epoch == 0:
            # the handshake's Finished: application traffic keys next (a post-handshake
            # authentication Finished changes no keys)
            side = self.sides[direction]
            side.epoch, side.decryptor = 1, None
        elif msg_type == 24 and self.version == TLS13:
            self._key_update(direction)

    def _key_update(self, direction: int) -> None:
        """KeyUpdate (RFC 8446 §4.6.3, §7.2): the sender's next records use the next secret."""
        side = self.sides[direction]
        suite = DECRYPTABLE.get(self.suite_code)
        if suite is None or not side.app_secret:
            side.failed = True  # cannot follow the update: reported as undecrypted
            return
        size = 48 if suite.hash_name == "sha384" else 32
        side.app_secret = hkdf_expand_label(side.app_secret, "traffic upd", b"", size,
                                            suite.hash_name)
        side.epoch += 1
        side.decryptor = RecordDecryptor(suite, tls13_keys(suite, side.app_secret), tls13=True)

    def _application_data(self, rec: rl.Record, data: bytes, refs: tuple[ByteRef, ...],
                          out: list[Message]) -> None:
        side = self.sides[rec.direction]
        event = StreamData(self.conn, rec.direction, side.plain_offset, data, rec.ts_ns, refs)
        side.plain_offset += len(data)
        self._plain_bytes[rec.direction] += len(data)
        if self.inner is None and self.inner_tries < INNER_PROBE_RECORDS and data:
            self.inner_tries += 1
            for entry in self.inner_handoffs:
                if entry.probe is not None and entry.probe(data, rec.direction):
                    self.inner = entry.factory(self.conn)
                    self.inner_name = entry.name
                    self.link = INNER_LINKS.get(entry.name, self.link)
                    break
            else:
                if self.inner_tries == INNER_PROBE_RECORDS:
                    out.append(self._tls_message(rec.direction, "ApplicationData", rec.ts_ns,
                                                 {"length": len(data)}, refs, self._problem(
                                                     "tls.inner.unknown",
                                                     "decrypted data matches no known protocol",
                                                     rec.offset, refs, rec.frame)))
        if self.inner is not None:
            self._plain_fed[rec.direction] += len(data)
            out += self.inner.on_data(event)

    # -- output -----------------------------------------------------------------------------

    def _problem(self, kind: str, detail: str, offset: int, refs: tuple[ByteRef, ...] = (),
                 frame: int = 0) -> Problem:
        """A problem at stream `offset`, in the first frame of `refs` (else `frame`)."""
        return stream_problem(kind, detail, self.conn, offset, refs, frame)

    def _tls_message(self, direction: int, name: str, ts_ns: int, fields: dict[str, Any],
                     refs: tuple[ByteRef, ...], problem: Problem | None = None) -> Message:
        src, dst = self._ends[direction]
        fields = {"tls": {"tcp_stream": self.conn.index, **fields}}
        return Message(self.link, "tls", name, ts_ns, src, dst, fields, refs,
                       (problem,) if problem else ())


def tls_handoff(keylog: KeyLog, inner: Sequence[StreamHandoff],
                deferred: list[tuple[TlsStream, StreamClose]] | None = None, *,
                max_pending: int = DEFAULT_MAX_PENDING) -> StreamHandoff:
    """The TLS stream handoff of one pipeline: shares its KeyLog, decrypts into `inner`.

    `deferred` (owned by the pipeline) collects connections that closed while records
    waited for a key; the pipeline calls `stream.finish_late(close)` on each at its end."""
    inner = tuple(inner)

    def factory(conn: Connection) -> TlsStream:
        return TlsStream(conn, keylog, inner, deferred=deferred, max_pending=max_pending)

    return StreamHandoff(name="tls", tcp_ports=(), probe=rl.probe, factory=factory)
