"""`pynn triggers FILE --unit U`: what makes a unit fire — the examples that excite it most and least (for an
LSTM unit, the sequences that leave its h highest and lowest at the last step), and the input that excites
it most, found by gradient ascent (activation maximisation) through dense layers."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text

from pynn.errors import PynnError
from pynn.inspect.activations import unit_layer, unit_layers
from pynn.inspect.filters import exciting_patches, filter_maps
from pynn.inspect.triggers import exciting_examples, maximise_activation, why_no_maximisation
from pynn.inspect.weights import reads_the_input, weight_maps
from pynn.words import plural
from pynn_tui.commands.common import add_picture_args, picture_output
from pynn_tui.commands.inspecting import add_model_and_data_args, load_model_and_data, split
from pynn_tui.labels import as_text, characters, class_name
from pynn_tui.output import Output
from pynn_tui.render.filters import filter_view, patches_view
from pynn_tui.render.heatmap import Legend, max_abs
from pynn_tui.render.pixels import map_grid, map_view


def register(sub) -> None:
    p = sub.add_parser("triggers", help="what makes a unit fire: top examples and activation maximisation",
                       description="The examples in the data that excite a unit most and least, and the input "
                                   "that excites it most: gradient ascent on the input of the unit's output "
                                   "minus an L2 penalty, through the core's backward pass.")
    add_model_and_data_args(p)
    p.add_argument("--unit", type=int, required=True, help="the unit (neuron) index; a conv layer's filter")
    p.add_argument("--layer", type=int, help="its layer, numbered as in W[l] and pynn summary (dropout and pool "
                   "take no number; default: the first, dense, conv or LSTM); for a conv layer, the image patches "
                   "that excite the filter most")
    p.add_argument("--top", type=int, default=5, help="examples to show on each side (default 5)")
    p.add_argument("--steps", type=int, default=200, help="gradient-ascent steps (default 200)")
    p.add_argument("--step-size", type=float, default=0.5, help="gradient-ascent step size (default 0.5)")
    p.add_argument("--l2", type=float, default=0.01, help="L2 penalty on the input (default 0.01)")
    add_picture_args(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = picture_output(args)
    model, _, data = load_model_and_data(args)
    x, y = split(args, data)
    if getattr(model.layer_numbered(args.layer or 1), "kind", None) == "conv":
        return show_patches(out, model, exciting_patches(model, args.layer or 1, args.unit, x, args.top), args)
    index = unit_layer(model, args.layer or unit_layers(model)[0].index, model.param_layers).index  # choices: conv too
    examples = exciting_examples(model, index, args.unit, x, args.top)
    if not len(x):
        raise PynnError(f"The {args.split} split of {data.name} is empty.")
    bounds = (float(x.min()), float(x.max()))
    no_ascent = why_no_maximisation(model, index)
    found = None if no_ascent else maximise_activation(model, index, args.unit, x.mean(axis=0), steps=args.steps,
                                                       step_size=args.step_size, l2=args.l2, bounds=bounds)
    out.emit_json({"model": model.spec, "layer": index, "unit": args.unit, "split": args.split,
                   "last_step": examples.last_step,
                   "most_exciting": examples.most, "most_values": examples.most_values,
                   "least_exciting": examples.least, "least_values": examples.least_values,
                   "mean_value": examples.mean, "maximised_input": found.x if found else None,
                   "activation_trace": found.trace if found else None, "no_maximisation": no_ascent,
                   "l2": args.l2, "steps": args.steps, "bounds": bounds})
    if args.json:
        return 0

    def label(i):
        return f" {class_name(model, data, int(y[i]))}" if y.ndim == 1 else ""

    def titled(indices, values):
        return [f"#{i}{label(i)} {v:.2f}" for i, v in zip(indices, values)]

    layer = model.layer_numbered(index)
    output = "output at the last step" if examples.last_step else "output"
    what = "sequences" if examples.last_step else "samples"
    parts = [Text(f"layer {index}, unit {args.unit}: mean {output} {examples.mean:.3f} on {len(x):,} {args.split} "
                  "samples", style="bold")]
    if layer.kind == "lstm":
        parts.append(Text(f"its weights, per gate: pynn weights {args.file} --layer {index} --neurons {args.unit}",
                          style="italic"))
    elif reads_the_input(model, layer):
        w = weight_maps(model, index, [args.unit], data.sample_shape)
        parts += [Text("its incoming weights", style="italic"), map_view(w.maps[0]), Legend(max_abs(w.maps[0]))]
    chars = characters(model)
    for side, indices, values in (("most", examples.most, examples.most_values),
                                  ("least", examples.least, examples.least_values)):
        key = f"{output}, sample: its text" if chars else f"sample, label, {output}"
        parts.append(Text(f"{side} exciting {what} ({key})", style="italic"))
        if chars:
            parts += [Text(f"{v:+.3f} #{i}: {as_text(x[i], chars)}") for i, v in zip(indices, values)]
        else:
            parts.append(map_grid(x[indices], titled(indices, values), "shared", negative="negative",
                                  positive="positive"))
    if found is None:
        parts.append(Text(no_ascent))
    else:
        parts += [Text(f"the input that excites it most: output {found.trace[0]:.3f} at the data's mean → "
                       f"{found.trace[-1]:.3f} after {plural(args.steps, 'step')} (L2 {args.l2:g}, values kept in "
                       f"{bounds[0]:g}..{bounds[1]:g})", style="italic"),
                  map_view(found.x), Legend(max_abs(found.x), "negative", "positive")]
    out.show(Group(*parts))
    return 0


def show_patches(out: Output, model, patches, args) -> int:
    """A conv filter's triggers: the image patches (with their positions) it responds to most, beside its weights."""
    out.emit_json({"model": model.spec, "layer": patches.layer, "unit": patches.filter, "split": args.split,
                   "kind": "conv", "samples": patches.samples, "positions": patches.positions,
                   "corners": patches.corners, "values": patches.values, "field": patches.field,
                   "patches": patches.patches, "mean_value": patches.mean})
    if args.json:
        return 0
    weights = filter_maps(model, patches.layer, [patches.filter])
    out.show(Group(Text(f"filter {patches.filter} of layer {patches.layer}: its weights", style="italic"),
                   filter_view(weights, heading=False), patches_view(patches)))
    return 0
