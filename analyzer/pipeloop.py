"""The pipeline's per-frame loop: pure-Python twin of hot path "pipeloop" (`ext/_pipeloop.pyx`).

`run(pipeline, frames)` is `Pipeline.run` (analyzer/pipeline.py): a generator of the
Messages and Problems of `frames`, in capture order, with `pipeline.stats` kept as the
frames pass. Each frame first tries the TCP reassembler's steady-state fast path
(`TcpReassembler.feed_frame`: established connection, in-order bytes or a bare ACK,
no Packet built); a frame it declines (before touching any state) takes the general
path, `_Decoder.frame_items` (decode, IP reassembly, TCP reassembly) and
`Pipeline._item` per item. Both paths count and yield the same: a frame the fast
path takes is a decoded TCP frame (`stats.frames`, `.decoded`, one `layers` key), and
its StreamData goes where `_item` would send it. The rare paths (frame handoffs,
in-band key logs, IP reassembly, probes, detaching a dissector that raised, the
end-of-input flushes) are the pipeline's own methods, whichever loop runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from chargescope.analyzer.net import ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPPROTO_TCP
from chargescope.analyzer.records import Frame, Message, Problem

# stats.layers keys of a frame the fast path takes: (ip version, EtherType, 0, TCP)
LAYER_V4 = (4, ETHERTYPE_IPV4, 0, IPPROTO_TCP)
LAYER_V6 = (6, ETHERTYPE_IPV6, 0, IPPROTO_TCP)


def run(pipeline, frames: Iterable[Frame]) -> Iterator[Message | Problem]:
    """`Pipeline.run` (see the module docstring)."""
    stats, routes, dec = pipeline._begin_run()
    layers = stats.layers
    item_out = pipeline._item
    frame_items = dec.frame_items
    fast = dec.tcp.feed_frame if pipeline._fast_tcp else None
    for frame in frames:
        taken = fast(frame) if fast is not None else None
        if taken is None:  # the general path
            for item in frame_items(frame):
                out = item_out(item, routes, stats)
                if out:
                    yield from out
            continue
        version, event = taken
        stats.frames += 1
        stats.decoded += 1
        layers[LAYER_V4 if version == 4 else LAYER_V6] += 1
        if event is None:
            continue
        route = routes.get(event.conn.index)
        if route is not None and route.dissector is not None and route.decided:
            out = pipeline._data(route, event, stats)
        else:
            out = pipeline._stream_event(event, routes, stats)
        if out:
            yield from out
    for item in dec.finish():
        out = item_out(item, routes, stats)
        if out:
            yield from out
    yield from pipeline._end_run(routes, stats)
