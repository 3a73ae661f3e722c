"""What the interop tests share: the fixtures Keras and PyTorch made (tests/fixtures/interop/make_fixtures.py),
their recorded outputs, the 1e-5 comparison, and the gate-order proof."""
import itertools
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures" / "interop"
RTOL = 1e-5


def expected(name: str) -> dict:
    """The arrays the framework recorded beside a fixture: inputs, its outputs, accuracy, its parameter count."""
    with np.load(FIXTURES / f"{name}.npz") as f:
        return {k: f[k] for k in f.files}


def assert_close(got, want):
    """Equal to 1e-5 relative to the outputs' scale."""
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * float(np.abs(want).max()))


def other_gate_orders_miss(model, lstm, x, want, outputs=lambda model, x: model.forward(x)[0]) -> list:
    """Every order of lstm's four gate blocks other than the one read, each with how far the outputs then are
    from want (restoring the weights read after)."""
    U = lstm.units
    original = {name: np.array(view) for name, view in lstm.param_views.items()}
    misses = []
    try:
        for order in itertools.permutations(range(4)):
            if order == (0, 1, 2, 3):
                continue
            rows = np.concatenate([np.arange(g * U, (g + 1) * U) for g in order])
            for name, value in original.items():
                lstm.param_views[name][...] = value[rows]
            misses.append((order, float(np.abs(outputs(model, x) - want).max())))
    finally:
        for name, value in original.items():
            lstm.param_views[name][...] = value
    return misses


def fuzz(read, original: Path, path: Path, trials: int, structure_bytes: tuple[int, int]) -> int:
    """Call read(path) on `trials` damaged copies of original (one in four cut short, the others with a few bytes
    changed, most of them within structure_bytes (start, end), where a format keeps its structure); any exception
    but a PynnError fails the test. Returns how many copies read was refused."""
    from pynn.errors import PynnError

    data_in = original.read_bytes()
    rng = np.random.default_rng(16)
    refused = 0
    for trial in range(trials):
        data = bytearray(data_in)
        if trial % 4 == 0:
            data = data[:int(rng.integers(0, len(data)))]
        else:
            for _ in range(int(rng.integers(1, 16))):
                low, high = structure_bytes if rng.random() < 0.7 else (0, len(data))
                data[int(rng.integers(low, min(high, len(data))))] = int(rng.integers(0, 256))
        path.write_bytes(bytes(data))
        try:
            read(path)
        except PynnError:
            refused += 1
    return refused
