"""Does the app's memory stay flat over hours? The real app (Textual's pilot, 80x24, on the Train screen, which
redraws its charts through every run) trains run after run, then one long run, and the resident memory is
printed as it goes.

    python bench/soak.py [--runs 30] [--epochs 10] [--spec 784-100-10] [--long-epochs 2000] [--long-spec 2-8-2]

The runs are `t` pressed again and again on one workbench, as a user leaves it training; the long run is a small
model on the xor data (six batches an epoch) so that thousands of epochs pass in minutes: what is kept per
epoch shows as growth per epoch. This is a measurement, not a test: a test asserts on counts (the history kept,
the charts' points), and this prints what they add up to.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """The process's resident memory now (not its peak), in MB, after a garbage collection."""
    gc.collect()
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


async def soak(args) -> list[tuple[str, float]]:
    from pynn_tui.app import PynnApp
    from pynn_tui.workbench import Workbench

    readings = []
    bench = Workbench(spec=args.spec)
    bench.configure(epochs=args.epochs)
    app = PynnApp(bench, first_screen="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.5)
        readings.append(("start", rss_mb()))
        print(f"start: {readings[-1][1]:.1f} MB", flush=True)
        for run in range(1, args.runs + 1):
            await pilot.press("t")
            # ended: every epoch of this run in the history (a quick run may start and end between two looks)
            await until(pilot, lambda: not app.training and len(bench.history) >= run * args.epochs)
            if run == 1 or run % max(1, args.runs // 5) == 0 or run == args.runs:
                readings.append((f"after {run} runs of {args.epochs} epochs", rss_mb()))
                print(f"{readings[-1][0]}: {readings[-1][1]:.1f} MB", flush=True)
    if args.long_epochs:
        bench = Workbench(data="xor", spec=args.long_spec)
        bench.configure(epochs=args.long_epochs)
        app = PynnApp(bench, first_screen="train")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.5)
            before = rss_mb()
            readings.append(("long run: start", before))
            await pilot.press("t")
            await until(pilot, lambda: app.training or bench.history)
            marks = {args.long_epochs // 10, args.long_epochs // 2}
            while app.training:
                await pilot.pause(0.5)
                done = bench.history[-1].epoch if bench.history else 0
                if any(done >= mark for mark in marks):
                    marks = {mark for mark in marks if done < mark}
                    readings.append((f"long run: {done} epochs", rss_mb()))
                    print(f"{readings[-1][0]}: {readings[-1][1]:.1f} MB", flush=True)
            after, epochs = rss_mb(), bench.history[-1].epoch
            readings.append((f"long run: {epochs} epochs (end)", after))
            print(f"{readings[-1][0]}: {after:.1f} MB; {(after - before) * 1e6 / epochs / 1e3:.2f} KB per epoch; "
                  f"history kept: {len(bench.history)} records", flush=True)
    return readings


async def until(pilot, condition, patience: float = 3600.0) -> None:
    end = time.monotonic() + patience
    while not condition():
        if time.monotonic() > end:
            raise SystemExit("the app did not get there within the patience")
        await pilot.pause(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--spec", default="784-100-10")
    parser.add_argument("--long-epochs", type=int, default=2000)
    parser.add_argument("--long-spec", default="2-8-2")
    args = parser.parse_args()
    sys.path.append(str(ROOT))
    readings = asyncio.run(soak(args))
    print("\n| when | RSS (MB) |\n| --- | --- |")
    for when, mb in readings:
        print(f"| {when} | {mb:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
