# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython hot path "treewalk": walks over decoded message trees.

Twin of `chargescope.analyzer.treewalk` (same functions, same results, same exceptions):
`find` and `chain_sites` over nested dicts and lists, with the dict and list
iteration done in C for plain dicts and lists (subclasses take the generic protocol,
as the twin does).
"""

from cpython.dict cimport PyDict_GetItem, PyDict_Next
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_Tailmatch

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

MAX_DEPTH = 400  # as the twin's
cdef int _MAX_DEPTH = MAX_DEPTH


def find(node, key):
    """First value under `key` anywhere in `node` (depth first), or None."""
    return _find(node, key, 0)


cdef object _find(object node, object key, int depth):
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef object value, found
    if depth > _MAX_DEPTH:
        raise RecursionError("decoded tree nested too deeply")
    if type(node) is dict:
        if key in <dict>node:
            return (<dict>node)[key]
        while PyDict_Next(node, &pos, &k, &v):
            value = <object>v
            if isinstance(value, (dict, list)):
                found = _find(value, key, depth + 1)
                if found is not None:
                    return found
    elif type(node) is list:
        for value in <list>node:
            if isinstance(value, (dict, list)):
                found = _find(value, key, depth + 1)
                if found is not None:
                    return found
    elif isinstance(node, dict):
        if key in node:
            return node[key]
        for value in node.values():
            if isinstance(value, (dict, list)):
                found = _find(value, key, depth + 1)
                if found is not None:
                    return found
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, (dict, list)):
                found = _find(value, key, depth + 1)
                if found is not None:
                    return found
    return None


def chain_sites(tree, tuple suffixes, str marker, tuple single_keys):
    """Where certificates sit in `tree`, in depth-first order: (key, value, single)."""
    cdef list out = []
    _sites(tree, suffixes, marker, single_keys, out, 0)
    return out


cdef bint _is_chain_key(object key, tuple suffixes) except -1:
    """key.endswith(suffixes), in C for a plain str key."""
    cdef object suffix
    if type(key) is str:
        for suffix in suffixes:
            if type(suffix) is str and PyUnicode_Tailmatch(key, suffix, 0, PY_SSIZE_T_MAX, 1):
                return True
            elif type(suffix) is not str:
                return key.endswith(suffixes)
        return False
    return key.endswith(suffixes)


cdef int _sites(object tree, tuple suffixes, str marker, tuple single_keys, list out,
                int depth) except -1:
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef object key, value
    if depth > _MAX_DEPTH:
        raise RecursionError("decoded tree nested too deeply")
    if type(tree) is dict:
        while PyDict_Next(tree, &pos, &k, &v):
            key = <object>k
            value = <object>v
            _site(key, value, suffixes, marker, single_keys, out, depth)
    elif isinstance(tree, dict):
        for key, value in tree.items():
            _site(key, value, suffixes, marker, single_keys, out, depth)
    elif isinstance(tree, list):
        for value in tree:
            if isinstance(value, (dict, list)):
                _sites(value, suffixes, marker, single_keys, out, depth + 1)
    return 0


cdef int _site(object key, object value, tuple suffixes, str marker, tuple single_keys,
               list out, int depth) except -1:
    if isinstance(value, dict):
        if _is_chain_key(key, suffixes) and marker in value:
            out.append((key, value, False))
        elif key in single_keys:
            out.append((key, value, True))
        else:
            _sites(value, suffixes, marker, single_keys, out, depth + 1)
    elif key in single_keys:
        out.append((key, value, True))
    elif isinstance(value, list):
        _sites(value, suffixes, marker, single_keys, out, depth + 1)
    return 0
