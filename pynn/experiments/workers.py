"""Where a sweep's or comparison's independent runs execute: in this process, in local worker processes, or
(pynn.experiments.cluster) on a Dask cluster. Each executor takes a module-level fn and plain configs and yields
every run as it finishes, failures included, so one bad run never stops the others.

Local workers are spawned fresh rather than forked (a forked child inherits an OpenMP runtime that may hang
it) and each uses one OpenMP thread, so parallel runs do not fight over the cores and every run does the
same arithmetic whatever the number of jobs. This module imports nothing that loads the compiled core, so a
worker sets its thread count before the core loads."""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from pynn.errors import PynnError
from pynn.run import ConfigError
from pynn.words import plural

THREADS_PER_WORKER = 1

RunFn = Callable[[dict], dict]


@dataclass
class Finished:
    """One run's end: its result, or in `error` one line on why it has none."""
    position: int              # index of the config in the list given
    config: dict
    result: dict | None
    error: str | None = None
    resumed: bool = False      # read back from a results file rather than run now


def describe_error(err: BaseException) -> str:
    """One line for a run's failure: a PynnError's own sentence, else the exception's type and message."""
    if isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] == "pynn":
        return "the worker cannot import pynn; install pynn (the same version) wherever the runs execute."
    if isinstance(err, PynnError):
        return str(err)
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


class SerialExecutor:
    """Runs one after another in this process: no start-up cost, for the library and small jobs."""
    where = "in this process"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def finished(self, fn: RunFn, configs: list[dict]) -> Iterator[Finished]:
        for i, config in enumerate(configs):
            try:
                result = fn(config)
            except Exception as err:  # noqa: BLE001 - a run's failure is reported, the rest go on
                yield Finished(i, config, None, describe_error(err))
            else:
                yield Finished(i, config, result)


def _limit_threads() -> None:
    # Runs first in each worker, before any task imports the core; OpenMP reads this when it loads.
    os.environ["OMP_NUM_THREADS"] = str(THREADS_PER_WORKER)


class ProcessExecutor:
    """`jobs` spawned local processes. A run that kills its process (a crash in C, the out-of-memory killer)
    breaks Python's pool and every run in it; the runs caught in it are then tried again one at a time, each
    in a pool of its own, so only the run that really kills its process is reported as failed."""

    def __init__(self, jobs: int):
        if jobs < 1:
            raise ConfigError("jobs", f"must be at least 1, not {jobs}")
        self.jobs = jobs
        self.where = f"in {plural(jobs, 'local process')}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def finished(self, fn: RunFn, configs: list[dict]) -> Iterator[Finished]:
        suspects: list[int] = []
        yield from self._pool(fn, configs, range(len(configs)), self.jobs, suspects)
        for i in suspects:
            lost: list[int] = []
            yield from self._pool(fn, configs, [i], 1, lost)
            if lost:
                yield Finished(i, configs[i], None, "the process running it died (killed, out of memory or "
                                                    "crashed) — run alone it died again.")

    def _pool(self, fn, configs, positions, jobs, lost: list[int]) -> Iterator[Finished]:
        """Runs `positions` in one pool; the positions caught in a broken pool are appended to `lost`."""
        context = multiprocessing.get_context("spawn")
        waiting, broken = list(positions), False
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_limit_threads) as pool:
            running: dict = {}
            try:
                # At most `jobs` runs are handed over at a time, so a dying process can only have taken
                # down the runs that were really running, not the whole queue.
                while waiting or running:
                    while waiting and len(running) < jobs and not broken:
                        i = waiting.pop(0)
                        running[pool.submit(fn, configs[i])] = i
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        i = running.pop(future)
                        err = future.exception()
                        if isinstance(err, BrokenProcessPool):
                            lost.append(i)
                            broken = True
                        elif err is not None:
                            yield Finished(i, configs[i], None, describe_error(err))
                        else:
                            yield Finished(i, configs[i], future.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C or the caller stopped: start nothing more
                raise
        if broken and waiting:
            # The pool broke: what never started was not to blame and goes to a fresh pool.
            yield from self._pool(fn, configs, waiting, jobs, lost)


def run_in_processes(fn: RunFn, configs: list[dict], jobs: int,
                     on_result: Callable[[int, dict], None] | None = None) -> list[dict]:
    """fn(config) for every config, `jobs` at a time in worker processes; results in the order of configs.
    on_result(position, result) is called in this process as each run finishes; the first failed run raises
    a PynnError naming it. fn must be importable (a module-level function) and configs and results plain,
    picklable values."""
    return collect(ProcessExecutor(jobs).finished(fn, configs), len(configs), on_result)


def collect(runs: Iterator[Finished], count: int,
            on_result: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Every run's result in the order of its config, for callers that need them all: a failure raises."""
    results: list[dict | None] = [None] * count
    for run in runs:
        if run.error is not None:
            runs.close()
            raise PynnError(f"A run failed ({run.config}): {run.error}")
        results[run.position] = run.result
        if on_result:
            on_result(run.position, run.result)
    return results
