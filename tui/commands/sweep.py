"""`pynn sweep --hidden 2,3,4,5,10,30,100`: "why 25 hidden units and not 100?" — one network per hidden size
and seed (and per --init, --l2 and --lr value given), test accuracy (mean and spread), parameters and time,
next to the common rules of thumb. The runs go to local processes (--jobs) or a Dask cluster (--cluster), are
saved as they finish (--out) and resume where they stopped (--resume)."""
from __future__ import annotations

import contextlib
import logging
import time

from rich.console import Group
from rich.table import Table
from rich.text import Text

from pynn.data import load_dataset
from pynn.errors import PynnError
from pynn.init import INITIALISERS
from pynn.experiments.results import ResultStore, run_saved
from pynn.experiments.sweep import (DEFAULT_SIZES, GRID_KEYS, describe_config, rules_of_thumb, summarise,
                                sweep_configs, train_one)
from pynn.experiments.workers import ProcessExecutor
from pynn.words import plural
from tui.commands.common import add_data_args, add_json_arg, data_options
from tui.commands.inspecting import parse_units
from tui.output import Output
from tui.render.charts import LineChart, Marker, Series

SGD_LR = 0.5  # pynn train's default for sgd with mini-batches of 10


def register(sub) -> None:
    p = sub.add_parser("sweep", help="train one network per hidden size and compare accuracy",
                       description="Train networks with one hidden layer of each size, over several seeds and "
                                   "every --init, --l2 and --lr given, in parallel processes or on a Dask "
                                   "cluster; report test accuracy (mean and spread), parameters and time, with "
                                   "the usual rules of thumb marked. The numbers do not depend on --jobs or "
                                   "--cluster: every run is seeded by its own settings and uses one thread.")
    add_data_args(p)
    p.add_argument("--hidden", default=",".join(map(str, DEFAULT_SIZES)), metavar="SIZES",
                   help=f"hidden sizes, e.g. 2,5,10-12,30 (default {','.join(map(str, DEFAULT_SIZES))})")
    p.add_argument("--seeds", type=int, default=3, help="runs per size, seeds 0..N-1 (default 3)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per run (default 10)")
    p.add_argument("--batch", type=int, default=10, help="mini-batch size (default 10)")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum", "adam"])
    p.add_argument("--lr", metavar="RATES", help=f"learning rate, or several: 0.1,0.5 (default {SGD_LR} for sgd, "
                                                  "else the optimizer's)")
    p.add_argument("--l2", default="0", metavar="LAMBDAS", help="L2 strength lambda, or several: 0,1,5")
    p.add_argument("--activation", default="sigmoid", help="hidden activation (default sigmoid)")
    p.add_argument("--init", default="lecun", metavar="NAMES",
                   help=f"initialisation, or several: lecun,normal ({', '.join(INITIALISERS)})")
    add_run_args(p, jobs=1)
    add_json_arg(p)
    p.set_defaults(handler=run)


# -- where the runs go and where they are kept: shared with `pynn compare` --------------------------------

def add_run_args(p, jobs: int) -> None:
    g = p.add_argument_group("running")
    g.add_argument("--jobs", type=int, default=jobs, help=f"runs in parallel, one local process each (default {jobs})")
    g.add_argument("--cluster", metavar="ADDRESS",
                   help="run every training as a task on the Dask scheduler at ADDRESS, e.g. tcp://10.0.0.5:8786 "
                        "(pip install 'pynn[dask]'); --jobs is then ignored")
    g.add_argument("--out", metavar="FILE", help="save each run to FILE (JSON lines) as it finishes")
    g.add_argument("--resume", action="store_true", help="with --out: keep the runs FILE holds, do only the rest")


def open_store(args):
    """The --out file (or nothing), checked before any training starts."""
    if args.resume and not args.out:
        raise PynnError("--resume carries on from the --out file, so give --out too.")
    return ResultStore(args.out, resume=args.resume) if args.out else contextlib.nullcontext()


def open_executor(args):
    """Local processes, or the Dask cluster of --cluster (the only place dask is imported)."""
    return _dask_executor(args.cluster) if args.cluster else ProcessExecutor(args.jobs)


@contextlib.contextmanager
def _dask_executor(address: str):
    # Dask logs a lost scheduler as tracebacks on stderr (its loggers each have their own level); while it
    # runs, the command says such things in one sentence instead.
    previous = logging.root.manager.disable
    logging.disable(logging.ERROR)
    try:
        from pynn.experiments.cluster import DaskExecutor
        with DaskExecutor(address) as executor:
            yield executor
    finally:
        logging.disable(previous)


