"""HomePlug frame dissector: corpus MMEs, twins agree, construct agrees, hostile input, fragments."""

from __future__ import annotations

import construct as cs
import pytest
from conftest import corpus_path, load_impl, twin_params
from homeplug_corpus import corpus_captures, homeplug_frames, mme_offset
from hypothesis import given, settings
from hypothesis import strategies as st
from test_homeplug_codec import plain

from chargescope.dissectors.homeplug import program as prog
from chargescope.dissectors.homeplug.mme import HomePlugDissector, MmeContext, decode_mme

IMPLS = twin_params("homeplug")
ETH = bytes.fromhex("ffffffffffff" "a0cec8ca5fa2" "88e1")
SLAC_PARM_REQ = bytes.fromhex("01646000000000f02b00009a380001")


def corpus_or_skip():
    captures = corpus_captures()
    if not captures:
        pytest.skip("corpus not present")
    return captures


@pytest.mark.parametrize("which", IMPLS)
def test_corpus_mmes_decode_like_construct(which):
    """Every corpus MME of a declared type: fast decoder == construct parse, no unknown types
    among the SLAC/GP MMEs, problems only where the frame really is short."""
    impl = load_impl("homeplug", which)
    table = prog.build_table()
    checked = 0
    for path in corpus_or_skip():
        for _number, eth, _ts in homeplug_frames(path):
            result = impl.decode_mme(eth, mme_offset(eth), len(eth), table)
            mmv, mmtype, fmi, _fmsn, oui, body_start, entry, fields, stop, problem = result
            if 0x6000 <= mmtype < 0x6100 or mmtype < 0x2000:
                assert entry is not None, hex(mmtype)
            if entry is None or fields is None:
                continue
            struct = prog.layout_for(mmtype, max(oui, 0), mmv)
            body = eth[body_start:]
            if problem is None:
                assert plain(struct.parse(body)) == fields
            else:
                with pytest.raises(cs.ConstructError):
                    struct.parse(body)
            checked += 1
    assert checked > 5000


def test_corpus_twins_give_identical_messages():
    ext = load_impl("homeplug", "cython")
    if ext is None:
        pytest.skip("extension not built")
    twin = load_impl("homeplug", "python")
    for path in corpus_or_skip()[::3]:
        a, b = HomePlugDissector(impl=ext), HomePlugDissector(impl=twin)
        for number, eth, ts in homeplug_frames(path):
            assert a.feed(eth, ts_ns=ts, frame=number) == b.feed(eth, ts_ns=ts, frame=number)


def test_message_shape_and_secrets():
    blob = bytes.fromhex("017d60000000005600" + "00" * 17 + "a0cec8ca5fa2" + "00" * 17
                         + "644d7001060e" + "f02b00009a380001" + "00" * 8 + "4ebb5fc30a8704"
                         + "00" + "11" * 16)
    masked = decode_mme(blob, MmeContext(source="x", frame=7, offset=14))
    assert masked.name == "CM_SLAC_MATCH.CNF"
    assert masked.link == "A" and masked.protocol == "homeplug"
    assert masked.fields["nmk"].startswith("<redacted")
    assert masked.fields["nid"] == "4ebb5fc30a8704"
    assert masked.refs[0].start == 14 and masked.refs[0].length == len(blob)
    shown = decode_mme(blob, MmeContext(show_secrets=True))
    assert shown.fields["nmk"] == "11" * 16


def test_unknown_vendor_mme_is_a_named_raw_record():
    blob = bytes.fromhex("012ea200000016e8000000000001640000")
    message = decode_mme(blob)
    assert message.ok
    assert message.name == "MME_0xA22C.IND"
    assert message.fields["oui"] == "00:16:e8" and message.fields["vendor"] == "Lumissil Microsystems"
    assert message.fields["body"] == "000000000001640000"


def test_cp_state_vendor_mme():
    blob = bytes.fromhex("012ea200000080e1000000000003" "05" "e803" "f822" "00" + "00" * 6)
    message = decode_mme(blob)
    assert message.ok and message.name == "STP_CPSTATE.IND"
    assert (message.fields["cp_state"], message.fields["pwm_duty"], message.fields["pwm_freq"],
            message.fields["cp_voltage"]) == (3, 5, 1000, 8952)


