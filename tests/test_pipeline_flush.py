

def test_partial_mme_fragments_are_reported_at_end_of_input():
    """A fragmented MME whose last fragment never came is a Message with a problem."""
    from chargescope.analyzer.pipeline import Pipeline
    from chargescope.analyzer.records import Frame

    # MMV 1.1 CM_ATTEN_CHAR.IND (0x606E), fragment 0 of 2 (nf_mi=1, fn_mi=0)
    header = bytes.fromhex("0200000000010200000000028 8e1".replace(" ", ""))
    mme = bytes([0x01]) + (0x606E).to_bytes(2, "little") + bytes([0x10, 0x00]) + bytes(60)
    frames = [Frame(1, 1_000, 1, header + mme, len(header + mme), source="x.pcap")]
    out = list(Pipeline().run(frames))
    assert any(getattr(m, "problems", ()) and m.protocol == "homeplug" for m in out), out
