"""Renderers: a known image comes out in the right colours (or characters with colour off), maps and charts
take the cells they should, legends state the scale, and nothing colours the output when colour is off."""
import re

import numpy as np
import pytest
from rich.color import Color
from rich.console import Console, Group
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from pynn_tui.output import LAYOUT_WIDTH, Output
from pynn_tui.render.charts import BarChart, Histogram, LineChart, Marker, Series
from pynn_tui.render.colour import NEGATIVE, POSITIVE, ZERO, colour_on, diverging_rgb, plain_char
from pynn_tui.render.heatmap import HeatMap, HeatMapGrid, LabelledStrips, Legend, map_grid

ANSI = re.compile(r"\x1b\[")


def colour_console(width=80):
    return Console(width=width, force_terminal=True, color_system="truecolor", legacy_windows=False)


def plain_console(width=80):
    return Console(width=width, no_color=True, color_system=None, force_terminal=False)


def text_of(renderable, console) -> str:
    with console.capture() as cap:
        console.print(renderable)
    return cap.get()


def cell_lines(renderable, console) -> list[list[Segment]]:
    """The rendered lines as lists of visible segments."""
    lines = console.render_lines(renderable, console.options, pad=False)
    return [[s for s in line if s.text] for line in lines]


def rgb(color: Color) -> tuple[int, int, int]:
    triplet = color.get_truecolor()
    return triplet.red, triplet.green, triplet.blue


# -- the palette ----------------------------------------------------------------------------------------

def test_the_scale_runs_from_red_through_dark_to_blue():
    assert diverging_rgb(1.0, 1.0) == POSITIVE and diverging_rgb(-2.0, 2.0) == NEGATIVE
    assert diverging_rgb(0.0, 1.0) == ZERO and diverging_rgb(5.0, 1.0) == POSITIVE   # clipped
    half = diverging_rgb(0.5, 1.0)
    assert all(min(z, p) <= h <= max(z, p) for z, p, h in zip(ZERO, POSITIVE, half)) and half not in (ZERO, POSITIVE)


@pytest.mark.parametrize("value,char", [(1.0, "#"), (0.5, "+"), (0.2, "."), (0.05, " "), (0.0, " "),
                                        (-0.2, "-"), (-0.5, "="), (-1.0, "X")])
def test_without_colour_each_value_is_a_character_of_its_sign(value, char):
    assert plain_char(value, 1.0) == char


def test_colour_follows_the_console():
    assert colour_on(colour_console())
    assert not colour_on(plain_console())
    assert not colour_on(Console(force_terminal=True, color_system="truecolor", no_color=True))


# -- heat maps ------------------------------------------------------------------------------------------

def test_a_known_image_renders_as_those_colours_two_pixels_per_cell():
    image = np.array([[1.0, -1.0, 0.0],
                      [0.5, 0.0, -0.5],
                      [-0.25, 1.0, 0.0]])
    lines = cell_lines(HeatMap(image, scale=1.0), colour_console())
    assert len(lines) == 2 and all(len(line) == 3 for line in lines)
    for c, seg in enumerate(lines[0]):
        assert seg.text == "▀"
        assert rgb(seg.style.color) == diverging_rgb(image[0, c], 1.0)
        assert rgb(seg.style.bgcolor) == diverging_rgb(image[1, c], 1.0)
    for c, seg in enumerate(lines[1]):                     # an odd last row: upper half only
        assert rgb(seg.style.color) == diverging_rgb(image[2, c], 1.0) and seg.style.bgcolor is None


def test_a_known_image_renders_as_those_characters_with_colour_off():
    cross = np.full((5, 5), -0.5)
    cross[2, :] = cross[:, 2] = 1.0
    text = text_of(HeatMap(cross), plain_console())
    assert not ANSI.search(text)
    assert text.splitlines() == ["==#==", "==#==", "#####", "==#==", "==#=="]


def test_map_size_in_cells():
    values = np.zeros((28, 28))
    colour = HeatMap(values, title="#3")
    assert colour.width == 28 and colour.height(colour=True) == 15 and colour.height(colour=False) == 29
    lines = text_of(colour, colour_console()).splitlines()
    assert len(lines) == 15 and all(len(re.sub(r"\x1b\[[0-9;]*m", "", l)) == 28 for l in lines)
    assert len(text_of(colour, plain_console()).splitlines()) == 29


def test_a_strip_takes_one_line_and_wraps_to_the_width():
    strip = HeatMap(np.linspace(-1, 1, 50))
    assert len(text_of(strip, colour_console(width=80)).splitlines()) == 1
    lines = text_of(strip, plain_console(width=20)).splitlines()
    assert [len(l) for l in lines] == [20, 20, 20] and len(lines[-1].rstrip()) == 10
    assert lines[0][0] == "X" and lines[-1].rstrip()[-1] == "#"


