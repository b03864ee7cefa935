"""OCPP JSON-schema compiler: the official schemas -> validation code on Python objects.

The `ocpp` package ships the OCA JSON schemas (draft-04 and draft-06) for OCPP 1.6,
2.0.1 and 2.1. This compiler turns every one of them into a plain function that takes
the object `orjson.loads` returned and says whether it is valid, without converting
anything: type checks, dict lookups and comparisons straight on the Python values.
Two renderings of the same code are written (`emit.py`): a Cython module (hot path
"ocppschema", `ext/_ocppschema.pyx`) and its pure-Python twin
(`dissectors/ocpp/generated/schemacheck.py`).

Exactness is the point, so the compiler knows precisely the keywords these schemas use
and fails loudly on anything else (`UnsupportedSchema`), never validating loosely:

* validation: type (one name), properties, required, additionalProperties (false, or
  absent: extra members allowed), enum (strings), maxLength, minLength, minimum,
  maximum, multipleOf, items (one schema), minItems, maxItems, $ref (to
  #/definitions/...; siblings are ignored, as drafts 4 and 6 say);
* annotations, not checked: title, description, comment, $comment, javaType, default,
  $schema, $id, id, definitions, format (neither the product's jsonschema-rs validator,
  built with validate_formats=False, nor `jsonschema` without a format checker checks
  it), additionalItems beside a single `items` schema, and keywords of another instance
  type than the declared one (1.6 puts additionalProperties on strings): none of them
  can have an effect there.

Semantics are `jsonschema`'s (the reference) for every JSON value: draft-04 integers
are ints only, draft-06 ones also integral floats; bools are neither integers nor
numbers; maxLength counts code points. Values no JSON text decodes to through orjson
(NaN or infinite floats, strings with lone surrogates, types other than the exact JSON
ones) are not proven valid where they are checked (the function says False); the caller
then asks the product's general validator, which has the last word, so a False here never
changes a verdict, it only costs time. A True is a proof: every schema rule holds. (On such
non-JSON input the two renderings may differ, e.g. on a str-subclass member name, which
the Cython walk does not read; each stays sound.)

Each generated checker is keyed by the digest of its schema file's content
(`chargescope.dissectors.ocpp.schemas.schema_digest`), so a different `ocpp` release
with changed schemas is never checked
by stale code: its schemas simply have no fast checker.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from chargescope.dissectors.ocpp.schemas import schema_digest as schema_digest

SCHEMA_DIRS = ("v16", "v201", "v21")
DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT6 = "http://json-schema.org/draft-06/schema#"

ANNOTATIONS = frozenset({"title", "description", "comment", "$comment", "javaType", "default",
                         "$schema", "$id", "id", "definitions", "format"})
VALIDATION = frozenset({"type", "properties", "required", "additionalProperties", "enum",
                        "maxLength", "minLength", "minimum", "maximum", "multipleOf",
                        "items", "minItems", "maxItems", "additionalItems", "$ref"})
# keywords that only make sense on one instance type: each must sit beside that "type"
_FOR_TYPE = {
    "properties": ("object",), "required": ("object",), "additionalProperties": ("object",),
    "maxLength": ("string",), "minLength": ("string",),
    "minimum": ("integer", "number"), "maximum": ("integer", "number"),
    "multipleOf": ("integer", "number"),
    "items": ("array",), "minItems": ("array",), "maxItems": ("array",),
    "additionalItems": ("array",),
}
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})


class UnsupportedSchema(ValueError):
    """A schema uses something the compiler does not translate exactly."""


@dataclass(frozen=True, slots=True)
class SchemaFile:
    folder: str  # "v16", "v201", "v21"
    stem: str  # file name without ".json", e.g. "TransactionEventRequest"
    schema: dict


def load_schemas(package: str = "ocpp") -> list[SchemaFile]:
    """Every schema file of the three versions, sorted by folder and name."""
    out = []
    for folder in SCHEMA_DIRS:
        base = resources.files(package).joinpath(folder, "schemas")
        for entry in sorted(base.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                out.append(SchemaFile(folder, entry.name[:-5],
                                      json.loads(entry.read_text(encoding="utf-8"))))
    return out


def _draft(schema: dict) -> int:
    uri = schema.get("$schema", "")
    if uri == DRAFT4:
        return 4
    if uri == DRAFT6:
        return 6
    raise UnsupportedSchema(f"$schema {uri!r}: only draft-04 and draft-06 are compiled")


class Resolver:
    """$ref lookup inside one schema document (OCPP schemas refer to their definitions)."""

    def __init__(self, document: dict, where: str) -> None:
        self.document = document
        self.where = where

    def resolve(self, node: Any) -> Any:
        seen = []
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise UnsupportedSchema(f"{self.where}: $ref {ref!r} is not a local pointer")
            if ref in seen:
                raise UnsupportedSchema(f"{self.where}: $ref cycle through {ref}")
            seen.append(ref)
            target: Any = self.document
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise UnsupportedSchema(f"{self.where}: $ref {ref} points nowhere")
                target = target[part]
            node = target
        return node


def _check_keywords(node: dict, where: str) -> None:
    unknown = set(node) - ANNOTATIONS - VALIDATION
    if unknown:
        raise UnsupportedSchema(f"{where}: keywords {sorted(unknown)} are not compiled")
    kind = node.get("type")
    if kind is not None and (not isinstance(kind, str) or kind not in _TYPES):
        raise UnsupportedSchema(f"{where}: type {kind!r} (only one type name is compiled)")
    for key, kinds in _FOR_TYPE.items():
        # beside another declared type such a keyword can never apply (1.6 has
        # additionalProperties on strings): dropped by `canonical`; without one, refused
        if key in node and kind is None:
            raise UnsupportedSchema(f"{where}: {key} without type {' or '.join(kinds)}")
    if "enum" in node:
        values = node["enum"]
        if (kind not in (None, "string") or not isinstance(values, list) or not values
                or not all(type(v) is str for v in values)):
            raise UnsupportedSchema(f"{where}: enum other than a list of strings")
    if "additionalProperties" in node and node["additionalProperties"] is not False:
        raise UnsupportedSchema(f"{where}: additionalProperties other than false")
    if "items" in node and not isinstance(node["items"], (dict, bool)):
        raise UnsupportedSchema(f"{where}: items as a list (tuple validation)")
    if "additionalItems" in node and "items" not in node:
        raise UnsupportedSchema(f"{where}: additionalItems without items")
    for key in ("maxLength", "minLength", "minItems", "maxItems"):
        if key in node and (type(node[key]) is not int or node[key] < 0):
            raise UnsupportedSchema(f"{where}: {key} must be a non-negative integer")
    for key in ("minimum", "maximum"):
        if key in node and (type(node[key]) not in (int, float) or abs(node[key]) >= 2 ** 53):
            raise UnsupportedSchema(f"{where}: {key} must be a number below 2**53")
    if "multipleOf" in node and (type(node["multipleOf"]) not in (int, float)
                                 or not node["multipleOf"] > 0):
        raise UnsupportedSchema(f"{where}: multipleOf must be a positive number")
    required = node.get("required", [])
    if not isinstance(required, list) or not all(type(r) is str for r in required):
        raise UnsupportedSchema(f"{where}: required must list property names")
    props = node.get("properties", {})
    if not isinstance(props, dict):
        raise UnsupportedSchema(f"{where}: properties must be an object")


def canonical(node: Any, resolver: Resolver, where: str, stack: tuple = ()) -> Any:
    """`node` with annotations dropped and every $ref replaced by its target, checked:
    the meaning of the schema alone, so equal meanings compile to one function."""
    node = resolver.resolve(node)
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise UnsupportedSchema(f"{where}: a schema must be an object or a boolean")
    if any(node is s for s in stack):
        raise UnsupportedSchema(f"{where}: recursive schema")
    _check_keywords(node, where)
    stack = (*stack, node)
    out: dict[str, Any] = {}
    for key in sorted(node):
        if key in ANNOTATIONS or key == "$ref":
            continue
        if key in _FOR_TYPE and node.get("type") not in _FOR_TYPE[key]:
            continue  # applies to another instance type only: no effect here
        value = node[key]
        if key == "properties":
            value = {name: canonical(sub, resolver, f"{where}/properties/{name}", stack)
                     for name, sub in sorted(value.items())}
        elif key == "items":
            value = canonical(value, resolver, f"{where}/items", stack)
        elif key == "additionalItems":
            continue  # beside a single items schema it has no effect
        elif key == "enum":
            value = sorted(set(value))
        elif key == "required":
            value = sorted(set(value))
        out[key] = value
    return out


def node_key(node: Any, draft: int) -> str:
    """Name part for a canonical node: the draft matters (integer semantics)."""
    text = json.dumps([draft, node], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
