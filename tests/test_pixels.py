"""True pixels (tui/render/pixels.py): which renderer each terminal gets, decided from facts alone, and images
whose pixels are the map's values under the same colour scale as the character maps."""
from __future__ import annotations

import base64
import io
import re
import sys

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from pynn.errors import PynnError
from pynn_tui.render import heatmap, pixels
from pynn_tui.render.colour import ZERO, diverging_rgb_array
from pynn_tui.render.pixels import (CHARACTERS, KittyMap, PixelMapGrid, TerminalFacts, choose_renderer,
                                    map_image, map_view, pixel_setting)

TTY = TerminalFacts(tty=True)


# -- the choice -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env, facts, expected", [
    ({"TERM": "xterm-kitty"}, TTY, "kitty"),                                  # kitty, also over ssh (TERM goes)
    ({"TERM": "xterm-ghostty"}, TTY, "kitty"),
    ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"}, TTY, "kitty"),
    ({"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, TTY, "iterm2"),
    ({"TERM": "xterm-256color", "LC_TERMINAL": "iTerm2"}, TTY, "iterm2"),      # iTerm2 over ssh (LC_* is sent)
    ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, TTY, "iterm2"),
    ({"TERM": "xterm-256color"}, TerminalFacts(True, sixel=True), "sixel"),   # xterm -ti vt340, foot, mlterm
    ({"TERM": "xterm-256color"}, TerminalFacts(True, sixel=True, kitty=True), "sixel"),  # Konsole answers both
    ({"TERM": "xterm-256color"}, TerminalFacts(True, kitty=True), "kitty"),
    ({"TERM": "xterm-256color"}, TTY, CHARACTERS),                            # no answer: characters
    # tmux answers the queries itself and passes iTerm2's and kitty's images to no one
    ({"TERM": "tmux-256color", "TMUX": "/tmp/t,1,0", "LC_TERMINAL": "iTerm2"}, TTY, CHARACTERS),
    ({"TERM": "tmux-256color", "TMUX": "/tmp/t,1,0", "TERM_PROGRAM": "tmux"}, TerminalFacts(True, sixel=True),
     "sixel"),
    # the browser (pynn serve), a pipe, TERM=dumb and NO_COLOR keep characters even in a kitty
    ({"TERM": "xterm-kitty", "TERM_PROGRAM": "textual"}, TTY, CHARACTERS),
    ({"TERM": "xterm-kitty", "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}, TTY, CHARACTERS),
    ({"TERM": "xterm-kitty"}, TerminalFacts(tty=False, kitty=True), CHARACTERS),
    ({"TERM": "dumb"}, TerminalFacts(True, sixel=True), CHARACTERS),
    ({"TERM": "xterm-kitty", "NO_COLOR": "1"}, TTY, CHARACTERS),
])
def test_auto_picks_the_terminals_protocol(env, facts, expected):
    assert choose_renderer("auto", env, facts) == expected


def test_off_keeps_characters_and_on_insists_and_a_name_is_taken_as_it_is():
    kitty = {"TERM": "xterm-kitty"}
    assert choose_renderer("off", kitty, TTY) == CHARACTERS
    assert choose_renderer("on", {"TERM": "xterm-256color"}, TTY) == "sixel"  # no answer: the commonest
    assert choose_renderer("on", kitty, TTY) == "kitty"
    assert choose_renderer("iterm2", kitty, TTY) == "iterm2"
    assert choose_renderer("on", {"TERM_PROGRAM": "textual"}, TTY) == CHARACTERS  # not even `on` in the browser
    assert choose_renderer("kitty", kitty, TerminalFacts(tty=False)) == CHARACTERS  # nor into a pipe


def test_in_the_app_the_same_protocol_is_chosen():
    # kitty's images are placeholders Textual lays out; sixel and iTerm2 images are anchored (AnchoredMap)
    assert choose_renderer("auto", {"TERM": "xterm-kitty"}, TTY) == "kitty"
    assert choose_renderer("auto", {"TERM_PROGRAM": "iTerm.app"}, TTY) == "iterm2"
    assert choose_renderer("auto", {}, TerminalFacts(True, sixel=True)) == "sixel"


def test_the_flag_wins_over_the_environment_variable_which_wins_over_auto():
    assert pixel_setting(None, {}) == "auto"
    assert pixel_setting(None, {"PYNN_PIXELS": "off"}) == "off"
    assert pixel_setting("on", {"PYNN_PIXELS": "off"}) == "on"
    assert pixel_setting(None, {"PYNN_PIXELS": " Sixel "}) == "sixel"
    with pytest.raises(PynnError, match="PYNN_PIXELS must be one of"):
        pixel_setting(None, {"PYNN_PIXELS": "maybe"})


def test_a_bad_environment_variable_is_one_sentence_from_the_command(monkeypatch, capsys):
    from pynn_tui.cli import main

    monkeypatch.setenv("PYNN_PIXELS", "maybe")
    assert main(["weights", "no-such-model.npz"]) == 2
    err = capsys.readouterr().err
    assert "PYNN_PIXELS" in err and err.count("\n") == 1


# -- the images -----------------------------------------------------------------------------------------------

def test_an_images_pixels_are_the_maps_values_under_the_colour_scale():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(28, 28))
    values[3, 4], values[5, 6] = np.nan, 0.0
    image = map_image(values, 2.0)
    assert image.size == (28, 28) and image.mode == "RGB"
    assert np.array_equal(np.asarray(image), diverging_rgb_array(values, 2.0))
    assert tuple(np.asarray(image)[3, 4]) == ZERO == tuple(np.asarray(image)[5, 6])
    strip = rng.normal(size=30)  # a 1-D map is one row
    assert np.array_equal(np.asarray(map_image(strip, 1.0))[0], diverging_rgb_array(strip, 1.0))