def test_a_grid_puts_as_many_maps_in_a_row_as_asked_or_as_fit():
    maps = [HeatMap(np.ones((4, 4)) * i, scale=5.0, title=f"#{i}") for i in range(5)]
    lines = text_of(HeatMapGrid(maps, cols=2), plain_console()).splitlines()
    assert len(lines) == 3 * 5 + 2                       # three rows of title + 4 pixel lines, blank between
    assert lines[0].split() == ["#0", "#1"] and lines[12].split() == ["#4"] and lines[5] == ""
    assert max(len(l.rstrip()) for l in lines) <= 4 + 2 + 4
    fitted = text_of(HeatMapGrid(maps), plain_console(width=20)).splitlines()
    assert fitted[0].split() == ["#0", "#1", "#2"]        # (20 + 2) // (4 + 2) maps per row


def test_shared_and_separate_scales():
    maps = np.stack([np.full((2, 2), 1.0), np.full((2, 2), -2.0)])
    shared = text_of(map_grid(maps, ["a", "b"], "shared"), plain_console())
    assert "-2 X = -" in shared and "+2 likes" in shared
    assert shared.splitlines()[1].startswith("++")       # 1 of 2 is a medium positive
    each = text_of(map_grid(maps, ["a", "b"], "each"), plain_console())
    assert "a ±1" in each and "b ±2" in each and "scale: the ± in each title" in each
    assert each.splitlines()[1].startswith("##")         # on its own scale, 1 is the maximum


def test_the_legend_states_the_range_in_both_modes():
    for console in (colour_console(), plain_console()):
        text = text_of(Legend(0.42), console)
        assert "-0.42" in text and "+0.42" in text and "likes" in text and "dislikes" in text
    assert not ANSI.search(text_of(Legend(0.42), plain_console()))
    colour = text_of(Legend(1.0, steps=3), colour_console())
    assert colour.count("█") == 7


def test_labelled_strips_put_each_label_before_its_values():
    text = text_of(LabelledStrips([[1, -1], [0.5, 0]], ["first", "b"], scale=1.0), plain_console())
    assert text.splitlines() == ["first #X", "    b + "]


class ReferenceMap(HeatMap):
    """A heat map drawn the first, plain way: a new Style and Segment for every cell, pixel by pixel. The fast
    HeatMap must give the same segments and bytes (and a grid of these takes Rich's own render_lines path)."""

    def __rich_console__(self, console, options):
        width = min(self.width, options.max_width)
        if self.title:
            yield Segment(self.title[:width].center(width), Style(bold=True))
            yield Segment.line()
        h, w = self.values.shape
        scale = self.scale

        def cell(glyph, upper, lower=None):
            bg = None if lower is None else Color.from_rgb(*diverging_rgb(lower, scale))
            return Segment(glyph, Style(color=Color.from_rgb(*diverging_rgb(upper, scale)), bgcolor=bg))

        def pad(used):
            if width > used:
                yield Segment(" " * (width - used))
            yield Segment.line()

        if h == 1:
            for start in range(0, w, max(width, 1)):
                chunk = self.values[0, start:start + width]
                for v in chunk:
                    yield cell("█", v) if colour_on(console) else Segment(plain_char(v, scale))
                yield from pad(len(chunk))
        elif colour_on(console):
            for r in range(0, h, 2):
                for c in range(min(w, width)):
                    yield cell("▀", self.values[r, c], self.values[r + 1, c] if r + 1 < h else None)
                yield from pad(min(w, width))
        else:
            for r in range(h):
                yield Segment("".join(plain_char(v, scale) for v in self.values[r, :width]))
                yield from pad(min(w, width))


def random_maps(rng):
    """Maps of awkward shapes and values: odd heights, strips, a wide title, exact zeros, repeats, NaN and inf."""
    shapes = [(28, 28), (7, 5), (1, 37), (3, 12), (9, 1), (2, 40)]
    maps = []
    for i, shape in enumerate(shapes):
        values = rng.normal(size=shape) * rng.choice([0.01, 1.0, 50.0])
        values[rng.random(shape) < 0.1] = 0.0
        values[rng.random(shape) < 0.1] = values.flat[0]                 # repeated colour pairs
        if i == 1:
            values[0, 0], values[-1, -1], values[1, 1] = np.nan, np.inf, -np.inf
        maps.append((values, [None, "h1", "a wide title ±0.5", "界面"][i % 4]))
    return maps


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("width", [160, 30, 9])
def test_fast_heat_maps_draw_exactly_what_the_cell_by_cell_drawing_did(seed, width):
    rng = np.random.default_rng(seed)
    maps = random_maps(rng)
    scale = None if seed % 2 else 0.7
    fast = [HeatMap(v, scale, t) for v, t in maps]
    slow = [ReferenceMap(v, scale, t) for v, t in maps]
    for console in (colour_console(width), plain_console(width)):
        for f, s in zip(fast, slow):
            assert text_of(f, console) == text_of(s, console)
            assert console.render_lines(f, pad=True) == console.render_lines(s, pad=True)
        for cols in (None, 2):
            assert text_of(HeatMapGrid(fast, cols), console) == text_of(HeatMapGrid(slow, cols), console)


