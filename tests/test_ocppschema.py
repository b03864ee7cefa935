"""The compiled OCPP schema checkers (hot path "ocppschema", tools/ocppschemagen).

A checker's True must prove validity and, on every JSON value, its verdict must be
exactly `jsonschema`'s (the reference): hypothesis builds valid instances from each
schema of every version, then breaks them with single mutations, and both twins are
compared with jsonschema (and a True with jsonschema-rs, the product's general
validator). The generated code is checked in; regenerating it must give the same text.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargescope import backends
from chargescope.dissectors.ocpp.schemas import fast_checker, schema_digest
from tests.conftest import DATA
from tools.ocppschemagen import (
    Resolver,
    UnsupportedSchema,
    _draft,
    canonical,
    load_schemas,
)

FILES = load_schemas()
TWIN = backends.load_twin("ocppschema")
EXT = backends.load_extension("ocppschema")


@cache
def _provable(cls):
    """`cls` as the compiled checkers are held to it: a multiple of a float divisor is
    never proven (jsonschema and jsonschema-rs disagree there, e.g. 0.7000000000000001 for
    0.1), the rest is jsonschema's own rule."""
    exact = cls.VALIDATORS["multipleOf"]

    def multiple_of(validator, divisor, instance, schema):
        if isinstance(divisor, float) and validator.is_type(instance, "number"):
            yield jsonschema.ValidationError(f"{instance!r} % {divisor!r}: not proven")
        else:
            yield from exact(validator, divisor, instance, schema) or ()

    return jsonschema.validators.extend(cls, {"multipleOf": multiple_of})


def _prepared(index: int):
    f = FILES[index]
    where = f"{f.folder}/{f.stem}"
    node = canonical(f.schema, Resolver(f.schema, where), where)
    digest = schema_digest(f.schema)
    reference = _provable(jsonschema.validators.validator_for(f.schema))(f.schema)
    rs = jsonschema_rs.validator_for(f.schema, validate_formats=False)
    return node, _draft(f.schema), digest, reference, rs


# ------------------------------------------------------------------ generation

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("aZ09-_.:"),
                max_size=6)
# values of every JSON kind, boundaries included (no NaN/inf: JSON has none)
_ANY = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                 st.floats(allow_nan=False, allow_infinity=False), _TEXT,
                 st.sampled_from([0, -1, 1.0, 0.5, -0.0, 1e300, "", "x" * 2000, [], {}, [1],
                                  {"a": 1}, 2**64, 3 * 0.1, 0.3]))


