"""How a command speaks: Rich on a terminal, plain lines when piped or when colour is off, JSON on request.

Colour follows the conventions people expect: NO_COLOR set (to anything) or TERM=dumb turns it off. Piped
output is never wrapped: a line stays whole however long, so it can be searched, cut and diffed."""
from __future__ import annotations

import json
import os
import sys
from copy import copy
from dataclasses import dataclass

from rich.console import Console, Group
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

# Piped, pictures that fill the width they are given (heat-map grids, bar and line charts) are laid out this
# wide; text is never wrapped and tables take the width their cells need.
LAYOUT_WIDTH = 100
_UNBOUNDED = 1_000_000


def colour_allowed() -> bool:
    return "NO_COLOR" not in os.environ and os.environ.get("TERM", "") != "dumb"


@dataclass
class Output:
    json: bool = False

    def __post_init__(self):
        self.rich = not self.json and sys.stdout.isatty()
        self.console = Console(no_color=not colour_allowed(), highlight=False, soft_wrap=not self.rich)
        self.err = Console(stderr=True, no_color=not colour_allowed(), highlight=False,
                           soft_wrap=not sys.stderr.isatty())

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
    """The renderable without colour, for a pipe: each part of a group is printed at the width it needs."""
    console = Console(width=LAYOUT_WIDTH, no_color=True, color_system=None, force_terminal=False, highlight=False)
    with console.capture() as cap:
        for part in _parts(renderable):
            if isinstance(part, (str, Text)):
                console.print(part, soft_wrap=True)   # neither wrapped nor cropped
            else:
                console.width = _natural_width(console, part)
                console.print(part)
    return cap.get().rstrip("\n")


def _parts(renderable) -> list:
    """A group's members, groups inside it opened too; a table's title becomes a line of its own, since Rich
    wraps a title to the table's width; anything else is one part."""
    if isinstance(renderable, Group):
        return [part for member in renderable.renderables for part in _parts(member)]
    if isinstance(renderable, Table) and renderable.title is not None:
        untitled = copy(renderable)
        untitled.title = None
        return [renderable.title, untitled]
    return [renderable]


def _natural_width(console: Console, part) -> int:
    """Tables and padded text lay their cells out in the width they are given, so they get all they ask
    for; pictures that fill any width (or a table holding one) get LAYOUT_WIDTH."""
    if not isinstance(part, (Table, Padding)):
        return LAYOUT_WIDTH
    wanted = Measurement.get(console, console.options.update_width(_UNBOUNDED), part).maximum
    return LAYOUT_WIDTH if wanted >= _UNBOUNDED else max(wanted, LAYOUT_WIDTH)


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
