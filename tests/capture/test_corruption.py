"""Bad input: every case gives Problems with stable kinds, complete frames still read,
no exception, no hang; both implementations agree frame for frame and problem for problem."""

from __future__ import annotations

import gzip
import io
import struct

import pytest
from conftest import load_impl, twin_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.samples import T0, kinds, payloads, pcap_bytes, pcapng_bytes, read
from chargescope import backends
from chargescope.analyzer.capture import NotACaptureError, open_capture
from chargescope.analyzer.capture.writer import PcapngWriter

IMPLS = twin_params("capture")


def both(path):
    """Frames and problems from every available implementation, required identical."""
    results = []
    for impl in (backends.load_twin("capture"), backends.load_extension("capture")):
        if impl:
            frames, problems, cap = read(path, impl)
            counters = (cap.frames_read, cap.bytes_read, cap.truncated, cap.malformed)
            assert counters[:3] == (len(frames), sum(len(f.data) for f in frames),
                                    sum(f.truncated for f in frames))
            results.append((frames, problems, counters))
    for other in results[1:]:
        assert other == results[0]
    return results[0][:2]


def record_ends(data: bytes, fmt: str, packets_only: bool = True) -> list[int]:
    """End offsets of the packet records (or of all blocks) of a well-formed file."""
    ends = []
    if fmt == "pcap":
        pos = 24
        while pos < len(data):
            caplen = struct.unpack_from("<I", data, pos + 8)[0]
            pos += 16 + caplen
            ends.append(pos)
    else:
        pos = 0
        while pos < len(data):
            btype, total = struct.unpack_from("<II", data, pos)
            pos += total
            if btype == 6 or not packets_only:
                ends.append(pos)
    return ends


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_truncate_at_every_offset(tmp_path, fmt):
    data = pcap_bytes() if fmt == "pcap" else pcapng_bytes()
    ends = record_ends(data, fmt)
    boundaries = set(record_ends(data, fmt, packets_only=False))
    path = tmp_path / f"cut.{fmt}"
    header_len = 24 if fmt == "pcap" else 12
    for cut in range(1, len(data)):
        path.write_bytes(data[:cut])
        if cut < (4 if fmt == "pcap" else 12):
            with pytest.raises(NotACaptureError):
                open_capture(path)
            continue
        frames, problems = both(path)
        complete = sum(1 for end in ends if end <= cut)
        assert len(frames) == complete, cut
        if cut > header_len and cut not in boundaries:
            # cut inside a record (or inside the header blocks): it is said
            assert problems, cut
        assert all(p.offset <= cut for p in problems)


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_pcap_huge_caplen_resyncs(tmp_path):
    data = bytearray(pcap_bytes(n=6))
    first = 24 + 16 + len(payloads()[0])  # second record header
    struct.pack_into("<I", data, first + 8, 0x7FFFFFFF)
    frames, problems = both(write(tmp_path, "huge.pcap", bytes(data)))
    assert kinds(problems) == ["pcap.record.bad_length", "pcap.resync"]
    assert problems[0].frame == 2 and problems[0].offset == first
    assert [f.number for f in frames] == [1, 2, 3, 4, 5]  # frames after the bad one go on
    assert [f.data for f in frames] == [payloads(6)[i] for i in (0, 2, 3, 4, 5)]


def test_pcap_zeroed_lengths_resync(tmp_path):
    data = bytearray(pcap_bytes(n=6))
    first = 24 + 16 + len(payloads()[0])
    struct.pack_into("<II", data, first + 8, 0, 0)  # zero caplen and wirelen
    frames, problems = both(write(tmp_path, "zero.pcap", bytes(data)))
    # the zero-length record is read as tshark reads it; its payload then looks like a header
    assert "pcap.resync" in kinds(problems)
    assert frames[-1].data == payloads(6)[5]


@pytest.mark.parametrize("which", IMPLS)
def test_pcap_unknown_linktype(tmp_path, which):
    frames, problems, cap = read(write(tmp_path, "lt.pcap", pcap_bytes(linktype=4242)),
                                 load_impl("capture", which))
    assert kinds(problems) == ["pcap.linktype.unknown"]
    assert len(frames) == 5 and cap.interfaces[0].linktype == 4242


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_garbage_after_end(tmp_path, fmt):
    data = (pcap_bytes() if fmt == "pcap" else pcapng_bytes()) + b"\xffGARBAGE\xff" * 3
    frames, problems = both(write(tmp_path, f"g.{fmt}", data))
    assert len(frames) == 5
    assert kinds(problems) == ["capture.trailing_garbage"]