def instances(node, draft: int):
    """Instances of canonical `node`, mostly valid (boundary values included)."""
    if node is True or node == {}:
        return _ANY
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties", {})
        required = set(node.get("required", []))
        strategy = st.fixed_dictionaries(
            {k: instances(v, draft) for k, v in props.items() if k in required},
            optional={k: instances(v, draft) for k, v in props.items() if k not in required})
        if node.get("additionalProperties", True) is not False:
            extra = st.dictionaries(st.sampled_from(["vendorX", "extra", "zz"]), _ANY, max_size=2)
            strategy = st.tuples(strategy, extra).map(lambda t: {**t[1], **t[0]})
        return strategy
    if kind == "array":
        lo = node.get("minItems", 0)
        hi = min(node.get("maxItems", lo + 3), lo + 3)
        return st.lists(instances(node.get("items", True), draft), min_size=lo, max_size=hi)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if kind == "string":
        lo, hi = node.get("minLength", 0), node.get("maxLength", 40)
        options = [st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)),
                           min_size=lo, max_size=min(hi, lo + 8))]
        if hi <= 2500:
            options.append(st.just("a" * hi))
        return st.one_of(options)
    if kind in ("integer", "number"):
        lo = node.get("minimum", -10**6)
        hi = node.get("maximum", 10**6)
        ints = st.integers(math.ceil(lo), math.floor(hi))
        options = [ints, ints.map(float)]
        if kind == "number":
            options.append(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
            options.append(st.integers(-100, 100).map(lambda k: k * 0.1))
        return st.one_of(options)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise AssertionError(node)


def _positions(value, out: list, depth: int = 0) -> list:
    """Every (container, key) where a mutation can land."""
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((value, k))
            _positions(v, out, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((value, i))
            _positions(v, out, depth + 1)
    return out


@st.composite
def mutated(draw, base):
    """`base` with one mutation: a value replaced, a member dropped or added, a list
    grown or emptied, a string lengthened."""
    doc = json.loads(json.dumps(base))
    spots = [(None, None)] + _positions(doc, [])
    container, key = draw(st.sampled_from(spots))
    if container is None:
        container, key = doc, None
    how = draw(st.sampled_from(["replace", "drop", "add", "grow", "empty", "longer"]))
    if key is None:
        if isinstance(doc, dict):
            doc[draw(st.sampled_from(["zzUnknown", "customData", "vendorId"]))] = draw(_ANY)
        return doc
    value = container[key]
    if how == "replace":
        container[key] = draw(_ANY)
    elif how == "drop" and isinstance(container, dict):
        del container[key]
    elif how == "add" and isinstance(value, dict):
        value[draw(st.sampled_from(["zzUnknown", "vendorId", "id"]))] = draw(_ANY)
    elif how == "grow" and isinstance(value, list):
        value.extend([value[0] if value else draw(_ANY)] * draw(st.integers(1, 12)))
    elif how == "empty" and isinstance(value, list | dict | str):
        container[key] = type(value)()
    elif how == "longer" and isinstance(value, str):
        container[key] = value + "b" * draw(st.sampled_from([1, 20, 50, 255, 2000]))
    else:
        container[key] = draw(_ANY)
    return doc


def _verdicts(digest: str, instance) -> list[bool]:
    out = [TWIN.CHECKS[digest](instance)]
    if EXT is not None:
        out.append(EXT.CHECKS[digest](instance))
    return out


def _agree(index: int, instance) -> None:
    node, draft, digest, reference, rs = _prepared(index)
    if digest not in TWIN.CHECKS:
        _same_ocpp_release()  # skips: this schema changed in the installed release
    expected = reference.is_valid(instance)
    for verdict in _verdicts(digest, instance):
        assert verdict is expected, (FILES[index].stem, instance)
    if expected:  # a proof must hold for the product's general validator too
        assert rs.is_valid(instance), (FILES[index].stem, instance)


@pytest.mark.parametrize("index", range(len(FILES)),
                         ids=[f"{f.folder}/{f.stem}" for f in FILES])
@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_compiled_verdicts_equal_jsonschema(index, data):
    node, draft, _digest, _reference, _rs = _prepared(index)
    base = data.draw(instances(node, draft))
    _agree(index, base)
    for _ in range(3):
        _agree(index, data.draw(mutated(base)))


# ------------------------------------------------------------------ coverage, sync


def _same_ocpp_release() -> None:
    """The committed code was generated from one `ocpp` release; with another installed,
    its changed schemas simply have no checker (digest keys) and regeneration differs."""
    from importlib import metadata

    made_from = re.search(r"\(ocpp ([^)]+)\)", TWIN.__doc__ or "")
    installed = metadata.version("ocpp")
    if made_from is None or made_from.group(1) != installed:
        pytest.skip(f"generated from ocpp {made_from and made_from.group(1)}, installed "
                    f"{installed}: run python -m tools.ocppschemagen")


def test_every_schema_has_a_checker_in_both_twins():
    _same_ocpp_release()
    digests = {schema_digest(f.schema) for f in FILES}
    assert set(TWIN.CHECKS) == digests
    if EXT is not None:
        assert set(EXT.CHECKS) == digests


def test_regeneration_is_identical():
    _same_ocpp_release()
    from tools.ocppschemagen.__main__ import PYX, generate
    from tools.ocppschemagen.__main__ import TWIN as TWIN_PATH

    pyx, twin = generate()
    assert PYX.read_text() == pyx, "ext/_ocppschema.pyx differs from the generator"
    assert TWIN_PATH.read_text() == twin, "schemacheck.py differs from the generator"


def test_changed_schema_gets_no_checker():
    schema = json.loads(json.dumps(FILES[0].schema))
    schema["description"] = "edited"
    assert backends.load("ocppschema").CHECKS.get(schema_digest(schema)) is None
    assert fast_checker(schema) is None


@pytest.mark.parametrize("schema, why", [
    ({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}, "draft"),
    ({"$schema": "http://json-schema.org/draft-06/schema#", "type": "object",
      "properties": {"a": {"type": "string", "pattern": "^x"}}}, "pattern"),
    ({"$schema": "http://json-schema.org/draft-06/schema#", "type": "object",
      "properties": {"a": {"type": ["string", "null"]}}}, "type list"),
    ({"$schema": "http://json-schema.org/draft-06/schema#", "type": "object",
      "properties": {"a": {"oneOf": [{"type": "string"}]}}}, "oneOf"),
    ({"$schema": "http://json-schema.org/draft-06/schema#", "type": "object",
      "additionalProperties": {"type": "string"}}, "additionalProperties schema"),
    ({"$schema": "http://json-schema.org/draft-06/schema#", "type": "object",
      "properties": {"a": {"maxLength": 3}}}, "maxLength without type"),
    ({"$schema": "http://json-schema.org/draft-06/schema#", "type": "object",
      "properties": {"a": {"$ref": "#/definitions/A"}},
      "definitions": {"A": {"type": "object", "properties": {"b": {"$ref": "#/definitions/A"}}}}},
     "recursion"),
    ({"$schema": "http://json-schema.org/draft-06/schema#", "type": "object",
      "properties": {"a": {"$ref": "other.json#/x"}}}, "remote ref"),
])
def test_unsupported_keywords_fail_loudly(schema, why):
    from tools.ocppschemagen import SchemaFile
    from tools.ocppschemagen.emit import render_all

    with pytest.raises(UnsupportedSchema):
        render_all([SchemaFile("v201", "X", schema)], "test")


# ------------------------------------------------------------------ hostile values


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "\ud800", "a\udfff",
                                   (1, 2), 2**80])
