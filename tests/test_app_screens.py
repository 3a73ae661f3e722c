"""The app's inspection screens (Weights, Outputs, Probe, LSTM) driven through Textual's pilot on a real
Workbench: the keys change what is selected and what is drawn, the pictures follow training, a screen that
does not apply says why in one sentence, and every screen survives 80x24, 120x40 and 40x12."""
from __future__ import annotations

import numpy as np
import pytest
from textual.app import App

from apptext import plain, screen_text, wait_until
from pynn.inspect.activations import layer_outputs, predicted_classes
from pynn_tui.screens.lstm import LSTMScreen
from pynn_tui.screens.outputs import OutputsScreen
from pynn_tui.screens.probe import ProbeScreen
from pynn_tui.screens.weights import WeightsScreen
from pynn_tui.workbench import Workbench

SIZES = [(80, 24), (120, 40), (40, 12)]


class Host(App):
    """The smallest app that shows one screen over a workbench, as the real app does."""

    def __init__(self, screen_class, bench):
        super().__init__()
        self.screen_class, self.bench = screen_class, bench

    def on_mount(self) -> None:
        self.push_screen(self.screen_class(self.bench))


def content(screen, selector: str) -> str:
    return plain(screen.query_one(selector).content)


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]


def trained(bench: Workbench, epochs: int = 1) -> Workbench:
    bench.configure(epochs=epochs)
    bench.train()
    return bench


@pytest.fixture(scope="module")
def digits():
    """784-30-10 after one epoch: its weights have structure, and it still gets some test digits wrong."""
    return trained(Workbench())


# -- Weights ----------------------------------------------------------------------------------------------

