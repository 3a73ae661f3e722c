"""`pynn sweep --hidden 2,3,4,5,10,30,100`: "why 25 hidden units and not 100?" — one network per hidden size
and seed (and per value of any model or training flag given several, e.g. --init lecun,normal --l2 0,5), test
accuracy (mean and spread), parameters and time, next to the common rules of thumb. Architectures too: a
--model template with several placeholders (`--model '784-{h}-{h2}-10' --h 10,25 --h2 5,15`) or a list of
specs (`--model 784-25-15-10,784-100-10,28x28-lstm32-10`), compared on their parameters. Every flag of
`pynn train` sets the description the runs start from. The runs go to local processes (--jobs) or a Dask
cluster (--cluster), are saved as they finish (--out) and resume where they stopped (--resume)."""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import time

from rich.console import Group
from rich.text import Text

import pynn.run
from pynn.errors import PynnError
from pynn.experiments.results import ResultStore, run_saved
from pynn.experiments.sweep import (DEFAULT_SIZES, EXTRAS, PLACEHOLDERS, SIZE, describe_config, describe_run,
                                    rules_apply, rules_of_thumb, show_value, summarise, sweep_configs, train_one)
from pynn.experiments.training import check_models, dataset, description
from pynn.experiments.workers import ProcessExecutor
from pynn.words import plural
from pynn_tui.commands.common import add_json_arg, add_run_args, flag_name, run_config
from pynn_tui.output import Output
from pynn_tui.parsing import parse_units
from pynn_tui.render.sweep import sweep_chart, sweep_table

GRID_GROUPS = ("model", "training")   # a comma list on one of their flags varies that field


def register(sub) -> None:
    p = sub.add_parser("sweep", help="train one network per hidden size or architecture and compare accuracy",
                       description="Train networks with one hidden layer of each size (or the --model template's "
                                   f"{SIZE}, {{h2}}... crossed, or each spec of a --model list such as "
                                   "784-25-15-10,784-100-10,28x28-lstm32-10), over several seeds and every value "
                                   "of a model or training flag given several (e.g. --init lecun,normal --l2 0,5), "
                                   "in parallel processes or on a Dask cluster; report test accuracy (mean and "
                                   "spread), parameters and time, with the usual rules of thumb marked where the "
                                   "sweep varies one hidden layer's width. The numbers do not depend on --jobs or "
                                   "--cluster: every run is seeded by its own settings and uses one thread.")
    add_run_args(p, ["data"])
    add_grid_args(p)
    add_runner_args(p, jobs=1)
    add_json_arg(p)
    p.set_defaults(handler=run)


def grid_fields() -> list[dataclasses.Field]:
    """The fields whose flags take several values: every model and training field but the seed (--seeds) and
    the switches, read from the description when the parser is made."""
    return [f for group in GRID_GROUPS for f in pynn.run.fields_of(group)
            if f.name != "seed" and pynn.run.field_kind(f.name) is not bool]


def add_grid_args(p) -> None:
    grid = grid_fields()
    add_run_args(p, GRID_GROUPS, exclude=(*(f.name for f in grid), "seed"))  # the switches: no value to list
    g = p.add_argument_group("grid", "one value, or several joined by commas: each is crossed with the others, "
                                     "the sizes and the seeds")
    g.add_argument("--hidden", "--h", dest="h", metavar="SIZES",
                   help=f"the sizes of {SIZE}, the hidden layer's width, e.g. 2,5,10-12,30 (default "
                        f"{','.join(map(str, DEFAULT_SIZES))})")
    for name in PLACEHOLDERS[1:]:
        example = ", e.g. --model '784-{h}-{h2}-10' --h 10,25 --h2 5,15" if name == "h2" else ""
        g.add_argument(f"--{name}", metavar="SIZES", help=f"the sizes of {{{name}}} in the --model template{example}")
    g.add_argument("--seeds", type=int, default=3, metavar="N",
                   help="runs per size or architecture, seeds 0..N-1 (default 3)")
    for field in grid:
        meta = field.metadata
        help_text = (f"the model spec, with {SIZE} where each hidden size goes, e.g. 784-{SIZE}-10, or "
                     f"{SIZE}, {{h2}}... crossed, or a list of specs, e.g. 784-100-10,28x28-lstm32-10 (default: "
                     f"{SIZE}-<outputs>, one hidden layer)" if field.name == "model" else meta["help"])
        if meta["choices"]:
            help_text += f": {', '.join(meta['choices'])}"
        if field.default not in (None, False) and "default" not in help_text:
            help_text += f" (default: {field.default})"
        metavar = meta["metavar"] or field.name.upper()
        g.add_argument(flag_name(field.name), dest=field.name, default=argparse.SUPPRESS, metavar=f"{metavar}[,…]",
                       help=help_text.replace("%", "%%"))