@pytest.mark.parametrize("which", IMPLS)
@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=120), mmtype=st.sampled_from(
    sorted({key & 0xFFFF for key in prog.build_table()}) + [0x6048, 0xA22E, 0x8002]),
    mmv=st.integers(0, 2))
def test_hostile_mmes_never_raise(which, body, mmtype, mmv):
    impl = load_impl("homeplug", which)
    head = bytes([mmv]) + mmtype.to_bytes(2, "little") + (b"\x00\x00" if mmv else b"")
    if 0x8000 <= mmtype < 0xC000:
        head += b"\x00\xb0\x52"
    dissector = HomePlugDissector(impl=impl)
    for cut in (len(head) + len(body), len(head) + len(body) // 2, 2):
        frame = ETH + (head + body)[:cut]
        for message in dissector.feed(frame) + dissector.flush():
            assert message.protocol == "homeplug"
            for problem in message.problems:
                assert problem.kind.startswith("homeplug.")


@pytest.mark.parametrize("which", IMPLS)
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=80))
def test_random_bytes_twins_agree(which, data):
    ext, twin = load_impl("homeplug", which), load_impl("homeplug", "python")
    table = prog.build_table()
    assert ext.decode_mme(data, 0, len(data), table) == twin.decode_mme(data, 0, len(data), table)


def test_truncated_mme_is_a_problem_with_offset():
    frame = ETH + SLAC_PARM_REQ[:-3]
    (message,) = HomePlugDissector().feed(frame, frame=3, source="cap")
    assert message.name == "CM_SLAC_PARM.REQ"
    (problem,) = message.problems
    assert problem.kind == "homeplug.mme.truncated"
    assert problem.offset == 14 + 7 and problem.frame == 3 and problem.where == "frame"
    assert "run_id" in problem.detail


def test_short_header_is_malformed():
    (message,) = HomePlugDissector().feed(ETH + b"\x01\x64")
    assert message.name == "MME.MALFORMED"
    assert message.problems[0].kind == "homeplug.mme.truncated"


