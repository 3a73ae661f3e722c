"""The `?` screen: every key the app and the screen below it answer to, with what each does."""
from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def key_table(rows: list[tuple[str, str, str]]) -> Table:
    """rows: (where, key, what) — where is the screen's title or 'everywhere'."""
    table = Table(title="keys", title_justify="left", expand=False)
    for column in ("key", "does", "where"):
        table.add_column(column)
    for where, key, what in rows:
        table.add_row(key, what, where)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the keys it is given; any of Escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]):
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Static(key_table(self.rows), id="help-keys")
            yield Static("Escape, q or ?: close.  Up/Down or PageUp/PageDown scroll.", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
