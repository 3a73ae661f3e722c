"""Why a sample got the class it got, drawn from a pynn.inspect.blame.LogitGap: the gap between the two
logits as the sum of the units' shares and the bias, the units with the largest shares on each side with
their weight maps, and the saliency of the input (the gap's gradient) beside the input. `pynn probe --why`
prints it, the Probe screen shows it on w."""
from __future__ import annotations

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.segment import Segment
from rich.text import Text

from pynn_tui.labels import as_text, shown_char
from pynn_tui.render.charts import BarChart
from pynn_tui.render.heatmap import HeatMap, HeatMapGrid, LabelledStrips, Legend, map_grid, max_abs

CHARACTER_ROWS = 8  # a character model's vocabulary is 50-odd rows; the few that matter most are shown


def blame_view(g, sample: np.ndarray, name, chars: list[str] | None = None) -> Group:
    """The picture of what decided sample g.index; sample: its input, name: a class index's label, chars: a
    character model's vocabulary (its input is then shown as text)."""
    p, o = name(g.predicted), name(g.other)
    parts = [Text(_headline(g, p, o), style="bold"), Text(_equation(g, p, o)),
             *_shares(g, p, o), *_unit_maps(g),
             Text(f"saliency: how z[{p}] − z[{o}] moves with each input value (its gradient); blue raises it "
                  f"(more {p}), red lowers it (more {o})", style="italic")]
    if chars:
        parts += _sequence_saliency(g, sample, chars)
    else:
        layout = g.layout
        pictures = [HeatMap(np.reshape(sample, layout), title="input"),
                    HeatMap(np.reshape(g.saliency, layout), title=f"saliency ±{max_abs(g.saliency):.2g}")]
        parts += [HeatMapGrid(pictures), Legend(None, f"toward {o}", f"toward {p}")]
    return Group(*parts, Text(""))


def _headline(g, p: str, o: str) -> str:
    at = f" at the last step (step {g.step + 1})" if g.step is not None else ""
    against = "the true class" if g.other_is_true else f"the runner-up; {p} is right"
    return f"why {p} and not {o} ({against}){at}: the logit gap z[{p}] − z[{o}] = {g.gap:+.3f}"


def _equation(g, p: str, o: str) -> str:
    shares = g.contributions
    where = f"the {len(shares)} units of layer {g.hidden_layer}" if g.hidden_layer else f"the {len(shares)} inputs"
    return (f"= {where}: {g.units_total:+.3f} (toward {p} {shares[shares > 0].sum():+.3f}, toward {o} "
            f"{shares[shares < 0].sum():+.3f}) + the bias difference b[{p}] − b[{o}]: {g.bias_term:+.3f}")


def _shares(g, p: str, o: str) -> list:
    units = g.toward_predicted + g.toward_other
    if not units:
        return []
    what = "units" if g.hidden_layer else "inputs"
    rows = [(f"#{u} {g.activations[u]:.2f} × {g.weight_difference[u]:+.2f}", g.contributions[u]) for u in units]
    return [Text(f"the {what} with the largest shares a_j × (w[{p},j] − w[{o},j]) on each side:", style="italic"),
            BarChart(rows, scale=max_abs(g.contributions), value_format="{:+.3f}")]


def _unit_maps(g) -> list:
    if g.unit_maps is None:
        return [Text(g.no_unit_maps, style="italic")] if g.hidden_layer else []
    maps = g.unit_maps
    kind = "back-projected maps (approximate)" if maps.back_projected else "weight maps"
    titles = [f"#{u} {g.contributions[u]:+.2f}" for u in maps.neurons]
    return [Text(f"their {kind}, in that order", style="italic"), map_grid(maps.maps, titles)]


def _sequence_saliency(g, sample: np.ndarray, chars: list[str]) -> list:
    """A character model's saliency: at the character read at each step (the gradient times the one-hot
    input), under the text; then, a row each, the characters whose presence would move the gap most."""
    at_input = (g.saliency * np.asarray(sample)).sum(axis=-1)
    steps = g.saliency.shape[0]
    strongest = np.argsort(-np.abs(g.saliency).max(axis=0), kind="stable")[:CHARACTER_ROWS]
    scale = max_abs(g.saliency)
    labels = [shown_char(chars[c]) for c in strongest]
    indent = max(len(label) for label in labels) + 1  # the text's steps stand over the rows' steps below
    return [TextOverStrip(as_text(sample, chars), at_input, indent),
            Text(f"the {len(strongest)} characters that would move it most, at each step (1-{steps} across)",
                 style="italic"),
            LabelledStrips([g.saliency[:, c] for c in strongest], labels, scale),
            Legend(scale, "lowers the gap", "raises it")]


class TextOverStrip:
    """A line of text with a one-row heat map under it, a cell per character, both indented and wrapped at the
    same width so every cell stays under its character."""

    def __init__(self, text: str, values: np.ndarray, indent: int = 0):
        self.text, self.values, self.indent = text, np.asarray(values, np.float64), indent
        self.scale = max_abs(self.values)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width - self.indent)
        pad = Segment(" " * self.indent)
        for start in range(0, len(self.text), width):
            yield from (pad, Segment(self.text[start:start + width]), Segment.line())
            for line in console.render_lines(HeatMap(self.values[start:start + width], self.scale),
                                             options.update_width(width), pad=False):
                yield from (pad, *line, Segment.line())
