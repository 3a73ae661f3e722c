"""Tables for the model summary and the confusion matrix."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def summary_table(summary: dict) -> Group:
    """Layers numbered as the course numbers W[l]; dropout, which has no W, sits between them unnumbered."""
    inp = summary["input"]
    table = Table(title=f"model {summary['spec']}", title_justify="left", expand=False)
    for col, justify in (("layer", "left"), ("W, dW / b, db", "left"), ("output: math view", "left"),
                         ("batch view", "left"), ("parameters", "right")):
        table.add_column(col, justify=justify, overflow="fold")  # squeezed (the app at 80 columns), cut nothing
    table.add_row(f"{0:>{_width(summary)}} input", "", inp["math_view"], inp["batch_view"], "0")
    for row in summary["layers"]:
        # a gradient beside its parameter: they have one shape
        params = "  ".join(f"{k}, {g} {_shape(v)}" for (k, v), g in zip(row["params"].items(), row["grads"]))
        number = "" if row["index"] is None else row["index"]
        table.add_row(Text(f"{number:>{_width(summary)}} {row['name']}", style="dim" if number == "" else ""),
                      params, row["math_view"], row["batch_view"], f"{row['n_params']:,}")
    lines = [Text(f"input: {inp['note']}")]
    for r in summary["layers"]:
        if r["n_params"]:
            lines.append(Text(f"layer {r['index']}: {r['arithmetic']}"))
            lines += [Text(f"  {view} view: {text}") for view, text in r.get("equations", {}).items()]
    lines += [Text(extra) for r in summary["layers"] for extra in r.get("notes", [])]
    mem = summary["memory_bytes"]
    lines.append(Text(f"total: {summary['total_arithmetic']} parameters; "
                      + "; ".join(f"{k}: {v / 1024:,.1f} KiB" for k, v in mem.items()), style="bold"))
    return Group(table, *lines)


def _width(summary: dict) -> int:
    """The digits of the largest layer number, so names line up and dropout's blank takes as much room."""
    return max(len(str(r["index"])) for r in summary["layers"] if r["index"] is not None)


def confusion_table(matrix, class_names: list[str]) -> Table:
    """Rows are the true classes, columns the predicted ones; the diagonal is what the model got right."""
    table = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
    table.add_column("")
    for name in class_names:
        table.add_column(name[:6], justify="right")
    for i, name in enumerate(class_names):
        cells = [Text(str(int(v)), style="bold green" if i == j else ("red" if v else "dim"))
                 for j, v in enumerate(matrix[i])]
        table.add_row(name[:12], *cells)
    return table
