"""The one place `simulate` reaches into the project's encoders and writers.

Every byte of protocol structure comes from the dissector that owns it (one declaration
per fact): MME layouts from `dissectors.homeplug`, SDP and V2GTP from `dissectors.sdp` /
`dissectors.v2gtp`, EXI from `dissectors.exi`, WebSocket frames and the handshake key from
`dissectors.websocket`, pcap/pcapng from `analyzer.capture.writer`. Imports are made on
use: a component that is not installed raises `EncoderMissing` naming it, and the
renderer reports the capture source it could not write instead of writing a wrong one.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class EncoderMissing(RuntimeError):
    """A project encoder a renderer needs is not available in this installation."""


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"chargescope.{name}")
    except ImportError as exc:
        raise EncoderMissing(f"chargescope.{name} is not available ({exc})") from exc


# ---- link A ---------------------------------------------------------------------------

def mme(name: str, variant: str, fields: dict[str, Any]) -> bytes:
    """A HomePlug MME (MMV 1 header + body) from the registry's construct layout."""
    registry = _module("dissectors.homeplug.registry")
    build = _module("dissectors.homeplug.build")
    for spec in registry.MMES:
        if spec.name == name and spec.oui is None:
            return build.build_mme(spec.base | registry.Variant[variant], **fields)
    raise EncoderMissing(f"MME {name} is not in the HomePlug registry")


def sdp_request() -> bytes:
    return _module("dissectors.sdp").build_request(security=0x10, transport=0x00)


def sdp_response(ip: str, port: int) -> bytes:
    return _module("dissectors.sdp").build_response(ip, port, security=0x10, transport=0x00)


def v2gtp(payload_type: int, payload: bytes) -> bytes:
    return _module("dissectors.v2gtp").build(payload_type, payload)


def exi(tree: dict, schema: str) -> bytes:
    return _module("dissectors.exi").encode(tree, schema)


# ---- link B ---------------------------------------------------------------------------

def ws_frame(payload: bytes, mask_key: bytes = b"", opcode: int | None = None) -> bytes:
    frames = _module("dissectors.websocket.frames")
    code = frames.Opcode.TEXT if opcode is None else opcode
    return frames.build_frame(payload, code, mask_key=mask_key)


def ws_close_opcode() -> int:
    return int(_module("dissectors.websocket.frames").Opcode.CLOSE)


def ws_accept(key: str) -> str:
    return _module("dissectors.websocket.handshake").accept_for_key(key)


# ---- capture files --------------------------------------------------------------------

def writer_module() -> ModuleType:
    return _module("analyzer.capture.writer")
