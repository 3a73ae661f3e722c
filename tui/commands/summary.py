"""`pynn summary SPEC|FILE`: the layers' shapes, the math behind them, totals and memory."""
from __future__ import annotations

from pathlib import Path

from pynn.data.dataset import CLASSIFICATION, REGRESSION
from pynn.model import build_model
from pynn.spec import parse_spec
from pynn.summary import model_summary, without_data
from pynn_tui.commands.common import add_json_arg, add_run_args, given_fields, run_config
from pynn_tui.commands.inspecting import FOREIGN_SPEC, load_model_file
from pynn_tui.output import Output
from pynn_tui.render.tables import summary_table
from pynn_tui.render.unrolled import unrolled_diagram


def register(sub) -> None:
    p = sub.add_parser("summary", help="show a model's shapes and parameter arithmetic",
                       description="Describe a model from a spec (e.g. 784-30-10), a saved .npz file, or a model "
                                   "file from Keras (.keras, .h5), PyTorch (.safetensors) or ONNX (.onnx).")
    p.add_argument("model", metavar="SPEC|FILE")
    p.add_argument("--model", dest="model_spec", metavar="SPEC", help=FOREIGN_SPEC)
    add_run_args(p, ["data"], show_defaults=False,
                 description="data for a spec, which then shows the head that applies (default: none)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    if args.model.endswith(".npz") or Path(args.model).is_file():
        model = load_model_file(args.model, args)[0]
        summary = with_conventions(model_summary(model), model)
    elif given_fields(args):
        summary = model_summary(build_model(args.model, run_config(args).load_data()))
    else:
        summary = _summary_of_a_spec(args.model)
    out.emit_json(summary)
    out.show(summary_table(summary))
    if "conventions" in summary:
        out.line(conventions_line(summary))
    for row in summary["layers"]:
        if row["kind"] == "lstm":
            out.show(unrolled_diagram(row))
    return 0


def with_conventions(summary: dict, model) -> dict:
    """The summary with the parameters as Keras counts them (one bias per LSTM gate, pynn's count) and as PyTorch
    does (two), and for a model from another framework, that framework's own count of what its file holds."""
    lstm_units = sum(layer.units for layer in model.layers if layer.kind == "lstm")
    summary = {**summary, "conventions": {"keras": model.n_params, "pytorch": model.n_params + 4 * lstm_units}}
    if model.origin is not None:
        summary["framework"] = {"name": model.origin.get("framework"), "format": model.origin.get("format"),
                                "params": model.origin.get("framework_params"), "notes": model.origin.get("notes", [])}
    return summary


def conventions_line(summary: dict) -> str:
    counts = summary["conventions"]
    if counts["keras"] == counts["pytorch"]:  # no LSTM: the conventions only differ in an LSTM's biases
        line = f"parameters: {counts['keras']:,}, as both Keras and PyTorch count them"
    else:
        line = (f"parameters: {counts['keras']:,} as Keras counts them (one bias per LSTM gate), "
                f"{counts['pytorch']:,} as PyTorch does (two: b_ih and b_hh)")
    framework = summary.get("framework")
    if framework:
        line += f"; {framework['name']}'s own count of this {framework['format']} file: {framework['params']:,}"
    return line


def _summary_of_a_spec(spec: str) -> dict:
    """Without data the output head is not known; the model is built with the head its written activation
    allows (a linear one when none is written), since every head has the same parameters."""
    written = parse_spec(spec).layers[-1].activation
    model = build_model(spec, task=CLASSIFICATION if written == "softmax" else REGRESSION)
    return without_data(model_summary(model), activation_written=written is not None)
