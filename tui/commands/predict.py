"""`pynn predict FILE`: a series model's forecast for one held-out window against the truth and the naive
'repeat the last value' forecast: a chart on a terminal, a table when piped, numbers with --json."""
from __future__ import annotations

from pynn.errors import PynnError
from pynn.forecast import naive_forecast
from tui.commands.common import add_data_args, add_json_arg
from tui.commands.inspecting import load_model_and_data
from tui.output import Output
from tui.render.charts import LineChart, Series


def register(sub) -> None:
    p = sub.add_parser("predict", help="a series model's forecast against the truth",
                       description="Forecast one held-out window of a series and compare with the truth.")
    p.add_argument("file", metavar="FILE")
    add_data_args(p, default=None)
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
    x, y = data.x_test[args.index:args.index + 1], data.y_test[args.index]
    mean, std = data.meta.get("mean", 0.0), data.meta.get("std", 1.0)  # back to the series' own units
    forecast = model.predict(x).reshape(-1) * std + mean
    naive = naive_forecast(x, len(y)).reshape(-1) * std + mean
    y = y * std + mean
    history = (x[0, :, 0] * std + mean).tolist()
    result = {"index": args.index, "history": history, "truth": y.tolist(), "forecast": forecast.tolist(),
              "naive": naive.tolist()}
    out.emit_json(result)
    steps = list(range(len(history), len(history) + len(y)))
    chart = LineChart([Series("history", list(range(len(history))), history),
                       Series("truth", steps, y.tolist()), Series("forecast", steps, forecast.tolist()),
                       Series("naive", steps, naive.tolist())], x_label="step")
    table = "\n".join(f"step {s}: truth {t:.4f}  forecast {f:.4f}  naive {n:.4f}"
                      for s, t, f, n in zip(steps, y, forecast, naive))
    out.show(chart, table)
    return 0