def test_an_enlarged_image_makes_every_value_a_block_of_its_colour():
    values = np.arange(-6, 6, dtype=float).reshape(3, 4)
    big = np.asarray(map_image(values, 6.0, (40, 30)))  # 10x10 pixels per value
    expected = diverging_rgb_array(values, 6.0)
    for r in range(3):
        for c in range(4):
            block = big[r * 10:(r + 1) * 10, c * 10:(c + 1) * 10]
            assert (block == expected[r, c]).all(), (r, c)


def png_payloads(text: str, pattern: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
            for data in re.findall(pattern, text)]


def rendered(renderable, width: int = 120) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=width)
    console.print(renderable)
    return console.file.getvalue()


def kitty_images(text: str) -> list[np.ndarray]:
    """The images of kitty graphics commands, their chunks (m=1 ... m=0) joined."""
    images, pending = [], ""
    for keys, chunk in re.findall(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\", text):
        pending += chunk
        if "m=0" in keys:
            images.append(np.asarray(Image.open(io.BytesIO(base64.b64decode(pending))).convert("RGB")))
            pending = ""
    return images


@pytest.mark.parametrize("protocol", ["kitty", "iterm2"])
def test_a_grid_draws_each_map_as_an_image_of_its_values(protocol):
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(3, 28, 28))
    scale = heatmap.max_abs(maps)
    text = rendered(PixelMapGrid(maps, ["#0", "#1", "#2"], [scale] * 3, protocol))
    images = kitty_images(text) if protocol == "kitty" else \
        png_payloads(text, r"\x1b\]1337;File=inline=1;[^:]*:([A-Za-z0-9+/=]+)\x07")
    assert len(images) == 3
    for values, image in zip(maps, images):
        # off a terminal a cell counts as 10x20 pixels: a 28x28 map takes 28x14 cells, each value 10x10 pixels
        assert image.shape == (280, 280, 3)
        assert np.array_equal(image[::10, ::10], diverging_rgb_array(values, scale))
    # each image goes to its own cell of the row: up 14 lines from the saved cursor, then right by the cell
    assert re.findall(r"\x1b8\x1b\[14A\r(?:\x1b\[(\d+)C)?", text) == ["", "30", "60"]
    assert "#0" in text and "#2" in text


