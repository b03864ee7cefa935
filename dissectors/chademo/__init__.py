"""CHAdeMO CAN frames into Messages: every field named, scaled and typed.

    decode_can(frame: CanFrame) -> Message | None   # None: not a CHAdeMO id

The Message is link A, protocol "chademo", name "0x102 EV status"; `fields` holds
each field's scaled value (int, or float for scaled ones; flags as {name: bool}) plus
"can_id" and "raw" (hex). Frames shorter than their layout decode the fields present
and carry a `chademo.frame.short` Problem; nothing raises.
"""

from chargescope.dissectors.chademo.decode import CHADEMO_IDS, decode_can, is_chademo_id
from chargescope.dissectors.chademo.layouts import LAYOUTS, FieldSpec, FrameLayout

__all__ = ["CHADEMO_IDS", "LAYOUTS", "FieldSpec", "FrameLayout", "decode_can", "is_chademo_id"]
