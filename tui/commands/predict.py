"""`pynn predict FILE`: a series model's forecast for one held-out window against the truth and the naive
'repeat the last value' forecast, in the series' own units and labelled by its time axis when it has one: a
chart on a terminal, a table when piped, numbers with --json."""
from __future__ import annotations

from pynn.errors import PynnError
from pynn.forecast import series_forecasts
from pynn_tui.commands.common import add_json_arg
from pynn_tui.commands.inspecting import add_model_and_data_args, load_model_and_data
from pynn_tui.output import Output
from pynn_tui.render.charts import LineChart, Marker, Series


def register(sub) -> None:
    p = sub.add_parser("predict", help="a series model's forecast against the truth",
                       description="Forecast one held-out window of a series and compare with the truth.")
    add_model_and_data_args(p, split=False)
    p.add_argument("--index", type=int, default=0, help="which held-out window (default 0)")
    add_json_arg(p)
    p.set_defaults(handler=run, split="test")


def run(args) -> int:
    out = Output(json=args.json)
    model, _, data = load_model_and_data(args)
    if data.meta.get("kind") != "series":
        raise PynnError(f"{args.file} was not trained on a series; pynn predict shows forecasts (try pynn probe).")
    if not 0 <= args.index < len(data.x_test):
        raise PynnError(f"--index must be in [0, {len(data.x_test)}); there are {len(data.x_test)} held-out windows.")
    for note in data.notes:
        out.note(note)
    window = series_forecasts(model, data, args.index)
    history, truth, forecast, naive = (a[0].tolist() for a in (window.history, window.truth, window.forecast,
                                                               window.naive))
    labels = window.labels(0)
    result = {"index": args.index, "history": history, "truth": truth, "forecast": forecast, "naive": naive,
              "difference": bool(data.meta.get("difference"))}
    if labels:
        result.update(history_time=labels[0], time=labels[1])
    out.emit_json(result)
    steps = list(range(len(history), len(history) + len(truth)))
    names = labels[1] if labels else [f"step {s}" for s in steps]
    markers = ([Marker(0, "a", f"{labels[0][0]}, the window's first value"),
                Marker(steps[0], "b", f"{labels[1][0]}, the first step forecast")] if labels else [])
    chart = LineChart([Series("history", list(range(len(history))), history),
                       Series("truth", steps, truth), Series("forecast", steps, forecast),
                       Series("naive", steps, naive)], markers=markers, x_label="step")
    table = "\n".join(f"{name}: truth {t:.4f}  forecast {f:.4f}  naive {n:.4f}"
                      for name, t, f, n in zip(names, truth, forecast, naive))
    out.show(chart, table)
    return 0
