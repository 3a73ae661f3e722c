"""The app's Playground screen (8, on 2-D data only) driven through the pilot: the network's columns and the
output's surface with its points, the cursor's neuron and its weights, the zoom, a feature toggled by key
rebuilding the model, the surfaces following a run paced batch by batch; snapshots at 80x24 and 120x40."""
import pytest

from apptext import screen_text, wait_until
from pynn.inspect.surface import plane_of
from pynn_tui.app import PynnApp
from pynn_tui.screens.playground import PlaygroundScreen, fit_layout
from pynn_tui.workbench import Workbench

SPEC = "2-8:tanh-2"


def xor_bench(**kw) -> Workbench:
    bench = Workbench(data="xor", spec=SPEC, **kw)
    bench.configure(optimizer="adam", lr=0.03, epochs=5)
    return bench


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_screen_shows_the_network_and_fits(size):
    app = PynnApp(xor_bench(), first_screen="playground")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PlaygroundScreen)
        text = screen_text(app)
        assert "inputs" in text and "layer 1" in text and "output · p(class 1) − p(class 0)" in text
        assert all(f"#{n}" in text for n in range(8)) and "test loss" in text and "training loss" in text
        assert "x1·x2" in text and "sin x2" in text
        body = app.screen.query_one("#body")
        assert body.max_scroll_y == 0 and body.max_scroll_x == 0   # everything is on the screen


async def test_the_cursor_shows_a_neurons_weights_and_enter_zooms_it():
    bench = xor_bench()
    app = PynnApp(bench, first_screen="playground")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down")
        screen = app.screen
        assert (screen.column, screen.row) == (1, 2)
        w, b = bench.model.layer_numbered(1).W[2], bench.model.layer_numbered(1).b[2]
        assert f"#2 ← x1 {w[0]:+.2f}, x2 {w[1]:+.2f}, b {b:+.2f}" in screen_text(app)
        await pilot.press("enter")
        assert "layer 1 #2 (tanh) · enter: the output" in screen_text(app)
        await pilot.press("enter")
        assert "output · p(class 1)" in screen_text(app)


async def test_space_on_a_feature_rebuilds_the_model_on_the_new_inputs():
    bench = xor_bench()
    app = PynnApp(bench, first_screen="playground")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("left", "down", "down", "down", "down", "space")   # x1·x2
        assert bench.model.input_shape == (3,) and bench.run.features == "x1,x2,x1*x2"
        assert plane_of(bench.data).features == ["x1", "x2", "x1*x2"] and bench.data.x_train.shape[1] == 3
        assert "3-8:tanh-2" in screen_text(app)
        await pilot.press("space")
        assert bench.model.input_shape == (2,) and bench.run.features == "x1,x2"


async def test_the_surfaces_follow_a_run(paced_workbench):
    bench = paced_workbench(data="xor", spec=SPEC)
    bench.configure(optimizer="adam", lr=0.03, epochs=3)
    app = PynnApp(bench, first_screen="playground")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        before = screen_text(app)
        await pilot.press("t")
        bench.wait_for_batches(1)
        bench.allow(30)
        bench.wait_for_batches(30)
        await wait_until(pilot, lambda: bench.held and app.screen.drawn_version == bench.version,
                         "the screen to draw the held run")
        after = screen_text(app)
        assert after != before and "epoch 1" in after
        assert app.screen.drawn_version == bench.version


async def test_there_is_no_playground_on_data_off_the_plane():
    app = PynnApp(Workbench(data="sine", spec="20x1-lstm8-1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "playground" not in [entry.name for entry in app.entries]
        await pilot.press("8")
        assert not isinstance(app.screen, PlaygroundScreen)


def test_the_layout_uses_the_room():
    small, large = fit_layout(79, 21, 2, [8]), fit_layout(119, 37, 2, [8])
    assert small.thumb < large.thumb or small.big < large.big
    assert small.big >= 16 and large.big > small.big


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot(snap_compare, size):
    assert snap_compare(PynnApp(xor_bench(), first_screen="playground"), terminal_size=size)


def test_the_app_opens_on_the_playground_only_for_2d_data(capsys, monkeypatch):
    from pynn_tui.cli import main
    from pynn_tui.commands import tui

    opened = []
    monkeypatch.setattr(tui, "terminal_problem", lambda: None)
    monkeypatch.setattr(PynnApp, "run", lambda app: opened.append(app.first_screen))
    assert main(["tui", "--data", "xor", "--features", "x1,x2,x1*x2", "--screen", "playground"]) == 0
    assert opened == ["playground"]
    assert main(["tui", "--data", "sine", "--screen", "playground"]) == 2
    err = capsys.readouterr().err
    assert "--screen playground draws a 2-D set" in err and len(err.strip().splitlines()) == 1
