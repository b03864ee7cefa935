"""A small, safe display-filter language over Messages (no eval), Wireshark-like.

    ocpp.action == "Authorize" && link == B
    v2g.ResponseCode != "OK"
    slac.aag > 30 || name contains "MATCH"
    !(protocol == "websocket") and ocpp.payload.idTag matches "^04"

Fields: ``link``, ``protocol``, ``name``, ``src``, ``dst``, ``frame`` (first frame
number), ``problems`` (count), and ``<proto>.<path>`` into the decoded fields, where
``<proto>`` is a protocol name or alias (``v2g`` = exi/v2gtp/sdp, ``slac`` = homeplug)
and ``<path>`` a dotted key path. A path that is not found from the top is looked up
anywhere below (``v2g.ResponseCode`` finds ``V2G_Message.Body.*.ResponseCode``); a list
matches when any element does. A bare field tests presence. Operators: ``==  !=  >  <
>=  <=  contains  matches`` (regular expression, also ``~``), combined with
``&& and || or ! not`` and parentheses. Numbers compare as numbers, everything else as
text. Errors are `FilterError`s with the position, never exceptions from the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chargescope.analyzer.records import Message

ALIASES: dict[str, frozenset[str]] = {
    "v2g": frozenset({"exi", "v2gtp", "sdp"}),
    "exi": frozenset({"exi"}),
    "sdp": frozenset({"sdp"}),
    "v2gtp": frozenset({"v2gtp"}),
    "slac": frozenset({"homeplug"}),
    "homeplug": frozenset({"homeplug"}),
    "ocpp": frozenset({"ocpp"}),
    "websocket": frozenset({"websocket"}),
    "ws": frozenset({"websocket"}),
    "ocpi": frozenset({"ocpi"}),
    "http": frozenset({"http", "ocpi"}),
}
PLAIN_FIELDS = ("link", "protocol", "name", "src", "dst", "frame", "problems")
MAX_DEPTH = 64  # nesting of the searched field trees; deeper is not a V2G/OCPP message


class FilterError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.position = position


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|>=|<=|&&|\|\||[<>!~()])
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<word>[A-Za-z_][\w\-]*(?:\.[\w\-]+)*|[\w:\-*.]+)
""", re.VERBOSE)

_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "contains": "contains",
             "matches": "matches"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "op", "string", "number", "word", "end"
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"unexpected character {text[pos]!r}", pos)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "word" and value.lower() in _WORD_OPS:
            kind, value = "op", _WORD_OPS[value.lower()]
        if kind != "ws":
            out.append(Token(kind, value, pos))
        pos = match.end()
    out.append(Token("end", "", len(text)))
    return out


Predicate = Callable[[Message], bool]
COMPARISONS = ("==", "!=", ">", "<", ">=", "<=", "contains", "matches", "~")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            return lambda _m: True
        pred = self.or_()
        token = self.peek()
        if token.kind != "end":
            raise FilterError(f"expected && or || before {token.text!r}", token.position)
        return pred

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while self.peek().text == "||":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda m: any(p(m) for p in parts))

    def and_(self) -> Predicate:
        parts = [self.not_()]
        while self.peek().text == "&&":
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else (lambda m: all(p(m) for p in parts))

    def not_(self) -> Predicate:
        if self.peek().text == "!":
            self.take()
            inner = self.not_()
            return lambda m: not inner(m)
        return self.atom()

    def atom(self) -> Predicate:
        token = self.take()
        if token.text == "(":
            pred = self.or_()
            close = self.take()
            if close.text != ")":
                raise FilterError("expected )", close.position)
            return pred
        if token.kind != "word":
            raise FilterError(f"expected a field name, found {token.text or 'the end'!r}",
                              token.position)
        getter = field_getter(token.text, token.position)
        op = self.peek()
        if op.text not in COMPARISONS:
            return lambda m: bool(getter(m))
        self.take()
        value = self.take()
        if value.kind not in ("string", "number", "word"):
            raise FilterError(f"expected a value after {op.text}", value.position)
        return _comparison(getter, op.text, value)


def _literal(token: Token) -> Any:
    if token.kind == "string":
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])
    if token.kind == "number":
        return float(token.text)
    return token.text


def _comparison(getter, op: str, token: Token) -> Predicate:
    want = _literal(token)
    if op in ("matches", "~"):
        try:
            pattern = re.compile(str(want))
        except re.error as exc:
            raise FilterError(f"bad regular expression: {exc}", token.position) from None
        test = lambda v: pattern.search(str(v)) is not None  # noqa: E731
    elif op == "contains":
        test = lambda v: str(want).lower() in str(v).lower()  # noqa: E731
    else:
        test = _ordering(op, want)

    def predicate(message: Message) -> bool:
        return any(test(v) for v in getter(message))

    return predicate


def _ordering(op: str, want: Any) -> Callable[[Any], bool]:
    def compare(value: Any) -> bool:
        a, b = _number(value), _number(want)
        if a is None or b is None:
            a, b = str(value), str(want)
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        try:
            return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
        except TypeError:
            return False

    return compare


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def field_getter(name: str, position: int = 0) -> Callable[[Message], list[Any]]:
    """A function giving the values of field `name` in a Message (empty: absent)."""
    if name in PLAIN_FIELDS:
        def plain(message: Message) -> list[Any]:
            if name == "frame":
                return [message.refs[0].frame] if message.refs else []
            if name == "problems":
                return [len(message.problems)]
            return [str(getattr(message, name))]

        return plain
    proto, _, path = name.partition(".")
    protocols = ALIASES.get(proto.lower())
    if protocols is None or not path:
        known = ", ".join(list(PLAIN_FIELDS) + sorted(ALIASES))
        raise FilterError(f"unknown field {name!r} (fields start with one of: {known})",
                          position)
    keys = path.split(".")

    def values(message: Message) -> list[Any]:
        if message.protocol not in protocols:
            return []
        found = list(_walk(message.fields, keys))
        if not found:
            found = list(_search(message.fields, keys, 0))
        return [v for item in found for v in (item if isinstance(item, list) else [item])]

    return values


def _walk(node: Any, keys: list[str], i: int = 0) -> Iterator[Any]:
    """The values at key path keys[i:] below `node`, descending into lists."""
    if i == len(keys):
        yield node
    elif isinstance(node, dict):
        if keys[i] in node:
            yield from _walk(node[keys[i]], keys, i + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, keys, i)


def _search(tree: Any, keys: list[str], depth: int) -> Iterator[Any]:
    if depth > MAX_DEPTH:
        return
    if isinstance(tree, dict):
        if keys[0] in tree:
            yield from _walk(tree, keys)
        for value in tree.values():
            if isinstance(value, dict | list):
                yield from _search(value, keys, depth + 1)
    elif isinstance(tree, list):
        for item in tree:
            yield from _search(item, keys, depth + 1)


def compile_filter(text: str) -> Predicate:
    """A predicate over Messages for `text`; raises FilterError naming the position."""
    return _Parser(text).parse()
