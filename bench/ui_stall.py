"""How long the app's UI can go unanswered while a model trains, screen by screen.

    python bench/ui_stall.py [--spec 784-100-10] [--seconds 3] [--screens 2,3,4,5]

Each screen is opened in the real app through Textual's pilot (80x24), a run starts, and a 20 ms timer in
the UI's event loop records the gaps between its ticks; the longest gap is the longest time a key press
could have waited. The app's own bound is half a second. This is a measurement, not a test: on a shared
machine the numbers move, so they live here beside the speed benchmarks instead of in timed tests.
Also prints the time from `pynn` to the first frame on a real pseudo-terminal.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STALL_BOUND_S = 0.5
TICK_S = 0.02


async def longest_gap(key: str, spec: str, seconds: float) -> tuple[float, int]:
    """The longest gap between UI ticks while screen `key` follows a run of `spec`, and the number of ticks."""
    from pynn_tui.app import PynnApp
    from pynn_tui.workbench import Workbench

    bench = Workbench(spec=spec)
    bench.configure(epochs=10_000)
    app = PynnApp(bench)
    gaps: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        await pilot.pause(0.3)
        last = [time.perf_counter()]

        def beat() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(TICK_S, beat)
        await pilot.press("t")
        await pilot.pause(seconds)
        bench.stop()
        while app.training:
            await pilot.pause(0.05)
    return max(gaps[2:]), len(gaps)  # the first ticks overlap the screen's own start-up


def first_frame_seconds(runs: int) -> list[float]:
    """Seconds from launching `pynn` on an 80x24 pseudo-terminal to the first frame showing the default model."""
    import tempfile

    from test_app import launch_in_pty  # the app test's real-terminal launcher, one copy of it

    with tempfile.TemporaryDirectory() as cwd:
        return [launch_in_pty([], b"784-30-10", cwd=cwd)[0] for _ in range(runs)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="784-100-10")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each screen follows the run")
    parser.add_argument("--screens", default="2,3,4,5", help="screen digits to measure (2 = Train)")
    parser.add_argument("--first-frame-runs", type=int, default=5)
    args = parser.parse_args()
    # tests/: the app tests' launcher and their helpers. Appended, so pynn and tui are the installed ones (the
    # checkout's pynn has no compiled core unless it was built in place), or the checkout's if nothing is.
    sys.path += [str(ROOT / "tests"), str(ROOT)]
    if args.first_frame_runs:
        times = first_frame_seconds(args.first_frame_runs)
        print(f"first frame of `pynn` on an 80x24 pty: median {statistics.median(times):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
    worst = 0.0
    for key in args.screens.split(","):
        gap, ticks = asyncio.run(longest_gap(key.strip(), args.spec, args.seconds))
        worst = max(worst, gap)
        print(f"screen {key}: longest UI stall during a {args.spec} run {gap * 1000:.0f} ms over {ticks} ticks")
    verdict = "within" if worst < STALL_BOUND_S else "OVER"
    print(f"longest stall {worst * 1000:.0f} ms: {verdict} the {STALL_BOUND_S * 1000:.0f} ms bound")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
