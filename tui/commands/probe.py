"""`pynn probe FILE --index N`: one sample's journey — the input, every hidden layer's activations (an LSTM's h
at the last step and at every step), the output probabilities (or values, for a regression), and the hidden
units that pushed toward the predicted and the true class; with --why (the default for --misclassified) what
decided it: the logit gap to the true class split over the units, and the saliency of the input."""
from __future__ import annotations

import argparse
from dataclasses import asdict

from pynn.errors import PynnError
from pynn.data.dataset import CLASSIFICATION
from pynn.inspect.activations import per_step_output
from pynn.inspect.blame import logit_gap
from pynn.inspect.filters import feature_maps
from pynn.inspect.probe import misclassified, sample_journey
from pynn_tui.commands.common import add_picture_args, picture_output
from pynn_tui.commands.inspecting import add_model_and_data_args, load_model_and_data, split
from pynn_tui.labels import characters, class_name
from pynn_tui.render.blame import blame_view
from pynn_tui.render.filters import feature_map_view
from pynn_tui.render.journey import journey_view


def register(sub) -> None:
    p = sub.add_parser("probe", help="follow one sample through the network",
                       description="The input, each hidden layer's activations, the output probabilities, "
                                   "predicted versus true, and which hidden units pushed toward each; for a conv "
                                   "model, its feature maps after each conv and pool.")
    add_model_and_data_args(p)
    p.add_argument("--index", type=int, default=0, help="the sample (with --misclassified: the n-th error)")
    p.add_argument("--misclassified", action="store_true", help="step through the samples the model gets wrong")
    p.add_argument("--count", type=int, default=1, help="how many samples to show from --index on")
    p.add_argument("--top", type=int, default=3, help="units to name per class (default 3)")
    p.add_argument("--why", action=argparse.BooleanOptionalAction, default=None,
                   help="show what decided the class: each unit's share of the gap between the predicted and the "
                        "true logit (the runner-up's, for a sample the model gets right) and the saliency of the "
                        "input (default: on with --misclassified)")
    add_picture_args(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = picture_output(args)
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
        where = " at their last step" if per_step_output(model) else ""
        out.line(f"{len(errors)} of {len(x):,} {args.split} samples are misclassified{where}; showing errors "
                 f"{args.index}-{args.index + len(indices) - 1}")
    else:
        indices = list(range(args.index, min(args.index + args.count, len(x)))) or [args.index]
    why = args.misclassified if args.why is None else args.why
    if why and model.task != CLASSIFICATION:
        raise PynnError("--why compares the scores of two classes, and this model predicts values; drop --why.")
    journeys = [sample_journey(model, x, y, i, args.top) for i in indices]
    gaps = [logit_gap(model, x, y, i, args.top) if why else None for i in indices]
    convolves = any(layer.kind == "conv" for layer in model.layers)
    stages = [feature_maps(model, x[i]) if convolves else None for i in indices]
    out.emit_json({"model": model.spec, "split": args.split,
                   "samples": [dict(asdict(j), layers=[asdict(l) for l in j.layers],
                                    **({"why": asdict(g)} if g is not None else {}),
                                    **({"feature_maps": [asdict(s) for s in f]} if f is not None else {}))
                               for j, g, f in zip(journeys, gaps, stages)]})
    chars = characters(model)
    name = lambda c: class_name(model, data, c)  # noqa: E731
    for journey, gap, maps in zip(journeys, gaps, stages):
        out.show(journey_view(journey, name, chars))
        if maps is not None:
            out.show(feature_map_view(maps))
        if gap is not None:
            out.show(blame_view(gap, journey.x, name, chars))
    return 0
