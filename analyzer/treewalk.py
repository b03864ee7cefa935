"""Walks over decoded message trees (nested dicts and lists) made for every message.

Hot path "treewalk": this is the pure-Python twin of `ext/_treewalk.pyx` (same
functions, same results, same exceptions). The link analyzers look up values anywhere
in a V2G tree (`find`) and the Plug & Charge checks look for certificate chains in every
EXI message (`chain_sites`): on a large capture these walks were a fifth of the analysis.

Both descend into dicts and lists only (a leaf holds nothing to find) and stop with
RecursionError past `MAX_DEPTH` levels (decoded trees are far shallower: the EXI
decoder's own cap is 64).
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 400


def find(node: Any, key: Any) -> Any:
    """First value under `key` anywhere in `node` (depth first: a dict's own key before
    its children), or None."""
    return _find(node, key, 0)


def _find(node: Any, key: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise RecursionError("decoded tree nested too deeply")
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for value in node.values():
            if isinstance(value, dict | list):
                found = _find(value, key, depth + 1)
                if found is not None:
                    return found
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, dict | list):
                found = _find(value, key, depth + 1)
                if found is not None:
                    return found
    return None


def chain_sites(tree: Any, suffixes: tuple[str, ...], marker: str,
                single_keys: tuple[str, ...]) -> list[tuple[Any, Any, bool]]:
    """Where certificates sit in `tree`, in depth-first order: (key, value, single).

    A dict under a key ending with one of `suffixes` and holding `marker` is a chain
    (single False, not descended into); a value under one of `single_keys` is one
    certificate (single True); anything else is descended into.
    """
    out: list[tuple[Any, Any, bool]] = []
    _sites(tree, suffixes, marker, single_keys, out, 0)
    return out


def _sites(tree: Any, suffixes: tuple[str, ...], marker: str, single_keys: tuple[str, ...],
           out: list, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise RecursionError("decoded tree nested too deeply")
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, dict):
                if key.endswith(suffixes) and marker in value:
                    out.append((key, value, False))
                elif key in single_keys:
                    out.append((key, value, True))
                else:
                    _sites(value, suffixes, marker, single_keys, out, depth + 1)
            elif key in single_keys:
                out.append((key, value, True))
            elif isinstance(value, list):
                _sites(value, suffixes, marker, single_keys, out, depth + 1)
    elif isinstance(tree, list):
        for value in tree:
            if isinstance(value, dict | list):
                _sites(value, suffixes, marker, single_keys, out, depth + 1)
