# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython hot path "pipeloop": the pipeline's per-frame loop.

Twin of `chargescope.analyzer.pipeloop.run` (read its docstring): same generator, same
items in the same order, same `pipeline.stats`. Here the steady-state TCP fast path of
the Cython reassembler is called as a C function (its `FAST_FRAME` capsule) instead of
`feed_frame`, and the common StreamData (a connection whose dissector is chosen) goes to
the dissector without a Python-level helper; everything else is the pipeline's own
methods, as in the twin.
"""

import sys

from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid

from chargescope.analyzer.pipeloop import LAYER_V4, LAYER_V6

# as declared in ext/_tcpreassembly.pyx (keep the two in step)
cdef struct FastInfo:
    int version
    int direction
    Py_ssize_t length
    PyObject* conn

ctypedef object (*fast_fn)(object, object, FastInfo*)

cdef const char* CAPSULE = b"chargescope.tcpreassembly.fast_frame"


# The counts of the frames the fast path takes are kept in C and added to the stats
# when `pipeline.stats` is read (the run sets `pipeline._stats_hook`) and at the end of
# the run: updating three attributes and a Counter entry per frame cost a fifth of the
# whole per-frame work.
cdef class _Pending:
    """Counts of the fast path not yet added to the stats."""
    cdef long long frames, v4, v6, messages
    cdef object stats

    def __call__(self):
        """`pipeline._stats_hook`: bring the stats up to date."""
        self.flush()

    cdef int flush(self) except -1:
        stats = self.stats
        if self.frames:
            stats.frames += self.frames
            stats.decoded += self.frames
            self.frames = 0
            if self.v4:
                stats.layers[LAYER_V4] += self.v4
                self.v4 = 0
            if self.v6:
                stats.layers[LAYER_V6] += self.v6
                self.v6 = 0
        if self.messages:
            stats.messages += self.messages
            self.messages = 0
        return 0


cdef fast_fn _c_fast_path(object tcp, list no_event):
    """The reassembler's fast path as a C function (and its no-event marker), if `tcp` is
    the Cython reassembler; NULL otherwise (then `feed_frame` is called)."""
    module = sys.modules.get(type(tcp).__module__)
    capsule = getattr(module, "FAST_FRAME", None)
    if (capsule is None or type(tcp) is not getattr(module, "TcpReassembler", None)
            or not PyCapsule_IsValid(capsule, CAPSULE)):
        return NULL
    no_event.append(module.NO_EVENT)
    return <fast_fn>PyCapsule_GetPointer(capsule, CAPSULE)


def run(pipeline, frames):
    """`Pipeline.run` (see `chargescope.analyzer.pipeloop`)."""
    cdef FastInfo info
    cdef fast_fn fast_c = NULL
    cdef list marker = []
    cdef object no_event = None
    cdef dict routes
    cdef _Pending pending = _Pending()
    cdef PyObject* last_conn = NULL  # the connection whose data went straight to ...
    cdef list last_data = None  # ... its route's byte counts
    stats, routes, dec = pipeline._begin_run()
    pending.stats = stats
    pipeline._stats_hook = pending
    item_out = pipeline._item
    frame_items = dec.frame_items
    stream_event = pipeline._stream_event
    tcp = dec.tcp
    fast_py = None
    if pipeline._fast_tcp:
        fast_c = _c_fast_path(tcp, marker)
        if fast_c is NULL:
            fast_py = tcp.feed_frame
        else:
            no_event = marker[0]
    conn = route = on_data = None  # (last_conn holds no reference: `conn` does)
    for frame in frames:
        if fast_c is not NULL:
            event = fast_c(tcp, frame, &info)
        elif fast_py is not None:
            event = fast_py(frame)
            if event is not None:
                info.version = event[0]
                event = event[1]
                if event is None:
                    event = no_event
                else:
                    info.direction = event.direction
                    info.length = len(event.data)
                    info.conn = <PyObject*>event.conn
        else:
            event = None
        if event is None:  # the general path
            last_conn = NULL
            for item in frame_items(frame):
                out = item_out(item, routes, stats)
                if out:
                    yield from out
            continue
        pending.frames += 1
        if info.version == 4:
            pending.v4 += 1
        else:
            pending.v6 += 1
        if event is no_event:
            continue
        if info.conn != last_conn:
            # the route, the dissector and its byte counts change only through the other
            # branches (stream events, the general path, a detach): kept until one runs
            conn = <object>info.conn
            route = routes.get(conn.index)
            if route is None or route.dissector is None or not route.decided:
                last_conn = NULL
                out = stream_event(event, routes, stats)
                if out:
                    yield from out
                continue
            last_conn = info.conn
            last_data = route.data
            on_data = route.dissector.on_data
        # Pipeline._data, written out
        last_data[info.direction] += info.length
        try:
            out = on_data(event)
        except Exception as exc:  # a dissector bug must not stop a field analysis
            last_conn = NULL
            yield pipeline._detach(route, event, exc, stats)
            continue
        if out:
            pending.messages += len(out)
            for message in out:
                yield message
    for item in dec.finish():
        out = item_out(item, routes, stats)
        if out:
            yield from out
    yield from pipeline._end_run(routes, stats)
    pending.flush()
    if pipeline._stats_hook is pending:
        pipeline._stats_hook = None
