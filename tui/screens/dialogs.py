"""Small modal dialogs the screens share: one line of text to type (a path, a spec, a list of sizes), and a form of
several named values (the run's settings, an experiment's)."""
from __future__ import annotations

from typing import NamedTuple

from textual import events
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


class FormField(NamedTuple):
    """One value of a FormDialog: its name (the key of the result), label, current text, the choices offered by
    a Select (None: free text), a line of help shown while it has the focus, and what an empty text means."""
    name: str
    label: str
    value: str
    choices: tuple[str, ...] | None = None
    help: str = ""
    placeholder: str = ""


class FormDialog(ModalScreen[dict | None]):
    """A few named values at once: text fields, and choice fields shown as a Select. Enter in a text field
    (or ctrl+enter anywhere) gives {name: text}; Escape gives None. Checking the values is the caller's job,
    so every mistake is reported the same way (one sentence, as a notification)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+j,ctrl+enter", "submit", "OK")]

    def __init__(self, title: str, fields: list[FormField | tuple]):
        """fields: FormFields, or plain (name, label, value, choices) tuples."""
        super().__init__()
        self.form_title, self.fields = title, [FormField(*f) for f in fields]

    def compose(self) -> ComposeResult:
        from textual.containers import Grid, VerticalScroll
        from textual.widgets import Select

        with VerticalScroll(classes="dialog form"):
            yield Label(self.form_title, classes="title")
            with Grid(classes="form-grid"):
                for field in self.fields:
                    yield Label(field.label)
                    if field.choices:
                        yield Select([(c, c) for c in field.choices], value=field.value, allow_blank=False,
                                     id=f"field-{field.name}", compact=True)
                    else:
                        yield Input(field.value, placeholder=field.placeholder, id=f"field-{field.name}",
                                    compact=True)
            if any(field.help for field in self.fields):
                yield Label("", id="field-help", classes="hint")
            yield Label("Tab: next field   Enter: OK   Escape: cancel", classes="hint")

    def on_mount(self) -> None:
        # the scrolling frame would take the focus first, and Enter there would do nothing
        self.query_one(f"#field-{self.fields[0].name}").focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The focused field's help under the form, so every field is explained without a line of its own."""
        helps = {f"field-{field.name}": field.help for field in self.fields}
        if event.widget.id in helps and self.query("#field-help"):
            self.query_one("#field-help", Label).update(helps[event.widget.id])

    def values(self) -> dict:
        from textual.widgets import Select

        result = {}
        for field in self.fields:
            widget = self.query_one(f"#field-{field.name}")
            result[field.name] = str(widget.value) if isinstance(widget, Select) else widget.value.strip()
        return result

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        self.dismiss(self.values())

    def action_cancel(self) -> None:
        self.dismiss(None)
