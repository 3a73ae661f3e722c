"""`pynn compare --a "init=normal" --b "init=lecun,l2=5"`: one run description trained twice with the same seed,
each time with a few of its fields changed, side by side — accuracy, parameters and time, accuracy curves, the
same neurons' weight maps, weight norms and histograms. The model may differ too (`--a model=784-25-15-10
--b model=784-100-10`, or a dense net against 28x28-lstm32-10 on the digits); the neurons of two architectures
do not correspond, so their maps and weights are then left out. Every flag of `pynn train` sets the
description both runs start from. The two runs
go where a sweep's do: local processes (--jobs) or a Dask cluster (--cluster), kept in --out as they finish."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

import pynn.run
from pynn.errors import PynnError
from pynn.experiments.compare import EXTRAS, parse_variant, train_variant, variant_config, weight_differences
from pynn.experiments.results import run_saved
from pynn.experiments.training import description
from pynn.inspect.weights import input_layout
from pynn.spec import parse_spec
from pynn.words import plural
from pynn_tui.commands.common import add_json_arg, add_run_args, shared_run
from pynn_tui.commands.sweep import add_runner_args, open_executor, open_store
from pynn_tui.output import Output, colour_allowed
from pynn_tui.parsing import parse_units
from pynn_tui.render.charts import Histogram, LineChart, Series
from pynn_tui.render.heatmap import map_grid
from pynn_tui.commands.surface import compared_surfaces


def register(sub) -> None:
    p = sub.add_parser("compare", help="two trainings that differ in a few settings, side by side",
                       description="Train the same model twice with the same seed, once with the --a settings "
                                   "and once with --b, and compare what they learned. The flags set what both "
                                   "runs share; --a and --b are key=value pairs joined by commas, the keys named "
                                   "as the flags (init, l2, lr, optimizer, model, …; any but the seed): "
                                   "--a model=784-25-15-10 --b model=784-100-10 compares two architectures.")
    add_run_args(p, pynn.run.GROUPS)
    p.add_argument("--a", required=True, metavar="SETTINGS", help='e.g. "init=normal"')
    p.add_argument("--b", required=True, metavar="SETTINGS", help='e.g. "init=lecun,l2=5"')
    p.add_argument("--neurons", default="0-4", metavar="LIST", help="first-layer neurons to draw (default 0-4)")
    add_runner_args(p, jobs=2)
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    shared, data = shared_run(args)
    configs = [variant_config(label, parse_variant(text), shared) for label, text in (("a", args.a), ("b", args.b))]
    # each run's model built here: a spec that does not fit the data fails in one sentence, before training
    built = [description(config, EXTRAS).build_model(data) for config in configs]
    specs = [model.spec for model in built]
    same = specs[0] == specs[1]
    neurons = parse_units(args.neurons)
    seed = shared.seed
    models = f"{specs[0]} twice" if same else f"a = {specs[0]} and b = {specs[1]}"
    out.line(f"training {models} on {data.name} with seed {seed}: a = {args.a!r}, b = {args.b!r}")
    a, b = _train_both(configs, args)
    maps = same and parse_spec(specs[0]).layers[0].kind == "dense"  # a dense first layer reads the input
    if maps:
        first = a["weights"][0]
        bad = [n for n in neurons if n >= first.shape[0]]
        if bad:
            raise PynnError(f"The first layer has {plural(first.shape[0], 'neuron')}; there is no neuron {bad[0]}.")
    diffs = weight_differences(a, b) if same else []
    out.emit_json({"model": specs[0] if same else specs, "data": data.name, "seed": seed, "run": shared.to_dict(),
                   "same_architecture": same, "neurons": neurons if maps else [],
                   "runs": [{k: v for k, v in r.items() if k not in ("weights", "params")} for r in (a, b)],
                   "first_layer_maps": {"a": a["weights"][0][neurons], "b": b["weights"][0][neurons]} if maps
                   else None, "weight_differences": [d.__dict__ for d in diffs]})
    if args.json:
        return 0
    parts = [_settings_table(a, b, args, seed, same), Text(""),
             Text("accuracy per epoch (training set)", style="bold"), _curves(a, b), Text("")]
    if "plane" in data.meta:  # 2-D data: the two decision surfaces side by side, as Playground draws one
        parts += compared_surfaces(built, (a, b), data, (args.a, args.b), out.rich and colour_allowed())
    if not same:
        parts.append(Text(f"a ({specs[0]}) and b ({specs[1]}) are different architectures, so no neuron of one is "
                          "a neuron of the other: the same neurons' weight maps and the weights per layer are left "
                          "out."))
    elif not maps:
        parts.append(Text(f"The first layer of {specs[0]} is not a dense layer reading the input, so it has no "
                          "weight maps to draw; the dense layers' weights follow."))
    for run_result, text in ((a, args.a), (b, args.b)) if maps else ():
        layout = input_layout(a["input_shape"], data.sample_shape)
        drawn = run_result["weights"][0][neurons].reshape(len(neurons), *layout)
        parts += [Text(f"{run_result['label']} ({text}): first-layer weight maps", style="bold"),
                  map_grid(drawn, [f"#{n}" for n in neurons], "shared")]
    if diffs:
        parts += [Text(""), _norms_table(diffs), _histograms(diffs)]
    out.show(Group(*parts))
    return 0


def _train_both(configs: list[dict], args) -> list[dict]:
    """Both runs' results, a then b; a failed run is one sentence naming it."""
    args.jobs = min(args.jobs, 2)
    results = [None, None]
    with open_store(args) as store, open_executor(args) as executor:
        for run in run_saved(train_variant, configs, executor, store):
            if run.error is not None:
                text = args.a if run.config["label"] == "a" else args.b
                raise PynnError(f"Run {run.config['label']} ({text}) failed: {run.error}")
            results[run.position] = run.result
    return results


