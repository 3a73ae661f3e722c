"""How long the app's UI can go unanswered while a model trains, screen by screen, and what following a run
costs the run.

    python bench/ui_stall.py [--runs dense,lstm] [--seconds 3] [--screens 1,2,3,4,5,6,7]

For each run (dense: 784-100-10 on the digits, sgd batch 10; lstm: lstm128*-62 on the shakespeare text, adam
batch 32) and each screen, the real app (Textual's pilot, 80x24) starts the run on the Train screen, then the
screen's digit is pressed (the switch: until the screen has drawn), and for `--seconds` a 20 ms timer in the
UI's event loop records the gaps between its ticks (the longest is the longest a key press could have waited)
while the screen's own key (n, →, ?...) is pressed twice a second, each timed until the screen shows its answer
(the LSTM screen: the next sample's trace, read in a worker). The run's batches per second on the screen are
compared with those on the Train screen (screen 2 itself: 100%). Bounds: 300 ms for a key and a tick gap, 80%
of the Train screen's speed. This is a measurement, not a test: on a shared machine the numbers move, so they
live here beside the speed benchmarks instead of in timed tests. Also prints the time from `pynn` to the
first frame on a real pseudo-terminal.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY_BOUND_S = 0.3      # a key answers within this, and no tick gap is longer
SPEED_BOUND = 0.8      # following a run keeps this share of its speed on the Train screen
TICK_S = 0.02
RUNS = {"dense": dict(spec="784-100-10", settings={}),
        "lstm": dict(data="shakespeare", spec="lstm128*-62", settings=dict(optimizer="adam", batch=32))}
# each screen's own key, pressed while it follows the run, and what the screen shows once it has answered
# (? opens the key list, closed again untimed; it stands in on a screen that does not apply to the model)
SCREEN_KEYS = {"1": "question_mark", "2": "question_mark", "3": "right", "4": "right", "5": "n",
               "6": "question_mark", "7": "n"}
MOVED = {"3": "cursor", "4": "output", "5": "index"}  # the attribute the key moves


def batches_done(bench) -> int:
    p = bench.progress
    return max(p.epoch - 1, 0) * p.n_batches + p.batch


async def until(pilot, condition, patience: float = 60.0) -> None:
    end = time.monotonic() + patience
    while not condition():
        if time.monotonic() > end:
            raise SystemExit("the app did not get there within a minute")
        await pilot.pause(0.01)


def drawn(app, name: str, key: str) -> bool:
    """Whether screen `key` is current and shows what the workbench holds (an LSTM trace: read and drawn)."""
    screen = app.screen
    if app.current_mode != name:
        return False
    if key == "7":
        return getattr(screen, "shown", None) is not None or bool(getattr(screen, "reason", ""))
    return getattr(screen, "drawn_version", 0) is not None


async def follow(run: str, key: str, seconds: float) -> dict:
    """Screen `key` following a `run`: the switch to it, the longest tick gap, the slowest key, the speed."""
    from pynn_tui.app import PynnApp
    from pynn_tui.screens import SCREENS
    from pynn_tui.workbench import Workbench

    recipe = RUNS[run]
    bench = Workbench(data=recipe.get("data"), spec=recipe["spec"])
    bench.configure(epochs=10_000, **recipe["settings"])
    name = next(n for n, _m, _c, k, _t in SCREENS if k == key)
    app = PynnApp(bench, first_screen="train")
    gaps: list[float] = []
    keys: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        app.action_train()
        await until(pilot, lambda: batches_done(bench) > 2)
        start = time.perf_counter()
        post_key(app, key)
        await until(pilot, lambda: drawn(app, name, key))
        switch = time.perf_counter() - start
        await pilot.pause(0.3)
        last = [time.perf_counter()]

        def beat() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(TICK_S, beat)
        done0, t0 = batches_done(bench), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            keys.append(await timed_key(pilot, app, key))
            await asyncio.sleep(0.5)
        speed = (batches_done(bench) - done0) / (time.perf_counter() - t0)
        bench.stop()
        await until(pilot, lambda: not app.training)
    return {"run": run, "screen": key, "gap": max(gaps[2:], default=0.0), "key": max(keys, default=0.0),
            "switch": switch, "speed": speed}


def post_key(app, key: str) -> None:
    """The key as the terminal sends it, as the pilot makes it. (The pilot's own press then waits for the whole
    process to fall idle, which it never does while a run trains: it would time the pilot, not the app.)"""
    import unicodedata

    from textual import events
    from textual.keys import _get_unicode_name_from_key

    try:
        character = unicodedata.lookup(_get_unicode_name_from_key(key))
    except KeyError:
        character = key if len(key) == 1 else None
    app.post_message(events.Key(key, character))


async def timed_key(pilot, app, key: str) -> float:
    """Seconds from pressing the screen's own key to its answer on the screen."""
    from pynn_tui.screens.help import HelpScreen

    screen = app.screen
    press = "question_mark" if getattr(screen, "reason", "") else SCREEN_KEYS[key]
    if press == "question_mark":
        answered = lambda: isinstance(app.screen, HelpScreen)  # noqa: E731
    elif key == "7":  # the next sample's trace, read in a worker, drawn
        shown = screen.index
        answered = lambda: screen.shown is not None and screen.shown.key[0] != shown  # noqa: E731
    else:
        before = getattr(screen, MOVED[key])
        answered = lambda: getattr(screen, MOVED[key]) != before  # noqa: E731
    start = time.perf_counter()
    post_key(app, press)
    await until(pilot, answered)
    elapsed = time.perf_counter() - start
    if press == "question_mark":
        post_key(app, "escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
    return elapsed


def first_frame_seconds(runs: int) -> list[float]:
    """Seconds from launching `pynn` on an 80x24 pseudo-terminal to the first frame showing the default model."""
    import tempfile

    from test_app import launch_in_pty  # the app test's real-terminal launcher, one copy of it

    with tempfile.TemporaryDirectory() as cwd:
        return [launch_in_pty([], b"784-30-10", cwd=cwd)[0] for _ in range(runs)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="dense,lstm", help="which runs: dense, lstm")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each screen follows the run")
    parser.add_argument("--screens", default="1,2,3,4,5,6,7", help="screen digits to measure (2 = Train)")
    parser.add_argument("--first-frame-runs", type=int, default=5)
    args = parser.parse_args()
    # tests/: the app tests' launcher and their helpers. Appended, so pynn and tui are the installed ones (the
    # checkout's pynn has no compiled core unless it was built in place), or the checkout's if nothing is.
    sys.path += [str(ROOT / "tests"), str(ROOT)]
    if args.first_frame_runs:
        times = first_frame_seconds(args.first_frame_runs)
        print(f"first frame of `pynn` on an 80x24 pty: median {statistics.median(times):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
    screens = [k.strip() for k in args.screens.split(",")]
    rows = []
    for run in args.runs.split(","):
        train_speed = None
        for key in (["2"] if "2" not in screens else []) + sorted(screens, key=lambda k: k != "2"):
            result = asyncio.run(follow(run.strip(), key, args.seconds))
            if key == "2":
                train_speed = result["speed"]
            if key in screens:
                result["share"] = result["speed"] / train_speed if train_speed else float("nan")
                rows.append(result)
    print("\n| run | screen | switch to it | longest tick gap | slowest key | run speed vs Train |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['run']} | {r['screen']} | {r['switch'] * 1000:.0f} ms | {r['gap'] * 1000:.0f} ms | "
              f"{r['key'] * 1000:.0f} ms | {r['share']:.0%} ({r['speed']:.0f} batches/s) |")
    worst = max(max(r["gap"], r["key"]) for r in rows)
    slowest = min(r["share"] for r in rows)
    print(f"longest wait {worst * 1000:.0f} ms: {'within' if worst < KEY_BOUND_S else 'OVER'} the "
          f"{KEY_BOUND_S * 1000:.0f} ms bound; slowest run {slowest:.0%} of its Train-screen speed: "
          f"{'within' if slowest >= SPEED_BOUND else 'OVER'} the {SPEED_BOUND:.0%} bound")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