def parse_grid(text: str, flag: str, read=float, example: str = "0,1,5") -> list:
    """'0,1,5' -> [0.0, 1.0, 5.0]; one sentence for a value that cannot be read."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            values.append(read(part))
        except ValueError:
            raise PynnError(f"{flag} takes one value or several joined by commas (e.g. {example}); "
                            f"{part!r} is not one.") from None
    return list(dict.fromkeys(values))  # a value given twice is one setting, not twice the runs


def _initialiser(name: str) -> str:
    if name not in INITIALISERS:
        raise ValueError(name)
    return name


# -- the sweep ----------------------------------------------------------------------------------------------

def run(args) -> int:
    out = Output(json=args.json)
    if args.jobs < 1:
        raise PynnError(f"--jobs must be at least 1, not {args.jobs}.")
    data = load_dataset(args.data, **data_options(args))  # here too, so a bad name fails before any worker starts
    lrs = (parse_grid(args.lr, "--lr", example="0.1,0.5") if args.lr is not None
           else [SGD_LR if args.optimizer == "sgd" else None])
    inits = parse_grid(args.init, "--init", _initialiser, f"lecun,normal; one of {', '.join(INITIALISERS)}")
    configs = sweep_configs(parse_units(args.hidden), args.seeds, data=args.data, data_options=data_options(args),
                            epochs=args.epochs, batch_size=args.batch, optimizer=args.optimizer, lr=lrs,
                            l2=parse_grid(args.l2, "--l2"), activation=args.activation, init=inits)
    grid = {k: list(dict.fromkeys(c[k] for c in configs)) for k in GRID_KEYS}
    varying = [k for k in GRID_KEYS if len(grid[k]) > 1]
    with open_store(args) as store, open_executor(args) as executor:
        out.line(f"sweep on {data.name} ({len(data.x_train):,} train / {len(data.x_test):,} test): "
                 f"{plural(len(configs), 'run')}, {plural(args.epochs, 'epoch')} each, {args.optimizer}, "
                 f"batch {args.batch}, {args.activation}, "
                 f"{_grid_text(grid)}; {executor.where}")
        start = time.perf_counter()
        results, failed, resumed = _run_all(out, configs, executor, store, varying, args.out)
        wall = time.perf_counter() - start
    if not results:
        first = failed[0]
        raise PynnError(f"All {len(configs)} runs failed; the first ({describe_config(first['config'])}): "
                        f"{first['error']}")
    rows = summarise(results)
    rules = rules_of_thumb(data.n_features, data.n_outputs)
    out.emit_json({"data": data.name, "n_in": data.n_features, "n_out": data.n_outputs,
                   "settings": {k: v for k, v in configs[0].items() if k not in ("hidden", "seed", *GRID_KEYS)},
                   "grid": grid, "seeds": args.seeds, "jobs": args.jobs, "cluster": args.cluster,
                   "wall_seconds": wall, "resumed": resumed, "sizes": rows, "runs": results,
                   "failed": failed, "rules_of_thumb": rules})
    ran = f"{plural(len(results) - resumed, 'run')} in {wall:.1f} s wall time {executor.where}"
    out.show(Group(sweep_table(rows, varying), Text(""), sweep_chart(rows, rules, varying),
                   Text(ran + (f", {resumed} resumed from {args.out}" if resumed else ""))))
    for f in failed:
        out.note(f"run failed ({describe_config(f['config'])}): {f['error']}")
    return 1 if failed else 0


def _show(value) -> str:
    """A grid value as people write it: 5 rather than 5.0, 'default' for the optimizer's own learning rate."""
    return "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _grid_text(grid: dict) -> str:
    return ", ".join(f"{k} {'/'.join(map(_show, values))}" for k, values in grid.items())


def _run_all(out: Output, configs, executor, store, varying, path):
    """Runs the sweep, printing a line per run as it finishes; (results in config order, failures, resumed)."""
    results, failed = [None] * len(configs), []
    resumed = sum(store.get(c) is not None for c in configs) if store is not None else 0
    if resumed:
        out.line(f"  {resumed} of {plural(len(configs), 'run')} read back from {path}; running the other "
                 f"{len(configs) - resumed}")
    count = resumed
    try:
        for run in run_saved(train_one, configs, executor, store):
            if run.error is not None:
                failed.append({"config": run.config, "error": run.error})
            else:
                results[run.position] = run.result
            if run.resumed:
                continue
            count += 1
            if run.error is not None:
                out.line(f"  {count:>3}/{len(configs)}  failed: {describe_config(run.config)}: {run.error}")
            else:
                r = run.result
                grid = "".join(f"  {k} {_show(r[k])}" for k in varying)
                out.line(f"  {count:>3}/{len(configs)}  hidden {r['hidden']:>4}  seed {r['seed']}{grid}  "
                         f"test {r['test_accuracy']:.2%}  {r['seconds']:.1f} s")
    except (KeyboardInterrupt, PynnError):  # Ctrl-C, or the cluster went away
        if store is not None and store.saved:
            out.note(f"{plural(len(store.saved), 'finished run')} saved in {path}; add --resume to carry on.")
        raise
    return [r for r in results if r is not None], failed, resumed


def _setting(row: dict, keys) -> str:
    """'init normal, l2 5' for the grid settings that vary; '' when only sizes and seeds do."""
    return ", ".join(f"{k} {_show(row[k])}" for k in keys)


def sweep_table(rows: list[dict], varying=()) -> Table:
    table = Table(title="test accuracy by hidden-layer size", title_justify="left")
    for column in (*varying, "hidden", "parameters", "test accuracy", "± std", "min – max", "train accuracy",
                   "s per run"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(*(_show(r[k]) for k in varying), str(r["hidden"]), f"{r['n_params']:,}",
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
