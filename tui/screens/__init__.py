"""The app's screens, one module each, listed in the order of the digit keys that open them.

Every screen module defines one Screen subclass taking the Workbench, plus KEY (its digit) and TITLE. A module
that cannot be imported (not written yet, or broken) becomes a placeholder screen saying so, so the rest of
the app still opens."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

# (mode name, module, class name, digit, title): the fallbacks a missing module's placeholder shows
SCREENS = [
    ("model", "tui.screens.model", "ModelScreen", "1", "Model"),
    ("train", "tui.screens.train", "TrainScreen", "2", "Train"),
    ("weights", "tui.screens.weights", "WeightsScreen", "3", "Weights"),
    ("outputs", "tui.screens.outputs", "OutputsScreen", "4", "Outputs"),
    ("probe", "tui.screens.probe", "ProbeScreen", "5", "Probe"),
    ("experiments", "tui.screens.experiments", "ExperimentsScreen", "6", "Experiments"),
    ("lstm", "tui.screens.lstm", "LSTMScreen", "7", "LSTM"),
]


@dataclass
class ScreenEntry:
    name: str
    key: str
    title: str
    factory: Callable[..., Screen]   # called with the Workbench
    available: bool
    problem: str = ""


class UnavailableScreen(Screen):
    """Stands in for a screen whose module did not import, naming the module and the reason."""

    def __init__(self, bench, title: str = "", problem: str = ""):
        super().__init__()
        self.bench, self.title_text, self.problem = bench, title, problem

    def compose(self) -> ComposeResult:
        yield Static(f"{self.title_text}: not available yet ({self.problem}).", id="unavailable")
        yield Footer()


def screen_entries() -> list[ScreenEntry]:
    """Every screen, importing its module now; a failed import gives a placeholder entry."""
    entries = []
    for name, module_name, class_name, key, title in SCREENS:
        try:
            module = importlib.import_module(module_name)
            cls = getattr(module, class_name)
        except Exception as err:  # noqa: BLE001 - any failure leaves the other screens usable
            problem = f"{module_name}: {type(err).__name__}: {err}"

            def placeholder(bench, title=title, problem=problem):
                return UnavailableScreen(bench, title, problem)
            entries.append(ScreenEntry(name, key, title, placeholder, False, problem))
            continue
        entries.append(ScreenEntry(name, str(getattr(module, "KEY", key)), getattr(module, "TITLE", title),
                                   cls, True))
    return entries
