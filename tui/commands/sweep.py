"""`pynn sweep --hidden 2,3,4,5,10,30,100`: "why 25 hidden units and not 100?" — one network per hidden size
and seed, test accuracy (mean and spread), parameters and time, next to the common rules of thumb."""
from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text

from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.init import INITIALISERS
from pynn.inspect.sweep import DEFAULT_SIZES, rules_of_thumb, summarise, sweep_configs, train_one
from pynn.inspect.workers import run_in_processes
from tui.commands.common import add_data_args, add_json_arg, data_options
from tui.commands.inspecting import parse_units
from tui.output import Output
from tui.render.charts import LineChart, Marker, Series

SGD_LR = 0.5  # pynn train's default for sgd with mini-batches of 10


def register(sub) -> None:
    p = sub.add_parser("sweep", help="train one network per hidden size and compare accuracy",
                       description="Train networks with one hidden layer of each size, over several seeds, in "
                                   "parallel processes; report test accuracy (mean and spread), parameters and "
                                   "time, with the usual rules of thumb marked. The numbers do not depend on "
                                   "--jobs: every run is seeded by its own size and seed and uses one thread.")
    add_data_args(p)
    p.add_argument("--hidden", default=",".join(map(str, DEFAULT_SIZES)), metavar="SIZES",
                   help=f"hidden sizes, e.g. 2,5,10-12,30 (default {','.join(map(str, DEFAULT_SIZES))})")
    p.add_argument("--seeds", type=int, default=3, help="runs per size, seeds 0..N-1 (default 3)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per run (default 10)")
    p.add_argument("--batch", type=int, default=10, help="mini-batch size (default 10)")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum", "adam"])
    p.add_argument("--lr", type=float, help=f"learning rate (default {SGD_LR} for sgd, else the optimizer's)")
    p.add_argument("--l2", type=float, default=0.0, help="L2 strength lambda")
    p.add_argument("--activation", default="sigmoid", help="hidden activation (default sigmoid)")
    p.add_argument("--init", default="lecun", choices=list(INITIALISERS))
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel, one process each (default 1)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    if args.jobs < 1:
        raise PynnError(f"--jobs must be at least 1, not {args.jobs}.")
    data = load_dataset(args.data, **data_options(args))  # here too, so a bad name fails before any worker starts
    lr = args.lr if args.lr is not None else (SGD_LR if args.optimizer == "sgd" else None)
    configs = sweep_configs(parse_units(args.hidden), args.seeds, data=args.data, data_options=data_options(args),
                            epochs=args.epochs, batch_size=args.batch, optimizer=args.optimizer, lr=lr, l2=args.l2,
                            activation=args.activation, init=args.init)
    out.line(f"sweep on {data.name} ({len(data.x_train):,} train / {len(data.x_test):,} test): {len(configs)} runs, "
             f"{args.epochs} epochs each, {args.optimizer} lr {lr if lr is not None else 'default'}, batch "
             f"{args.batch}, {args.activation}; {args.jobs} at a time")
    done = []

    def progress(i, result):
        done.append(i)
        out.line(f"  {len(done):>3}/{len(configs)}  hidden {result['hidden']:>4}  seed {result['seed']}  "
                 f"test {result['test_accuracy']:.2%}  {result['seconds']:.1f} s")

    start = time.perf_counter()
    results = run_in_processes(train_one, configs, args.jobs, progress)
    wall = time.perf_counter() - start
    rows = summarise(results)
    rules = rules_of_thumb(data.n_features, data.n_outputs)
    out.emit_json({"data": data.name, "n_in": data.n_features, "n_out": data.n_outputs,
                   "settings": {k: v for k, v in configs[0].items() if k not in ("hidden", "seed")},
                   "seeds": args.seeds, "jobs": args.jobs, "wall_seconds": wall, "sizes": rows, "runs": results,
                   "rules_of_thumb": rules})
    out.show(Group(sweep_table(rows), Text(""), sweep_chart(rows, rules),
                   Text(f"{len(results)} runs in {wall:.1f} s wall time with {args.jobs} job(s)")))
    return 0


def sweep_table(rows: list[dict]) -> Table:
    table = Table(title="test accuracy by hidden-layer size", title_justify="left")
    for column in ("hidden", "parameters", "test accuracy", "± std", "min – max", "train accuracy", "s per run"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r["hidden"]), f"{r['n_params']:,}", f"{r['test_accuracy_mean']:.2%}",
                      f"{r['test_accuracy_std']:.2%}", f"{r['test_accuracy_min']:.2%} – {r['test_accuracy_max']:.2%}",
                      f"{r['train_accuracy_mean']:.2%}", f"{r['seconds_mean']:.1f}")
    return table


def sweep_chart(rows: list[dict], rules: dict[str, float]) -> LineChart:
    sizes = [r["hidden"] for r in rows]
    keys = "abcdefgh"
    markers = [Marker(value, keys[i], f"{name} = {value:.3g}") for i, (name, value) in enumerate(rules.items())]
    return LineChart([Series("test accuracy: mean over seeds", sizes, [r["test_accuracy_mean"] for r in rows],
                             [r["test_accuracy_min"] for r in rows], [r["test_accuracy_max"] for r in rows])],
                     height=12, x_log=True, x_ticks=sizes, markers=markers, y_format="{:.0%}",
                     x_label="hidden units (log scale)")
