"""Writer -> reader identity (hypothesis), for both hot-path implementations."""

from __future__ import annotations

import io

import pytest
from conftest import load_impl, twin_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.samples import read
from chargescope.analyzer.capture import SECRETS_TLS_KEY_LOG
from chargescope.analyzer.capture.writer import PcapngWriter, PcapWriter
from chargescope.analyzer.records import Frame

NS = 1_000_000_000
frame_data = st.binary(min_size=0, max_size=300)
timestamps = st.integers(min_value=0, max_value=(1 << 32) * NS - 1)
settings_ = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("which", twin_params("capture"))
@settings_
@given(records=st.lists(st.tuples(frame_data, timestamps, st.integers(0, 2000)), max_size=30),
       little=st.booleans(), nano=st.booleans(), linktype=st.sampled_from([1, 101, 113, 276]))
def test_pcap_roundtrip(tmp_path, which, records, little, nano, linktype):
    path = tmp_path / "t.pcap"
    with PcapWriter(path, linktype=linktype, nano=nano, little=little) as w:
        offset = 24
        expected = []
        for i, (data, ts, extra) in enumerate(records):
            ts = ts if nano else ts - ts % 1000
            w.write(data, ts, len(data) + extra)
            expected.append(Frame(i + 1, ts, linktype, data, len(data) + extra, 0, str(path),
                                  offset))
            offset += 16 + len(data)
    frames, problems, cap = read(path, load_impl("capture", which))
    assert frames == expected
    assert problems == []
    assert cap.format == "pcap"
    assert cap.truncated == sum(1 for _d, _t, extra in records if extra)


resolutions = st.sampled_from([NS, 1_000_000, 1000, 10 ** 10, 2 ** 20, 2 ** 30, 2 ** 32])


@st.composite
def pcapng_plans(draw):
    """Sections (byte order, interfaces (linktype, tsresol, tsoffset)) and frames per section."""
    sections = []
    for _ in range(draw(st.integers(1, 3))):
        ifaces = draw(st.lists(st.tuples(st.sampled_from([1, 101, 113, 228]), resolutions,
                                         st.integers(-10 ** 6, 10 ** 6)), min_size=1, max_size=4))
        frames = draw(st.lists(st.tuples(frame_data, st.integers(0, 1 << 40),
                                         st.integers(0, len(ifaces) - 1)), max_size=12))
        sections.append((draw(st.booleans()), ifaces, frames))
    return sections


@pytest.mark.parametrize("which", twin_params("capture"))
@settings_
@given(plan=pcapng_plans())
def test_pcapng_roundtrip(tmp_path, which, plan):
    path = tmp_path / "t.pcapng"
    expected = []
    number = 0
    first = 0
    buf = io.BytesIO()
    w = PcapngWriter(buf, little=plan[0][0])
    for s, (little, ifaces, frames) in enumerate(plan):
        if s:
            w.new_section(little)
        for linktype, units, tsoffset in ifaces:
            w.add_interface(linktype, tsresol=units, tsoffset=tsoffset)
        w.write_secret(SECRETS_TLS_KEY_LOG, b"CLIENT_RANDOM %d\n" % s)
        for data, ticks, iface in frames:
            units, tsoffset = ifaces[iface][1], ifaces[iface][2]
            # a timestamp the interface's resolution can hold exactly
            ts_ns = ticks * NS // units + tsoffset * NS
            offset = buf.tell()
            w.write(data, ts_ns, iface)
            number += 1
            expected.append(Frame(number, ts_ns, ifaces[iface][0], data, len(data),
                                  first + iface, str(path), offset))
        first += len(ifaces)
    path.write_bytes(buf.getvalue())
    frames, problems, cap = read(path, load_impl("capture", which))
    assert frames == expected
    assert problems == []
    assert [i.section for i in cap.interfaces] == [s for s, p in enumerate(plan) for _ in p[1]]
    assert [(i.linktype, i.tsresol, i.tsoffset) for i in cap.interfaces] == [
        i for p in plan for i in p[1]]
    assert [(x.type, x.data) for x in cap.secrets] == [
        (SECRETS_TLS_KEY_LOG, b"CLIENT_RANDOM %d\n" % s) for s in range(len(plan))]
