"""`pynn ablate FILE`: silence hidden units (each in turn, or a set together) and report the accuracy lost,
overall and per class."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from pynn.errors import PynnError
from pynn.inspect.ablation import ablate
from pynn.words import plural
from pynn_tui.commands.common import add_json_arg
from pynn_tui.commands.inspecting import add_model_and_data_args, load_model_and_data, split
from pynn_tui.labels import class_name
from pynn_tui.output import Output
from pynn_tui.parsing import parse_units
from pynn_tui.render.charts import BarChart


def register(sub) -> None:
    p = sub.add_parser("ablate", help="silence hidden units and measure the accuracy lost",
                       description="Force hidden units' outputs to zero, one at a time (or a set together with "
                                   "--together), and report how much accuracy the model loses, overall and for "
                                   "each class.")
    add_model_and_data_args(p)
    p.add_argument("--layer", type=int, help="the hidden layer, numbered as in W[l] and pynn summary "
                   "(dropout takes no number; default: the last hidden layer)")
    p.add_argument("--units", metavar="LIST", help="which units, e.g. 0-9,12 (default: all)")
    p.add_argument("--together", action="store_true", help="silence the --units as one set instead of in turn")
    p.add_argument("--top", type=int, default=10, help="rows in the table, costliest first (default 10)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    model, _, data = load_model_and_data(args)
    x, y = split(args, data)
    units = parse_units(args.units) if args.units else None
    if args.together and not units:
        raise PynnError("--together silences the --units given as one set; name them, e.g. --units 3,7.")
    groups = [units] if args.together else ([[u] for u in units] if units else None)
    result = ablate(model, x, y, args.layer, groups)
    names = [class_name(model, data, c) for c in range(result.per_class.shape[1])]
    out.emit_json({"model": model.spec, "layer": result.layer, "split": args.split, "groups": result.groups,
                   "class_names": names, "baseline": result.baseline, "baseline_per_class": result.baseline_per_class,
                   "accuracy": result.accuracy, "drop": result.drop, "per_class": result.per_class,
                   "drop_per_class": result.drop_per_class})
    if args.json:
        return 0
    label = [_units_label(g) for g in result.groups]
    order = np.argsort(-result.drop, kind="stable")[:max(args.top, 1)]
    silenced = model.layer_numbered(result.layer)
    how = " (an LSTM: their h and c held at 0 at every step)" if silenced.kind == "lstm" else ""
    counted = f"{plural(y.size, 'step')} of {plural(len(x), f'{args.split} sequence')}" if y.ndim == 2 else \
        plural(len(x), f"{args.split} sample")
    heading = Text(f"silencing units of layer {result.layer}{how}: accuracy {result.baseline:.2%} with all of them, "
                   f"on {counted}", style="bold")
    table = Table()
    # accuracy lost is a difference of two percentages: percentage points (pp), not a percent of anything
    for column in ("silenced", "accuracy", "lost (pp)", "class hurt most", "its loss (pp)"):
        table.add_column(column, justify="right" if column != "silenced" else "left")
    for i in order:
        worst = int(np.nanargmax(result.drop_per_class[i]))
        hurt = result.drop_per_class[i, worst] > 0
        table.add_row(label[i], f"{result.accuracy[i]:.2%}", _points(result.drop[i], 2),
                      names[worst] if hurt else "—", _points(result.drop_per_class[i, worst], 1) if hurt else "—")
    parts = [heading, table]
    if len(result.groups) > 1:
        parts += [Text("accuracy lost per silenced unit (percentage points)", style="bold"),
                  BarChart([(label[i], 100 * result.drop[i]) for i in range(len(result.groups))],
                           value_format="{:+.2f} pp")]
    else:
        parts += [Text("accuracy lost per class (percentage points)", style="bold"),
                  BarChart([(n, 100 * d) for n, d in zip(names, result.drop_per_class[0])],
                           value_format="{:+.1f} pp")]
    out.show(Group(*parts))
    return 0


def _points(drop: float, decimals: int) -> str:
    """A drop in accuracy (a fraction) as signed percentage points, e.g. 0.0175 -> '+1.75 pp'."""
    return f"{100 * drop:+.{decimals}f} pp"


def _units_label(units: list[int]) -> str:
    """[1, 2, 3, 7] -> '#1-3,7': runs of consecutive units written as ranges."""
    runs: list[list[int]] = []
    for u in units:
        if runs and u == runs[-1][-1] + 1:
            runs[-1].append(u)
        else:
            runs.append([u])
    return "#" + ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
