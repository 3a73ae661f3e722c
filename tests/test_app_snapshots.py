"""Snapshot tests of the app's screens that are stable frame to frame: what a user sees at 80x24 before a run,
compared with the SVG screenshots in tests/__snapshots__ (pytest-textual-snapshot). A change to a screen's
layout or text shows up as a failing test with a visual diff; `pytest --snapshot-update` accepts it.
Screens drawn from a seeded model on the bundled digits are deterministic, so they are snapshotted too."""
from __future__ import annotations

import pytest

from pynn_tui.app import PynnApp
from pynn_tui.workbench import Workbench

SIZE = (80, 24)
LARGE = (120, 40)


def app_on(first_screen: str = "model", **bench) -> PynnApp:
    return PynnApp(Workbench(**bench), first_screen=first_screen)


@pytest.mark.parametrize("screen", ["model", "train", "weights", "outputs", "probe", "experiments"])
def test_screen_before_a_run(snap_compare, screen):
    assert snap_compare(app_on(screen), terminal_size=SIZE)


def test_the_key_list(snap_compare):
    assert snap_compare(app_on("train"), press=["question_mark"], terminal_size=SIZE)


async def traced(pilot) -> None:
    """Until the LSTM screen has drawn its trace (read in a worker), and text where it writes some."""
    from apptext import wait_until

    screen = pilot.app.screen
    await wait_until(pilot, lambda: getattr(screen, "shown", None) is not None and screen.maps, what="the trace")
    if screen.text_model():
        await wait_until(pilot, lambda: screen.generated is not None, what="the text")
    await pilot.pause()


def test_the_lstm_screen_on_a_series(snap_compare):
    assert snap_compare(app_on("lstm", data="sine", spec="20x1-lstm8-1"), terminal_size=SIZE, run_before=traced)


@pytest.mark.parametrize("size", [SIZE, LARGE], ids=["80x24", "120x40"])
def test_the_lstm_screen_of_a_character_model(snap_compare, size):
    app = app_on("lstm", data="shakespeare", data_options={"n": 6000, "lookback": 64}, spec="lstm128*-55")
    assert snap_compare(app, terminal_size=size, run_before=traced)


@pytest.mark.parametrize("screen", ["train", "weights", "experiments"])
def test_screen_before_a_run_at_120x40(snap_compare, screen):
    assert snap_compare(app_on(screen), terminal_size=LARGE)


def test_the_weights_overview_of_100_neurons(snap_compare):
    assert snap_compare(app_on("weights", spec="784-100-10"), terminal_size=SIZE)


def test_the_model_screen_of_an_lstm(snap_compare):
    assert snap_compare(app_on("model", data="sine", spec="20x1-lstm8-1"), terminal_size=SIZE)
