"""A segment of an encrypted V2G session is lost: decryption must go on after the gap
and the V2G layer must hear of it.

Under TLS the record sequence number counts records, so a lost record used to end
decryption (every later record `tls.keys.missing`, a false `v2g.response.missing`).
Now the TLS layer tries the sequence numbers the lost records may have taken, passes an
inexact gap (`StreamGap.exact` False: the plaintext size of lost records is unknown) to
the inner V2GTP stream, and the session ends as it did with a `not_captured` note.
"""

from __future__ import annotations

import collections

import pytest
from conftest import corpus_path, twin_params
from lossy import payload_frames, reassembly_twin

from chargescope.analyzer import net
from chargescope.analyzer.capture import open_capture
from chargescope.analyzer.pipeline import Pipeline
from chargescope.analyzer.records import Frame, Message
from chargescope.analyzer.tls.sources import frames_with_secrets, load_key_logs
from chargescope.analyzer.v2g import V2GAnalyser
from chargescope.analyzer.v2g.records import LinkAReport

CAPTURES = {"tls12": "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng",
            "tls13": "ISO-20_TLS13_DC_DS5366_Josev.pcapng"}
NOT_CAPTURED = {"v2g.request.not_captured", "v2g.response.not_captured"}


def _analyse(name: str, lost: int | None) -> tuple[list[Frame], list[Message], LinkAReport]:
    keylog = load_key_logs(())  # the captures disclose their keys in-band
    with open_capture(corpus_path("pcaps", "dspace-group+dsV2Gshark", name)) as capture:
        items = list(frames_with_secrets(capture, keylog))
    frames = [i for i in items if isinstance(i, Frame)]
    kept = [i for i in items if not isinstance(i, Frame) or i.number != lost]
    messages = [m for m in Pipeline(keylog=keylog).run(kept) if isinstance(m, Message)]
    analyser = V2GAnalyser()
    for m in messages:
        if m.protocol in ("sdp", "v2gtp", "exi"):
            analyser.feed(m)
    return frames, messages, analyser.finish()


def _codes(report: LinkAReport) -> set[str]:
    return {f.code for s in report.sessions for f in s.findings}


@pytest.fixture(params=twin_params("tcpreassembly"))
def impl(request, monkeypatch) -> str:
    return reassembly_twin(request, monkeypatch)


@pytest.mark.parametrize("which", [30, -3])  # mid-session, near the end
@pytest.mark.parametrize("tls", sorted(CAPTURES))
def test_lost_record_is_a_gap_and_decryption_goes_on(impl: str, tls: str, which: int) -> None:
    frames, whole_msgs, whole = _analyse(CAPTURES[tls], None)
    assert not _codes(whole) & NOT_CAPTURED  # negative: nothing lost, nothing noted
    lost = payload_frames(frames)[which]
    _, messages, report = _analyse(CAPTURES[tls], lost)
    kinds = collections.Counter(p.kind for m in messages for p in m.problems)
    assert kinds["tls.stream.gap"] == 1 and kinds["v2gtp.stream.gap"] == 1
    assert kinds["tls.keys.missing"] == kinds["tls.record.decrypt_failed"] == 0
    (gap,) = [p for m in messages for p in m.problems if p.kind == "v2gtp.stream.gap"]
    assert "up to" in gap.detail and gap.frame > lost  # inexact: plaintext size unknown
    exi = [m for m in messages if m.protocol == "exi"]
    assert len(exi) == sum(m.protocol == "exi" for m in whole_msgs) - 1  # only the lost one
    (session,) = report.sessions
    assert session.outcome.status == whole.sessions[0].outcome.status == "success"
    codes = _codes(report)
    assert codes & NOT_CAPTURED
    assert codes - NOT_CAPTURED - {"v2g.decode.problem"} == _codes(whole)