def test_redrawing_a_map_reuses_its_cells():
    values = np.random.default_rng(5).normal(size=(6, 6))
    first, again = (cell_lines(HeatMap(values), colour_console()) for _ in range(2))
    assert first == again and all(a is b for line, other in zip(first, again) for a, b in zip(line, other))


# -- charts ---------------------------------------------------------------------------------------------

def test_signed_bars_grow_from_a_middle_axis():
    text = text_of(BarChart([("up", 1.0), ("down", -0.5)]), plain_console(width=40))
    up, down = text.splitlines()
    axis = up.index("│")
    assert down.index("│") == axis
    assert up[axis + 1] == "█" and up[axis - 1] == " " and down[axis - 1] == "█" and down[axis + 1] == " "
    assert up.count("█") == pytest.approx(2 * down.count("█"), abs=1)
    assert up.endswith("+1.000") and down.endswith("-0.500")


def test_bars_for_positive_values_have_no_negative_side():
    text = text_of(BarChart([("a", 0.25), ("b", 1.0)], scale=1.0, value_format="{:.0%}"), plain_console(30))
    a, b = text.splitlines()
    half_cells = lambda line: 2 * line.count("█") + line.count("▌")
    assert "│" not in text and a.endswith("25%") and half_cells(b) == 4 * half_cells(a)


def test_a_line_chart_places_points_ticks_and_markers():
    chart = LineChart([Series("acc", [1, 10, 100], [0.2, 0.5, 0.9])], height=5, x_log=True, x_ticks=[1, 10, 100],
                      markers=[Marker(1000, "a", "rule = 1000")], y_format="{:.0%}")
    lines = text_of(chart, plain_console(width=40)).splitlines()
    plot = lines[:5]
    points = sorted((line.index("●"), r) for r, line in enumerate(plot) if "●" in line)
    assert [r for _, r in points] == [4, 2, 0]            # rising accuracy: each point higher than the last
    assert points[0][0] == len("20% ┤")                   # the smallest x on the first column
    assert plot[0].startswith("90% ┤") and plot[-1].startswith("20% ┤")
    assert lines[6].split() == ["1", "10", "100"]
    assert lines[7].strip() == "a" and lines[7].rstrip().endswith("a")   # the marker stretches the axis
    assert "┊a rule = 1000" in lines[-1] and "● acc" in text_of(chart, plain_console(40))
    assert all(line.count("┊") == 1 for line in plot)


def test_a_histogram_is_as_tall_as_asked_with_its_range_below():
    text = text_of(Histogram([1, 4, 2], [-1.0, 0.0, 1.0, 2.0], height=2, title="w"), plain_console())
    lines = text.splitlines()
    assert lines == ["w", " █ ", "▄██", "-1 .. 2"]


def test_charts_carry_colour_only_when_allowed():
    chart = BarChart([("a", 1.0), ("b", -1.0)])
    assert ANSI.search(text_of(chart, colour_console()))
    assert not ANSI.search(text_of(chart, plain_console()))


# -- piped output -----------------------------------------------------------------------------------------

def test_piped_pictures_keep_their_layout_width_while_text_and_tables_run_long(capsys):
    table = Table("name", "description")
    table.add_row("wide", "y" * 150)
    Output().show(Group(Text("a sentence " * 20), table, BarChart([("up", 1.0), ("down", -0.5)])))  # piped
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].rstrip() == ("a sentence " * 20).rstrip()   # one unbroken line
    table_lines = lines[1:6]
    assert len({len(line) for line in table_lines}) == 1 and "y" * 150 in table_lines[3]
    up, down = lines[6:]
    assert len(up) == len(down) == LAYOUT_WIDTH and up.endswith("+1.000")   # the chart fills the layout width


def test_a_map_drawn_for_256_colours_first_still_draws_true_colour_after():
    """Rich keeps a style's escape codes on the style for the first colour system it is drawn for; the cached
    cells are per colour system, so a 256-colour console (a command under TERM=xterm-256color, say) earlier in
    the process does not turn a truecolor console's maps into 256 colours."""
    values = np.random.default_rng(7).normal(size=(6, 6))
    values[0, 0] = 0.0  # the zero colour, which every map has
    expected = text_of(ReferenceMap(values, 1.0), colour_console())
    as_256 = Console(width=80, force_terminal=True, color_system="256", legacy_windows=False)
    assert "38;5;" in text_of(HeatMap(values, 1.0), as_256)
    assert text_of(HeatMap(values, 1.0), colour_console()) == expected