def test_sixel_draws_at_the_maps_size():
    text = rendered(PixelMapGrid(np.ones((1, 4, 6)), ["#0"], [1.0], "sixel"))
    # raster attributes: aspect 1:1, then 6 cells x 10 pixels wide, 2 rows x 20 pixels high
    assert re.search(r'\x1bP[0-9;]*q"1;1;60;40', text)


def test_characters_stay_exactly_the_heat_map_grid(monkeypatch):
    maps = np.random.default_rng(2).normal(size=(4, 8, 8))
    monkeypatch.setattr(pixels, "_renderer", CHARACTERS)
    assert rendered(pixels.map_grid(maps, list("abcd"))) == rendered(heatmap.map_grid(maps, list("abcd")))
    assert type(map_view(maps[0])) is heatmap.HeatMap
    monkeypatch.setattr(pixels, "_renderer", "sixel")
    assert "\x1bP" in rendered(pixels.map_grid(maps, list("abcd")))


def test_in_the_app_a_kitty_map_is_placeholders_for_an_image_of_its_values(monkeypatch):
    sent = io.StringIO()  # textual-image sends the image itself, straight to the terminal
    monkeypatch.setattr("sys.__stdout__", sent)
    monkeypatch.setattr(pixels, "_renderer", "kitty")
    values = np.random.default_rng(3).normal(size=(28, 28))
    view = map_view(values, 1.5, "#7")
    assert isinstance(view, KittyMap) and view.height(True) == heatmap.HeatMap(values, 1.5, "#7").height(True)
    lines = rendered(view).splitlines()
    assert "#7" in lines[0] and len(lines) == 1 + 14
    assert all(line.count("\U0010eeee") == 28 for line in lines[1:])  # one placeholder per cell
    (image,) = kitty_images(sent.getvalue())
    assert np.array_equal(image[::10, ::10], diverging_rgb_array(values, 1.5))


def test_in_the_app_a_grid_is_kitty_maps_laid_out_as_text(monkeypatch):
    monkeypatch.setattr("sys.__stdout__", io.StringIO())
    monkeypatch.setattr(pixels, "_renderer", "kitty")
    monkeypatch.setattr(pixels, "_in_app", True)
    maps = np.random.default_rng(4).normal(size=(3, 6, 6))
    text = rendered(pixels.map_grid(maps, ["a", "b", "c"], cols=3))
    assert "\x1b7" not in text  # no drawing at the cursor
    first_row = text.splitlines()[1]
    assert first_row.count("\U0010eeee") == 3 * 6  # three maps side by side, a placeholder per cell


def test_one_map_in_a_commands_output_is_an_image_of_its_values(monkeypatch):
    values = np.random.default_rng(5).normal(size=(28, 28))
    monkeypatch.setattr(pixels, "_renderer", "iterm2")
    view = map_view(values, 2.0)
    assert isinstance(view, heatmap.HeatMap) and view.height(True) == 14  # the cells of the characters
    text = rendered(view)
    (image,) = png_payloads(text, r"\x1b\]1337;File=inline=1;[^:]*:([A-Za-z0-9+/=]+)\x07")
    assert np.array_equal(image[::10, ::10], diverging_rgb_array(values, 2.0))
    assert text.count("\n") == 14  # no title: no line for one
    monkeypatch.setattr(pixels, "_in_app", True)  # the app's is anchored after its cells, not a cursor's grid
    assert type(map_view(values, 2.0)) is pixels.AnchoredMap


# -- surfaces and conv views ------------------------------------------------------------------------------------

ITERM_IMAGE = r"\x1b\]1337;File=inline=1;[^:]*:([A-Za-z0-9+/=]+)\x07"


def iterm_images(text: str) -> list[np.ndarray]:
    return png_payloads(text, ITERM_IMAGE)


