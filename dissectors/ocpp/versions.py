"""OCPP-J versions: WebSocket subprotocol names and where their schemas live.

One declaration per fact: the subprotocol a version negotiates, the folder of the
`ocpp` PyPI package that holds its official JSON schemas, how a schema file is named
for a request and a response, and the message types the version defines.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class MessageType(enum.IntEnum):
    """OCPP-J MessageTypeId (OCPP-J 1.6 section 4.1.3; OCPP 2.1 part 4 adds 5 and 6)."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5  # 2.1: an error about a CALLRESULT
    SEND = 6  # 2.1: unconfirmed message, no answer expected


@dataclass(frozen=True, slots=True)
class OcppVersion:
    name: str  # "1.6", "2.0.1", "2.1"
    subprotocol: str  # Sec-WebSocket-Protocol value
    schema_dir: str  # folder in the `ocpp` package
    request_suffix: str  # schema file name = action + suffix + ".json"
    response_suffix: str
    message_types: frozenset[int]
    # Spelling of the CALLERROR code for a malformed payload in this version
    # (FIELD_NOTES pattern 1: 1.6 "FormationViolation" vs 2.x "FormatViolation").
    format_violation: str
    occurrence_violation: str


VERSIONS: tuple[OcppVersion, ...] = (
    OcppVersion("1.6", "ocpp1.6", "v16", "", "Response",
                frozenset({2, 3, 4}), "FormationViolation", "OccurenceConstraintViolation"),
    OcppVersion("2.0.1", "ocpp2.0.1", "v201", "Request", "Response",
                frozenset({2, 3, 4}), "FormatViolation", "OccurrenceConstraintViolation"),
    OcppVersion("2.1", "ocpp2.1", "v21", "Request", "Response",
                frozenset({2, 3, 4, 5, 6}), "FormatViolation", "OccurrenceConstraintViolation"),
)

BY_NAME = {v.name: v for v in VERSIONS}
BY_SUBPROTOCOL = {v.subprotocol: v for v in VERSIONS}
SUBPROTOCOLS = tuple(v.subprotocol for v in VERSIONS)

# CALLERROR codes per version (OCPP-J 1.6 4.2.3; OCPP 2.0.1 part 4 4.3; 2.1 adds more).
ERROR_CODES_16 = frozenset({
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
    "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
    "TypeConstraintViolation", "GenericError",
})
ERROR_CODES_2X = frozenset({
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
    "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
    "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
    "TypeConstraintViolation",
})
ERROR_CODES = {"1.6": ERROR_CODES_16, "2.0.1": ERROR_CODES_2X, "2.1": ERROR_CODES_2X}


def version_for_subprotocol(subprotocol: str) -> OcppVersion | None:
    return BY_SUBPROTOCOL.get(subprotocol.strip().lower())