def test_pcapng_zero_block_length_resyncs(tmp_path):
    data = bytearray(pcapng_bytes(n=5))
    ends = record_ends(bytes(data), "pcapng")
    struct.pack_into("<I", data, ends[1] + 4, 0)  # third EPB: total length 0
    frames, problems = both(write(tmp_path, "z.pcapng", bytes(data)))
    assert kinds(problems) == ["pcapng.block.bad_length", "pcapng.resync"]
    assert problems[0].frame == 3 and problems[0].offset == ends[1]
    assert [f.data for f in frames] == [payloads()[i] for i in (0, 1, 3, 4)]


def test_pcapng_trailer_mismatch_resyncs(tmp_path):
    data = bytearray(pcapng_bytes(n=5))
    ends = record_ends(bytes(data), "pcapng")
    struct.pack_into("<I", data, ends[2] - 4, 12345)  # third EPB: wrong trailing total
    frames, problems = both(write(tmp_path, "t.pcapng", bytes(data)))
    assert kinds(problems)[0] == "pcapng.block.trailer_mismatch"
    assert [f.data for f in frames] == [payloads()[i] for i in (0, 1, 3, 4)]


def test_pcapng_huge_block_length(tmp_path):
    data = bytearray(pcapng_bytes(n=5))
    ends = record_ends(bytes(data), "pcapng")
    struct.pack_into("<I", data, ends[0] + 4, 0xFFFFFFF0)
    frames, problems = both(write(tmp_path, "h.pcapng", bytes(data)))
    assert kinds(problems) == ["pcapng.block.bad_length", "pcapng.resync"]
    assert len(frames) == 4


def test_pcapng_unknown_interface_and_linktype(tmp_path):
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.add_interface(4242)
        w.write(b"a" * 20, T0, 0)
        w.write_block(6, struct.pack("<IIIII", 3, 0, 0, 20, 20) + b"b" * 20)  # no interface 3
        w.write(b"c" * 20, T0, 0)
    frames, problems = both(write(tmp_path, "i.pcapng", out.getvalue()))
    assert kinds(problems) == ["pcapng.linktype.unknown", "pcapng.interface.unknown"]
    assert problems[1].frame == 2
    assert [f.data[:1] for f in frames] == [b"a", b"c"]


def test_pcapng_caplen_beyond_block(tmp_path):
    data = bytearray(pcapng_bytes(n=3))
    ends = record_ends(bytes(data), "pcapng")
    struct.pack_into("<I", data, ends[0] + 20, 5000)  # second EPB: caplen past its block
    frames, problems = both(write(tmp_path, "c.pcapng", bytes(data)))
    assert kinds(problems) == ["pcapng.block.bad_body"]
    assert len(frames) == 2


@pytest.mark.parametrize("what", ["empty", "text", "elf"])
def test_not_a_capture(tmp_path, what):
    content = {"empty": b"", "text": b"hello, this is not a capture\n",
               "elf": b"\x7fELF" + bytes(100)}[what]
    with pytest.raises(NotACaptureError):
        open_capture(write(tmp_path, "x.pcap", content))


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_gzip_detected_by_magic(tmp_path, fmt):
    data = pcap_bytes() if fmt == "pcap" else pcapng_bytes()
    plain = both(write(tmp_path, f"p.{fmt}", data))[0]
    frames, problems = both(write(tmp_path, "no_suffix", gzip.compress(data)))
    assert [(f.ts_ns, f.data, f.offset) for f in frames] == [
        (f.ts_ns, f.data, f.offset) for f in plain]
    assert problems == []