def _fragments(whole_body: bytes, mmtype: int, count: int, fmsn: int = 9) -> list[bytes]:
    size = -(-len(whole_body) // count)
    parts = [whole_body[i * size:(i + 1) * size] for i in range(count)]
    return [ETH + bytes([1]) + mmtype.to_bytes(2, "little") + bytes([((count - 1) << 4) | i, fmsn])
            + part for i, part in enumerate(parts)]


ATTEN_CHAR_BODY = bytes.fromhex("0000a0cec8ca5fa2f02b00009a380001") + bytes(34) + bytes([10, 58]) + bytes(range(58))


def test_fragments_are_reassembled():
    whole = decode_mme(bytes.fromhex("016e600000") + ATTEN_CHAR_BODY)
    dissector = HomePlugDissector()
    out = []
    for number, frame in enumerate(_fragments(ATTEN_CHAR_BODY, 0x606E, 3), start=1):
        out += dissector.feed(frame, frame=number)
    (message,) = out
    assert message.ok and message.name == "CM_ATTEN_CHAR.IND"
    assert message.fields["aag"] == list(range(58))
    assert message.fields["fmi"]["reassembled_from"] == 3
    assert {k: v for k, v in message.fields.items() if k != "fmi"} == \
        {k: v for k, v in whole.fields.items() if k != "fmi"}
    assert [ref.frame for ref in message.refs] == [1, 2, 3]


def test_bad_fragment_sequences_are_problems():
    frames = _fragments(ATTEN_CHAR_BODY, 0x606E, 3)
    dissector = HomePlugDissector()
    orphan = dissector.feed(frames[1])
    assert orphan[0].problems[0].kind == "homeplug.fragment.sequence"
    dissector.feed(frames[0])
    restarted = dissector.feed(_fragments(ATTEN_CHAR_BODY, 0x606E, 3, fmsn=10)[0])
    assert restarted[0].problems[0].kind == "homeplug.fragment.sequence"
    (left,) = dissector.flush()
    assert left.problems[0].kind == "homeplug.fragment.sequence"
    assert "capture ended" in left.problems[0].detail


def test_pipeline_hands_homeplug_frames_to_the_dissector():
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.pipeline import Pipeline

    path = corpus_path("pcaps", "EVerest+logfiles", "Audi", "Q4", "ac_iso2-1.dump")
    with open_capture(path) as capture:
        messages = [m for m in Pipeline().run(capture.frames())
                    if getattr(m, "protocol", "") == "homeplug"]
    direct = HomePlugDissector()
    expected = [m for number, eth, ts in homeplug_frames(path)
                for m in direct.feed(eth, ts_ns=ts, frame=number, source=str(path))]
    assert len(messages) == 35
    assert [(m.name, m.fields, m.refs[0].frame) for m in messages] == \
        [(m.name, m.fields, m.refs[0].frame) for m in expected]


def _feed_all(frames: list[tuple[int, bytes]]) -> list:
    dissector = HomePlugDissector()
    return [m for number, f in frames for m in dissector.feed(f, frame=number)] + dissector.flush()


_GROUPS = st.lists(st.integers(0, 255), min_size=1, max_size=200)


def _atten_body(groups: list[int]) -> bytes:
    return bytes.fromhex("0000a0cec8ca5fa2f02b00009a380001") + bytes(34) \
        + bytes([10, len(groups)]) + bytes(groups)


@settings(max_examples=60, deadline=None)
@given(groups=_GROUPS, count=st.integers(2, 8), fmsn=st.integers(0, 255))
def test_fragment_reassembly_property(groups, count, fmsn):
    body = _atten_body(groups)
    (whole,) = HomePlugDissector().feed(ETH + bytes.fromhex("016e600000") + body)
    frames = list(enumerate(_fragments(body, 0x606E, count, fmsn), start=1))
    (message,) = _feed_all(frames)
    assert message.ok and message.fields["aag"] == whole.fields["aag"] == groups
    assert [ref.frame for ref in message.refs] == list(range(1, count + 1))


@settings(max_examples=60, deadline=None)
@given(groups=_GROUPS, count=st.integers(2, 6), order=st.randoms(use_true_random=False),
       drop=st.booleans())
def test_fragments_out_of_order_or_lost_are_accounted(groups, count, order, drop):
    frames = list(enumerate(_fragments(_atten_body(groups), 0x606E, count), start=1))
    order.shuffle(frames)
    if drop:
        frames.pop(order.randrange(len(frames)))
    out = _feed_all(frames)
    # every fed frame is in some Message's refs: nothing dropped silently
    assert sorted(ref.frame for m in out for ref in m.refs) == sorted(n for n, _f in frames)
    complete = not drop and frames[0][0] == 1
    if complete:  # fragment 1 first: the rest may come in any order
        (message,) = out
        assert message.ok and message.fields["aag"] == groups
    else:
        assert any(p.kind == "homeplug.fragment.sequence" for m in out for p in m.problems)


def test_declared_length_that_disagrees_is_a_problem():
    good = bytes.fromhex("017c6000000000" "3e00") + bytes(62)
    assert decode_mme(good).ok
    bad = bytes.fromhex("017c6000000000" "4000") + bytes(62)
    message = decode_mme(bad)
    assert [p.kind for p in message.problems] == ["homeplug.mme.length_mismatch"]
    assert message.fields["mvf_length"] == 64 and message.name == "CM_SLAC_MATCH.REQ"


@pytest.mark.parametrize("which", IMPLS)
def test_twins_reject_non_bytes_alike(which):
    impl = load_impl("homeplug", which)
    table = prog.build_table()
    for wrong in (bytearray(SLAC_PARM_REQ), memoryview(SLAC_PARM_REQ), None):
        with pytest.raises(TypeError):
            impl.decode_mme(wrong, 0, 10, table)
        with pytest.raises(TypeError):
            impl.decode_body((), wrong, 0, 10)
    with pytest.raises(ValueError):
        impl.decode_mme(SLAC_PARM_REQ, -1, 10, table)
    with pytest.raises(ValueError):
        impl.decode_body((), SLAC_PARM_REQ, -5, 10)
