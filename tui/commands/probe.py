"""`pynn probe FILE --index N`: one sample's journey — the input, every hidden layer's activations, the output
probabilities, and the hidden units that pushed toward the predicted and the true class."""
from __future__ import annotations

from dataclasses import asdict

from rich.console import Group
from rich.text import Text

from pynn.errors import PynnError
from pynn.inspect.probe import misclassified, sample_journey
from tui.commands.common import add_json_arg
from tui.commands.inspecting import add_model_and_data_args, class_name, load_model_and_data, split
from tui.output import Output
from tui.render.charts import BarChart
from tui.render.heatmap import HeatMap, LabelledStrips, Legend, max_abs

SQUASHED = {"sigmoid": 1.0, "tanh": 1.0}  # activations with a fixed range share it as their colour scale


def register(sub) -> None:
    p = sub.add_parser("probe", help="follow one sample through the network",
                       description="The input, each hidden layer's activations, the output probabilities, "
                                   "predicted versus true, and which hidden units pushed toward each.")
    add_model_and_data_args(p)
    p.add_argument("--index", type=int, default=0, help="the sample (with --misclassified: the n-th error)")
    p.add_argument("--misclassified", action="store_true", help="step through the samples the model gets wrong")
    p.add_argument("--count", type=int, default=1, help="how many samples to show from --index on")
    p.add_argument("--top", type=int, default=3, help="units to name per class (default 3)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    model, _, data = load_model_and_data(args)
    x, y = split(args, data)
    if args.count < 1:
        raise PynnError(f"--count must be at least 1, not {args.count}.")
    if args.misclassified:
        errors = misclassified(model, x, y)
        if args.index >= len(errors) or args.index < 0:
            raise PynnError(f"The model gets {len(errors)} of the {len(x):,} {args.split} samples wrong; there is "
                            f"no error number {args.index}.")
        indices = [int(i) for i in errors[args.index:args.index + args.count]]
        out.line(f"{len(errors)} of {len(x):,} {args.split} samples are misclassified; showing errors "
                 f"{args.index}-{args.index + len(indices) - 1}")
    else:
        indices = list(range(args.index, min(args.index + args.count, len(x)))) or [args.index]
    journeys = [sample_journey(model, x, y, i, args.top) for i in indices]
    out.emit_json({"model": model.spec, "split": args.split,
                   "samples": [dict(asdict(j), layers=[asdict(l) for l in j.layers]) for j in journeys]})
    for journey in journeys:
        out.show(journey_view(journey, lambda c: class_name(model, data, c)))
    return 0


def journey_view(j, name) -> Group:
    """The picture of one sample's journey."""
    verdict = "" if j.true is None else (" ✓" if j.predicted == j.true else f" ✗ (true: {name(j.true)})")
    parts = [Text(f"sample {j.index}: predicted {name(j.predicted)} with {j.probabilities[j.predicted]:.1%}"
                  f"{verdict}", style="bold"),
             Text("input", style="italic"), HeatMap(j.x), Legend(max_abs(j.x), "negative", "positive"),
             Text("hidden layers' activations", style="italic")]
    for layer in j.layers:
        scale = SQUASHED.get(layer.activation)
        parts.append(LabelledStrips([layer.values], [f"layer {layer.layer} ({layer.name})"], scale))
    parts += [Text("output probabilities", style="italic"),
              BarChart([(name(c) + (" ← true" if c == j.true else ""), p) for c, p in enumerate(j.probabilities)],
                       scale=1.0, value_format="{:.1%}", emphasis={j.predicted}),
              Text(_pushes(f"toward {name(j.predicted)} (predicted)", j.top_predicted, j.push_predicted, j))]
    if j.push_true is not None and j.true != j.predicted:
        parts.append(Text(_pushes(f"toward {name(j.true)} (true)", j.top_true, j.push_true, j)))
    return Group(*parts, Text(""))


def _pushes(what: str, units: list[int], push, j) -> str:
    named = ", ".join(f"#{u} ({push[u]:+.2f})" for u in units) or "none"
    return f"layer {j.hidden_layer} units pushing {what}: {named}"