def grid_values(args) -> dict[str, list]:
    """Each grid flag given: its values read as the field's kind ("0,5" -> [0.0, 5.0]), a value given twice
    once."""
    names = [f.name for f in grid_fields() if hasattr(args, f.name)]
    return {name: list(dict.fromkeys(pynn.run.parse_value(name, part, "the command line")
                                     for part in getattr(args, name).split(",")))
            for name in names}


# -- where the runs go and where they are kept: shared with `pynn compare` --------------------------------

def add_runner_args(p, jobs: int) -> None:
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


# -- the sweep ----------------------------------------------------------------------------------------------

def run(args) -> int:
    out = Output(json=args.json)
    if args.jobs < 1:
        raise PynnError(f"--jobs must be at least 1, not {args.jobs}.")
    grid = grid_values(args)
    base = run_config(args).replace(**{name: values[0] for name, values in grid.items() if len(values) == 1})
    varied = {name: values for name, values in grid.items() if len(values) > 1}
    data = dataset(base)  # here, so a bad name fails before any worker starts (and the runs here reuse it)
    given = {p: parse_units(getattr(args, p)) for p in PLACEHOLDERS if getattr(args, p) is not None}
    configs = sweep_configs(given.get("h"), args.seeds, base, sizes={p: given[p] for p in given if p != "h"},
                            **varied)
    check_models([description(c, EXTRAS) for c in configs], data)
    varying = list(varied)
    with open_store(args) as store, open_executor(args) as executor:
        out.line(f"sweep on {data.name} ({len(data.x_train):,} train / {len(data.x_test):,} test): "
                 f"{plural(len(configs), 'run')} of {_settings_text(base, varied)}; {executor.where}")
        start = time.perf_counter()
        results, failed, resumed = _run_all(out, configs, executor, store, varying, args.out)
        wall = time.perf_counter() - start
    if not results:
        first = failed[0]
        raise PynnError(f"All {len(configs)} runs failed; the first ({describe_config(first['config'])}): "
                        f"{first['error']}")
    rows = summarise(results, varying)
    # the rules size one hidden layer: beside other architectures they would mark nothing
    rules = rules_of_thumb(data.n_features, data.n_outputs) if rules_apply(rows) else {}
    out.emit_json({"data": data.name, "n_in": data.n_features, "n_out": data.n_outputs, "run": base.to_dict(),
                   "grid": varied, "placeholders": given, "seeds": args.seeds, "jobs": args.jobs,
                   "cluster": args.cluster,
                   "wall_seconds": wall, "resumed": resumed, "sizes": rows, "runs": results,
                   "failed": failed, "rules_of_thumb": rules})
    ran = f"{plural(len(results) - resumed, 'run')} in {wall:.1f} s wall time {executor.where}"
    out.show(Group(sweep_table(rows, varying), Text(""), sweep_chart(rows, rules, varying),
                   Text(ran + (f", {resumed} resumed from {args.out}" if resumed else ""))))
    for f in failed:
        out.note(f"run failed ({describe_config(f['config'])}): {f['error']}")
    return 1 if failed else 0


def _settings_text(base, varied: dict) -> str:
    """'{h}-<outputs>, 10 epochs, sgd lr 0.5, batch 10, sigmoid, init lecun/normal, l2 0/5': the settings
    people look at first, then any other model or training field changed or varied; a varied field shows all
    its values."""
    def value(name):
        return "/".join(map(show_value, varied[name])) if name in varied else show_value(getattr(base, name))

    model = value("model") if base.model or "model" in varied else f"{SIZE}-<outputs>"
    epochs = f"{value('epochs')} epochs" if "epochs" in varied else plural(base.epochs, "epoch")
    lr = value("lr") if "lr" in varied or "optimizer" in varied else show_value(base.learning_rate)
    first = [model, epochs, f"{value('optimizer')} lr {lr}", f"batch {value('batch')}", value("activation"),
             f"init {value('init')}", f"l2 {value('l2')}"]
    shown = {"model", "epochs", "optimizer", "lr", "batch", "activation", "init", "l2",
             *(f.name for f in pynn.run.fields_of("data"))}  # the data has its own words in the line
    return ", ".join(first + [f"{name} {value(name)}" for name in {**base.changed_fields(), **varied}
                              if name not in shown])


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
                label = describe_run(r, varying, sep="  ", size_width=4)  # sizes in a column
                out.line(f"  {count:>3}/{len(configs)}  {label}  test {r['test_accuracy']:.2%}  "
                         f"{r['seconds']:.1f} s")
    except (KeyboardInterrupt, PynnError):  # Ctrl-C, or the cluster went away
        if store is not None and store.saved:
            out.note(f"{plural(len(store.saved), 'finished run')} saved in {path}; add --resume to carry on.")
        raise
    return [r for r in results if r is not None], failed, resumed
