"""CHAdeMO (IEEE 2030.1.1) over CAN: recordings, sessions, checks and reports.

Public API: `read_recording(path) -> CanRecording` (canlog), `build_sessions(messages)`
and `SPECS` (session), `decode_can(frame)` in `chargescope.dissectors.chademo`.
"""
