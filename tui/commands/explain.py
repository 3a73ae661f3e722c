"""`pynn explain FILE --class C`: which hidden units an output relies on (an LSTM's units too, through the
dense head), with their weight maps, and the class template back-projected onto the input."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text

from pynn.inspect.contributions import output_reliance
from pynn.inspect.weights import reads_the_input, weight_maps
from pynn.words import plural
from pynn_tui.commands.common import add_picture_args, picture_output
from pynn_tui.commands.inspecting import add_model_and_data_args, class_index, load_model_and_data, split
from pynn_tui.labels import class_name
from pynn_tui.render.reliance import class_template, rankings, reliance_bars, unit_maps


def register(sub) -> None:
    p = sub.add_parser("explain", help="which hidden units an output class relies on",
                       description="For one output neuron: its weights from the hidden layer, the most positive "
                                   "and most negative hidden units with their weight maps, measured as the raw "
                                   "weight and as weight x mean activation on the data, and the class template "
                                   "(the output's weights projected back onto the input).")
    add_model_and_data_args(p)
    p.add_argument("--class", dest="cls", required=True, metavar="C", help="the output class, by index or name")
    p.add_argument("--top", type=int, default=3, help="how many units to name on each side (default 3)")
    add_picture_args(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = picture_output(args)
    model, _, data = load_model_and_data(args)
    x, _ = split(args, data)
    cls = class_index(model, data, args.cls)
    r = output_reliance(model, cls, x, args.top, data.sample_shape)
    name = class_name(model, data, cls)
    out.emit_json({"model": model.spec, "class": cls, "class_name": name, "output_layer": r.output_layer,
                   "hidden_layer": r.hidden_layer, "weights": r.weights, "mean_activation": r.mean_activation,
                   "weight_x_mean_activation": r.weighted, "top_positive": r.top_positive,
                   "top_negative": r.top_negative, "top_positive_weighted": r.top_positive_weighted,
                   "top_negative_weighted": r.top_negative_weighted, "template": r.template})
    if args.json:
        return 0
    hidden_layer = model.layer_numbered(r.hidden_layer)
    parts = [
        Text(f"output {cls} ({name!r}) and the {plural(len(r.weights), 'unit')} of layer {r.hidden_layer}"
             f"{_what_is_read(model, hidden_layer)}", style="bold"),
        reliance_bars(r, plural(len(x), f"{args.split} sample")),
        Text(""),
        *rankings(r),
    ]
    units = r.top_positive + r.top_negative
    if units and hidden_layer.kind == "lstm":
        listed = ",".join(map(str, units))
        parts += [Text(""), Text(f"An LSTM unit has a weight per gate for each of a step's "
                                 f"{plural(hidden_layer.n_in, 'feature')} rather than one map over the input: pynn "
                                 f"weights {args.file} --layer "
                                 f"{r.hidden_layer} --neurons {listed} draws those units' weights, and pynn "
                                 f"triggers finds the sequences that drive a unit.")]
    elif units:
        maps = weight_maps(model, r.hidden_layer, units, data.sample_shape)
        if maps.maps is not None:
            parts += [Text(""), *unit_maps(r, maps, reads_the_input(model, hidden_layer))]
    if r.template is None:
        parts += [Text(""), Text(f"No class template: {r.no_template[0].lower()}{r.no_template[1:]}")]
    else:
        parts += [Text(""), *class_template(r, name)]
    out.show(Group(*parts))
    return 0


def _what_is_read(model, layer) -> str:
    """What the output reads of an LSTM layer's units, which the mean activations are measured on."""
    if layer.kind != "lstm":
        return ""
    if layer.return_sequences:
        return " (an LSTM: its h at every step, as the output reads it)"
    return " (an LSTM: its h at the last step)"
