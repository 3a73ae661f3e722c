"""`pynn data list | info NAME | fetch NAME`: what data there is, what one set holds, and downloading MNIST."""
from __future__ import annotations

import numpy as np
from rich.table import Table

from pynn.data import list_datasets
from pynn.data.full import fetch_mnist
from pynn.run import RunConfig
from pynn_tui.commands.common import add_json_arg, add_run_args, run_config
from pynn_tui.output import Output


def register(sub) -> None:
    p = sub.add_parser("data", help="list datasets, describe one, or download MNIST",
                       description="The datasets pynn knows, what one holds, and fetching the full MNIST.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="every named dataset and whether it is available here")
    add_json_arg(listing)
    info = actions.add_parser("info", help="shapes, task, classes and source of one dataset")
    info.add_argument("name", metavar="NAME|PATH")
    add_run_args(info, ["data"], exclude=("data",))
    add_json_arg(info)
    fetch = actions.add_parser("fetch", help="download MNIST (checking its MD5 sums)")
    fetch.add_argument("name", choices=["mnist"])
    fetch.add_argument("--url", help="a mirror holding the four MNIST .gz files")
    add_json_arg(fetch)
    p.set_defaults(handler=run, parser=p)


def run(args) -> int:
    if not args.action:
        args.parser.print_help()
        return 0
    out = Output(json=args.json)
    if args.action == "list":
        rows = list_datasets()
        out.emit_json(rows)
        table = Table("name", "kind", "here", "description", title="datasets", title_justify="left")
        for r in rows:
            table.add_row(r["name"], r["kind"], "yes" if r["available"] else "no", r["description"])
        out.show(table, "\n".join(["name\tkind\there\tdescription"]
                                  + [f"{r['name']}\t{r['kind']}\t{'yes' if r['available'] else 'no'}\t"
                                     f"{r['description']}" for r in rows]))
    elif args.action == "info":
        data = run_config(args, RunConfig(data=args.name)).load_data()
        for note in data.notes:
            out.note(note)
        info = data.describe()
        if data.y_train.ndim == 1 and data.class_names:
            info["train_counts"] = np.bincount(data.y_train, minlength=len(data.class_names)).tolist()
        out.emit_json(info)
        table = Table("", "", title=f"dataset {data.name}", title_justify="left", show_header=False)
        shown = {k: _shown(v) for k, v in info.items()}
        for key, value in shown.items():
            table.add_row(key, value)
        out.show(table, "\n".join(f"{k}: {v}" for k, v in shown.items()))
    else:
        folder = fetch_mnist(base_url=args.url)
        out.emit_json({"name": "mnist", "folder": str(folder)})
        out.line(f"mnist: the four files are in {folder}, MD5 sums checked")
    return 0


def _shown(value) -> str:
    """A value of describe() as one line: lists joined, a series' details as key value pairs."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()
                         if v is not None)
    return str(value)
