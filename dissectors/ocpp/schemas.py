"""Validation against the official OCPP JSON schemas, compiled once per action.

The schemas come from the `ocpp` PyPI package (MIT code; the schema files themselves
are OCA's, published for redistribution unmodified). We read them in place rather
than vendoring copies: no derivative of the OCA files sits in this repository and a
schema erratum fixed upstream arrives with `pip install -U ocpp`.

Validators are compiled with jsonschema-rs (Rust; ~70x the pure-Python `jsonschema`
on the 1.3 kB TransactionEventRequest, see benchmarks/RESULTS.md). When jsonschema-rs
is not importable we fall back to `jsonschema` (a dependency of `ocpp`): same
verdicts, slower. The happy path asks only `is_valid`; error details are computed
for invalid payloads alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from chargescope.dissectors.ocpp.versions import BY_NAME, OcppVersion

try:
    import jsonschema_rs as _rs
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    _rs = None


@dataclass(frozen=True, slots=True)
class Violation:
    """One schema rule a payload breaks: where (JSON pointer) and which keyword."""

    pointer: str  # RFC 6901, "" for the payload root
    rule: str  # the JSON-schema keyword: "maxLength", "required", "enum", ...
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "rule": self.rule, "detail": self.detail}


def json_pointer(path: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class _Compiled:
    __slots__ = ("schema", "_rs", "_py", "check")

    def __init__(self, schema: dict) -> None:
        self.schema = schema
        self._rs = None
        self._py = None
        if _rs is not None:
            # Formats are annotations here, as in the `ocpp` package's jsonschema use: the
            # reference verdicts stay identical, and date-time problems get their own,
            # more specific findings (analyzer.ocpp.checks: ocpp.time.*).
            self._rs = _rs.validator_for(schema, validate_formats=False)
        else:
            import jsonschema

            cls = jsonschema.validators.validator_for(schema)
            self._py = cls(schema)
        # the bare verdict, for callers that catch ValueError/RecursionError themselves
        self.check = (self._rs or self._py).is_valid

    def is_valid(self, instance: Any) -> bool:
        try:
            if self._rs is not None:
                return self._rs.is_valid(instance)
            return self._py.is_valid(instance)
        except (ValueError, RecursionError):  # nested deeper than the validator recurses
            return False

    def violations(self, instance: Any) -> list[Violation]:
        out: list[Violation] = []
        try:
            if self._rs is not None:
                for err in self._rs.iter_errors(instance):
                    rule = str(err.schema_path[-1]) if err.schema_path else ""
                    out.append(Violation(json_pointer(err.instance_path), rule, err.message))
            else:
                for err in self._py.iter_errors(instance):
                    out.append(Violation(json_pointer(err.absolute_path), str(err.validator),
                                         err.message))
        except (ValueError, RecursionError) as exc:
            # jsonschema-rs refuses instances nested deeper than its recursion limit
            return [Violation("", "depth", f"payload nested too deeply to validate: {exc}")]
        out.sort(key=lambda v: (v.pointer, v.rule))
        return out


class SchemaStore:
    """Lazily loaded, compiled validators keyed by (version, action, is_response)."""

    def __init__(self, package: str = "ocpp") -> None:
        self._package = package
        self._cache: dict[tuple[str, str, bool], _Compiled | None] = {}
        self._actions: dict[str, frozenset[str]] = {}

    def _file(self, version: OcppVersion, action: str, response: bool | None):
        """The schema file; response=None asks for the suffix-less name (2.1 SEND)."""
        suffix = "" if response is None else (
            version.response_suffix if response else version.request_suffix)
        return resources.files(self._package).joinpath(version.schema_dir, "schemas",
                                                       f"{action}{suffix}.json")

    def actions(self, version: str) -> frozenset[str]:
        """Every action with a request schema in `version`."""
        if version not in self._actions:
            v = BY_NAME[version]
            folder = resources.files(self._package).joinpath(v.schema_dir, "schemas")
            names = set()
            for entry in folder.iterdir():
                stem = entry.name.removesuffix(".json")
                if stem.endswith("Response"):
                    continue
                if v.request_suffix and stem.endswith(v.request_suffix):
                    stem = stem[: -len(v.request_suffix)]
                # else: a message without a response (2.1 SEND, e.g. NotifyPeriodicEventStream)
                # whose schema file carries no suffix at all
                names.add(stem)
            self._actions[version] = frozenset(names)
        return self._actions[version]

    def validator(self, version: str, action: str, response: bool) -> _Compiled | None:
        key = (version, action, response)
        try:
            return self._cache[key]
        except KeyError:
            pass
        compiled = None
        if action in self.actions(version):
            path = self._file(BY_NAME[version], action, response)
            if not path.is_file() and not response:
                path = self._file(BY_NAME[version], action, None)
            if path.is_file():
                compiled = _Compiled(json.loads(path.read_text(encoding="utf-8")))
        self._cache[key] = compiled
        return compiled

    def validate(self, version: str, action: str, response: bool,
                 payload: Any) -> list[Violation] | None:
        """[] when valid, the violations when not, None when no schema exists."""
        compiled = self.validator(version, action, response)
        if compiled is None:
            return None
        if compiled.is_valid(payload):
            return []
        return compiled.violations(payload)


_DEFAULT: SchemaStore | None = None


def default_store() -> SchemaStore:
    """The process-wide store (schemas are immutable data; compiling them once is enough)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SchemaStore()
    return _DEFAULT
