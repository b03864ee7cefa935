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


def test_a_record_that_verifies_under_no_nearby_sequence_number_fails_once() -> None:
    """Hostile: after the gap the next record is tampered with (its last byte, inside the
    AEAD tag). The bounded retries all fail: one `tls.record.decrypt_failed`, the rest
    of that direction stays undecrypted and is reported, nothing raises."""
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
    lost, tampered = same_direction[at], same_direction[at + 1]
    kept = []
    for item in items:
        if isinstance(item, Frame) and item.number == lost:
            continue
        if isinstance(item, Frame) and item.number == tampered:
            item = dataclasses.replace(item, data=item.data[:-1] + bytes([item.data[-1] ^ 1]))
        kept.append(item)
    messages = [m for m in Pipeline(keylog=keylog).run(kept) if isinstance(m, Message)]
    kinds = collections.Counter(p.kind for m in messages for p in m.problems)
    assert kinds["tls.stream.gap"] == 1
    assert kinds["tls.record.decrypt_failed"] == 1  # the tampered record, after its retries
    assert kinds["tls.keys.missing"] == 1  # that direction's later records, reported
