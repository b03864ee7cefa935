import dataclasses

import pytest

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import Finding, FindingSpec, Frame, Problem, Severity


def test_frame_truncated_flag():
    assert Frame(1, 0, 1, b"ab", 2).truncated is False
    assert Frame(1, 0, 1, b"ab", 60).truncated is True


def test_records_are_frozen():
    frame = Frame(1, 0, 1, b"", 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.number = 2  # type: ignore[misc]


def test_problem_names_file_frame_and_offset():
    text = str(Problem("pcap.record.truncated", "needs 16 bytes", "x.pcap", 7, 1234, "file"))
    assert "x.pcap" in text and "frame 7" in text and "1234" in text


def test_registry_makes_findings_with_spec_severity():
    spec = FindingSpec("demo.code", Severity.ERROR, "protocol", "Demo failed", "[V2G2-001]")
    reg = FindingRegistry([spec])
    finding = reg.make("demo.code", ts_ns=5)
    assert isinstance(finding, Finding)
    assert finding.severity is Severity.ERROR and finding.requirement == "[V2G2-001]"
    with pytest.raises(KeyError):
        reg.make("unknown.code")
    with pytest.raises(ValueError):
        reg.add([FindingSpec("demo.code", Severity.NOTE, "protocol", "other")])
