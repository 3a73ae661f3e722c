"""Datasets from the user's files: CSV, NPZ and IDX, with the labels in the same file or in a second one.

Every way a file can be wrong (ragged rows, text where numbers belong, missing keys, pickled objects, bytes
that are not UTF-8, nothing in it) ends in a PynnError that names the file and, where it helps, the line.
"""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np

from pynn.data.dataset import CLASSIFICATION, REGRESSION, Dataset
from pynn.data.idx import read_idx
from pynn.errors import PynnError

MAX_CLASSES = 100  # integer targets with at most this many distinct values are taken as class labels


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PynnError(f"No such file: {path}.") from None
    except OSError as err:
        raise PynnError(f"Cannot read {path}: {err.strerror}.") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise PynnError(f"{path} is not UTF-8 text (byte {err.start} cannot be decoded).") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def read_csv(path: Path, target: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(inputs, raw targets, the target column's name) from a CSV with or without a header row."""
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(_text(path))), start=1)
            if row and any(cell.strip() for cell in row)]
    if not rows:
        raise PynnError(f"{path} holds no rows.")
    first = [c.strip() for c in rows[0][1]]
    has_header = not all(_is_number(c) for c in first)
    header = first if has_header else [str(i) for i in range(len(first))]
    body = rows[1:] if has_header else rows
    if not body:
        raise PynnError(f"{path} has a header but no data rows.")
    width = len(header)
    if target is None:
        column = width - 1
    elif target in header:
        column = header.index(target)
    elif target.lstrip("-").isdigit() and -width <= int(target) < width:
        column = int(target) % width
    else:
        raise PynnError(f"{path} has no column {target!r}; its columns are {', '.join(header)}.")
    if width < 2:
        raise PynnError(f"{path} has one column; it needs at least one input and the target.")
    values = np.empty((len(body), width), np.float64)
    for i, (line, row) in enumerate(body):
        if len(row) != width:
            raise PynnError(f"{path} line {line} has {len(row)} fields; "
                            f"{'the header has' if has_header else 'the first row has'} {width}.")
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise PynnError(f"{path} line {line}, column {header[j]!r}: {cell.strip()!r} is not a "
                                "number.") from None
    inputs = np.delete(values, column, axis=1)
    return inputs, values[:, column], header[column]


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            if not isinstance(f, np.lib.npyio.NpzFile):
                return {"arr_0": np.asarray(f)}
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise PynnError(f"No such file: {path}.") from None
    except ValueError as err:
        if "pickle" in str(err).lower() or "object" in str(err).lower():
            raise PynnError(f"{path} holds Python objects (pickled data), which pynn never loads.") from None
        raise PynnError(f"{path} is not a readable .npz/.npy file ({err}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise PynnError(f"{path} is not a readable .npz/.npy file ({err}).") from None
    except Exception as err:  # a damaged archive member: zlib, struct, unsupported compression, ...
        raise PynnError(f"{path} is corrupted ({type(err).__name__}: {err}).") from None


def read_npz(path: Path, single: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    arrays = _npz_arrays(path)
    for xk, yk in (("x", "y"), ("arr_0", "arr_1")):
        if xk in arrays and (single or yk in arrays):
            return arrays[xk], None if single else arrays[yk]
    if single and len(arrays) == 1:
        return next(iter(arrays.values())), None
    raise PynnError(f"{path} holds the arrays {', '.join(arrays) or 'nothing'}; pynn expects x and y "
                    "(or arr_0 and arr_1).")


def read_inputs_and_targets(path: Path, labels: str | None, target: str | None):
    """Raw (x, y) from one file, or from two when labels names the second."""
    suffixes = "".join(path.suffixes).lower()
    if labels is not None:
        x = _single_array(path)
        y = _single_array(Path(labels))
        return x, y
    if suffixes.endswith(".csv"):
        x, y, _ = read_csv(path, target)
        return x, y
    if suffixes.endswith((".npz", ".npy")):
        return read_npz(path)
    raise PynnError(f"{path}: pynn reads .csv and .npz files with their labels inside, or inputs and labels in two "
                    "files (--labels); IDX images need their labels file too.")


def _single_array(path: Path) -> np.ndarray:
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith((".npz", ".npy")):
        return read_npz(path, single=True)[0]
    if suffixes.endswith(".csv"):
        rows = _text(path)
        try:
            return np.loadtxt(io.StringIO(rows), delimiter=",", ndmin=2, dtype=np.float64).squeeze()
        except ValueError as err:
            raise PynnError(f"{path} is not a table of numbers ({err}).") from None
    return read_idx(path)


def dataset_from_file(path: str | Path, *, labels: str | None = None, target: str | None = None,
                      standardize: bool = False, seed: int = 0, n: int | None = None) -> Dataset:
    path = Path(path)
    if not path.exists():
        raise PynnError(f"No such file: {path}.")
    x, y = read_inputs_and_targets(path, labels, target)
    if x.dtype == object or (y is not None and y.dtype == object):
        raise PynnError(f"{path} holds Python objects, which pynn never loads.")
    if len(x) == 0:
        raise PynnError(f"{path} holds no samples.")
    if len(x) != len(y):
        raise PynnError(f"{path} has {len(x)} samples but {len(y)} labels.")
    if n is not None:
        x, y = x[:n], y[:n]
    images = x.dtype == np.uint8
    x = x.astype(np.float32) / (255.0 if images else 1.0)
    if not np.isfinite(x).all():
        raise PynnError(f"{path} has inputs that are NaN or infinite.")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = max(1, len(x) // 5) if len(x) > 1 else 0
    test, train = order[:n_test], order[n_test:]
    meta: dict = {}
    y = np.asarray(y)
    if y.ndim == 1 and np.all(np.mod(y, 1) == 0) and len(np.unique(y)) <= MAX_CLASSES:
        values = np.unique(y)
        task, names = CLASSIFICATION, [f"{v:g}" for v in values]
        y = np.searchsorted(values, y).astype(np.int32)  # labels 0..k-1, whatever numbers the file used
        meta["label_values"] = values.tolist()
    else:
        task, names = REGRESSION, None
        y = y.astype(np.float32).reshape(len(y), -1)
    if standardize:
        mean, std = x[train].mean(axis=0), x[train].std(axis=0)
        std[std == 0] = 1.0
        x = (x - mean) / std
        meta.update(mean=mean.tolist(), std=std.tolist())
    return Dataset(str(path), x[train], y[train], x[test], y[test], x.shape[1:], task, names,
                   source=f"file {path}", meta=meta)


def csv_series(path: Path, *, target: str | None = None, n: int | None = None, lookback: int | None = None,
               horizon: int | None = None) -> Dataset:
    """One CSV column (--target, default the last) as a series for forecasting, scaled for training; the
    scale is kept so forecasts and errors are reported in the column's own units."""
    from pynn.data.series import series_dataset

    _, values, column = read_csv(path, target)
    return series_dataset(f"{path}:{column}", values[:n], 20 if lookback is None else lookback,
                          1 if horizon is None else horizon, f"file {path}",
                          scale=True)
