"""Fidelity of the conv layers (issue 17): test accuracy on the bundled digits (8,000 train / 2,000 test), Adam lr
0.001, batch 32, 3 epochs, relu hidden layers, mean over seeds 0, 1, 2, beside PyTorch's numbers for the same
runs. Run: python bench/conv_fidelity.py [--seeds 0,1,2] [--epochs 3]. Not a timed test: it prints, it asserts
nothing."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# pynn from wherever Python finds it first, as bench/run.py does: the installed package (a checkout's own pynn
# has no compiled core unless built in place), or the checkout if nothing is installed
sys.path.append(str(Path(__file__).resolve().parent.parent))
import pynn  # noqa: E402

# PyTorch's mean test accuracy over seeds 0-2 for these runs, as issue 17 reports them
PYTORCH = {
    "28x28-conv8k5-pool2-30-10": 0.940,
    "28x28-conv8k5-pool2-conv16k5-pool2-100-10": 0.961,
    "784-30:relu-10": 0.913,
}


def accuracy(spec: str, data, seed: int, epochs: int) -> float:
    model = pynn.build(spec, data, activation="relu", seed=seed)
    model.fit(data, epochs=epochs, batch=32, optimizer="adam", lr=0.001, seed=seed)
    return model.evaluate(data)["accuracy"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    data = pynn.load_dataset("digits")
    print(f"{'model':<44} {'pynn mean':>9} {'spread':>7} {'PyTorch':>8}  per seed")
    for spec, reference in PYTORCH.items():
        scores = [accuracy(spec, data, seed, args.epochs) for seed in seeds]
        print(f"{spec:<44} {np.mean(scores):>9.3f} {np.std(scores):>7.3f} {reference:>8.3f}  "
              + " ".join(f"{s:.3f}" for s in scores), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
