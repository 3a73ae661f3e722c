"""`pynn freeze`: the softmax freeze, reproduced — the same model trained twice with the same seed, the softmax
applied once (cross-entropy's own) and twice (a softmax on the output layer before cross-entropy, the bug
`pynn check` warns about), side by side: the loss curves, the output probabilities, the gradient norms per layer
and why. Every flag of `pynn train` sets what both runs share."""
from __future__ import annotations

import pynn.run
from pynn.experiments.freeze import softmax_freeze
from pynn_tui.commands.common import add_json_arg, add_run_args, shared_run
from pynn_tui.output import Output
from pynn_tui.render.freeze import freeze_view


def register(sub) -> None:
    p = sub.add_parser("freeze", help="a softmax applied twice beside once: why a network stops learning",
                       description="Train the same model twice with the same seed: once with the softmax applied "
                                   "once (inside cross-entropy, as pynn does), once with it applied twice (on the "
                                   "output layer and again inside cross-entropy, as nn.Softmax before PyTorch's "
                                   "CrossEntropyLoss does), and show the loss curves, the output probabilities, "
                                   "the gradient norms per layer and why. E.g. pynn freeze --epochs 3, or "
                                   "pynn freeze --data shakespeare --optimizer adam --epochs 3.")
    add_run_args(p, pynn.run.GROUPS, exclude=("double_softmax",))
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    shared, data = shared_run(args)
    shared.replace(double_softmax=True).build_model(data)  # what cannot take a softmax twice fails here, in words
    out.line(f"training {shared.model} on {data.name} twice with seed {shared.seed}: the softmax once, then twice")
    result = softmax_freeze(shared)
    out.emit_json(result)
    out.show(freeze_view(result))
    return 0
