# Frozen slotted records read and built through their slots (included textually by the
# hot paths that make one or two records per message: ext/_wsstream.pyx, ext/_ocppdecode.pyx).
# The same direct slot fill as hot path "recordbuild" (see there), without a Python call
# per record: a plain slot's offset is read once from its member descriptor.

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyType_GenericAlloc(type cls, Py_ssize_t nitems)

cdef int _T_OBJECT_EX = 16  # structmember.h: the member type of __slots__ entries


cdef Py_ssize_t _slot_offset(type cls, str name) except -1:
    """Byte offset of object slot `name` of record class `cls` (through the member
    descriptor `__slot_members__` names when another descriptor reads the attribute), or
    0 when it is not a plain object slot (callers then use the class itself)."""
    members = cls.__dict__.get("__slot_members__") or {}
    desc = members.get(name) or cls.__dict__.get(name)
    if type(desc).__name__ != "member_descriptor":
        return 0
    if (<PyMemberDescrObject*> desc).d_member.type != _T_OBJECT_EX:
        return 0
    return (<PyMemberDescrObject*> desc).d_member.offset


cdef bint _plain_record(type cls, tuple names, Py_ssize_t* offsets) except -1:
    """Fill `offsets` for `names` (every field of dataclass `cls`, in order); False when
    one of them is not a plain slot or the class does more than store its fields."""
    import dataclasses
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return False
    if tuple(f.name for f in dataclasses.fields(cls)) != names:
        return False
    cdef Py_ssize_t i
    for i in range(len(names)):
        offsets[i] = _slot_offset(cls, names[i])
        if offsets[i] == 0:
            return False
    return True


cdef inline object _slot(object obj, Py_ssize_t offset):
    """The value in the slot at `offset` (AttributeError when unset, as the attribute)."""
    cdef PyObject* value = (<PyObject**> ((<char*> <PyObject*> obj) + offset))[0]
    if value == NULL:
        raise AttributeError("slot not set")
    return <object> value


cdef inline void _fill(object obj, Py_ssize_t offset, object value) noexcept:
    """Store `value` in the (still empty) slot at `offset` of a fresh record."""
    Py_INCREF(value)
    (<PyObject**> ((<char*> <PyObject*> obj) + offset))[0] = <PyObject*> value
