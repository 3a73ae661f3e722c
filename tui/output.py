"""How a command speaks: Rich on a terminal, plain lines when piped or when colour is off, JSON on request.

Colour follows the conventions people expect: NO_COLOR set (to anything) or TERM=dumb turns it off."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

from rich.console import Console


def colour_allowed() -> bool:
    return "NO_COLOR" not in os.environ and os.environ.get("TERM", "") != "dumb"


@dataclass
class Output:
    json: bool = False

    def __post_init__(self):
        self.rich = not self.json and sys.stdout.isatty()
        self.console = Console(no_color=not colour_allowed(), highlight=False, soft_wrap=not self.rich)
        self.err = Console(stderr=True, no_color=not colour_allowed(), highlight=False)

    def line(self, text: str) -> None:
        """A plain progress or result line (not in JSON mode, where stdout holds only the JSON)."""
        if not self.json:
            print(text, flush=True)

    def note(self, text: str) -> None:
        """Something to tell the user that is not the result: to stderr, so pipes and JSON stay clean."""
        self.err.print(f"[dim]note:[/] {text}" if colour_allowed() else f"note: {text}")

    def show(self, renderable, plain: str | None = None) -> None:
        """A Rich renderable on a terminal; its plain-text form otherwise."""
        if self.json:
            return
        if self.rich:
            self.console.print(renderable)
        else:
            print(plain if plain is not None else _plain(renderable), flush=True)

    def emit_json(self, obj) -> None:
        if self.json:
            print(json.dumps(obj, indent=2, default=_json_default), flush=True)


def _plain(renderable) -> str:
    console = Console(width=100, no_color=True, color_system=None, force_terminal=False, highlight=False)
    with console.capture() as cap:
        console.print(renderable)
    return cap.get().rstrip("\n")


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