def _tampered_after_gap(every: bool) -> list[Message]:
    """RiseV2G TLS 1.2, one segment lost; the next record of that direction (`every`:
    each later one) tampered with in its last byte, inside the AEAD tag."""
    import dataclasses

    name = CAPTURES["tls12"]
    keylog = load_key_logs(())
    with open_capture(corpus_path("pcaps", "dspace-group+dsV2Gshark", name)) as capture:
        items = list(frames_with_secrets(capture, keylog))
    frames = [i for i in items if isinstance(i, Frame)]
    lost = payload_frames(frames)[30]
    packet = net.decode(next(f for f in frames if f.number == lost))
    same_direction = payload_frames(frames, packet.dport, True)  # the lost one's direction
    at = same_direction.index(lost)
    tampered = set(same_direction[at + 1:] if every else same_direction[at + 1:at + 2])
    kept = []
    for item in items:
        if isinstance(item, Frame) and item.number == lost:
            continue
        if isinstance(item, Frame) and item.number in tampered:
            item = dataclasses.replace(item, data=item.data[:-1] + bytes([item.data[-1] ^ 1]))
        kept.append(item)
    return [m for m in Pipeline(keylog=keylog).run(kept) if isinstance(m, Message)]


def test_a_record_that_authenticates_nowhere_after_a_gap_is_skipped() -> None:
    """Hostile: the record after the gap is tampered with. It verifies under no sequence
    number, so it is no record the peers exchanged: skipped (counted, reported) and
    decryption goes on with the next one."""
    messages = _tampered_after_gap(every=False)
    kinds = collections.Counter(p.kind for m in messages for p in m.problems)
    assert kinds["tls.stream.gap"] == 1 and kinds["tls.record.malformed"] == 1
    assert kinds["tls.record.decrypt_failed"] == kinds["tls.keys.missing"] == 0


def test_when_nothing_authenticates_after_a_gap_it_fails_once() -> None:
    """Hostile: every later record of that direction is tampered with. The bounded hunt
    gives up: one `tls.record.decrypt_failed`, the rest of that direction stays
    undecrypted and is reported, nothing raises."""
    messages = _tampered_after_gap(every=True)
    kinds = collections.Counter(p.kind for m in messages for p in m.problems)
    assert kinds["tls.stream.gap"] == 1
    assert kinds["tls.record.decrypt_failed"] == 1  # the hunt gave up, then plain framing
    assert kinds["tls.keys.missing"] == 1  # that direction's later records, reported


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_a_false_record_header_after_a_gap_is_passed_over(tmp_path, version: str) -> None:
    """A real TLS session (OCPP over wss): a segment in the middle of a long record is
    lost, and the tail of that record after the gap holds bytes that look like a record
    header (planted: that record cannot be decrypted anyway, so they could be anything).
    The hunt tries that header, it authenticates under no sequence number, and the next
    real record does: every later message is decrypted."""
    import dataclasses
    import ssl

    from ocpp.messages import Call

    from chargescope.analyzer.tls import sources
    from tests import ws_builder as ws
    from tests.tls_session import wss_capture

    boot = {"chargePointModel": "M" * 20, "chargePointVendor": "V", "firmwareVersion": "F" * 50}
    exchange = [(0, ws.request("CP-7")), (1, ws.response()),
                (0, ws.client_frame(Call("big", "DataTransfer",
                                         {"vendorId": "X", "data": "d" * 3000}).to_json()))]
    exchange += [(0, ws.client_frame(Call(f"n{i}", "BootNotification", boot).to_json()))
                 for i in range(3)]
    path, keyfile = wss_capture(tmp_path, exchange, version=getattr(ssl.TLSVersion, version),
                                ciphers=None if version == "TLSv1_3" else
                                "ECDHE-ECDSA-AES128-GCM-SHA256")

    def run(frames: list) -> list[Message]:
        keylog = sources.load_key_logs([keyfile])
        return [m for m in Pipeline(keylog=keylog).run(frames) if isinstance(m, Message)]

    def calls(messages: list[Message]) -> list[str]:
        return [m.fields["unique_id"] for m in messages
                if m.protocol == "ocpp" and m.fields.get("message_type") == "CALL"]

    with open_capture(path) as capture:
        frames = list(capture.frames())
    whole = run(frames)
    assert calls(whole) == ["big", "n0", "n1", "n2"]
    (big_call,) = [m for m in whole if m.fields.get("unique_id") == "big"]
    spanned = sorted({r.frame for r in big_call.refs})
    assert len(spanned) >= 3  # the record spans MSS-sized segments
    lost, after = spanned[1], spanned[-1]
    kept = []
    for frame in frames:
        if frame.number == lost:
            continue
        if frame.number == after:  # in the cut record's tail: a header claiming 300 bytes
            at = net.decode(frame).payload_offset + 4
            frame = dataclasses.replace(frame, data=frame.data[:at] + bytes([23, 3, 3, 1, 44])
                                        + frame.data[at + 5:])
        kept.append(frame)
    messages = run(kept)
    kinds = collections.Counter(p.kind for m in messages for p in m.problems)
    assert kinds["tls.stream.gap"] == 1
    assert kinds["tls.record.decrypt_failed"] == kinds["tls.keys.missing"] == 0
    (skipped,) = [p for m in messages for p in m.problems if p.kind == "tls.record.malformed"]
    assert "1 false record header" in skipped.detail
    assert calls(messages) == ["n0", "n1", "n2"]  # all but the one the gap cut