async def test_weights_cursor_moves_the_selected_neuron(digits):
    app = Host(WeightsScreen, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.cursor == 0 and len(screen.cells) == 30
        assert "▶#0◀" in screen_text(app)
        await pilot.press("right", "l")
        assert screen.cursor == 2
        await pilot.press("down")
        assert screen.cursor == 2 + screen.columns
        await pilot.press("k", "h")
        assert screen.cursor == 1
        await pilot.pause()
        text = screen_text(app)
        assert "▶#1◀" in text and "▶#0◀" not in text and "#1" in screen.query_one("#head").content.plain
        assert screen.cells[1].has_class("-selected") and not screen.cells[0].has_class("-selected")
        await pilot.press("left", "left", "up")  # the cursor stops at the first neuron
        assert screen.cursor == 0


async def test_weights_grid_follows_the_layer_keys(digits):
    app = Host(WeightsScreen, digits)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.layer_index == 1
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.layer_index == 2 and len(screen.cells) == 10
        assert "back-projected" in screen.query_one("#head").content.plain
        await pilot.press("right", "enter")  # an output neuron's close-up: back-projected, with its strip
        await pilot.pause()
        zoom = content(screen, "#zoom-body")
        assert "layer 2, neuron 1" in zoom and "back-projected" in zoom and "from the layer below" in zoom
        await pilot.press("escape", "right_square_bracket")
        assert screen.layer_index == 1 and screen.cursor == 0


async def test_weights_enter_zooms_one_neuron_with_its_statistics(digits):
    app = Host(WeightsScreen, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("right", "right", "right", "enter")
        await pilot.pause()
        screen = app.screen
        assert screen.zoomed and screen.zoom.neuron == 3
        zoom = content(screen, "#zoom-body")
        w = digits.model.layers[0].W[3]
        assert "layer 1, neuron 3" in zoom
        assert f"min {w.min():+.3f}, max {w.max():+.3f}" in zoom and f"{np.linalg.norm(w):.3f}" in zoom
        assert "most exciting samples" in zoom and "the input that excites it most" in zoom
        # the most exciting sample really is the one the unit answers most to
        h = layer_outputs(digits.model, digits.data.x_test)[0][:, 3]
        assert screen.zoom.examples.most[0] == int(np.argmax(h))
        await pilot.press("down", "j")  # in the close-up these read further down, the neuron stays
        assert screen.cursor == 3 and screen.query_one("#body").scroll_target_y > 0
        await pilot.press("l")          # ... and these go to the next neuron's close-up
        await pilot.pause()
        assert screen.zoom.neuron == 4 and "layer 1, neuron 4" in content(screen, "#zoom-body")
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.zoomed and screen.query_one("#weights-grid").display
        await pilot.press("enter", "enter")
        assert not screen.zoomed


async def test_weights_grid_redraws_when_training_moves_the_version():
    bench = Workbench(data="xor", spec="2-4:tanh-2")
    app = Host(WeightsScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        before, version = plain(screen.cells[0].content), screen.drawn_version
        trained(bench, 20)
        await wait_until(pilot, lambda: screen.drawn_version == bench.version, what="the redraw")
        assert screen.drawn_version != version
        after = plain(screen.cells[0].content)
        assert after != before
        assert np.allclose(screen.cells[0].content.values.ravel(), bench.model.layers[0].W[0])


async def test_weights_follow_a_new_model_and_say_why_when_it_has_no_picture():
    bench = Workbench()
    app = Host(WeightsScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        for _ in range(20):
            await pilot.press("l")
        assert screen.cursor == 20
        bench.set_spec("784-12-10")
        await wait_until(pilot, lambda: screen.drawn_version == bench.version, what="the new model")
        assert len(screen.cells) == 12 and screen.cursor == 11 and not screen.reason
        bench.set_spec("28x28-lstm4-10")
        await wait_until(pilot, lambda: screen.drawn_version == bench.version, what="the LSTM model")
        assert "starts with an LSTM" in screen.reason and not screen.query_one("#body").display


async def test_weights_redraw_is_throttled_while_training_runs(paced_workbench):
    """The worker bumps the version after every batch (hundreds a second on xor); the screen redraws when it
    polls, once for however many versions went by, never once per batch. The run is paced: each burst of 50
    batches runs while the test holds the UI's event loop, so the screen has had no chance to draw in between
    whatever the machine's speed, and then the run holds still while the screen catches up."""
    import threading

    bench = paced_workbench(data="xor", spec="2-4:tanh-2")
    bench.configure(epochs=10_000)  # 6 batches an epoch: more than the test lets through
    app = Host(WeightsScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        draws = []
        original = screen.draw
        screen.draw = lambda: (draws.append(bench.version), original())
        worker = threading.Thread(target=bench.train)
        worker.start()
        try:
            bench.wait_for_batches(1)
            await wait_until(pilot, lambda: screen.drawn_version == bench.version, what="the first batch drawn")
            for burst in range(3):
                draws.clear()
                before = bench.version
                bench.wait_for_batches(bench.allow(50))  # blocks this loop, and with it the screen's polling
                assert bench.version >= before + 50
                await wait_until(pilot, lambda: screen.drawn_version == bench.version, what="the redraw")
                await pilot.pause(0.3)  # more polls: the version has not moved, so nothing more to draw
                assert draws == [bench.version], f"burst {burst}: 50 batches drew {len(draws)} times"
        finally:
            bench.stop()
            worker.join()


@pytest.mark.parametrize("key", ["3", "4", "5"])
async def test_a_screen_follows_a_run_and_keeps_taking_keys(key, paced_workbench):
    """The screen redraws a 784-100-10 run live and answers the key list while it does. The run is paced (it
    holds after each batch until the test lets it on), so it is still going when the keys are pressed; the
    longest UI stall during a free run is measured by bench/ui_stall.py, not bounded here: that would depend
    on the machine's load."""
    from pynn_tui.app import PynnApp
    from pynn_tui.screens.help import HelpScreen

    bench = paced_workbench(spec="784-100-10")
    app = PynnApp(bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        await pilot.pause()
        screen = app.screen
        await pilot.press("t")
        await wait_until(pilot, lambda: bench.held and screen.drawn_version == bench.version,
                         what="the screen to draw the run's first batch")
        drawn = screen.drawn_version
        held_at = bench.allow(3)
        await wait_until(pilot, lambda: bench.batches == held_at and screen.drawn_version == bench.version,
                         what="the screen to follow three more batches")
        assert screen.drawn_version != drawn
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and bench.training
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and bench.training
        bench.stop()
        await wait_until(pilot, lambda: not app.training, what="the stop")
        assert bench.last_reason == "stopped on request" and bench.batches == held_at


async def test_weights_on_an_lstm_says_why_in_one_sentence():
    app = Host(WeightsScreen, Workbench(data="sine", spec="lstm8-1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("right", "enter", "right_square_bracket")
        screen = app.screen
        assert "starts with an LSTM" in screen_text(app) and "LSTM screen (7)" in screen_text(app)
        assert not screen.query_one("#body").display and screen.cursor == 0 and not screen.zoomed
        assert app.is_running and not messages(app)


# -- Outputs ----------------------------------------------------------------------------------------------

async def test_outputs_class_keys_show_each_class_top_units(digits):
    app = Host(OutputsScreen, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.output == 0
        await pilot.press("right", "l")
        await pilot.pause()
        assert screen.output == 2 and screen.reliance.output == 2
        assert "output 2 ('2') of 10" in screen_text(app)
        w = digits.model.layers[1].W[2]
        best, worst = int(np.argmax(w)), int(np.argmin(w))
        assert screen.reliance.top_positive[0] == best and screen.reliance.top_negative[0] == worst
        ranking = content(screen, "#reliance-ranking")
        assert f"most positive #{best} ({w[best]:+.3f})" in ranking and f"most negative #{worst}" in ranking
        maps = content(screen, "#reliance-maps")
        assert f"#{best} {w[best]:+.2f}" in maps and f"#{worst} {w[worst]:+.2f}" in maps
        assert "template of class '2'" in content(screen, "#template")
        assert screen.reliance.template.shape == (28, 28)
        await pilot.press("left", "left", "left", "h")  # wraps around: 2 -> 8
        assert screen.output == 8


async def test_outputs_without_a_hidden_layer_says_why():
    app = Host(OutputsScreen, Workbench(data="xor", spec="2"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("right")
        assert "has no hidden layer" in screen_text(app) and app.screen.output == 0


# -- Probe ------------------------------------------------------------------------------------------------

async def test_probe_n_and_p_step_through_the_test_samples(digits):
    app = Host(ProbeScreen, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.index == 0
        await pilot.press("n", "n", "n", "p")
        await pilot.pause()
        assert screen.index == 2 and screen.journey.index == 2
        assert "sample 2 of 2,000" in screen_text(app)
        journey = content(screen, "#journey")
        probabilities = digits.model.predict(digits.data.x_test[2:3])[0]
        predicted = int(np.argmax(probabilities))
        assert f"sample 2: predicted {predicted} with {probabilities[predicted]:.1%}" in journey
        assert "layer 1 (dense 30 sigmoid)" in journey and "output probabilities" in journey
        await pilot.press("p", "p", "p")  # before the first sample comes the last one
        assert screen.index == len(digits.data.x_test) - 1


async def test_probe_misclassified_toggle_only_visits_wrong_samples(digits):
    x, y = digits.data.x_test, digits.data.y_test
    wrong = np.flatnonzero(predicted_classes(digits.model, layer_outputs(digits.model, x)[-1]) != y)
    assert 0 < len(wrong) < len(x)
    app = Host(ProbeScreen, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("m")
        assert screen.misclassified_only and screen.index == wrong[0]
        visited = [screen.index]
        for _ in range(4):
            await pilot.press("n")
            visited.append(screen.index)
        assert visited == list(wrong[:5])
        await pilot.press("p")
        assert screen.index == wrong[3]
        await pilot.pause()
        assert "error 4 of" in screen_text(app) and "✗" in content(screen, "#journey")
        await pilot.press("m", "n")
        assert not screen.misclassified_only and screen.index == wrong[3] + 1


async def test_probe_misclassified_on_a_series_is_a_notification():
    app = Host(ProbeScreen, Workbench(data="sine", spec="20-8-1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        assert not app.screen.misclassified_only and app.is_running
        assert any("no class labels" in m for m in messages(app))


# -- LSTM -------------------------------------------------------------------------------------------------

def traced(screen, index: int):
    """A condition: the LSTM screen shows the trace of test sample `index` (traces are read in a worker)."""
    return lambda: screen.shown is not None and screen.shown.key[0] == index and screen.maps


async def test_lstm_heat_maps_have_a_column_per_step_of_the_chosen_sample():
    from pynn.lstm import gate_trace

    bench = Workbench(data="sine", spec="lstm8-1")
    app = Host(LSTMScreen, bench)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("n", "n")
        await wait_until(pilot, traced(screen, 2), what="sample 2's trace")
        assert screen.index == 2
        steps = bench.data.sample_shape[0]
        assert len(screen.maps) == 6 and all(m.values.shape == (8, steps) for m in screen.maps)  # 8 units fit
        expected = gate_trace(bench.model, bench.data.x_test[2])
        units = screen.units
        assert sorted(units) == list(range(8))
        assert np.allclose(screen.maps[1].values, expected.forget[:, units].T)  # the forget gate of sample 2
        assert np.allclose(screen.maps[4].values, expected.cell[:, units].T)
        gates = content(screen, "#gates")
        assert "forget f" in gates and "cell c" in gates and f"steps 1-{steps}" in gates
        assert "sample 2 of 381" in screen_text(app)
        outcome = content(screen, "#outcome")
        assert "the forecast against the truth" in outcome and "naive" in outcome


async def test_lstm_on_a_character_model_generates_text_and_g_draws_again():
    bench = Workbench(data="shakespeare", data_options={"n": 5000, "lookback": 16}, spec="lstm8*-53")
    app = Host(LSTMScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: traced(screen, 0)() and screen.generated is not None, what="the text")
        assert all(m.values.shape[1] == 16 for m in screen.maps)
        window = screen.window_text()
        assert len(window) == 16 and window.replace("\n", "↵") in content(screen, "#outcome")
        first = screen.generated[3]
        assert first.startswith(window) and len(first) == 16 + 160
        await pilot.press("g")
        await wait_until(pilot, lambda: screen.generated[2] == 1, what="the new text")
        assert screen.seed == 1 and screen.generated[3] != first


async def test_lstm_on_digits_read_row_by_row_shows_28_steps_and_the_predicted_class():
    bench = Workbench(data="digits", data_options={"as_sequence": True}, spec="28x28-lstm6-10")
    app = Host(LSTMScreen, bench)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_until(pilot, traced(screen, 0), what="the trace")
        assert all(m.values.shape == (6, 28) for m in screen.maps)
        predicted = int(np.argmax(bench.model.predict(bench.data.x_test[:1])[0]))
        assert content(screen, "#outcome").startswith(f"predicted {predicted}")


async def test_lstm_on_a_dense_model_says_why():
    app = Host(LSTMScreen, Workbench(data="xor", spec="2-4-2"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("n", "g")
        assert "has no LSTM layer" in screen_text(app) and app.screen.index == 0
        assert not messages(app)


# -- every screen at every size ---------------------------------------------------------------------------

SCREEN_CASES = [(WeightsScreen, "digits"), (OutputsScreen, "digits"), (ProbeScreen, "digits"),
                (LSTMScreen, "sine")]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("screen_class,data", SCREEN_CASES, ids=[c.__name__ for c, _ in SCREEN_CASES])
async def test_every_screen_draws_and_takes_its_keys_at_every_size(screen_class, data, size):
    bench = Workbench() if data == "digits" else Workbench(data="sine", spec="lstm8-1")
    app = Host(screen_class, bench)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for key in ("right", "down", "n", "p", "m", "enter", "right_square_bracket", "escape", "pagedown"):
            await pilot.press(key)
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, screen_class)
        assert screen_text(app).strip() and not app.screen.reason
        assert not [m for m in messages(app) if "unexpectedly" in m]


# -- inside the real app ----------------------------------------------------------------------------------

async def test_the_app_opens_these_screens_by_their_digits():
    from pynn_tui.app import PynnApp

    app = PynnApp(Workbench(data="sine", spec="lstm8-1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key, cls, says in (("3", WeightsScreen, "starts with an LSTM"), ("4", OutputsScreen, "starts with an LSTM"),
                               ("5", ProbeScreen, "starts with an LSTM"), ("7", LSTMScreen, "8 units x 20 steps")):
            await pilot.press(key)
            await wait_until(pilot, lambda: isinstance(app.screen, cls) and says in screen_text(app),
                             what=f"screen {key} saying {says!r}")
        await pilot.press("n")
        assert app.screen.index == 1


async def test_no_color_draws_the_weight_maps_in_characters(monkeypatch):
    from pynn_tui.app import PynnApp

    monkeypatch.setenv("NO_COLOR", "1")
    bench = Workbench()
    app = PynnApp(bench, first_screen="weights")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, WeightsScreen) and "#0" in screen_text(app),
                         what="the weight maps")
        screen = app.screen
        assert not screen.colour
        text = screen_text(app)
        assert "▀" not in text and any(ch in text for ch in "+#=X")
        # one text line per pixel row without colour (two per line with it): the map's rows + its title
        assert screen.cells[0].outer_size.height == -(-28 // screen.factor) + 1
