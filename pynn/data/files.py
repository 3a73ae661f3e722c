"""Datasets from the user's files: CSV, NPZ and IDX, with the labels in the same file or in a second one.

Every way a file can be wrong (ragged rows, text where numbers belong, missing keys, pickled objects, bytes
that are not UTF-8, nothing in it) ends in a PynnError that names the file and, where it helps, the line.
A CSV is a table (input columns and a target) unless it has no numeric column beside the target, or a
series is asked for: then its target column is a series, and a date or text column beside it its time axis.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pynn.data.dataset import CLASSIFICATION, REGRESSION, Dataset
from pynn.data.idx import read_idx
from pynn.data.series import DEFAULT_HORIZON, DEFAULT_LOOKBACK, series_dataset
from pynn.errors import PynnError
from pynn.run import ConfigError
from pynn.words import plural

MAX_CLASSES = 100  # integer targets with at most this many distinct values are taken as class labels
NPY_MAGIC, ZIP_MAGICS = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06")
PICKLE_MAGIC = b"\x80"  # every pickle protocol since 2 starts with the PROTO opcode


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


def _is_header(first: list[str], second: list[str] | None) -> bool:
    """A first row with text in it names the columns, unless it also holds numbers and its text sits where the
    next row has text too: then it is data with a date or text column ("1949-01",112)."""
    numbers = [_is_number(c) for c in first]
    if all(numbers):
        return False
    if second is None or not any(numbers):
        return True
    return any(not is_number and j < len(second) and _is_number(second[j]) for j, is_number in enumerate(numbers))


@dataclass
class Table:
    """A CSV's column names and its data rows as text, each with its line number; blank lines are skipped."""

    path: Path
    header: list[str]
    rows: list[tuple[int, list[str]]]

    @property
    def width(self) -> int:
        return len(self.header)

    def column(self, target: str | None, default: int) -> int:
        """The column --target names (by name or index), or default."""
        if target is None:
            return default
        if target in self.header:
            return self.header.index(target)
        if target.lstrip("-").isdigit() and -self.width <= int(target) < self.width:
            return int(target) % self.width
        raise PynnError(f"{self.path} has no column {target!r}; its columns are {', '.join(self.header)}.")

    def numbers(self, columns: list[int]) -> np.ndarray:
        """These columns as float64 (rows, len(columns)), or the first cell that is not a number, by line."""
        values = np.empty((len(self.rows), len(columns)), np.float64)
        for i, (line, row) in enumerate(self.rows):
            for k, j in enumerate(columns):
                try:
                    values[i, k] = float(row[j])
                except ValueError:
                    raise PynnError(f"{self.path} line {line}, column {self.header[j]!r}: {row[j].strip()!r} is "
                                    "not a number.") from None
        return values

    def text_columns(self) -> list[int]:
        """Columns whose first data cell is not a number: dates, names, categories."""
        return [j for j, cell in enumerate(self.rows[0][1]) if not _is_number(cell)]

    def series_column(self, target: str | None) -> int:
        """The column a series is read from: --target, else the last one holding numbers."""
        numeric = [j for j in range(self.width) if j not in self.text_columns()]
        return self.column(target, numeric[-1] if numeric else self.width - 1)


def read_table(path: Path) -> Table:
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(_text(path))), start=1)
            if row and any(cell.strip() for cell in row)]
    if not rows:
        raise PynnError(f"{path} holds no rows.")
    first = [c.strip() for c in rows[0][1]]
    has_header = _is_header(first, rows[1][1] if len(rows) > 1 else None)
    header = first if has_header else [str(i) for i in range(len(first))]
    body = rows[1:] if has_header else rows
    if not body:
        raise PynnError(f"{path} has a header but no data rows.")
    for line, row in body:
        if len(row) != len(header):
            raise PynnError(f"{path} line {line} has {plural(len(row), 'field')}; "
                            f"{'the header has' if has_header else 'the first row has'} {len(header)}.")
    return Table(path, header, body)


def is_series_table(table: Table, target: str | None) -> bool:
    """True when no column beside the target holds numbers: a column of values over time, not a table."""
    return set(range(table.width)) - set(table.text_columns()) <= {table.series_column(target)}


