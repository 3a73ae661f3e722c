"""Datasets: the bundled digits, synthetic sets, and files, all returned as one Dataset type."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pynn.data.dataset import BINARY, CLASSIFICATION, REGRESSION, TASKS, Dataset
from pynn.data.idx import read_idx
from pynn.data.synthetic import xor
from pynn.errors import PynnError

DIGITS_DIR = Path(__file__).parent / "digits"
DIGITS_SOURCE = "MNIST database (Y. LeCun, C. Cortes, C. J. C. Burges), CC BY-SA 3.0: the 10,000 test digits"


def digits(seed: int = 0, n: int | None = None) -> Dataset:
    """The 10,000 real MNIST test digits shipped in the package. Every fifth image (index % 5 == 4) is held out
    for testing: 8,000 train / 2,000 test, both spread over the file's easier and harder writers."""
    images = read_idx(DIGITS_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(DIGITS_DIR / "t10k-labels-idx1-ubyte.gz").astype(np.int32)
    if n is not None:
        images, labels = images[:n], labels[:n]
    x = images.astype(np.float32) / 255.0
    test = np.arange(len(x)) % 5 == 4
    return Dataset("digits", x[~test], labels[~test], x[test], labels[test], (28, 28), CLASSIFICATION,
                   [str(d) for d in range(10)], source=DIGITS_SOURCE)


LOADERS = {"digits": digits, "xor": xor}


def load_dataset(name_or_path: str, *, seed: int = 0, n: int | None = None, **options) -> Dataset:
    loader = LOADERS.get(str(name_or_path).lower())
    if loader is None:
        raise PynnError(f"Unknown dataset {name_or_path!r}; known: {', '.join(LOADERS)}.")
    return loader(seed=seed, n=n)


def list_datasets() -> list[dict]:
    return [{"name": name, "description": (fn.__doc__ or "").split("\n")[0]} for name, fn in LOADERS.items()]


__all__ = ["Dataset", "load_dataset", "list_datasets", "read_idx", "TASKS", "CLASSIFICATION", "BINARY",
           "REGRESSION"]
