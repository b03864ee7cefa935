"""Live SocketCAN input: CAN frames from a Linux CAN interface (`AF_CAN`, `CAN_RAW`).

The "socketcan" capture engine reads a CAN_RAW socket; `SocketCanCapture` is the
`LiveCapture` on it: the same `frames()` iterator, stop rules, pcapng writing (ring buffer
included) and `on_frame` hook, so `chargescope live --iface can0` and
`chargescope chademo --live can0` reuse the offline pipeline unchanged. Each frame is
stored as LINKTYPE_CAN_SOCKETCAN (227): the kernel's `struct can_frame` (16 octets) or
`struct canfd_frame` (72 octets) with the CAN id turned from host to network byte
order, as that link type specifies.

The standard library's socket module is enough (AF_CAN, CAN_RAW, recvmsg with kernel
receive timestamps): python-can would add a dependency without adding a capability.
The socket is injectable, so tests feed real `struct can_frame` bytes through a
socketpair when the kernel has no vcan.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from chargescope.analyzer.chademo.can import LINKTYPE_CAN_SOCKETCAN
from chargescope.analyzer.live.capture import EngineRequest, LiveCapture

ARPHRD_CAN = 280  # /sys/class/net/IFACE/type of a CAN interface (can0, vcan0, slcan0)
CAN_RAW = 1
SOL_CAN_RAW = 101  # SOL_CAN_BASE (100) + CAN_RAW
CAN_RAW_FD_FRAMES = 5
CAN_MTU = 16  # struct can_frame
CANFD_MTU = 72  # struct canfd_frame
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value; SCM_TIMESTAMPNS too
_TIMESPEC = struct.Struct("@qq")  # struct timespec on 64-bit Linux
_POLL_S = 0.2  # the reader's receive timeout: how soon it notices stop()


def is_can_interface(iface: str) -> bool:
    """Whether Linux says `iface` is a CAN interface (ARPHRD_CAN)."""
    try:
        return int(Path(f"/sys/class/net/{iface}/type").read_text().strip()) == ARPHRD_CAN
    except (OSError, ValueError):
        return False


def open_can_socket(iface: str) -> socket.socket:
    """A CAN_RAW socket bound to `iface`, CAN FD frames and kernel timestamps on."""
    af_can = getattr(socket, "AF_CAN", None)
    if af_can is None:
        raise OSError("this Python has no AF_CAN (SocketCAN is Linux only)")
    sock = socket.socket(af_can, socket.SOCK_RAW, CAN_RAW)
    try:
        sock.setsockopt(SOL_CAN_RAW, CAN_RAW_FD_FRAMES, 1)
    except OSError:
        pass  # an old kernel without CAN FD: classic frames only
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind((iface,))
    return sock


def linktype_record(raw: bytes) -> bytes:
    """A kernel can_frame/canfd_frame as a LINKTYPE_CAN_SOCKETCAN record (id big-endian)."""
    if sys.byteorder == "big":
        return bytes(raw)
    return raw[3::-1] + raw[4:]


def _timestamp(ancdata: list[tuple[int, int, bytes]]) -> int:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return sec * 1_000_000_000 + nsec
    return time.time_ns()  # no kernel timestamp (e.g. a test's socketpair)


class SocketCanEngine(threading.Thread):
    """`LiveCapture`'s "socketcan" engine: receives frames on its own thread and emits
    (record, ts_ns, LINKTYPE_CAN_SOCKETCAN). `sock` replaces the CAN_RAW socket (tests);
    the engine closes the socket it uses when it stops."""

    def __init__(self, request: EngineRequest, sock: socket.socket | None = None) -> None:
        super().__init__(name=f"socketcan-{request.iface}", daemon=True)
        if request.bpf:
            raise ValueError("BPF filters do not apply to CAN interfaces")
        self.request = request
        self.sock = sock
        self.running = False
        self.exception: BaseException | None = None
        self._halt = threading.Event()

    def start(self) -> None:
        if self.sock is None:
            self.sock = open_can_socket(self.request.iface)
        self.sock.settimeout(_POLL_S)
        self.running = True
        super().start()
        self.request.started()

    def run(self) -> None:
        emit, sock = self.request.emit, self.sock
        try:
            while not self._halt.is_set():
                try:
                    raw, ancdata, _flags, _addr = sock.recvmsg(
                        CANFD_MTU, socket.CMSG_SPACE(_TIMESPEC.size))
                except TimeoutError:
                    continue
                if not raw:
                    break  # the other end closed (a socketpair in tests)
                # a read of another size is emitted as it is: the CAN decoder reports it
                emit(linktype_record(raw), _timestamp(ancdata), LINKTYPE_CAN_SOCKETCAN)
        except OSError as exc:  # interface went down, socket closed under us
            self.exception = exc
        finally:
            self.running = False

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=2 * _POLL_S)
        if self.sock is not None:
            self.sock.close()


def socketcan_engine(request: EngineRequest) -> SocketCanEngine:
    return SocketCanEngine(request)


class SocketCanCapture(LiveCapture):
    """`LiveCapture` on the "socketcan" engine; `sock` replaces the CAN_RAW socket (tests)."""

    def __init__(self, iface: str, *, sock: Any = None, **options: Any) -> None:
        if options.get("bpf"):
            raise ValueError("BPF filters do not apply to CAN interfaces")
        options.pop("backend", None)  # the engine is SocketCAN's
        super().__init__(iface, backend="socketcan",
                         engine=lambda request: SocketCanEngine(request, sock), **options)


def open_live_capture(iface: str, **options: Any) -> LiveCapture:
    """The capture for `iface`: SocketCAN for a CAN interface unless `backend` names an
    engine (dumpcap reads CAN through libpcap too), `LiveCapture`'s engines otherwise."""
    if is_can_interface(iface) and options.get("backend", "auto") == "auto":
        return SocketCanCapture(iface, **options)
    return LiveCapture(iface, **options)