def block_centres(image: np.ndarray, block: int = 10) -> np.ndarray:
    """One pixel per value of an image enlarged block x block (off a terminal a cell is 10x20 pixels, so a
    half-block cell's value is 10x10)."""
    return image[block // 2::block, block // 2::block]


def assert_surface_image(image, values, scale, dots_at, dot_rgb):
    """The image is the values under the colour scale, each a 10x10 block, except that each dot's block holds
    a dot of its class colour; every other pixel is its value's colour."""
    expected = diverging_rgb_array(values, scale).repeat(10, axis=0).repeat(10, axis=1)
    away = np.ones(values.shape, bool)
    for r, c in dots_at:
        away[r, c] = False
    away = away.repeat(10, axis=0).repeat(10, axis=1)
    assert image.shape == expected.shape
    assert np.array_equal(image[away], expected[away])
    for (r, c), rgb in zip(dots_at, dot_rgb):
        block = image[r * 10:(r + 1) * 10, c * 10:(c + 1) * 10]
        assert (block == rgb).all(axis=-1).sum() >= 8, (r, c)  # the dot is drawn in its colour


@pytest.fixture
def drawing(monkeypatch):
    """Sets how this process draws maps for one test (monkeypatch puts it back)."""
    def use(renderer, in_app=False):
        monkeypatch.setattr(pixels, "_renderer", renderer)
        monkeypatch.setattr(pixels, "_in_app", in_app)
    use(pixels.renderer(), pixels._in_app)
    return use


@pytest.fixture
def a_terminal(monkeypatch, drawing):
    """Makes the test's stdout (captured: call it in the test itself) a plain terminal (xterm-256color) for a
    command, which sets how maps are drawn (put back after the test)."""
    def become():
        for name in ("NO_COLOR", "TMUX", "TERM_PROGRAM", "TEXTUAL_DRIVER", "PYNN_PIXELS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("TERM", "xterm-256color")
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    return become


def test_a_surface_image_is_its_values_with_the_points_as_dots_of_their_class_colours(drawing):
    from pynn_tui.render.surface import CLASS_RGB, SurfaceMap, marks, surface_view

    values = np.random.default_rng(6).normal(size=(12, 12))
    # the box (0..12, 0..12): a training point of class 0 in value (row 2, column 3), a test point of class 1
    # in (row 9, column 7), row 0 at the top
    points = marks([[0, 12], [0, 12]], 12, np.array([[3.5, 9.5]]), np.array([0]), np.array([[7.5, 2.5]]),
                   np.array([1]), True)
    drawing(CHARACTERS)
    assert type(surface_view(values, 2.0, "out", points)) is SurfaceMap  # characters: points as glyphs
    drawing("iterm2")
    (image,) = iterm_images(rendered(surface_view(values, 2.0, "out", points)))
    assert_surface_image(image, values, 2.0, [(2, 3), (9, 7)], [CLASS_RGB[0], CLASS_RGB[1]])
    ring = image[90:100, 70:80]
    assert tuple(ring[5, 5]) == tuple(diverging_rgb_array(values, 2.0)[9, 7])  # a test point is a ring: hollow
    assert tuple(block_centres(image)[2, 3]) == CLASS_RGB[0]                    # a training point a disc


def test_pynn_surface_draws_the_surfaces_as_images_of_the_models_outputs(capsys, a_terminal, tmp_path):
    from pynn.files import load_model
    from pynn.inspect.surface import plane_of, surfaces
    from pynn_tui.cli import main
    from pynn_tui.render.surface import marks

    path = tmp_path / "xor.npz"
    assert main(["train", "--data", "xor", "--model", "2-3:tanh-2", "--epochs", "2", "--save", str(path)]) == 0
    capsys.readouterr()
    a_terminal()
    assert main(["surface", str(path), "--pixels", "iterm2", "--resolution", "20"]) == 0
    text = capsys.readouterr().out
    images = iterm_images(text)
    assert len(images) == 1 + 3  # the output's surface, then each of the 3 hidden neurons'
    model, _ = load_model(str(path))
    data = model.run.load_data()
    plane = plane_of(data)
    result = surfaces(model, plane, 20, neuron_resolution=10)
    points = marks(plane.extent, 20, plane.x_train, plane.y_train, plane.x_test, plane.y_test, True)
    assert_surface_image(images[0], result.decision, 1.0, list(zip(points.rows, points.cols)),
                         [((rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255) for rgb in points.rgb])
    shared = heatmap.max_abs(result.layers[0].maps)
    for neuron, image in zip(result.layers[0].maps, images[1:]):
        assert np.array_equal(block_centres(image), diverging_rgb_array(neuron, shared))
    assert "training points" in text and "▀" not in text  # no surface left in characters


def test_the_filters_are_images_one_per_input_channel_on_their_scale(drawing):
    from types import SimpleNamespace

    from pynn_tui.render.filters import enlarged, filter_view

    rng = np.random.default_rng(7)
    fm = SimpleNamespace(layer=2, filters=[0, 1], bias=np.zeros(2), maps=rng.normal(size=(2, 3, 5, 5)),
                         reads_the_input=False)
    drawing("iterm2")
    images = iterm_images(rendered(filter_view(fm)))
    assert len(images) == 2 * 3
    shared = heatmap.max_abs(fm.maps)
    for values, image in zip(fm.maps.reshape(6, 5, 5), images):
        # a 5x5 filter is enlarged to 10x10 values as in characters, each value 2x2 of them: 20x20 pixels
        assert np.array_equal(block_centres(image), diverging_rgb_array(enlarged(values), shared))
        assert np.array_equal(image[::20, ::20], diverging_rgb_array(values, shared))
    drawing("kitty", in_app=True)  # the app's Weights screen: kitty placeholders laid out as text
    assert "\U0010eeee" in rendered(filter_view(fm))


def test_pynn_probe_draws_a_conv_models_feature_maps_as_images(capsys, a_terminal, tmp_path):
    import pynn
    from pynn.inspect.filters import feature_maps
    from pynn_tui.cli import main
    from pynn_tui.render.filters import enlarged

    data = pynn.load_dataset("digits", n=100)
    model = pynn.build("28x28-conv4k5-pool2-8-10", data, activation="relu")
    path = str(pynn.save(model, tmp_path / "conv.npz"))
    a_terminal()
    assert main(["probe", path, "--data", "digits", "--limit", "100", "--pixels", "iterm2"]) == 0
    images = iterm_images(capsys.readouterr().out)
    stages = feature_maps(model, data.x_test[0])
    assert len(images) == sum(len(s.maps) for s in stages) == 2 * 4  # after the conv, after the pool
    drawn = iter(images)
    for stage in stages:
        scale = heatmap.max_abs(stage.maps)
        for values in stage.maps:
            image = next(drawn)
            assert np.array_equal(block_centres(image), diverging_rgb_array(enlarged(values), scale))
    capsys.readouterr()
    assert main(["probe", path, "--data", "digits", "--limit", "100", "--pixels", "off"]) == 0
    assert "\x1b]1337" not in capsys.readouterr().out


# -- sixel and iTerm2 in the app ---------------------------------------------------------------------------------

def frame_text(app) -> str:
    """What the app writes to the terminal for a whole frame (a headless app writes nothing itself)."""
    return app.screen._compositor.render_update(full=True).render_segments(app.console)


def anchors_at(app) -> list[tuple[int, int]]:
    """(column, line) on the screen of each image anchor, as the compositor lays out the frame."""
    found = []
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        x = 0
        for segment in strip:
            if pixels.is_anchor(segment):
                found.append((x, y))
            x += segment.cell_length
    return found


class MapApp:
    """An app with lines of text above and below a map in a scrolling body, the map in a PixelStatic as the
    screens hold them."""

    @staticmethod
    def make(view, above: int):
        from textual.app import App
        from textual.containers import VerticalScroll
        from textual.widgets import Static

        from pynn_tui.screens.widgets import PixelStatic

        class Host(App):
            def compose(self):
                with VerticalScroll(id="body"):
                    yield Static("\n".join(f"line {i}" for i in range(above)))
                    yield PixelStatic(view, id="map")
                    yield Static("\n".join(f"below {i}" for i in range(above)))
        return Host()


@pytest.mark.parametrize("protocol", ["iterm2", "sixel"])
async def test_in_the_app_a_map_is_blank_cells_with_its_image_drawn_over_them(drawing, protocol):
    drawing(protocol, in_app=True)
    values = np.random.default_rng(8).normal(size=(8, 12))
    view = map_view(values, 2.0, "#3")
    assert isinstance(view, pixels.AnchoredMap)
    app = MapApp.make(view, above=2)
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        # the anchor follows the map's last row of 12 cells: line 2 (text) + 1 (title) + 3, column 12
        assert anchors_at(app) == [(12, 6)]
        text = frame_text(app)
        (anchor,) = re.findall(r"\x1b7(?:\x1b\[(\d+)A)?\x1b\[(\d+)D(.*?)\x1b8", text, re.S)
        assert anchor[:2] == ("3", "12")  # up to the map's first line, back to its first column
        assert "line 1" in text and "#3" in text and "▀" not in text
        if protocol == "iterm2":
            (image,) = iterm_images(anchor[2])
            assert np.array_equal(block_centres(image), diverging_rgb_array(values, 2.0))
        else:
            assert re.match(r'\x1bP[0-9;]*q"1;1;120;80', anchor[2])  # 12 cells x 10 pixels, 4 rows x 20


async def test_in_the_app_a_map_partly_out_of_view_or_under_a_dialog_draws_no_image(drawing):
    from textual.screen import ModalScreen
    from textual.widgets import Static

    drawing("sixel", in_app=True)
    app = MapApp.make(map_view(np.ones((8, 8)), 1.0), above=18)  # the map's 4 lines from line 18 of 20
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        assert anchors_at(app) == []  # its last line is below the screen, its image would run off
        app.query_one("#body").scroll_to(y=4, animate=False)
        await pilot.pause()
        assert len(anchors_at(app)) == 1  # wholly in view
        app.query_one("#body").scroll_to(y=20, animate=False)
        await pilot.pause()
        assert anchors_at(app) == []  # its first line is above the body: the image would cover what is there
        app.query_one("#body").scroll_to(y=4, animate=False)

        class Dialog(ModalScreen):
            def compose(self):
                yield Static("a dialog")
        app.push_screen(Dialog())
        await pilot.pause()
        assert "\x1bP" not in frame_text(app)  # the screen below, drawn behind the dialog, draws no image


async def test_the_weights_screen_draws_a_conv_models_filters_as_images_in_the_app(drawing):
    from textual.app import App

    from apptext import wait_until
    from pynn.inspect.filters import filter_maps
    from pynn_tui.render.filters import enlarged
    from pynn_tui.screens.weights import WeightsScreen
    from pynn_tui.workbench import Workbench

    drawing("iterm2", in_app=True)
    bench = Workbench(data="digits", data_options={"n": 100}, spec="28x28-conv4k5-pool2-8-10")

    class Host(App):
        def on_mount(self):
            self.push_screen(WeightsScreen(bench))

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: anchors_at(app), "the filters drawn")
        images = iterm_images(frame_text(app))
    filters = filter_maps(bench.model, 1).maps[:, 0]
    assert len(images) == len(filters) == 4
    for values, image in zip(filters, images):
        assert np.array_equal(block_centres(image), diverging_rgb_array(enlarged(values), heatmap.max_abs(filters)))


def test_pynn_triggers_draws_a_units_weights_as_an_image(capsys, a_terminal, tmp_path):
    import pynn
    from pynn_tui.cli import main

    data = pynn.load_dataset("digits", n=100)
    model = pynn.build("784-6-10", data)
    path = str(pynn.save(model, tmp_path / "dense.npz"))
    a_terminal()
    assert main(["triggers", path, "--unit", "2", "--top", "1", "--steps", "2", "--pixels", "iterm2"]) == 0
    images = iterm_images(capsys.readouterr().out)
    weights = model.layers[0].W[2].reshape(28, 28)  # its incoming weights, the first map the command draws
    assert np.array_equal(block_centres(images[0]), diverging_rgb_array(weights, heatmap.max_abs(weights)))