def _settings_table(a: dict, b: dict, args, seed: int, same: bool) -> Table:
    """Each run's settings, parameters, test score and time; its model too when the two differ."""
    table = Table(title=f"{a['spec']}, seed {seed}" if same else f"seed {seed}", title_justify="left")
    for column in ("run", *(() if same else ("model",)), "settings", "lr", "parameters", "test accuracy",
                   "test loss", "seconds"):
        table.add_column(column)
    for r, text in ((a, args.a), (b, args.b)):
        acc = r["test_accuracy"]
        table.add_row(r["label"], *(() if same else (r["spec"],)), text, f"{r['lr']:g}", f"{r['n_params']:,}",
                      "" if acc is None else f"{acc:.2%}", f"{r['test_loss']:.4f}", f"{r['seconds']:.1f}")
    return table


def _curves(a: dict, b: dict) -> LineChart:
    series = []
    for r in (a, b):
        history = [h for h in r["history"] if h.get("train_accuracy") is not None]
        series.append(Series(f"{r['label']}: train accuracy", [h["epoch"] for h in history],
                             [h["train_accuracy"] for h in history]))
    epochs = sorted({x for s in series for x in s.x})
    return LineChart(series, height=10, x_ticks=epochs, y_format="{:.1%}", x_label="epoch")


def _norms_table(diffs) -> Table:
    table = Table(title="weights per layer", title_justify="left")
    for column in ("layer", "‖W‖ a", "‖W‖ b", "b / a", "std a", "std b"):
        table.add_column(column, justify="right")
    for d in diffs:
        table.add_row(str(d.layer), f"{d.norm_a:.3g}", f"{d.norm_b:.3g}", f"{d.norm_b / max(d.norm_a, 1e-30):.3g}",
                      f"{d.std_a:.3g}", f"{d.std_b:.3g}")
    return table


def _histograms(diffs) -> Table:
    grid = Table.grid(padding=(0, 3))
    for d in diffs:
        grid.add_row(Histogram(d.counts_a, d.edges, title=f"layer {d.layer}, a", colour_index=0),
                     Histogram(d.counts_b, d.edges, title=f"layer {d.layer}, b", colour_index=1))
    return grid
