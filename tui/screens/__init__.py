"""The app's screens, one module each, listed in the order of the digit keys that open them.

Every screen module defines one Screen subclass taking the Workbench, plus KEY (its digit) and TITLE. The app
shows UnavailableScreen in place of a screen whose constructor fails, so one broken screen cannot end it."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from pynn_tui.screens.widgets import Footer

# (mode name, module, class name, digit, title)
SCREENS = [
    ("model", "pynn_tui.screens.model", "ModelScreen", "1", "Model"),
    ("train", "pynn_tui.screens.train", "TrainScreen", "2", "Train"),
    ("weights", "pynn_tui.screens.weights", "WeightsScreen", "3", "Weights"),
    ("outputs", "pynn_tui.screens.outputs", "OutputsScreen", "4", "Outputs"),
    ("probe", "pynn_tui.screens.probe", "ProbeScreen", "5", "Probe"),
    ("experiments", "pynn_tui.screens.experiments", "ExperimentsScreen", "6", "Experiments"),
    ("lstm", "pynn_tui.screens.lstm", "LSTMScreen", "7", "LSTM"),
]


@dataclass
class ScreenEntry:
    name: str
    key: str
    title: str
    factory: Callable[..., Screen]   # the Screen class, called with the Workbench


class UnavailableScreen(Screen):
    """Stands in for a screen that could not be built, naming the reason."""

    def __init__(self, bench, title: str = "", problem: str = ""):
        super().__init__()
        self.bench, self.title_text, self.problem = bench, title, problem

    def compose(self) -> ComposeResult:
        yield Static(f"The {self.title_text} screen could not open: {self.problem}.", id="unavailable")
        yield Footer()


def screen_entries() -> list[ScreenEntry]:
    """Every screen, its module imported now (so Textual loads only when the app starts)."""
    entries = []
    for name, module_name, class_name, key, title in SCREENS:
        module = importlib.import_module(module_name)
        entries.append(ScreenEntry(name, str(getattr(module, "KEY", key)), getattr(module, "TITLE", title),
                                   getattr(module, class_name)))
    return entries
