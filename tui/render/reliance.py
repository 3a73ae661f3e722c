"""What one output class relies on, drawn from a pynn.inspect.contributions.Reliance: the hidden units named
on each side, every unit's weight to the output beside that weight x its mean activation, those units' weight
maps and the class template. `pynn explain` prints them, the Outputs screen shows them."""
from __future__ import annotations

import numpy as np
from rich.table import Table
from rich.text import Text

from pynn_tui.render.charts import BarChart
from pynn_tui.render.heatmap import Legend
from pynn_tui.render.pixels import map_grid, map_view  # images where the terminal draws them


def rankings(r) -> list[Text]:
    """The most positive and most negative units, by raw weight and by weight x mean activation."""
    return [Text(_ranking("by raw weight", r.top_positive, r.top_negative, r.weights)),
            Text(_ranking("by weight x mean activation", r.top_positive_weighted, r.top_negative_weighted,
                          r.weighted))]


def reliance_bars(r, measured_on: str) -> Table:
    """Every unit's weight to the output beside that weight x its mean activation, both in the order of the
    weights; measured_on says which samples the activations are the mean of ("2,000 test samples")."""
    order = np.argsort(-r.weights, kind="stable")
    return _side_by_side(BarChart([(f"#{u}", r.weights[u]) for u in order]),
                         BarChart([(f"#{u}", r.weighted[u]) for u in order]),
                         "weight to the output", f"x mean activation on {measured_on}")


def unit_maps(r, maps, direct: bool) -> list:
    """The named units' weight maps (pynn.inspect.weights.WeightMaps), titled with their weights; direct when
    the units read the input itself, so the maps are their weights rather than a back-projection."""
    if maps.maps is None:  # above a layer that has no single weight matrix (an LSTM, a conv): say why
        return [Text(maps.no_map)]
    kind = "weight maps" if direct else "back-projected maps (approximate)"
    titles = [f"#{u} {r.weights[u]:+.2f}" for u in maps.neurons]
    return [Text(f"the {kind} of those units (by raw weight; positive first)", style="bold"),
            map_grid(maps.maps, titles)]


def class_template(r, name: str) -> list:
    """The output's weights projected back onto the input, with its scale (or why there is none)."""
    if r.template is None:
        return [Text(f"No class template: {r.no_template[0].lower()}{r.no_template[1:]}")]
    return [Text(f"template of class {name!r}: the output's weights projected back onto the input (an "
                 "approximation: activations and biases ignored)", style="bold"),
            map_view(r.template), Legend(float(np.abs(r.template).max()) or 1.0)]


def _side_by_side(left, right, left_title: str, right_title: str) -> Table:
    grid = Table.grid(expand=True, padding=(0, 2))
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(Text(left_title, style="italic"), Text(right_title, style="italic"))
    grid.add_row(left, right)
    return grid


def _ranking(how: str, positive: list[int], negative: list[int], values) -> str:
    pos = ", ".join(f"#{u} ({values[u]:+.3f})" for u in positive) or "none"
    neg = ", ".join(f"#{u} ({values[u]:+.3f})" for u in negative) or "none"
    return f"{how}: most positive {pos}; most negative {neg}"
