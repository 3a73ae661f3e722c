"""`pynn summary SPEC|FILE`: the layers' shapes, the math behind them, totals and memory."""
from __future__ import annotations

from pathlib import Path

from pynn.data.dataset import CLASSIFICATION, REGRESSION
from pynn.files import load_model
from pynn.model import build_model
from pynn.spec import parse_spec
from pynn.summary import model_summary, without_data
from pynn_tui.commands.common import add_json_arg, add_run_args, given_fields, run_config
from pynn_tui.output import Output
from pynn_tui.render.tables import summary_table
from pynn_tui.render.unrolled import unrolled_diagram


def register(sub) -> None:
    p = sub.add_parser("summary", help="show a model's shapes and parameter arithmetic",
                       description="Describe a model from a spec (e.g. 784-30-10) or a saved .npz file.")
    p.add_argument("model", metavar="SPEC|FILE")
    add_run_args(p, ["data"], show_defaults=False,
                 description="data for a spec, which then shows the head that applies (default: none)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    if args.model.endswith(".npz") or Path(args.model).is_file():
        summary = model_summary(load_model(args.model)[0])
    elif given_fields(args):
        summary = model_summary(build_model(args.model, run_config(args).load_data()))
    else:
        summary = _summary_of_a_spec(args.model)
    out.emit_json(summary)
    out.show(summary_table(summary))
    for row in summary["layers"]:
        if row["kind"] == "lstm":
            out.show(unrolled_diagram(row))
    return 0


def _summary_of_a_spec(spec: str) -> dict:
    """Without data the output head is not known; the model is built with the head its written activation
    allows (a linear one when none is written), since every head has the same parameters."""
    written = parse_spec(spec).layers[-1].activation
    model = build_model(spec, task=CLASSIFICATION if written == "softmax" else REGRESSION)
    return without_data(model_summary(model), activation_written=written is not None)
