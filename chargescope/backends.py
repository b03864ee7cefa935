"""One place that picks a hot-path implementation: Cython extension or pure-Python twin.

Callers never import `chargescope.ext.*` directly; they ask `load()` for the
implementation module of a hot path. Set ``CHARGESCOPE_PUREPYTHON=1`` to force the
twins (the test matrix runs once each way), as msgpack does with MSGPACK_PUREPYTHON.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

PURE_ENV = "CHARGESCOPE_PUREPYTHON"

# The table of hot paths: name -> (Cython extension module, pure-Python twin module).
# Both modules expose the same functions and raise the same exceptions.
HOT_PATHS: dict[str, tuple[str, str]] = {
    "capture": ("chargescope.ext._capture", "chargescope.analyzer.capture.walk"),
    "netdecode": ("chargescope.ext._netdecode", "chargescope.analyzer.net"),
    "recordbuild": ("chargescope.ext._recordbuild", "chargescope.analyzer.recordbuild"),
    "tcpreassembly": ("chargescope.ext._tcpreassembly", "chargescope.analyzer.reassembly.tcp"),
    "pipeloop": ("chargescope.ext._pipeloop", "chargescope.analyzer.pipeloop"),
    "exi": ("chargescope.ext._exi", "chargescope.dissectors.exi._codec"),
    "homeplug": ("chargescope.ext._homeplug", "chargescope.dissectors.homeplug._decode"),
    "wsmask": ("chargescope.ext._wsmask", "chargescope.dissectors.websocket.mask"),
    "wsframes": ("chargescope.ext._wsframes", "chargescope.dissectors.websocket.split"),
    "wsstream": ("chargescope.ext._wsstream", "chargescope.dissectors.websocket.streamcore"),
    "ocppdecode": ("chargescope.ext._ocppdecode", "chargescope.dissectors.ocpp.fastpath"),
    "compact": ("chargescope.ext._compact", "chargescope.analyzer.compactcodec"),
    "treewalk": ("chargescope.ext._treewalk", "chargescope.analyzer.treewalk"),
    "ocppschema": ("chargescope.ext._ocppschema",
                   "chargescope.dissectors.ocpp.generated.schemacheck"),
}


def pure_forced() -> bool:
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def load(name: str) -> ModuleType:
    """The implementation module for hot path `name` (extension when built and allowed)."""
    extension, twin = HOT_PATHS[name]
    if not pure_forced():
        try:
            module = importlib.import_module(extension)
        except ImportError:
            pass
        else:
            return module
    return importlib.import_module(twin)


def load_twin(name: str) -> ModuleType:
    """The pure-Python twin, whatever the switch says (for cross-check tests)."""
    return importlib.import_module(HOT_PATHS[name][1])


def load_extension(name: str) -> ModuleType | None:
    """The Cython extension, or None when it is not built."""
    try:
        return importlib.import_module(HOT_PATHS[name][0])
    except ImportError:
        return None


def report() -> dict[str, str]:
    """Hot path name -> 'cython' or 'python', as `load` would choose now."""
    out = {}
    for name, (extension, _twin) in sorted(HOT_PATHS.items()):
        if pure_forced():
            out[name] = f"python (forced by {PURE_ENV})"
            continue
        try:
            importlib.import_module(extension)
        except ImportError:
            out[name] = "python (extension not built)"
        else:
            out[name] = "cython"
    return out
