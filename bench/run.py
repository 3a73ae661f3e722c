"""pynn against PyTorch (CPU) and plain numpy, side by side, in one run, on this machine.

    python bench/run.py [--json FILE] [--only W1,W2] [--quick] [--threads N] [--reps N] [--rounds N]

Every (workload, implementation) runs in a fresh Python process with the same thread count for all three
(OMP/OpenBLAS/MKL variables and torch.set_num_threads), so thread pools never compete and each process's
peak resident memory (VmHWM: interpreter, libraries, data and work together, counted from after the data is
loaded) is that workload's alone. The timed work is repeated and the best run kept, because the machine may
be shared.
The machine's peak is measured in the same run: the best float32 2048x2048 matrix multiply numpy or
PyTorch can do. Speed targets live here, never in the tests.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench.* comes from the checkout, pynn from wherever Python finds it first: the installed package (the
# checkout's own pynn has no compiled core unless it was built in place), or the checkout if nothing is.
sys.path.append(str(ROOT))
IMPLS = ("pynn", "torch", "numpy")
# Ratios to PyTorch in the same run that issue 6 asks for.
TARGETS = {"W1": 5.0, "W2": 1.5, "W3": 1.0, "W4": 2.0, "W5": 2.0}
W2_MEMORY_ALLOWANCE_MB = 150.0


def worker(key: str, impl: str, reps: int, quick: bool) -> dict:
    """Run one workload with one implementation in this process; the result as a JSON-ready dict."""
    from bench import peers, workloads

    w = workloads.WORKLOADS[key]
    if impl == "peak":
        return {"status": "ok", "gflops": peak_gflops()}
    threads = int(os.environ["PYNN_BENCH_THREADS"])
    try:
        if impl == "torch":
            peers._torch().set_num_threads(threads)
        data = workloads.data_for(w, quick)
        run = {"pynn": workloads.run_pynn, "torch": peers.run_torch, "numpy": peers.run_numpy}[impl](w, data)
    except workloads.Unavailable as err:
        return {"status": "unavailable", "reason": str(err)}
    gc.collect()
    memory_from = "workload" if reset_peak_memory() else "process"
    run()  # warm-up, untimed: first calls pay for lazy initialisation (PyTorch's especially)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    result = {"status": "ok", "seconds": min(times), "all_seconds": times, "items": w.samples(quick),
              "flops": w.flops(quick), "peak_rss_mb": peak_memory_mb(), "peak_rss_over": memory_from}
    if "pynn._core" in sys.modules:  # which build was measured: the installed one, or one built in place
        result["pynn_core"] = sys.modules["pynn._core"].__file__
    return result


def reset_peak_memory() -> bool:
    """Forget the peak resident set so far (Linux: /proc/self/clear_refs), so that what loading the data
    briefly needed is not counted; False where the kernel does not offer it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_memory_mb() -> float:
    """The peak resident set (since the last reset), MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_gflops() -> dict:
    """Best float32 2048^3 multiply, GFLOP/s, from each library that is installed."""
    import numpy as np

    n, best = 2048, {}
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.copy()
    candidates = {"numpy": lambda: a @ b}
    try:
        import torch
        torch.set_num_threads(int(os.environ["PYNN_BENCH_THREADS"]))
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        candidates["torch"] = lambda: ta @ tb
    except ImportError:
        pass
    for name, fn in candidates.items():
        fn()
        seconds = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
        best[name] = 2.0 * n ** 3 / min(seconds) / 1e9
    return best


def spawn(key: str, impl: str, threads: int, reps: int, quick: bool) -> dict:
    env = dict(os.environ, PYNN_BENCH_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", key, impl, "--reps", str(reps)]
    if quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "failed", "reason": last}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(kept: dict | None, new: dict) -> dict:
    """The faster of two measurements of the same thing, keeping every timing and the larger peak memory."""
    if kept is None or kept["status"] != "ok":
        return new
    if new["status"] != "ok":
        return kept
    best = dict(min(kept, new, key=lambda r: r["seconds"]))
    best["all_seconds"] = kept["all_seconds"] + new["all_seconds"]
    best["peak_rss_mb"] = max(kept["peak_rss_mb"], new["peak_rss_mb"])
    return best


def rate_text(w, r: dict) -> str:
    if w.kind == "lstm":
        steps = r["items"] / w.batch
        return f"{r['seconds'] / steps * 1e3:9.2f} ms/step"
    if w.kind == "render":
        return f"{r['seconds'] * 1e3:9.2f} ms/frame"
    return f"{r['items'] / r['seconds']:9,.0f} samples/s"


def table(results: dict, peak: float, threads: int, quick: bool) -> str:
    from bench.workloads import WORKLOADS

    sizes = ", --quick sizes" if quick else ""
    lines = [f"pynn benchmark: {threads} thread(s) for every implementation{sizes}; "
             f"machine peak {peak:.1f} GFLOP/s (best float32 2048^3 matmul of numpy/PyTorch, this run)",
             "peak mem: peak resident set (VmHWM) of the workload's own process while it runs (interpreter,",
             "libraries, data and work; the mark is reset once the data is loaded); times: best of the repeats",
             *sorted({f"pynn measured: {r['pynn_core']}" for by_impl in results.values() for r in by_impl.values()
                      if "pynn_core" in r}),
             "",
             f"{'':4}{'workload':58}{'impl':7}{'rate':>22}{'GFLOP/s':>9}{'%peak':>7}{'peak mem':>10}"
             f"{'pynn/torch':>12}{'pynn/numpy':>12}"]
    for key, by_impl in results.items():
        w = WORKLOADS[key]
        mine = by_impl.get("pynn", {})
        for i, impl in enumerate(IMPLS):
            r = by_impl.get(impl)
            if r is None:
                continue
            head = f"{key:4}{w.title:58}" if i == 0 else " " * 62
            if r["status"] != "ok":
                why = "not available yet" if r["status"] == "unavailable" else "failed"
                lines.append(f"{head}{impl:7}  {why}: {r['reason'][:90]}")
                continue
            gflops = r["flops"] / r["seconds"] / 1e9
            flop_text = f"{gflops:9.2f}{100 * gflops / peak:6.1f}%" if r["flops"] else f"{'-':>9}{'-':>7}"
            ratios = ""
            if impl == "pynn":
                for peer in ("torch", "numpy"):
                    other = by_impl.get(peer, {})
                    ok = other.get("status") == "ok"
                    ratios += f"{other['seconds'] / r['seconds']:11.2f}x" if ok else f"{'-':>12}"
            lines.append(f"{head}{impl:7}{rate_text(w, r):>22}{flop_text}{r['peak_rss_mb']:8.0f} MB{ratios}")
    lines += ["", "targets (pynn / PyTorch, same run):"]
    for key, want in TARGETS.items():
        by_impl = results.get(key, {})
        mine, torch = by_impl.get("pynn", {}), by_impl.get("torch", {})
        if mine.get("status") == "ok" and torch.get("status") == "ok":
            got = torch["seconds"] / mine["seconds"]
            lines.append(f"  {key} >= {want:.1f}x: {got:.2f}x {'met' if got >= want else 'NOT MET'}")
        else:
            lines.append(f"  {key} >= {want:.1f}x: not measured")
    w2 = results.get("W2", {}).get("pynn", {})
    if w2.get("status") == "ok":
        data_mb = w2["items"] * (784 * 4 + 8) / 2 ** 20
        budget = data_mb + W2_MEMORY_ALLOWANCE_MB
        lines.append(f"  W2 peak memory <= float32 data {data_mb:.0f} MB + {W2_MEMORY_ALLOWANCE_MB:.0f} MB: "
                     f"{w2['peak_rss_mb']:.0f} MB {'met' if w2['peak_rss_mb'] <= budget else 'NOT MET'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    parser.add_argument("--only", metavar="W1,W2", help="run only these workloads")
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, one round: a smoke run")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for everyone")
    parser.add_argument("--reps", type=int, default=2, help="timed repeats in each process (best kept)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="fresh processes per measurement, interleaved (default 2, 1 with --quick)")
    parser.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    reps = args.reps
    if args.worker:
        print(json.dumps(worker(*args.worker, reps, args.quick)))
        return 0
    from bench.workloads import WORKLOADS

    keys = [k.strip().upper() for k in args.only.split(",")] if args.only else list(WORKLOADS)
    unknown = [k for k in keys if k not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    rounds = args.rounds or (1 if args.quick else 2)
    peaks, results = [], {key: {} for key in keys}
    # Rounds interleave the implementations in time, so a busy spell on a shared machine does not land on
    # one of them only; every number kept is the best over all rounds.
    for round_no in range(1, rounds + 1):
        peaks.append(spawn("W1", "peak", args.threads, reps, args.quick))
        for key in keys:
            for impl in IMPLS:
                result = spawn(key, impl, args.threads, reps, args.quick)
                results[key][impl] = best_of(results[key].get(impl), result)
                print(f"  round {round_no}/{rounds} {key} {impl}: {result['status']}"
                      + (f" {result['seconds']:.3f} s" if result["status"] == "ok" else ""), file=sys.stderr,
                      flush=True)
    peak = max((v for p in peaks for v in p.get("gflops", {}).values()), default=float("nan"))
    print(table(results, peak, args.threads, args.quick))
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "quick": args.quick, "peak_gflops": peak,
                                               "peak_runs": peaks, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
