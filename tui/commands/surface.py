"""`pynn surface FILE`: what a model saved on a 2-D set computes over the plane, as TensorFlow Playground shows
it: the output's decision surface with the training and test points over it, and each chosen neuron's own
surface as a small map; --replay replays the saved run to show them as they formed."""
from __future__ import annotations

from dataclasses import replace

from rich.console import Group
from rich.text import Text

from pynn.errors import PynnError
from pynn.inspect.activations import unit_layer
from pynn.inspect.surface import DEFAULT_RESOLUTION, feature_labels, plane_of, replay_surfaces, surfaces
from pynn_tui.commands.common import add_picture_args, picture_output
from pynn_tui.commands.inspecting import add_model_and_data_args, load_model_and_data
from pynn_tui.output import colour_allowed
from pynn_tui.parsing import parse_units
from pynn_tui.render.surface import film_view, side_by_side, surface_report


def register(sub) -> None:
    p = sub.add_parser("surface", help="a 2-D model's decision surface and each neuron's, over the plane",
                       description="Blue where the output favours class 1 (or is positive), red for class 0, on "
                                   "the plane of the model's 2-D data with its training (●) and test (○) points; "
                                   "then every hidden neuron's activation over the same plane. The data is the "
                                   "one the model was saved with, its features (--features) applied.")
    add_model_and_data_args(p, split=False)  # a model from another framework takes --data
    p.add_argument("--layer", type=int, help="only this layer's neurons, numbered as in W[l] (the last layer's "
                   "are the output's units; default: every hidden layer)")
    p.add_argument("--neurons", metavar="LIST", help="which neurons of --layer, e.g. 0-3,6 (default: all)")
    p.add_argument("--resolution", type=int, default=DEFAULT_RESOLUTION, metavar="N",
                   help=f"points along each side of the output's surface (default {DEFAULT_RESOLUTION}; the "
                        "neurons' maps take half)")
    p.add_argument("--replay", type=int, default=0, metavar="K", help="replay the saved run and show the "
                   "surfaces at K epochs from the first weights to the last")
    p.add_argument("--show-points", choices=("all", "train", "test", "none"), default="all",
                   help="which points to draw over the output's surface (default all)")
    add_picture_args(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = picture_output(args)
    if args.neurons and args.layer is None:
        raise PynnError("--neurons picks neurons of one layer; give --layer too.")
    if not 2 <= args.resolution <= 400:
        raise PynnError(f"--resolution takes 2 to 400 points a side, not {args.resolution}.")
    model, header, data = load_model_and_data(args)
    plane = plane_of(data)
    layers = None if args.layer is None else [unit_layer(model, args.layer).index]
    neurons = parse_units(args.neurons) if args.neurons else None
    small = max(args.resolution // 2, 8)
    if args.replay:
        if args.replay < 2:
            raise PynnError(f"--replay shows the surfaces at 2 epochs or more (the first and the last), "
                            f"not {args.replay}.")
        film = replay_surfaces(args.file, data, args.resolution // 2, frames=args.replay, layers=layers,
                               neurons=neurons, neuron_resolution=small // 2)
        out.emit_json({"model": model.spec, "features": plane.features, "extent": plane.extent,
                       "epochs": film.epochs, "matches_saved": film.matches_saved,
                       "frames": [_grids(f) for f in film.frames]})
        out.show(Group(Text(f"{model.spec} on {data.name}, replayed from its first weights", style="bold"),
                       film_view(film)))
        return 0
    result = surfaces(model, plane, args.resolution, layers=layers, neurons=neurons, neuron_resolution=small)
    score = model.evaluate(data.x_test, data.y_test)
    out.emit_json({"model": model.spec, "data": data.name, "features": plane.features, "extent": plane.extent,
                   "test": score, **_grids(result),
                   "points": {"x_train": plane.x_train, "y_train": plane.y_train, "x_test": plane.x_test,
                              "y_test": plane.y_test}})
    accuracy = f"test accuracy {score['accuracy']:.1%}, " if "accuracy" in score else ""
    heading = (f"{model.spec} on {data.name} · features {', '.join(feature_labels(plane.features))} · "
               f"{accuracy}test loss {score['loss']:.4g}")
    out.show(surface_report(result, shown_points(plane, args.show_points), heading, out.rich and colour_allowed(),
                            with_points=args.show_points != "none"))
    return 0


def shown_points(plane, which: str):
    """The plane with only the points asked for (train, test, all; none draws no points at all)."""
    if which == "train":
        return replace(plane, x_test=plane.x_test[:0], y_test=plane.y_test[:0])
    if which == "test":
        return replace(plane, x_train=plane.x_train[:0], y_train=plane.y_train[:0])
    return plane


def _grids(result) -> dict:
    """The surfaces as JSON: the axes, the output's, and each layer's neurons'."""
    return {"x1": result.x1, "x2": result.x2, "decision": result.decision, "meaning": result.meaning,
            "outputs": result.outputs,
            "layers": [{"layer": s.layer, "activation": s.activation, "neurons": s.neurons, "surfaces": s.maps,
                        "incoming": s.incoming, "bias": s.bias} for s in result.layers]}


def compared_surfaces(models, runs, data, texts, console_colour: bool) -> list:
    """For `pynn compare` on 2-D data: the two trained models' decision surfaces side by side (models built as
    the runs describe, given each run's trained parameters), as parts of its report."""
    plane = plane_of(data)
    results = []
    for model, run in zip(models, runs):
        model.restore(run["params"])
        results.append(surfaces(model, plane, DEFAULT_RESOLUTION, layers=[]))
    titles = [f"{run['label']}: {text}"[:DEFAULT_RESOLUTION] for run, text in zip(runs, texts)]
    return [Text("decision surfaces over the plane", style="bold"), side_by_side(results, plane, titles, console_colour),
            Text("")]