def test_non_json_values_are_never_proven_valid_wrongly(value):
    """Values no JSON text gives through orjson: the checker may say False (the product
    then asks jsonschema-rs); a True must still be jsonschema-rs's verdict."""
    for index, f in enumerate(FILES):
        if f.folder == "v201" and f.stem in ("MeterValuesRequest", "DataTransferRequest",
                                              "TransactionEventRequest"):
            node, draft, digest, reference, rs = _prepared(index)
            base = {"evseId": 1, "meterValue": [{"timestamp": "t", "sampledValue": [
                {"value": value}]}]} if f.stem == "MeterValuesRequest" else {
                "vendorId": value, "data": value}
            for verdict in _verdicts(digest, base):
                if verdict:
                    assert rs.is_valid(base)


# ------------------------------------------------------------------ real messages


def test_every_message_of_the_test_captures_agrees():
    """Every OCPP payload in tests/data (captures and logs): compiled == jsonschema."""
    from chargescope.analyzer.capture import open_capture
    from chargescope.analyzer.ocpp.logs import read_log
    from chargescope.analyzer.pipeline import Pipeline

    by_file = {}
    for index, f in enumerate(FILES):
        by_file[(f.folder, f.stem)] = index
    folders = {"1.6": ("v16", "", "Response"), "2.0.1": ("v201", "Request", "Response"),
               "2.1": ("v21", "Request", "Response")}
    messages = []
    for path in sorted((DATA / "ocpp").iterdir()):
        if path.suffix == ".pcap":
            with open_capture(path) as cap:
                messages += list(Pipeline().run(cap.frames()))
        elif path.suffix in (".log", ".jsonl"):
            messages += list(read_log(path))
    checked = 0
    for m in messages:
        fields = getattr(m, "fields", {})
        if fields.get("schema") not in ("valid", "invalid") or m.protocol != "ocpp":
            continue
        folder, req, resp = folders[fields["ocpp_version"]]
        stem = fields["action"] + (resp if fields["message_type_id"] == 3 else req)
        index = by_file.get((folder, stem), by_file.get((folder, fields["action"])))
        _agree(index, fields["payload"])
        checked += 1
    assert checked > 200


def test_fast_checker_choice(monkeypatch):
    """Extension built and allowed: its checker; else jsonschema-rs (faster than the twin),
    and the generated twin only where jsonschema-rs is missing too."""
    from chargescope.dissectors.ocpp import schemas

    schema = FILES[0].schema
    digest = schema_digest(schema)
    if EXT is not None and not backends.pure_forced():
        assert schemas.fast_checker(schema) is EXT.CHECKS[digest]
    monkeypatch.setenv(backends.PURE_ENV, "1")
    assert schemas.fast_checker(schema) is None  # jsonschema-rs answers first
    monkeypatch.setattr(schemas, "_rs", None)
    assert schemas.fast_checker(schema) is TWIN.CHECKS[digest]


@pytest.mark.parametrize("rate", [0.7000000000000001, 0.3, 0.5, 7])
def test_float_multiple_of_is_left_to_jsonschema_rs(rate):
    """OCPP 1.6 `minChargingRate` has multipleOf 0.1, where jsonschema and jsonschema-rs
    disagree (0.7000000000000001 passes the first, fails the second): the compiled
    checkers never prove such a value, so the product's verdict stays jsonschema-rs's."""
    index = next(i for i, f in enumerate(FILES)
                 if f.folder == "v16" and f.stem == "GetCompositeScheduleResponse")
    _node, _draft, digest, _reference, rs = _prepared(index)
    instance = {"status": "Accepted", "chargingSchedule": {
        "chargingRateUnit": "A", "chargingSchedulePeriod": [], "minChargingRate": rate}}
    assert _verdicts(digest, instance) == [False] * len(_verdicts(digest, instance))
    without = {"status": "Accepted", "chargingSchedule": {
        "chargingRateUnit": "A", "chargingSchedulePeriod": []}}
    assert all(_verdicts(digest, without)) and rs.is_valid(without)
