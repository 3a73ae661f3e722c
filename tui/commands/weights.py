"""`pynn weights FILE`: each neuron's incoming weights drawn as a heat map shaped like the input; an LSTM's
units get their weights per gate."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text

from pynn.inspect.activations import unit_layer, unit_layers
from pynn.inspect.filters import filter_maps
from pynn.inspect.weights import lstm_weights, weight_maps
from pynn.words import plural
from pynn_tui.commands.common import add_picture_args, picture_output
from pynn_tui.commands.inspecting import add_model_file_arg, load_model_file
from pynn_tui.labels import characters, shown_char
from pynn_tui.output import Output
from pynn_tui.parsing import parse_units
from pynn_tui.render.filters import filter_view
from pynn_tui.render.heatmap import LabelledStrips, Legend, max_abs
from pynn_tui.render.pixels import map_grid


def register(sub) -> None:
    p = sub.add_parser("weights", help="draw each neuron's incoming weights as a heat map",
                       description="Blue where a neuron likes its input, red where it dislikes it. For layers "
                                   "above the first, the incoming weights are a strip over the layer below, and "
                                   "the map at the input is a back-projection (an approximation).")
    add_model_file_arg(p)
    p.add_argument("--layer", type=int, help="the layer, numbered as in W[l] and pynn summary (dropout takes "
                   "no number; default: the first, dense, conv or LSTM)")
    p.add_argument("--neurons", metavar="LIST", help="which neurons (a conv layer's filters), e.g. 0-9,12 (default: "
                   "all)")
    p.add_argument("--cols", type=int, help="maps per row (default: as many as fit)")
    p.add_argument("--scale", choices=["shared", "each"], default="shared",
                   help="one colour scale for all maps (they compare) or one per map (weak maps show too)")
    add_picture_args(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = picture_output(args)
    model, header = load_model_file(args.file, args)
    neurons = parse_units(args.neurons) if args.neurons else None
    if getattr(model.layer_numbered(args.layer or 1), "kind", None) == "conv":
        return show_filters(out, model, filter_maps(model, args.layer or 1, neurons), args)
    layer = unit_layer(model, args.layer or unit_layers(model)[0].index, model.param_layers)  # choices: conv too
    if layer.kind == "lstm":
        return show_lstm(out, model, lstm_weights(model, layer.index, neurons), args)
    index = layer.index
    sample_shape = (header.get("data") or {}).get("sample_shape")  # 784-30-10 on digits still draws 28x28
    result = weight_maps(model, index, neurons, sample_shape)
    titles = [f"#{n}" for n in result.neurons]
    out.emit_json({"model": model.spec, "layer": result.layer, "neurons": result.neurons,
                   "map_shape": None if result.maps is None else list(result.maps.shape[1:]),
                   "back_projected": result.back_projected, "incoming": result.incoming, "maps": result.maps,
                   "no_map": result.no_map})
    n_in = result.incoming.shape[1]
    if result.maps is not None and not result.back_projected:
        heading = (f"layer {result.layer}: incoming weights of {plural(len(result.neurons), 'neuron')}, each over the "
                   f"{'x'.join(map(str, result.maps.shape[1:]))} input")
        out.show(Group(Text(heading, style="bold"), map_grid(result.maps, titles, args.scale, args.cols)))
        return 0
    parts = [Text(f"layer {result.layer}: incoming weights of {plural(len(result.neurons), 'neuron')} from the "
                  f"{plural(n_in, 'unit')} of the layer below", style="bold"),
             LabelledStrips(result.incoming, titles),
             Legend(max_abs(result.incoming))]
    if result.maps is None:
        parts += [Text(""), Text(result.no_map)]
    else:
        parts += [Text(""),
                  Text(f"back-projected onto the input: W[{result.layer}]·…·W[1] — an approximation that ignores "
                       "the activations and biases in between", style="bold"),
                  map_grid(result.maps, titles, args.scale, args.cols)]
    out.show(Group(*parts))
    return 0


def show_filters(out: Output, model, fm, args) -> int:
    """A conv layer's filters: each K x K, a map per input channel (--neurons picks filters)."""
    out.emit_json({"model": model.spec, "layer": fm.layer, "neurons": fm.filters, "kind": "conv",
                   "filter_shape": list(fm.maps.shape[1:]), "filters": fm.maps, "bias": fm.bias,
                   "reads_the_input": fm.reads_the_input})
    out.show(filter_view(fm, args.scale, args.cols))
    return 0


def show_lstm(out: Output, model, w, args) -> int:
    """An LSTM layer's weights: for each gate, a map with a row per unit and a column per input feature
    (then per unit of its own previous h), and the biases."""
    out.emit_json({"model": model.spec, "layer": w.layer, "neurons": w.units, "gates": list(w.gates),
                   "input": w.input, "recurrent": w.recurrent, "bias": w.bias})
    layer = model.layer_numbered(w.layer)
    chars = characters(model) if w.layer == 1 else None
    rows = f"a row per unit ({_listed(w.units)} down)"
    below = [l for l in unit_layers(model) if l.index < w.layer]
    columns = (f"a column per character ({''.join(shown_char(c) for c in chars)})" if chars else
               f"a column per unit of layer {below[-1].index} (0-{layer.n_in - 1})" if below else
               f"a column per input feature of a step (0-{layer.n_in - 1})")
    gate_titles = [f"{gate} gate" if gate != "candidate" else "candidate" for gate in w.gates]
    out.show(Group(
        Text(f"layer {w.layer} (LSTM, {plural(layer.units, 'unit')}): the same weights at each of its "
             f"{plural(layer.steps, 'step')}, one set per gate", style="bold"),
        Text(f"from the step's input: {rows}, {columns}", style="italic"),
        map_grid(w.input, gate_titles, args.scale, args.cols),
        Text(""),
        Text(f"from its own h at the step before: {rows}, a column per unit (0-{layer.units - 1})", style="italic"),
        map_grid(w.recurrent, gate_titles, args.scale, args.cols),
        Text(""),
        Text("biases", style="italic"),
        LabelledStrips(w.bias, gate_titles),
        Legend(max_abs(w.bias))))
    return 0


def _listed(units: list[int]) -> str:
    """[0, 1, 2] -> '0-2'; other lists unit by unit."""
    if len(units) > 1 and units == list(range(units[0], units[-1] + 1)):
        return f"{units[0]}-{units[-1]}"
    return ", ".join(f"#{u}" for u in units)
