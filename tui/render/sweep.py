"""A sweep's results: a table of test accuracy per hidden size or architecture (and per setting the grid varies)
and a chart of it on a log scale — against the hidden size, with the rules of thumb marked, when only {h}
varies; against each architecture's parameters otherwise, one line per template. `pynn sweep` prints them,
the Experiments screen fills them in as runs finish."""
from __future__ import annotations

from rich import box
from rich.table import Table

from pynn.experiments.sweep import SIZE_KEYS, by_hidden_size, fill, placeholders_of, show_value
from pynn_tui.render.charts import LineChart, Marker, Series


def _settings(varying) -> list[str]:
    """The varied fields a row shows as settings: the model is the row's architecture, shown apart."""
    return [k for k in varying if k != "model"]


def _setting(row: dict, keys) -> str:
    """'init normal, l2 5' for the grid settings that vary; '' when only sizes and seeds do."""
    return ", ".join(f"{k} {show_value(row[k])}" for k in keys)


# compact: shorter headings and no vertical rules, so the app's 80-column screen holds a row on one line
COMPACT_HEADINGS = {"parameters": "params", "test accuracy": "test acc", "min – max": "min–max",
                    "train accuracy": "train acc", "s per run": "s/run"}


def sweep_table(rows: list[dict], varying=(), compact: bool = False) -> Table:
    by_size = by_hidden_size(rows)
    labels = ["hidden"] if by_size else []
    if not by_size or "model" in varying:  # the architecture labels a row unless the hidden size alone does
        labels.insert(0, "model")
    title = "test accuracy by hidden-layer size" if by_size else "test accuracy by architecture"
    table = Table(title=title, title_justify="left", **({"box": box.SIMPLE_HEAD} if compact else {}))
    for column in (*_settings(varying), *labels, "parameters", "test accuracy", "± std", "min – max",
                   "train accuracy", "s per run"):
        table.add_column(COMPACT_HEADINGS.get(column, column) if compact else column,
                         justify="left" if column == "model" else "right")
    dash = "–" if compact else " – "
    for r in rows:
        table.add_row(*(show_value(r[k]) for k in _settings(varying)), *(str(r[k]) for k in labels),
                      f"{r['n_params']:,}", f"{r['test_accuracy_mean']:.2%}", f"{r['test_accuracy_std']:.2%}",
                      f"{r['test_accuracy_min']:.2%}{dash}{r['test_accuracy_max']:.2%}",
                      f"{r['train_accuracy_mean']:.2%}", f"{r['seconds_mean']:.1f}")
    return table


def sweep_chart(rows: list[dict], rules: dict[str, float], varying=()) -> LineChart:
    """Accuracy against the hidden size (rules marked) or, among architectures, against the parameters."""
    if by_hidden_size(rows):
        return _by_size_chart(rows, rules, varying)
    return _by_parameters_chart(rows, varying)


def _by_size_chart(rows, rules, varying) -> LineChart:
    keys = "abcdefgh"
    markers = [Marker(value, keys[i], f"{name} = {value:.3g}") for i, (name, value) in enumerate(rules.items())]
    templates = len({r.get("template") for r in rows}) > 1

    def line_of(r):  # one line per template and combination of settings, in row order
        return ", ".join(filter(None, [r.get("template") if templates else "", _setting(r, _settings(varying))]))

    series = [_series(f"test accuracy{': ' + line if line else ''}: mean over seeds",
                      [r for r in rows if line_of(r) == line], "hidden")
              for line in dict.fromkeys(map(line_of, rows))]
    return LineChart(series, height=12, x_log=True, x_ticks=sorted({r["hidden"] for r in rows}), markers=markers,
                     y_format="{:.0%}", x_label="hidden units (log scale)")


def _by_parameters_chart(rows, varying) -> LineChart:
    def line_of(r):
        """The template with every placeholder but the one the line runs along written out: 784-{h}-5-10 is
        the line of {h} with {h2} 5; a spec without placeholders is a line (a point) of its own."""
        held = placeholders_of(r["template"] or "")
        fixed = {p: r[SIZE_KEYS[p]] for p in held[1:]}
        architecture = fill(r["template"], fixed) if held else r["model"]
        return ", ".join(filter(None, [architecture, _setting(r, _settings(varying))]))

    series = [_series(f"{line}: test accuracy, mean over seeds", sorted((r for r in rows if line_of(r) == line),
                                                                         key=lambda r: r["n_params"]), "n_params")
              for line in dict.fromkeys(map(line_of, rows))]
    return LineChart(series, height=12, x_log=True, x_ticks=sorted({r["n_params"] for r in rows}),
                     y_format="{:.0%}", x_label="parameters (log scale)")


def _series(name: str, rows: list[dict], x: str) -> Series:
    return Series(name, [r[x] for r in rows], [r["test_accuracy_mean"] for r in rows],
                  [r["test_accuracy_min"] for r in rows], [r["test_accuracy_max"] for r in rows])

