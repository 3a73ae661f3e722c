"""A sweep's or comparison's finished runs kept in a JSON-lines file as they arrive (`--out results.jsonl`),
so an interrupted run of hundreds of trainings resumes (`--resume`) without redoing the finished ones.

One line per finished run: {"config": {...}, "result": {...}}. A run is known again by its config alone, so
resuming with more sizes or seeds runs only the new ones. Arrays (a comparison's weights) are written as
nested lists with their dtype and read back bit for bit."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from pynn.errors import PynnError
from pynn.experiments.workers import Finished, RunFn

ARRAY = "__ndarray__"


def _encode(value):
    if isinstance(value, np.ndarray):
        return {ARRAY: value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save {type(value).__name__} in a results file")


def _decode(obj: dict):
    if ARRAY in obj:
        return np.array(obj[ARRAY], dtype=obj["dtype"])
    return obj


def config_key(config: dict) -> str:
    """The same text for equal configs, whatever their key order: how a saved run is matched."""
    return json.dumps(config, sort_keys=True, default=_encode)


class ResultStore:
    """The results file: read once when opened, then appended to, one flushed line per finished run."""

    def __init__(self, path: str | os.PathLike, resume: bool = False):
        self.path = Path(path)
        self.saved: dict[str, dict] = {}
        if self.path.is_dir():
            raise PynnError(f"--out {self.path} is a folder; give a file name such as results.jsonl.")
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not resume:
            raise PynnError(f"{self.path} already holds results; add --resume to carry on from them, or give "
                            f"another --out.")
        end = self._read() if exists else 0
        try:
            self._file = open(self.path, "r+b" if exists else "wb")
            # A line cut short when the last sweep was stopped mid-write is dropped; that run is redone.
            self._file.truncate(end)
            self._file.seek(end)
        except OSError as err:
            raise PynnError(f"Cannot write {self.path}: {err.strerror or err}.") from None

    def _read(self) -> int:
        """Loads every complete line; returns the length of the file up to its last complete line."""
        try:
            data = self.path.read_bytes()
        except OSError as err:
            raise PynnError(f"Cannot read {self.path}: {err.strerror or err}.") from None
        end = data.rfind(b"\n") + 1
        for number, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line, object_hook=_decode)
                if not (isinstance(entry, dict) and isinstance(entry.get("config"), dict)
                        and isinstance(entry.get("result"), dict)):
                    raise ValueError("not a saved run")
            except (ValueError, UnicodeDecodeError):
                raise PynnError(f"Line {number} of {self.path} is not a saved pynn run, so it cannot be resumed; "
                                f"the file is left as it is.") from None
            self.saved[config_key(entry["config"])] = entry["result"]
        return end

    def get(self, config: dict) -> dict | None:
        return self.saved.get(config_key(config))

    def add(self, config: dict, result: dict) -> None:
        line = json.dumps({"config": config, "result": result}, default=_encode) + "\n"
        self._file.write(line.encode())
        self._file.flush()
        os.fsync(self._file.fileno())  # a run costs minutes; the line must survive the machine going down
        self.saved[config_key(config)] = result

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def run_saved(fn: RunFn, configs: list[dict], executor, store: ResultStore | None = None) -> Iterator[Finished]:
    """Every config's run as it finishes: first those the store already holds (not run again), then the rest
    through the executor, each saved before it is reported. Failed runs are reported and not saved, so a
    resumed sweep tries them again."""
    todo = []
    for i, config in enumerate(configs):
        saved = store.get(config) if store else None
        if saved is not None:
            yield Finished(i, config, saved, resumed=True)
        else:
            todo.append(i)
    if not todo:
        return
    for run in executor.finished(fn, [configs[i] for i in todo]):
        if store and run.result is not None:
            store.add(run.config, run.result)
        yield replace(run, position=todo[run.position])
