# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython hot path "recordbuild": build frozen slotted records without their __init__.

A frozen dataclass's generated __init__ sets each field through object.__setattr__
(about 60-80 ns a field); the hot loops (TCP reassembly, packet decode) build millions
of small records. `builder(cls)` returns a callable taking every field positionally,
in declaration order, that allocates the object and fills its slots directly. Twin:
`chargescope.analyzer.recordbuild.builder`, which returns the class itself (same call,
same resulting record). Classes the direct fill cannot serve (no plain slots, a
__post_init__, ...) get the class itself here too.
"""

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF

import dataclasses


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

cdef enum:
    MAX_FIELDS = 32
cdef int T_OBJECT_EX = 16  # structmember.h: the member type of __slots__ entries
cdef object _new = object.__new__


cdef class Builder:
    cdef object cls
    cdef Py_ssize_t n
    cdef Py_ssize_t offsets[MAX_FIELDS]

    def __call__(self, *values):
        cdef Py_ssize_t i
        cdef object value
        if len(values) != self.n:
            return self.cls(*values)  # let the class report the wrong call
        obj = _new(self.cls)
        for i in range(self.n):
            value = values[i]
            Py_INCREF(value)
            (<PyObject**>((<char*>(<PyObject*>obj)) + self.offsets[i]))[0] = <PyObject*>value
        return obj


def builder(cls):
    """A fast positional constructor for frozen slotted dataclass `cls` (or `cls` itself)."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return cls
    names = [f.name for f in dataclasses.fields(cls)]
    if len(names) > MAX_FIELDS or not names:
        return cls
    made = Builder()
    made.cls = cls
    made.n = len(names)
    # a slot read through another descriptor (analyzer/records.py: Message.fields and
    # .refs) names its member descriptor in __slot_members__
    members = cls.__dict__.get("__slot_members__") or {}
    for i, name in enumerate(names):
        desc = members.get(name) or cls.__dict__.get(name)
        if type(desc).__name__ != "member_descriptor":
            return cls
        if (<PyMemberDescrObject*>desc).d_member.type != T_OBJECT_EX:
            return cls
        made.offsets[i] = (<PyMemberDescrObject*>desc).d_member.offset
    return made
