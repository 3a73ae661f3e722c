"""`pynn weights FILE`: each neuron's incoming weights drawn as a heat map shaped like the input."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text

from pynn.files import load_model
from pynn.inspect.weights import weight_maps
from pynn.words import plural
from tui.commands.common import add_json_arg
from tui.commands.inspecting import parse_units
from tui.output import Output
from tui.render.heatmap import LabelledStrips, Legend, map_grid, max_abs


def register(sub) -> None:
    p = sub.add_parser("weights", help="draw each neuron's incoming weights as a heat map",
                       description="Blue where a neuron likes its input, red where it dislikes it. For layers "
                                   "above the first, the incoming weights are a strip over the layer below, and "
                                   "the map at the input is a back-projection (an approximation).")
    p.add_argument("file", metavar="FILE", help="a model saved by `pynn train --save`")
    p.add_argument("--layer", type=int, help="the layer (1-based; default: the first dense layer)")
    p.add_argument("--neurons", metavar="LIST", help="which neurons, e.g. 0-9,12 (default: all)")
    p.add_argument("--cols", type=int, help="maps per row (default: as many as fit)")
    p.add_argument("--scale", choices=["shared", "each"], default="shared",
                   help="one colour scale for all maps (they compare) or one per map (weak maps show too)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    model, header = load_model(args.file)
    sample_shape = (header.get("data") or {}).get("sample_shape")  # 784-30-10 on digits still draws 28x28
    result = weight_maps(model, args.layer, parse_units(args.neurons) if args.neurons else None, sample_shape)
    titles = [f"#{n}" for n in result.neurons]
    out.emit_json({"model": model.spec, "layer": result.layer, "neurons": result.neurons,
                   "map_shape": list(result.maps.shape[1:]), "back_projected": result.back_projected,
                   "incoming": result.incoming, "maps": result.maps})
    n_in = result.incoming.shape[1]
    if not result.back_projected:
        heading = (f"layer {result.layer}: incoming weights of {plural(len(result.neurons), 'neuron')}, each over the "
                   f"{'x'.join(map(str, result.maps.shape[1:]))} input")
        out.show(Group(Text(heading, style="bold"), map_grid(result.maps, titles, args.scale, args.cols)))
        return 0
    out.show(Group(
        Text(f"layer {result.layer}: incoming weights of {len(result.neurons)} neurons from the {n_in} units "
             f"of the layer below", style="bold"),
        LabelledStrips(result.incoming, titles),
        Legend(max_abs(result.incoming)),
        Text(""),
        Text(f"back-projected onto the input: W[{result.layer}]·…·W[1] — an approximation that ignores the "
             "activations and biases in between", style="bold"),
        map_grid(result.maps, titles, args.scale, args.cols)))
    return 0
