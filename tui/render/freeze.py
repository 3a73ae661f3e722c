"""The softmax freeze side by side (pynn.experiments.freeze's result): the two heads' scores, their loss curves
against the floor of the softmax twice, the probabilities each answers and the loss scores, an example output,
the gradient norms per layer, and the paragraph that says why. `pynn freeze` prints it."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from pynn_tui.labels import shown_char
from pynn_tui.render.charts import LineChart, Series

HEAD_WORDS = {"once": "softmax once", "twice": "softmax twice"}


def freeze_view(result: dict) -> Group:
    once, twice = result["heads"]
    k = result["classes"]
    title = (f"the softmax once and twice: {result['model']} on {result['data']}, seed {result['seed']}, "
             f"{k} classes")
    return Group(Text(title, style="bold"), scores_table(result), Text(""),
                 Text("training loss, batch by batch (averaged over stretches)", style="bold"), loss_chart(result),
                 Text(""), probabilities_table(result), Text(""), example_table(once, twice), Text(""),
                 gradients_table(once, twice), Text(""), Text(result["explanation"]))


def scores_table(result: dict) -> Table:
    table = Table(title="scores", title_justify="left")
    for column in ("head", "test accuracy", "test loss", "training loss, first → last epoch"):
        table.add_column(column, justify="left" if column == "head" else "right")
    for head in result["heads"]:
        acc, losses = head["test_accuracy"], [h["loss"] for h in head["history"]]
        trend = f"{losses[0]:.3f} → {losses[-1]:.3f}" if losses else ""
        table.add_row(HEAD_WORDS[head["label"]], "" if acc is None else f"{acc:.2%}", f"{head['test_loss']:.3f}",
                      trend)
    return table


def loss_chart(result: dict) -> LineChart:
    """Both heads' batch losses, with the two levels that frame the softmax twice: the uniform output's loss
    (ln K) and the floor it can never pass (ln(e+K-1) - 1)."""
    bounds = result["bounds"]
    series = [Series(HEAD_WORDS[h["label"]], h["loss_curve"]["epoch"], h["loss_curve"]["loss"])
              for h in result["heads"]]
    ends = [x for s in series for x in s.x]
    span = [min(ends, default=0.0), max(ends, default=1.0)]
    series += [Series(f"the floor of the softmax twice, ln(e+K-1) - 1 = {bounds['loss_floor']:.3f}", span,
                      [bounds["loss_floor"]] * 2),
               Series(f"a uniform output, ln K = {bounds['loss_uniform']:.3f}", span, [bounds["loss_uniform"]] * 2)]
    epochs = max((len(h["history"]) for h in result["heads"]), default=1)
    return LineChart(series, height=12, x_ticks=list(range(epochs + 1)), y_range=(0.0, _top(series)),
                     x_label="epoch")


def _top(series: list[Series]) -> float:
    return max((y for s in series for y in s.y), default=1.0) * 1.05


def probabilities_table(result: dict) -> Table:
    once, twice = result["heads"]
    bounds = result["bounds"]
    steps = f" x {once['steps']} steps" if once.get("steps") else ""
    table = Table(title=f"output probabilities on {once['measured']} test samples{steps} (uniform: 1/K = "
                        f"{bounds['uniform']:.3f})", title_justify="left",
                  caption=f"With the softmax twice the loss scores softmax(p) of the output's p, never more than "
                          f"e/(e+K-1) = {bounds['scored_largest']:.3f} for a class; with it once the two are the "
                          "same.", caption_justify="left")
    for column in ("", "softmax once", "softmax twice"):
        table.add_column(column, justify="left" if not column else "right")
    for what, key, words in (("answered", "largest", "the model answers: largest probability"),
                             ("answered", "mean_top", "the model answers: mean of each top probability"),
                             ("scored", "largest", "the loss scores: largest probability"),
                             ("scored", "mean_top", "the loss scores: mean of each top probability")):
        table.add_row(words, *(f"{head[what][key]:.3f}" for head in (once, twice)))
    table.add_row("outputs giving the commonest answer", *(f"{head['answered']['common_share']:.0%} "
                                           f"({_name(head, head['answered']['common_answer'])})"
                                           for head in (once, twice)))
    return table


def example_table(once: dict, twice: dict) -> Table:
    table = Table(title="the first test output's most probable classes", title_justify="left")
    for column in ("softmax once", "softmax twice: answered", "softmax twice: scored by the loss"):
        table.add_column(column, justify="right")
    rows = zip(once["example"]["answered"], twice["example"]["answered"], twice["example"]["scored"])
    for cells in rows:
        table.add_row(*(f"{_name(once, c)}  {p:.3f}" for c, p in cells))
    return table


def gradients_table(once: dict, twice: dict) -> Table:
    table = Table(title="gradient norm per layer: at the start (the same weights and batch for both) and over "
                        "the last epoch", title_justify="left")
    for column in ("layer", "start: once", "twice", "once / twice", "last epoch: once", "twice", "once / twice"):
        table.add_column(column, justify="right")
    for i, layer in enumerate(once["layers"]):
        cells = []
        for key in ("start_grad_norms", "last_grad_norms"):
            a, b = once[key][i], twice[key][i]
            cells += [f"{a:.3g}", f"{b:.3g}", f"{a / b:.3g}x" if b > 0 else "∞"]
        table.add_row(str(layer), *cells)
    return table


def _name(head: dict, index: int) -> str:
    names = head.get("class_names")
    return shown_char(names[index]) if names and 0 <= index < len(names) else str(index)
