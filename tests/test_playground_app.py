"""The app's Playground screen (8, on 2-D data only) driven through the pilot: the network's columns and the
output's surface with its points, the cursor's neuron and its weights, the zoom, a feature toggled by key
rebuilding the model, the surfaces following a run paced batch by batch; snapshots at 80x24 and 120x40; and the
same surfaces drawn as images (kitty placeholders, iTerm2 or sixel anchors) where the terminal has them."""
import io
import re

import numpy as np
import pytest
from textual.geometry import Region

from apptext import screen_text, wait_until
from pynn.inspect.surface import plane_of, surfaces
from pynn_tui.app import PynnApp
from pynn_tui.render import pixels
from pynn_tui.render.colour import diverging_rgb_array
from pynn_tui.render.heatmap import max_abs
from pynn_tui.render.surface import marks
from pynn_tui.screens.playground import PlaygroundScreen, fit_layout
from pynn_tui.workbench import Workbench
from test_pixels import anchors_at, block_centres, frame_text, iterm_images, kitty_images

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


async def train_and_hold(pilot, app, bench, batches: int) -> None:
    """Start a run by key (t), let it do its first batches, and wait for the screen to draw it held there."""
    await pilot.press("t")
    bench.wait_for_batches(1)
    bench.allow(batches)
    bench.wait_for_batches(batches)
    await wait_until(pilot, lambda: bench.held and app.screen.drawn_version == bench.version,
                     "the screen to draw the held run")


async def test_the_surfaces_follow_a_run(paced_workbench):
    bench = paced_workbench(data="xor", spec=SPEC)
    bench.configure(optimizer="adam", lr=0.03, epochs=3)
    app = PynnApp(bench, first_screen="playground")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        before = screen_text(app)
        await train_and_hold(pilot, app, bench, batches=30)
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


# -- true pixels --------------------------------------------------------------------------------------------------

def output_values(bench, big: int) -> np.ndarray:
    """The output's decision surface as the screen reads it: p(class 1) - p(class 0) over a big x big plane."""
    plane = plane_of(bench.data)
    return bench.read(lambda model: surfaces(model, plane, big, layers=[]).decision)


