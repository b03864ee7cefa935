"""Finding codes for link C (OCPI), declared up front: stable, never renamed.

OCPI does not number its requirements, so `requirement` cites the specification
document and section (OCPI 2.2.1 naming; the same rules hold in 2.1.1/2.3.0 where
the module exists). The catalogue follows FIELD_NOTES.md patterns 13-15.
"""

from __future__ import annotations

from chargescope.analyzer.findings import FindingRegistry
from chargescope.analyzer.records import FindingSpec
from chargescope.analyzer.records import Severity as S

_T = "transport_and_format"

FINDINGS: tuple[FindingSpec, ...] = (
    # transport, envelope, status codes
    FindingSpec("ocpi.decode.problem", S.WARNING, "malformed",
                "An HTTP/OCPI message could not be decoded completely"),
    FindingSpec("ocpi.http.unanswered", S.ERROR, "sequence",
                "A request got no HTTP response before the connection or capture ended"),
    FindingSpec("ocpi.http.client-error", S.WARNING, "protocol",
                "HTTP 4xx response", f"{_T} 4.1.1"),
    FindingSpec("ocpi.http.server-error", S.ERROR, "protocol",
                "HTTP 5xx response", f"{_T} 4.1.1"),
    FindingSpec("ocpi.envelope.invalid", S.ERROR, "protocol",
                "Response body is not the OCPI response format (data, status_code, "
                "status_message, timestamp)", f"{_T} 4.1.7"),
    FindingSpec("ocpi.status.client-error", S.WARNING, "protocol",
                "OCPI status code 2xxx: the server says the client erred", "status_codes 5.2"),
    FindingSpec("ocpi.status.server-error", S.ERROR, "protocol",
                "OCPI status code 3xxx: the server failed", "status_codes 5.3"),
    FindingSpec("ocpi.status.hub-error", S.ERROR, "protocol",
                "OCPI status code 4xxx: the hub could not route the request", "status_codes 5.4"),
    FindingSpec("ocpi.status.unknown", S.WARNING, "protocol",
                "OCPI status code outside the 1xxx-4xxx classes", "status_codes 5"),
    FindingSpec("ocpi.header.missing", S.WARNING, "protocol",
                "A request lacks X-Request-ID or X-Correlation-ID (required from 2.2)",
                f"{_T} 4.1.2"),
    FindingSpec("ocpi.header.not-echoed", S.NOTE, "protocol",
                "A response does not repeat its request's X-Request-ID / X-Correlation-ID",
                f"{_T} 4.1.2"),
    FindingSpec("ocpi.schema.violation", S.WARNING, "protocol",
                "An OCPI object breaks the data model (field and rule named)"),
    FindingSpec("ocpi.datetime.not-utc", S.NOTE, "interop",
                "A DateTime carries a non-UTC offset; OCPI timestamps are UTC", "types 16.2"),
    # authorization, credentials, versions
    FindingSpec("ocpi.auth.failed", S.ERROR, "security",
                "The server refused the request's token (HTTP 401/403 or status 2001)",
                f"{_T} 4.1.3"),
    FindingSpec("ocpi.auth.missing", S.ERROR, "security",
                "A request carries no Authorization: Token header", f"{_T} 4.1.3"),
    FindingSpec("ocpi.auth.token-encoding", S.WARNING, "interop",
                "The token is Base64-encoded where the version expects it raw, or the reverse",
                f"{_T} 4.1.3"),
    FindingSpec("ocpi.credentials.incomplete", S.ERROR, "protocol",
                "A credentials object is empty or lacks token, url or roles",
                "credentials 7.2.1"),
    FindingSpec("ocpi.version.malformed", S.WARNING, "interop",
                "A version string is not one of the published version numbers "
                "(e.g. \"2.1\" for \"2.1.1\")", "version_information_endpoint 6.2.1"),
    # sessions and CDRs (pattern 13, 15)
    FindingSpec("ocpi.object.touched", S.NOTE, "interop",
                "An object was pushed again with nothing changed but last_updated",
                "transport_and_format 4.1.4"),
    FindingSpec("ocpi.session.transition", S.WARNING, "sequence",
                "A session status change the Session state machine does not allow",
                "sessions 9.4.1"),
    FindingSpec("ocpi.session.not-completed", S.WARNING, "sequence",
                "A session never reached COMPLETED or INVALID in the capture", "sessions 9.4.1"),
    FindingSpec("ocpi.session.without-cdr", S.WARNING, "sequence",
                "A completed session has no CDR in the capture", "cdrs 10"),
    FindingSpec("ocpi.session.kwh-decreased", S.WARNING, "interop",
                "A session's kwh went down between updates", "sessions 9.3.1"),
    FindingSpec("ocpi.cdr.energy-mismatch", S.ERROR, "interop",
                "CDR total_energy differs from the sum of its ENERGY charging periods",
                "cdrs 10.4.1"),
    FindingSpec("ocpi.cdr.time-mismatch", S.WARNING, "interop",
                "CDR total_time differs from its TIME periods or from end - start",
                "cdrs 10.4.1"),
    FindingSpec("ocpi.cdr.parking-mismatch", S.WARNING, "interop",
                "CDR total_parking_time differs from its PARKING_TIME periods", "cdrs 10.4.1"),
    FindingSpec("ocpi.cdr.cost-inconsistent", S.WARNING, "interop",
                "CDR costs do not add up (incl_vat below excl_vat, or parts above the total)",
                "cdrs 10.4.1"),
    FindingSpec("ocpi.cdr.session-mismatch", S.WARNING, "interop",
                "CDR total_energy differs from the final kwh of its session", "cdrs 10.4.1"),
    # tokens (pattern 14)
    FindingSpec("ocpi.token.not-allowed", S.NOTE, "sequence",
                "Real-time authorization answered something other than ALLOWED",
                "tokens 12.4.1"),
    FindingSpec("ocpi.token.unknown", S.NOTE, "interop",
                "Real-time authorization of an unknown token (HTTP 404 or status 2004); "
                "partners disagree on which to send", "tokens 12.2.2"),
    # commands
    FindingSpec("ocpi.command.rejected", S.WARNING, "sequence",
                "The CPO did not accept a command (CommandResponse result not ACCEPTED)",
                "commands 13.4.1"),
    FindingSpec("ocpi.command.result-missing", S.ERROR, "timing",
                "An accepted command got no result callback within its timeout",
                "commands 13.1"),
    FindingSpec("ocpi.command.result-pending", S.NOTE, "timing",
                "The capture ends before an accepted command's timeout; no result yet",
                "commands 13.1"),
    FindingSpec("ocpi.command.result-late", S.WARNING, "timing",
                "A command result arrived after the timeout the CPO announced", "commands 13.1"),
    FindingSpec("ocpi.command.result-failed", S.WARNING, "sequence",
                "A command result other than ACCEPTED", "commands 13.4.2"),
    # pagination (pattern 15)
    FindingSpec("ocpi.pagination.headers-missing", S.WARNING, "protocol",
                "A paginated list response lacks X-Total-Count or X-Limit", f"{_T} 4.1.5"),
    FindingSpec("ocpi.pagination.link-missing", S.ERROR, "protocol",
                "More objects remain (offset + page < X-Total-Count) but no Link rel=\"next\"",
                f"{_T} 4.1.5"),
    FindingSpec("ocpi.pagination.link-limit-missing", S.NOTE, "interop",
                "The next-page Link carries no limit parameter", f"{_T} 4.1.5"),
    FindingSpec("ocpi.pagination.link-invalid", S.ERROR, "protocol",
                "The next-page Link does not point at the same OCPI module", f"{_T} 4.1.5"),
    FindingSpec("ocpi.pagination.total-changed", S.WARNING, "interop",
                "X-Total-Count changed between pages of one walk", f"{_T} 4.1.5"),
    FindingSpec("ocpi.pagination.loop", S.WARNING, "sequence",
                "A page offset was requested twice in one walk", f"{_T} 4.1.5"),
    FindingSpec("ocpi.pagination.incomplete", S.WARNING, "sequence",
                "A list walk stopped before X-Total-Count objects were fetched", f"{_T} 4.1.5"),
    FindingSpec("ocpi.pagination.limit-exceeded", S.WARNING, "protocol",
                "A page holds more objects than X-Limit or the requested limit", f"{_T} 4.1.5"),
)


def registry() -> FindingRegistry:
    return FindingRegistry(FINDINGS)
