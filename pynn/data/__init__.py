"""Datasets: the bundled digits, synthetic sets, and files, all returned as one Dataset type."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from pynn.data.dataset import BINARY, CLASSIFICATION, REGRESSION, TASKS, Dataset
from pynn.data.idx import read_idx
from pynn.data.files import csv_dataset, dataset_from_file
from pynn.data.full import FILES, SOURCES, find_idx, load_full, search_dirs
from pynn.data.playground import PLAYGROUND, on_the_plane
from pynn.data.synthetic import GENERATORS
from pynn.data.text import SHAKESPEARE, text_dataset
from pynn.errors import PynnError
from pynn.run import ConfigError

DIGITS_DIR = Path(__file__).parent / "digits"
DIGITS_SOURCE = "MNIST database (Y. LeCun, C. Cortes, C. J. C. Burges), CC BY-SA 3.0: the 10,000 test digits"


def digits(seed: int = 0, n: int | None = None) -> Dataset:
    """10,000 real MNIST digits shipped in the package: 8,000 train / 2,000 test.

    Every fifth image (index % 5 == 4) is held out for testing, so both parts span the file's easier first
    half and harder second half of writers."""
    images = read_idx(DIGITS_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(DIGITS_DIR / "t10k-labels-idx1-ubyte.gz").astype(np.int32)
    if n is not None:
        images, labels = images[:n], labels[:n]
    x = images.astype(np.float32) / 255.0
    test = np.arange(len(x)) % 5 == 4
    return Dataset("digits", x[~test], labels[~test], x[test], labels[test], (28, 28), CLASSIFICATION,
                   [str(d) for d in range(10)], source=DIGITS_SOURCE)


NAMED = {"digits": digits, **PLAYGROUND, **GENERATORS}
GENERATED_OPTIONS = ("noise", "points", "test_ratio")  # what the generated sets take and files do not
FULL_SETS = ("mnist", "fashion-mnist")
FILE_SUFFIXES = (".csv", ".npz", ".npy", ".gz", ".idx", "-ubyte", ".txt")


def load_dataset(name_or_path: str, *, labels: str | None = None, target: str | None = None,
                 standardize: bool = False, seed: int = 0, n: int | None = None, as_sequence: bool = False,
                 **options) -> Dataset:
    """A dataset by name (see list_datasets) or from a file; options go to the synthetic generators
    (e.g. lookback and horizon for sine, noise and points for xor). as_sequence reads each image as a sequence of
    its rows; features (e.g. 'x1,x2,x1*x2') computes Playground's features from a 2-D set's two coordinates."""
    features = options.pop("features", None)
    data = on_the_plane(_load(name_or_path, labels=labels, target=target, standardize=standardize, seed=seed, n=n,
                              **options), features)
    given = dict(labels=labels, target=target, standardize=standardize, n=n, as_sequence=as_sequence,
                 features=features, **options)
    data.recipe = {"name": str(name_or_path), "options": {k: v for k, v in given.items() if v not in (None, False)}}
    return images_as_sequences(data) if as_sequence else data


def images_as_sequences(data: Dataset) -> Dataset:
    """Each (rows, cols) image as rows steps of cols features: a 28x28 digit is 28 steps of 28 pixels, the
    top row first, so an LSTM reads it as it would read a sentence."""
    if len(data.sample_shape) != 2 or data.meta.get("kind") in ("series", "text"):
        raise ConfigError("as_sequence", "reads images (samples of rows x columns) as sequences of rows; "
                          f"{data.name}'s samples have shape {tuple(data.sample_shape)}")
    data.meta = dict(data.meta, kind="sequence")
    return data


def _load(name_or_path: str, *, labels, target, standardize, seed, n, **options) -> Dataset:
    key = str(name_or_path).lower()
    path = Path(name_or_path)
    if options.get("difference") and not (key == "sine" or (path.suffix.lower() == ".csv" and labels is None)):
        raise ConfigError("difference", f"models the change from a series' last value; {name_or_path} is not a "
                          "series (a column of a .csv file, or sine, is)")
    takes = inspect.signature(NAMED[key]).parameters if key in NAMED else {}
    generated = [k for k in GENERATED_OPTIONS if options.get(k) is not None and k not in takes]
    if generated:
        raise ConfigError(generated[0], "applies to the generated sets (xor, circles, spiral, moons, plane, bump), "
                          f"not to {name_or_path}")
    if key in NAMED:
        try:
            return NAMED[key](seed=seed, n=n, **options)
        except TypeError as err:
            raise PynnError(f"Dataset {key!r} does not take the option(s) given ({err}).") from None
    if key in FULL_SETS:
        return load_full(key, n=n)
    if key == "shakespeare":
        return text_dataset(SHAKESPEARE, n=n, seed=seed, name="shakespeare", **options)
    if path.suffix.lower() == ".txt":
        return text_dataset(path, n=n, seed=seed, **options)
    if path.suffix.lower() == ".csv" and labels is None:
        return csv_dataset(path, target=target, standardize=standardize, seed=seed, n=n, **options)
    if path.exists() or path.name.lower().endswith(FILE_SUFFIXES):
        return dataset_from_file(path, labels=labels, target=target, standardize=standardize, seed=seed, n=n)
    raise PynnError(f"Unknown dataset {name_or_path!r}; the names are {', '.join([*NAMED, 'shakespeare', *FULL_SETS])}, "
                    "or give a path to a .csv, .npz or IDX file.")


def list_datasets() -> list[dict]:
    """Every named dataset with a one-line description and whether it can be loaded here without a download."""
    rows = [{"name": name, "kind": "bundled" if name == "digits" else "synthetic", "available": True,
             "description": " ".join((fn.__doc__ or "").split("\n\n")[0].split())} for name, fn in NAMED.items()]
    rows.append({"name": "shakespeare", "kind": "bundled text", "available": True,
                 "description": "Tiny Shakespeare, 1.1 MB of the plays, for character models (public domain)"})
    for name in FULL_SETS:
        here = any(all(find_idx(d, stem) for stem in FILES.values()) for d in search_dirs(name))
        rows.append({"name": name, "kind": "full set (60,000 + 10,000)", "available": here,
                     "description": SOURCES[name]})
    return rows


__all__ = ["Dataset", "load_dataset", "list_datasets", "read_idx", "TASKS", "CLASSIFICATION", "BINARY",
           "REGRESSION"]