def assert_output_image(image: np.ndarray, bench) -> None:
    """The image is the output's surface under the colour scale (1.0: a class's probability), each value a 10x10
    block (off a terminal a cell is 10x20 pixels), except the blocks with points, which show the dot or ring of
    the point drawn last there in its class colour."""
    plane = plane_of(bench.data)
    big = image.shape[1] // 10
    values = output_values(bench, big)
    points = marks(plane.extent, big, plane.x_train, plane.y_train, plane.x_test, plane.y_test, True)
    last = {(int(r), int(c)): rgb for r, c, rgb in zip(points.rows, points.cols, points.rgb)}  # drawn last wins
    expected = diverging_rgb_array(values, 1.0).repeat(10, axis=0).repeat(10, axis=1)
    away = np.ones(values.shape, bool)
    for r, c in last:
        away[r, c] = False
    away = away.repeat(10, axis=0).repeat(10, axis=1)
    assert image.shape == expected.shape and len(last) > 10
    assert np.array_equal(image[away], expected[away])
    for (r, c), rgb in last.items():
        block = image[r * 10:(r + 1) * 10, c * 10:(c + 1) * 10]
        colour = ((rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF)
        assert (block == colour).all(axis=-1).sum() >= 8, (r, c)


def assert_neuron_images(images: list[np.ndarray], bench) -> None:
    """Among the images is each hidden neuron's surface under the layer's shared scale."""
    plane = plane_of(bench.data)
    thumbs = [image for image in images if image.shape[1] < max(i.shape[1] for i in images)]
    side = thumbs[-1].shape[1] // 10
    layer = bench.read(lambda model: surfaces(model, plane, 2, layers=[model.layers[0].index],
                                              neuron_resolution=side).layers[0])
    scale = max_abs(layer.maps)
    for n, values in zip(layer.neurons, layer.maps):
        colours = diverging_rgb_array(values, scale)
        assert any(t.shape == (side * 10, side * 10, 3) and np.array_equal(block_centres(t), colours)
                   for t in thumbs), f"neuron #{n}"


def drawn_images(protocol: str, app, sent: io.StringIO) -> list[np.ndarray]:
    """The images of the frame the app shows now: kitty's as sent to the terminal for the last rendering of
    the body (textual-image sends them as they are rendered), the anchors' (iTerm2) in the frame's text."""
    if protocol == "iterm2":
        return iterm_images(frame_text(app))
    network = app.screen.query_one("#network")
    start = len(sent.getvalue())
    network.refresh()  # its content rendered again, so its maps send their images again
    network.render_lines(Region(0, 0, *network.outer_size))
    return kitty_images(sent.getvalue()[start:])


@pytest.fixture
def pixels_as(monkeypatch):
    """Draw maps with a protocol inside the app for one test; kitty's images are sent to a StringIO."""
    sent = io.StringIO()

    def use(protocol: str) -> io.StringIO:
        monkeypatch.setattr(pixels, "_renderer", protocol)
        monkeypatch.setattr(pixels, "_in_app", True)
        monkeypatch.setattr("sys.__stdout__", sent)
        return sent
    return use


@pytest.mark.parametrize("protocol", ["kitty", "iterm2"])
async def test_the_surfaces_are_images_of_the_models_values_where_the_terminal_draws_them(pixels_as, protocol):
    sent = pixels_as(protocol)
    bench = xor_bench()
    app = PynnApp(bench, first_screen="playground")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "output · p(class 1) − p(class 0)" in text and "▀" not in text  # no map left in characters
        images = drawn_images(protocol, app, sent)
        # the two features' thumbnails, the hidden layer's eight neurons, the output
        assert len(images) == 2 + 8 + 1
        widest = max(images, key=lambda image: image.shape[1])
        assert_output_image(widest, bench)
        assert_neuron_images(images, bench)
        await pilot.press("enter")  # the cursor's neuron (layer 1 #0) large, on its own scale
        assert "layer 1 #0 (tanh)" in screen_text(app)
        zoomed = max(drawn_images(protocol, app, sent), key=lambda image: image.shape[1])
    plane = plane_of(bench.data)
    neuron = bench.read(lambda model: surfaces(model, plane, 2, layers=[model.layers[0].index], neurons=[0],
                                               neuron_resolution=zoomed.shape[1] // 10).layers[0].maps[0])
    assert zoomed.shape[1] == widest.shape[1]
    assert np.array_equal(block_centres(zoomed), diverging_rgb_array(neuron, max_abs(neuron)))


async def test_sixel_draws_each_surface_from_an_anchor_after_it(pixels_as):
    pixels_as("sixel")
    app = PynnApp(xor_bench(), first_screen="playground")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert len(anchors_at(app)) == 2 + 8 + 1
        sizes = [tuple(map(int, size)) for size in re.findall(r'\x1bP[0-9;]*q"1;1;(\d+);(\d+)', frame_text(app))]
    assert len(sizes) == 11 and len({width for width, _ in sizes}) == 2  # thumbnails of one size, the output


@pytest.mark.parametrize("protocol", ["kitty", "iterm2"])
async def test_the_images_follow_a_run(pixels_as, paced_workbench, protocol):
    sent = pixels_as(protocol)
    bench = paced_workbench(data="xor", spec=SPEC)
    bench.configure(optimizer="adam", lr=0.03, epochs=3)
    app = PynnApp(bench, first_screen="playground")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        before = max(drawn_images(protocol, app, sent), key=lambda image: image.shape[1])
        await train_and_hold(pilot, app, bench, batches=30)
        await pilot.pause()
        images = drawn_images(protocol, app, sent)
        assert len(images) == 2 + 8 + 1
        after = max(images, key=lambda image: image.shape[1])
        assert not np.array_equal(after, before)  # the weights moved: so did the picture
        assert_output_image(after, bench)
        assert_neuron_images(images, bench)