def test_hunting_is_bounded_in_bytes_kept() -> None:
    """Hostile: after a gap, a long run of bytes in which no record header can start (then,
    with `tail`, one that claims a record longer than what follows). The hunt gives up past
    MAX_HUNT_BYTES and the plain framing drops what starts no record; every byte is
    reported (skipped or truncated), the books balance and nothing raises."""
    from chargescope.analyzer.records import (
        Connection,
        Endpoint,
        StreamClose,
        StreamData,
        StreamGap,
    )
    from chargescope.analyzer.tls.keylog import KeyLog
    from chargescope.dissectors.tls import records as rl
    from chargescope.dissectors.tls.decrypt import RecordDecryptor
    from chargescope.dissectors.tls.keyschedule import tls13_keys
    from chargescope.dissectors.tls.stream import MAX_HUNT_BYTES, TlsStream
    from chargescope.dissectors.tls.suites import DECRYPTABLE

    for tail in (b"", bytes([23, 3, 3, 0x40, 0]) + bytes(100)):  # (claims 16 KiB)
        conn = Connection(0, Endpoint("10.0.0.7", 40000), Endpoint("10.0.0.1", 443), "test")
        stream = TlsStream(conn, KeyLog())
        suite = DECRYPTABLE[0x1301]  # TLS_AES_128_GCM_SHA256
        stream.version, stream.suite_code = 0x0304, 0x1301
        side = stream.sides[0]
        side.decryptor = RecordDecryptor(suite, tls13_keys(suite, bytes(32)), tls13=True)
        out = stream.on_gap(StreamGap(conn, 0, 0, 1000, 1))
        offset = 1000
        for data in [bytes(2000)] * 50 + [tail]:  # 0x00 starts no record header
            out += stream.on_data(StreamData(conn, 0, offset, data, 2, ()))
            offset += len(data)
            assert len(side.buf) <= MAX_HUNT_BYTES + rl.HEADER_LEN + rl.MAX_FRAGMENT
        assert not side.hunting  # gave up
        out += stream.on_close(StreamClose(conn, -1, 4, "end"))
        sent = offset - 1000
        books = stream.accounting
        assert books.consumed[0] + books.undecodable[0] == sent
        reported = sum(m.fields["tls"].get("bytes", 0) for m in out if m.name == "Skipped")
        reported += sum(m.fields["tls"].get("length", 0) for m in out if m.problems
                        and m.problems[0].kind == "tls.record.truncated")
        assert reported == sent