def test_gzip_truncated(tmp_path):
    packed = gzip.compress(pcap_bytes(n=40) * 1)
    frames, problems = both(write(tmp_path, "cut.pcap.gz", packed[:len(packed) // 2]))
    assert "capture.gzip.corrupt" in kinds(problems)
    assert 0 < len(frames) < 40


def test_gzip_not_a_capture(tmp_path):
    with pytest.raises(NotACaptureError):
        open_capture(write(tmp_path, "x.gz", gzip.compress(b"just text" * 10)))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["pcap", "pcapng"]), noise=st.binary(max_size=400),
       at=st.integers(0, 400), keep=st.booleans())
def test_hostile_bytes_never_crash(tmp_path, fmt, noise, at, keep):
    """Noise spliced into a valid file: reading ends, twins agree, frames are all sane."""
    data = pcap_bytes() if fmt == "pcap" else pcapng_bytes()
    head = 24 if fmt == "pcap" else 28
    at = head + at % (len(data) - head)
    data = data[:at] + noise + (data[at:] if keep else data[at + len(noise):])
    frames, problems = both(write(tmp_path, f"n.{fmt}", data))
    assert [f.number for f in frames] == list(range(1, len(frames) + 1))
    assert all(f.offset < len(data) for f in frames)


def test_timestamps_beyond_int64(tmp_path):
    """Ticks whose ns value overflows 64 bits: exact big integers, same in both twins."""
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.add_interface(1)
        w.add_interface(1, tsresol=1_000_000, tsoffset=-5)
        for iface in (0, 1):
            w.write_block(6, struct.pack("<IIIII", iface, 0xFFFFFFFF, 0xFFFFFFFF, 4, 4) + b"abcd")
        w.write(b"efgh", T0, 0)
    frames, problems = both(write(tmp_path, "big.pcapng", out.getvalue()))
    assert problems == []
    assert [f.ts_ns for f in frames] == [2 ** 64 - 1, (2 ** 64 - 1) * 1000 - 5 * 10 ** 9, T0]


def test_pcap_timestamp_fraction_past_a_second(tmp_path):
    """tshark reads such a record (and prints 1.1500000 s): so do we, as sec + fraction."""
    data = bytearray(pcap_bytes(nano=False, n=6))
    second = 24 + 16 + len(payloads()[0])
    struct.pack_into("<I", data, second + 4, 1_500_000)  # µs fraction past one second
    frames, problems = both(write(tmp_path, "frac.pcap", bytes(data)))
    assert problems == [] and len(frames) == 6
    assert frames[1].ts_ns == (T0 // 10 ** 9) * 10 ** 9 + 1_500_000_000


def test_truncate_rich_pcapng_at_every_offset(tmp_path):
    """Every block type (SHB, IDB, EPB, SPB, PB, NRB, ISB, DSB, custom, unknown, two byte
    orders) cut anywhere: frames before the cut all read, no exception, twins agree."""
    from capture.test_generated_tshark import multi_section

    full = tmp_path / "rich.pcapng"
    multi_section(full)
    data = full.read_bytes()
    reference, problems = both(full)
    assert problems == []
    reference = [(f.number, f.ts_ns, f.data, f.wirelen, f.interface, f.offset) for f in reference]
    path = tmp_path / "cut.pcapng"
    for cut in range(12, len(data), 3):
        path.write_bytes(data[:cut])
        frames, _problems = both(path)
        frames = [(f.number, f.ts_ns, f.data, f.wirelen, f.interface, f.offset) for f in frames]
        assert frames == reference[:len(frames)]
        # every frame whose block (header, data, options, trailer) ends before the cut
        assert len(frames) >= sum(1 for f in reference if f[5] + 40 + len(f[2]) <= cut)


def test_large_negative_tsoffset(tmp_path):
    """if_tsoffset near -2**62 ns: no int64 overflow in either twin, exact values."""
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.add_interface(1, tsoffset=-4_000_000_000)
        w.add_interface(1, tsoffset=4_000_000_000)
        w.write_block(6, struct.pack("<IIIII", 0, 0, 5, 4, 4) + b"abcd")
        w.write_block(6, struct.pack("<IIIII", 0, 0x7FFFFFFF, 5, 4, 4) + b"efgh")
        w.write_block(6, struct.pack("<IIIII", 1, 0x10000000, 5, 4, 4) + b"ijkl")
    frames, problems = both(write(tmp_path, "neg.pcapng", out.getvalue()))
    assert problems == []
    assert [f.ts_ns for f in frames] == [5 - 4 * 10 ** 18, (0x7FFFFFFF << 32 | 5) - 4 * 10 ** 18,
                                         (0x10000000 << 32 | 5) + 4 * 10 ** 18]


def test_huge_tsoffset(tmp_path):
    """if_tsoffset beyond int64 ns (found by fuzzing): exact big integers, no OverflowError."""
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.add_interface(1, tsoffset=2 ** 62)
        w.write_block(6, struct.pack("<IIIII", 0, 0, 7, 4, 4) + b"abcd")
    frames, problems = both(write(tmp_path, "off.pcapng", out.getvalue()))
    assert problems == [] and [f.ts_ns for f in frames] == [7 + 2 ** 62 * 10 ** 9]


def test_extension_without_fast_frames(tmp_path):
    """The extension's fallback (ordinary Frame constructor) gives the same frames."""
    ext = backends.load_extension("capture")
    if ext is None:
        pytest.skip("capture extension not built")
    path = write(tmp_path, "a.pcapng", pcapng_bytes(n=8))
    fast = read(path, ext)[0]
    try:
        assert ext._use_fast_frames(False) is False
        slow = read(path, ext)[0]
    finally:
        assert ext._use_fast_frames(True) is True
    assert slow == fast == read(path, backends.load_twin("capture"))[0]
