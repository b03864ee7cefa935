import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargescope.analyzer.filter import FilterError, compile_filter
from chargescope.analyzer.records import ByteRef, Link, Message


def msg(link, protocol, name, fields, frame=1):
    return Message(Link(link), protocol, name, 0, "s", "d", fields,
                   (ByteRef("x.pcap", frame, 0, 1),))


AUTH = msg("B", "ocpp", "Authorize Request",
           {"action": "Authorize", "payload": {"idTag": "04A1B2"}, "unique_id": "17"})
V2G_FAIL = msg("A", "exi", "AuthorizationRes",
               {"V2G_Message": {"Body": {"AuthorizationRes": {"ResponseCode": "FAILED"}}}})
V2G_OK = msg("A", "exi", "SessionSetupRes",
             {"V2G_Message": {"Body": {"SessionSetupRes": {"ResponseCode": "OK"}}}}, 9)
ATTEN = msg("A", "homeplug", "CM_ATTEN_CHAR.IND", {"aag": [12, 31, 20], "num_sounds": 10})
ALL = [AUTH, V2G_FAIL, V2G_OK, ATTEN]


def names(text):
    pred = compile_filter(text)
    return [m.name for m in ALL if pred(m)]


@pytest.mark.parametrize("text,expected", [
    ('ocpp.action == "Authorize" && link == B', ["Authorize Request"]),
    ('v2g.ResponseCode != "OK"', ["AuthorizationRes"]),
    ("slac.aag > 30", ["CM_ATTEN_CHAR.IND"]),
    ("slac.aag > 40", []),
    ("slac.num_sounds >= 10 and link == A", ["CM_ATTEN_CHAR.IND"]),
    ('name contains "res"', ["AuthorizationRes", "SessionSetupRes"]),
    ('name matches "^Session"', ["SessionSetupRes"]),
    ("ocpp.payload.idTag ~ '^04'", ["Authorize Request"]),
    ("!(link == A)", ["Authorize Request"]),
    ("not link == A || frame > 5", ["Authorize Request", "SessionSetupRes"]),
    ("ocpp.unique_id", ["Authorize Request"]),
    ("", ["Authorize Request", "AuthorizationRes", "SessionSetupRes", "CM_ATTEN_CHAR.IND"]),
])
def test_filters_select(text, expected):
    assert names(text) == expected


@pytest.mark.parametrize("text,where", [
    ("ocpp.action ==", 14), ("bogus.field == 1", 0), ("(link == A", 10),
    ("link == A B", 10), ('name matches "["', 13), ("link $ A", 5),
])
def test_errors_name_the_position(text, where):
    with pytest.raises(FilterError) as info:
        compile_filter(text)
    assert info.value.position == where


@given(st.text(max_size=40))
def test_any_text_compiles_or_raises_filter_error(text):
    try:
        pred = compile_filter(text)
    except FilterError:
        return
    for message in ALL:
        assert pred(message) in (True, False)
