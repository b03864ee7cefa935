"""The `?` overlay listing the keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = """[b]chargescope — keys[/b]

  [b]?[/b]        this help
  [b]s[/b]        sessions list
  [b]Enter[/b]    open the selected session / jump to a finding's evidence
  [b]/[/b]        display filter (e.g. ocpp.action == "Authorize" && link == B)
  [b]f[/b]        findings
  [b]p[/b]        plots of the selected session
  [b]e[/b]        export the current view (JSON and CSV beside the first capture)
  [b]q[/b]        quit

Filter fields: link, protocol, name, src, dst, frame, problems, and
<proto>.<path> with proto one of v2g, exi, sdp, slac, homeplug, ocpp, ws, ocpi, http.
Operators: == != > < >= <= contains matches, combined with && || ! and ( ).

Press any key to close."""


class HelpScreen(ModalScreen[None]):
    def compose(self) -> ComposeResult:
        yield Static(KEYS, id="help-text")

    def on_key(self, _event) -> None:
        self.dismiss()

    def on_click(self, _event) -> None:
        self.dismiss()
