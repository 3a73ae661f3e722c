"""Small modal dialogs the screens share: one line of text to type (a path, a spec, a list of sizes)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class InputDialog(ModalScreen[str | None]):
    """Asks for one value: Enter gives the text typed, Escape gives None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, value: str = "", placeholder: str = ""):
        super().__init__()
        self.prompt, self.value, self.placeholder = prompt, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.prompt)
            yield Input(self.value, placeholder=self.placeholder, id="dialog-input")
            yield Label("Enter: OK   Escape: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class FormDialog(ModalScreen[dict | None]):
    """A few named values at once: text fields, and choice fields shown as a Select. Enter in a text field
    (or ctrl+enter anywhere) gives {name: text}; Escape gives None. Checking the values is the caller's job,
    so every mistake is reported the same way (one sentence, as a notification)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+j,ctrl+enter", "submit", "OK")]

    def __init__(self, title: str, fields: list[tuple[str, str, str, tuple[str, ...] | None]]):
        """fields: (name, label, current value, choices or None for free text)."""
        super().__init__()
        self.form_title, self.fields = title, fields

    def compose(self) -> ComposeResult:
        from textual.containers import Grid, VerticalScroll
        from textual.widgets import Select

        with VerticalScroll(classes="dialog form"):
            yield Label(self.form_title, classes="title")
            with Grid(classes="form-grid"):
                for name, label, value, choices in self.fields:
                    yield Label(label)
                    if choices:
                        yield Select([(c, c) for c in choices], value=value, allow_blank=False, id=f"field-{name}",
                                     compact=True)
                    else:
                        yield Input(value, id=f"field-{name}", compact=True)
            yield Label("Tab: next field   Enter: OK   Escape: cancel", classes="hint")

    def on_mount(self) -> None:
        # the scrolling frame would take the focus first, and Enter there would do nothing
        self.query_one(f"#field-{self.fields[0][0]}").focus()

    def values(self) -> dict:
        from textual.widgets import Select

        result = {}
        for name, *_ in self.fields:
            widget = self.query_one(f"#field-{name}")
            result[name] = str(widget.value) if isinstance(widget, Select) else widget.value.strip()
        return result

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        self.dismiss(self.values())

    def action_cancel(self) -> None:
        self.dismiss(None)
