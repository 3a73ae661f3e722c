"""A hidden-size sweep's results: a table of test accuracy per size (and per setting the grid varies) and a
chart of it against the size on a log scale, with the rules of thumb marked. `pynn sweep` prints them, the
Experiments screen fills them in as runs finish."""
from __future__ import annotations

from rich.table import Table

from pynn.experiments.sweep import show_value
from pynn_tui.render.charts import LineChart, Marker, Series


def _setting(row: dict, keys) -> str:
    """'init normal, l2 5' for the grid settings that vary; '' when only sizes and seeds do."""
    return ", ".join(f"{k} {show_value(row[k])}" for k in keys)


def sweep_table(rows: list[dict], varying=()) -> Table:
    table = Table(title="test accuracy by hidden-layer size", title_justify="left")
    for column in (*varying, "hidden", "parameters", "test accuracy", "± std", "min – max", "train accuracy",
                   "s per run"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(*(show_value(r[k]) for k in varying), str(r["hidden"]), f"{r['n_params']:,}",
                      f"{r['test_accuracy_mean']:.2%}", f"{r['test_accuracy_std']:.2%}",
                      f"{r['test_accuracy_min']:.2%} – {r['test_accuracy_max']:.2%}",
                      f"{r['train_accuracy_mean']:.2%}", f"{r['seconds_mean']:.1f}")
    return table


def sweep_chart(rows: list[dict], rules: dict[str, float], varying=()) -> LineChart:
    sizes = sorted({r["hidden"] for r in rows})
    keys = "abcdefgh"
    markers = [Marker(value, keys[i], f"{name} = {value:.3g}") for i, (name, value) in enumerate(rules.items())]
    series = []
    for setting in dict.fromkeys(_setting(r, varying) for r in rows):  # one line per combination, in row order
        line = [r for r in rows if _setting(r, varying) == setting]
        series.append(Series(f"test accuracy{': ' + setting if setting else ''}: mean over seeds",
                             [r["hidden"] for r in line], [r["test_accuracy_mean"] for r in line],
                             [r["test_accuracy_min"] for r in line], [r["test_accuracy_max"] for r in line]))
    return LineChart(series, height=12, x_log=True, x_ticks=sizes, markers=markers, y_format="{:.0%}",
                     x_label="hidden units (log scale)")