def read_csv(path: Path, target: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(inputs, raw targets, the target column's name) from a CSV table with or without a header row."""
    return _table_arrays(read_table(path), target)


def _table_arrays(table: Table, target: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    column = table.column(target, table.width - 1)
    if table.width < 2:
        raise PynnError(f"{table.path} has one column; it needs at least one input and the target.")
    values = table.numbers(list(range(table.width)))
    return np.delete(values, column, axis=1), values[:, column], table.header[column]


@dataclass
class SeriesColumn:
    """One CSV column read as a series, with the labels of its time axis when the file has one."""

    name: str
    values: np.ndarray
    time_name: str | None = None
    time: list[str] | None = None
    left_out: list[str] | None = None   # "'Comment' (text)" for each other column, to tell the user


def read_series_csv(table: Table, target: str | None) -> SeriesColumn:
    """The target column (default: the last one holding numbers) as a series; the first text column beside it
    is its time axis (dates like 1949-01); every other column is left out."""
    text, column = table.text_columns(), table.series_column(target)
    values = table.numbers([column])[:, 0]
    others = [j for j in range(table.width) if j != column]
    time_column = next((j for j in others if j in text), None)
    left_out = [f"{table.header[j]!r} ({'text' if j in text else 'numbers'})" for j in others if j != time_column]
    time = None if time_column is None else [row[time_column].strip() for _, row in table.rows]
    return SeriesColumn(table.header[column], values, None if time_column is None else table.header[time_column],
                        time, left_out)


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except FileNotFoundError:
        raise PynnError(f"No such file: {path}.") from None
    except OSError as err:
        raise PynnError(f"Cannot read {path}: {err.strerror}.") from None
    if not head.startswith((NPY_MAGIC, *ZIP_MAGICS)):
        raise PynnError(_not_numpy(path, head))
    try:
        with np.load(path, allow_pickle=False) as f:
            if not isinstance(f, np.lib.npyio.NpzFile):
                return {"arr_0": np.asarray(f)}
            return {k: f[k] for k in f.files}
    except ValueError as err:
        if "pickle" in str(err).lower() or "object" in str(err).lower():
            raise PynnError(f"{path} holds Python objects (pickled data), which pynn never loads.") from None
        raise PynnError(f"{path} is not a readable .npz/.npy file ({err}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise PynnError(f"{path} is not a readable .npz/.npy file ({err}).") from None
    except Exception as err:  # a damaged archive member: zlib, struct, unsupported compression, ...
        raise PynnError(f"{path} is corrupted ({type(err).__name__}: {err}).") from None


def _not_numpy(path: Path, head: bytes) -> str:
    """What a file that is neither a zip archive nor an .npy array holds, judged by its first bytes."""
    valid = "a valid .npz (a zip archive of .npy arrays) or .npy file"
    if not head:
        return f"{path} is empty, not {valid}."
    if head.startswith(PICKLE_MAGIC):
        return f"{path} holds pickled Python objects, which pynn never loads; it is not {valid}."
    first = head.split(b"\n")[0][:40]
    try:
        line = first.decode("utf-8").strip()
    except UnicodeDecodeError as err:  # text whose 40th byte cuts a character still reads as text
        line = first[:err.start].decode("utf-8").strip() if err.start >= len(first) - 3 else ""
    if not line or not line.isprintable():
        return f"{path} starts with the bytes {head[:8]!r}; it is not {valid}."
    return f"{path} is text (it starts {line!r}), not {valid}."


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
    raise ConfigError("data", f"{path} is not a file pynn reads: it reads .csv and .npz files with their labels "
                      "inside, or inputs and labels in two files ({labels} names the second); IDX images need their "
                      "labels file too")


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
    return _dataset_from_arrays(path, x, y, standardize=standardize, seed=seed, n=n)


def _dataset_from_arrays(path: Path, x: np.ndarray, y: np.ndarray, *, standardize: bool, seed: int,
                         n: int | None) -> Dataset:
    if x.dtype == object or (y is not None and y.dtype == object):
        raise PynnError(f"{path} holds Python objects, which pynn never loads.")
    if len(x) == 0:
        raise PynnError(f"{path} holds no samples.")
    if len(x) != len(y):
        raise PynnError(f"{path} has {plural(len(x), 'sample')} but {plural(len(y), 'label')}.")
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


def csv_dataset(path: str | Path, *, target: str | None = None, standardize: bool = False, seed: int = 0,
                n: int | None = None, lookback: int | None = None, horizon: int | None = None,
                difference: bool = False) -> Dataset:
    """A CSV table, or a series when --lookback, --horizon or --difference ask for one or when no column
    beside the target holds numbers (a one-column file, or dates and values)."""
    path = Path(path)
    table = read_table(path)
    asked = lookback is not None or horizon is not None or difference
    if not asked and not is_series_table(table, target):
        x, y, _ = _table_arrays(table, target)
        return _dataset_from_arrays(path, x, y, standardize=standardize, seed=seed, n=n)
    return csv_series(table, n=n, target=target, lookback=lookback, horizon=horizon, difference=difference,
                      chosen=asked)


def csv_series(table: Table, *, target: str | None = None, n: int | None = None, lookback: int | None = None,
               horizon: int | None = None, difference: bool = False, chosen: bool = True) -> Dataset:
    """One CSV column (--target, default the last numeric one) as a series for forecasting, scaled for
    training; the scale is kept so forecasts and errors are reported in the column's own units. chosen: the
    user asked for a series, else they are told why the file is read as one."""
    column = read_series_csv(table, target)
    name = table.path.name
    notes = []
    if not chosen:
        beside = "has one column" if table.width == 1 else f"has no column of numbers beside {column.name!r}"
        notes.append(f"{name} {beside}, so it is read as a series: windows of {DEFAULT_LOOKBACK} values forecast "
                     f"the next {DEFAULT_HORIZON} (set them with --lookback and --horizon).")
    if column.left_out:
        notes.append(f"{name}: the series is the column {column.name!r}"
                     + (f" along {column.time_name!r}" if column.time_name else "")
                     + f"; left out {', '.join(column.left_out)}.")
    time = None if column.time is None else column.time[:n]
    return series_dataset(f"{table.path}:{column.name}", column.values[:n], lookback, horizon, f"file {table.path}",
                          scale=True, difference=difference, time=time, time_name=column.time_name,
                          column=column.name, notes=notes)
