"""`pynn health FILE`: dead and saturated units (an LSTM's gates stuck shut or open), gradient norms through
training, weight histograms, and the filmstrip of one neuron's weights across epochs (`--filmstrip N`, which
replays the saved training)."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from pynn.errors import PynnError
from pynn.inspect.activations import unit_layer, unit_layers
from pynn.inspect.filmstrip import replay_training, why_no_filmstrip
from pynn.inspect.health import gate_health, gradient_trend, unit_health, weight_histograms
from pynn.words import plural
from pynn_tui.commands.common import add_json_arg
from pynn_tui.commands.inspecting import add_model_and_data_args, load_model_and_data, split
from pynn_tui.output import Output
from pynn_tui.render.charts import Histogram, LineChart, Series
from pynn_tui.render.heatmap import map_grid

MAX_LISTED = 12  # units named per layer before the list is cut short
MAX_FRAMES = 12  # filmstrip frames drawn (evenly spaced, first and last kept); --json has every epoch


def register(sub) -> None:
    p = sub.add_parser("health", help="dead and saturated units, gradient norms, weight histograms",
                       description="How a model's units and gradients fare. --filmstrip N trains the model "
                                   "again from its saved initialisation and settings (same seed and data, so "
                                   "the same run) to record neuron N's weights after every epoch.")
    add_model_and_data_args(p)
    p.add_argument("--layer", type=int, help="only this layer's units, gates and weights, numbered as in W[l] and "
                   "pynn summary (dropout takes no number; default: every layer)")
    p.add_argument("--bins", type=int, default=24, help="histogram bins (default 24)")
    p.add_argument("--filmstrip", type=int, metavar="NEURON", help="show this neuron's weight map after every "
                   "epoch, by replaying the training (a neuron of the first layer, or of --layer)")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    model, header, data = load_model_and_data(args)
    x, _ = split(args, data)
    chosen = unit_layer(model, args.layer).index if args.layer is not None else None  # a bad number: one sentence
    health = [h for h in unit_health(model, x) if chosen in (None, h.layer)]
    gates = [g for g in gate_health(model, x) if chosen in (None, g.layer)]
    trend = gradient_trend(header.get("history") or [], [layer.index for layer in model.param_layers])
    histograms = [h for h in weight_histograms(model, args.bins) if chosen in (None, h.layer)]
    film = None
    if args.filmstrip is not None:
        first = chosen or unit_layers(model)[0].index
        if why_no_filmstrip(model, first):
            raise PynnError(why_no_filmstrip(model, first))
        out.note(f"replaying {plural(model.run.epochs, 'epoch')} of training to record neuron {args.filmstrip}'s "
                 "weights")
        film = replay_training(args.file, data, first, [args.filmstrip])
    out.emit_json({"model": model.spec, "split": args.split,
                   "units": [asdict(h) for h in health],
                   "lstm_gates": [dict(asdict(g), active_share=g.active_share) for g in gates],
                   "gradients": asdict(trend) if trend else None,
                   "weight_histograms": [asdict(h) for h in histograms],
                   "filmstrip": asdict(film) if film else None})
    if args.json:
        return 0
    parts = [_units_table(health, gates, len(x), args.split)]
    if trend is None:
        parts.append(Text("no gradient norms in this file's history (it was not trained by pynn train)"))
    else:
        parts += [Text(f"gradient norm per layer through training: {trend.verdict} — {trend.detail}",
                       style="bold"),
                  LineChart([Series(f"layer {layer}", list(range(1, len(trend.norms) + 1)), list(trend.norms[:, i]))
                             for i, layer in enumerate(trend.layers)], height=8, y_log=True,
                            x_ticks=list(range(1, len(trend.norms) + 1)), x_label="epoch")]
    grid = Table.grid(padding=(0, 3))
    grid.add_row(*[Histogram(h.counts, h.edges, title=f"layer {h.layer} weights: std {h.std:.3g}, "
                             f"norm {h.norm:.3g}", colour_index=i) for i, h in enumerate(histograms)])
    parts += [Text(""), grid]
    if film:
        verdict = ("the replay ended on exactly the saved weights" if film.matches_saved else
                   "the replay did not end on the saved weights (another thread count, library version or data?), "
                   "so these frames show a close relative of the saved run")
        shown = sorted(set(np.linspace(0, len(film.epochs) - 1, min(len(film.epochs), MAX_FRAMES)).round().astype(int)))
        parts += [Text(""), Text(f"neuron {film.neurons[0]} of layer {film.layer} across training (epoch 0: the "
                                 "initial weights)", style="bold"), Text(verdict),
                  map_grid(film.maps[shown, 0], [f"epoch {film.epochs[i]}" for i in shown], "each")]
    out.show(Group(*parts))
    return 0


def _units_table(health, gates, n: int, split_name: str) -> Table:
    table = Table(title=f"units on {plural(n, f'{split_name} sample')}", title_justify="left")
    for column in ("layer", "activation", "units", "dead (never > 0)", "saturated (in the flat tails)",
                   "mean share active"):
        table.add_column(column)
    for h in health:
        table.add_row(str(h.layer), h.activation, str(h.units), _listed(h.dead, h.activation, ("relu", "leaky_relu")),
                      _listed(h.saturated, h.activation, ("sigmoid", "tanh")), f"{h.active_share.mean():.0%}")
    for g in gates:  # an LSTM's units, gate by gate, over every step
        ends = ("-1", "+1") if g.gate == "candidate" else ("shut", "open")
        stuck = [f"{u} {ends[int(g.high_share[u] > g.low_share[u])]}" for u in g.saturated]
        gate = g.gate if g.gate == "candidate" else f"{g.gate} gate"
        table.add_row(str(g.layer), f"LSTM {gate} ({g.activation})", str(g.units), "n/a",
                      _listed(stuck, g.activation, ("sigmoid", "tanh")), f"{g.active_share.mean():.0%}")
    return table


def _listed(units: list, activation: str, applies_to: tuple[str, ...]) -> str:
    if activation not in applies_to:
        return "n/a"
    if not units:
        return "none"
    shown = ", ".join(f"#{u}" for u in units[:MAX_LISTED])
    return f"{len(units)}: {shown}" + (", …" if len(units) > MAX_LISTED else "")
