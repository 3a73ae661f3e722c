"""The picture of one sample's journey through a network: its input, every hidden layer's activations (an
LSTM's h at the last step and at every step), the output probabilities (or values, for a regression) and the
hidden units that pushed toward the predicted and the true class. `pynn probe` prints it, the Probe screen
shows it."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from pynn_tui.labels import as_text
from pynn_tui.render.charts import BarChart
from pynn_tui.render.heatmap import HeatMap, LabelledStrips, Legend, max_abs

SQUASHED = {"sigmoid": 1.0, "tanh": 1.0, "lstm": 1.0}  # outputs with a fixed range share it as their colour
                                                       # scale (an LSTM's h is between -1 and 1)
MAX_CLASSES = 12  # output bars drawn; a character model's 60-odd classes show the likeliest


def journey_view(j, name, chars: list[str] | None = None) -> Group:
    """The picture of one sample's journey; chars: a character model's vocabulary, to show its input as
    text."""
    at = f" at the last step (step {j.step + 1})" if j.step is not None else ""
    parts = [Text(f"sample {j.index}{at}: {_verdict(j, name)}", style="bold"), Text("input", style="italic")]
    if chars:
        parts.append(Text(as_text(j.x, chars)))
    else:
        parts += [HeatMap(j.x), Legend(max_abs(j.x), "negative", "positive")]
    parts.append(Text("hidden layers' activations", style="italic"))
    for layer in j.layers:
        scale = SQUASHED.get(layer.activation)
        what = " h at the last step" if layer.steps is not None else ""
        parts.append(LabelledStrips([layer.values], [f"layer {layer.layer} ({layer.name}){what}"], scale))
        if layer.steps is not None:
            parts += [Text(f"layer {layer.layer} at every step: a row per unit (0-{layer.steps.shape[1] - 1} down), "
                           f"a column per step (1-{layer.steps.shape[0]} across)", style="italic"),
                      HeatMap(layer.steps.T, scale), Legend(scale or max_abs(layer.steps), "negative", "positive")]
    if j.classes:
        shown = _shown_classes(j.probabilities, j.true)
        title = "output probabilities" + at + ("" if len(shown) == len(j.probabilities) else
                                               f" (the {len(shown)} likeliest of {len(j.probabilities)})")
        parts += [Text(title, style="italic"),
                  BarChart([(name(c) + (" ← true" if c == j.true else ""), j.probabilities[c]) for c in shown],
                           scale=1.0, value_format="{:.1%}", emphasis={shown.index(j.predicted)}),
                  Text(_pushes(f"toward {name(j.predicted)} (predicted)", j.top_predicted, j.push_predicted, j))]
        if j.push_true is not None and j.true != j.predicted:
            parts.append(Text(_pushes(f"toward {name(j.true)} (true)", j.top_true, j.push_true, j)))
    else:
        parts += [Text(_pushes("the value up", j.top_predicted, j.push_predicted, j)),
                  Text(_pushes("the value down", j.top_against, j.push_predicted, j))]
    return Group(*parts, Text(""))


def _verdict(j, name) -> str:
    if not j.classes:
        values = ", ".join(f"{v:.4g}" for v in j.values)
        target = "" if j.target is None else f" (true: {', '.join(f'{v:.4g}' for v in j.target)})"
        return f"predicted {values}{target}"
    verdict = "" if j.true is None else (" ✓" if j.predicted == j.true else f" ✗ (true: {name(j.true)})")
    return f"predicted {name(j.predicted)} with {j.probabilities[j.predicted]:.1%}{verdict}"


def _shown_classes(probabilities, true: int | None) -> list[int]:
    """Every class, or for many classes (a character model's) the likeliest few and the true one."""
    if len(probabilities) <= MAX_CLASSES:
        return list(range(len(probabilities)))
    shown = [int(c) for c in np.argsort(-probabilities, kind="stable")[:MAX_CLASSES - 1]]
    return shown + ([true] if true is not None and true not in shown else [])


def _pushes(what: str, units: list[int], push, j) -> str:
    named = ", ".join(f"#{u} ({push[u]:+.2f})" for u in units) or "none"
    return f"layer {j.hidden_layer} units pushing {what}: {named}"
