"""Small builders for LinkSessions in correlator tests."""

from chargescope.analyzer.correlate import LinkEvent, LinkSession

S = 1_000_000_000


def part(link, kind, ident, start, end, *, source=None, events=(), **kw):
    """A LinkSession; times in seconds; events as (t_seconds, name, detail?) tuples."""
    evs = tuple(LinkEvent(int(e[0] * S), e[1], e[2] if len(e) > 2 else {}) for e in events)
    return LinkSession(link=link, kind=kind, ident=ident, source=source or f"{link}.pcap",
                       start_ns=int(start * S), end_ns=int(end * S), events=evs, **kw)


def a_part(start=100, end=400, **kw):
    kw.setdefault("keys", {"evse_id": "DE*ABC*E0001*1", "evccid": "020000000001"})
    kw.setdefault("outcome", "success")
    return part("A", "v2g", "SESSION01", start, end, **kw)


def b_part(start=101, end=401, **kw):
    kw.setdefault("keys", {"charge_point_id": "CP1", "connector": "1", "id_token": "RFID01",
                           "transaction_id": "42"})
    kw.setdefault("outcome", "success")
    return part("B", "ocpp.transaction", "42", start, end, **kw)


def c_part(start=102, end=460, **kw):
    kw.setdefault("keys", {"ocpi_session_id": "OCPI-1", "token_uid": "RFID01",
                           "evse_id": "DE*ABC*E0001*1"})
    kw.setdefault("outcome", "success")
    return part("C", "ocpi.session", "OCPI-1", start, end, **kw)
