"""A process pool for independent training runs. Workers are spawned fresh rather than forked (a forked
child inherits an OpenMP runtime that may hang it) and each uses one OpenMP thread, so parallel runs do not
fight over the cores and every run does the same arithmetic whatever the number of jobs.

This module imports nothing from pynn, so a worker sets its thread count before the compiled core loads."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

THREADS_PER_WORKER = 1


def _limit_threads() -> None:
    # Runs first in each worker, before any task imports the core; OpenMP reads this when it loads.
    os.environ["OMP_NUM_THREADS"] = str(THREADS_PER_WORKER)


def run_in_processes(fn: Callable[[dict], dict], configs: list[dict], jobs: int,
                     on_result: Callable[[int, dict], None] | None = None) -> list[dict]:
    """fn(config) for every config, `jobs` at a time in worker processes; results in the order of configs.
    on_result(position, result) is called in this process as each run finishes. fn must be importable
    (a module-level function) and configs and results plain, picklable values."""
    results: list[dict | None] = [None] * len(configs)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context, initializer=_limit_threads) as pool:
        futures = {pool.submit(fn, config): i for i, config in enumerate(configs)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_result:
                    on_result(i, results[i])
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C or a failed run: start nothing more
            raise
    return results
