"""pynn against PyTorch (CPU) and plain numpy, side by side, in one run, on this machine.

    python bench/run.py [--json FILE] [--only W1,W2] [--quick] [--threads N] [--reps N] [--rounds N]
                        [--torch-python PATH] [--no-busy]

Every (workload, implementation) runs in a fresh Python process with the same thread count for all three
(OMP/OpenBLAS/MKL variables and torch.set_num_threads), so thread pools never compete and each process's
peak resident memory (VmHWM: interpreter, libraries, data and work together, counted from after the data is
loaded) is that workload's alone. The timed work is repeated and the best run kept, because the machine may
be shared.
The machine's peak is measured in the same run, honestly: the widest float32 FMA throughput the cores give,
the better of numpy's OpenBLAS on a 2048^3 multiply with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in that
one process (environments pin an older, narrower kernel with them; threadpoolctl names the kernel that ran)
and pynn's own FMA loop at the widest ISA its core was built for. PyTorch runs in the interpreter
--torch-python names (or PYNN_BENCH_TORCH_PYTHON), so it need not be installed beside pynn. The LSTM rows are
measured again with a busy loop on one core, as on a shared server. Speed targets live here, never in tests.
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
# Ratios to PyTorch in the same run (issue 18), W7's to the numpy peer, W0's to the honest peak.
TARGETS = {"W1": 6.0, "W2": 2.0, "W3": 2.0, "W4": 1.5, "W5": 1.5, "W6": 1.5, "W8": 1.0}
NUMPY_TARGETS = {"W7": 0.5}
W0_SHARE_OF_PEAK = 0.75
W2_MEMORY_ALLOWANCE_MB = 150.0
BUSY = "+busy"               # a workload key with this suffix runs beside a busy loop on one core
BUSY_WORKLOADS = ("W4", "W5")
BUSY_IMPLS = ("pynn", "torch")
# Older OpenBLAS builds misbehave on new processors, so environments pin a kernel with these; the peak's own
# process unsets them to measure what the cores can do.
PINNED_OPENBLAS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def worker(key: str, impl: str, reps: int, quick: bool) -> dict:
    """Run one workload with one implementation in this process; the result as a JSON-ready dict."""
    from bench import peers, workloads

    w = workloads.WORKLOADS[key.removesuffix(BUSY)]
    if impl == "peak":
        return {"status": "ok", **honest_peak()}
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
    if "pynn.core" in sys.modules:  # which build was measured: the installed one, or one built in place
        core = sys.modules["pynn.core"]
        result["pynn_core"], result["pynn_isa"] = core._core.__file__, core.ISA
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


def honest_peak() -> dict:
    """The cores' float32 peak, GFLOP/s, two ways: numpy's 2048^3 multiply (run where the pinning variables are
    unset, see spawn) with the OpenBLAS kernel that ran, and pynn's FMA loop at the ISA its core chose."""
    import numpy as np

    import pynn.core as core

    threads = int(os.environ["PYNN_BENCH_THREADS"])
    n = 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.copy()
    rounds = 10_000_000  # about 0.05-0.2 s of multiply-adds per call
    gflops = {"numpy": 2.0 * n ** 3 / best_seconds(lambda: a @ b) / 1e9}
    flops = core.lib.pynn_fma_peak(rounds, threads)
    gflops["pynn_fma"] = flops / best_seconds(lambda: core.lib.pynn_fma_peak(rounds, threads)) / 1e9
    try:
        from threadpoolctl import threadpool_info
        kernel = ", ".join(f"{i['internal_api']} {i.get('architecture') or '?'}" for i in threadpool_info()
                           if i["user_api"] == "blas") or "no BLAS found"
    except ImportError:
        kernel = "unknown (pip install threadpoolctl)"
    return {"gflops": gflops, "numpy_kernel": kernel, "pynn_isa": core.ISA}


def best_seconds(fn, repeats: int = 5) -> float:
    fn()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return min(seconds)


def spawn(key: str, impl: str, threads: int, reps: int, quick: bool, torch_python: str = sys.executable) -> dict:
    # every implementation's OpenMP threads sleep while they wait, as pynn's do: PyTorch's default spinning
    # took 2.2 s a W5 step instead of 6 ms on this shared machine, which measures the machine, not PyTorch
    env = dict(os.environ, PYNN_BENCH_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
    if impl == "peak":  # only here: the rows keep the environment as it is, as the tests and CI do
        for name in PINNED_OPENBLAS:
            env.pop(name, None)
    python = torch_python if impl == "torch" else sys.executable
    cmd = [python, str(Path(__file__).resolve()), "--worker", key, impl, "--reps", str(reps)]
    if quick:
        cmd.append("--quick")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if key.endswith(BUSY) else None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    finally:
        if busy:
            busy.kill()
            busy.wait()
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
    if w.kind in ("render", "gemm"):
        return f"{r['seconds'] * 1e3:9.2f} ms/{'frame' if w.kind == 'render' else 'multiply'}"
    return f"{r['items'] / r['seconds']:9,.0f} samples/s"


def peak_text(peaks: list[dict]) -> tuple[float, str]:
    """The honest peak (best of every peak process) and the sentence the table's header gives it."""
    ok = [p for p in peaks if p.get("status") == "ok"]
    if not ok:
        return float("nan"), "honest peak: not measured"
    numpy = max(p["gflops"]["numpy"] for p in ok)
    fma = max(p["gflops"]["pynn_fma"] for p in ok)
    return max(numpy, fma), (
        f"honest peak {max(numpy, fma):.1f} GFLOP/s, the better of numpy's 2048^3 matmul {numpy:.1f} "
        f"(OpenBLAS kernel {ok[0]['numpy_kernel']}, {' and '.join(PINNED_OPENBLAS)} unset in its process) and "
        f"pynn's FMA loop {fma:.1f} ({ok[0]['pynn_isa']}); pynn's core chose {ok[0]['pynn_isa']}")


def table(results: dict, peaks: list[dict], threads: int, quick: bool, load: str = "") -> str:
    from bench.workloads import WORKLOADS

    sizes = ", --quick sizes" if quick else ""
    peak, peak_line = peak_text(peaks)
    lines = [f"pynn benchmark: {threads} thread(s) for every implementation, waits sleep (OMP_WAIT_POLICY=PASSIVE)"
             f"{sizes}{load}",
             peak_line,
             "peak mem: peak resident set (VmHWM) of the workload's own process while it runs (interpreter,",
             "libraries, data and work; the mark is reset once the data is loaded); times: best of the repeats",
             *sorted({f"pynn measured: {r['pynn_core']}" for by_impl in results.values() for r in by_impl.values()
                      if "pynn_core" in r}),
             "",
             f"{'':4}{'workload':58}{'impl':7}{'rate':>22}{'GFLOP/s':>9}{'%peak':>7}{'peak mem':>10}"
             f"{'pynn/torch':>12}{'pynn/numpy':>12}"]
    for key, by_impl in results.items():
        w = WORKLOADS[key.removesuffix(BUSY)]
        title = f"{w.title[:44]}; 1 core busy" if key.endswith(BUSY) else w.title
        for i, impl in enumerate(IMPLS):
            r = by_impl.get(impl)
            if r is None:
                continue
            head = f"{key.removesuffix(BUSY):4}{title:58}" if i == 0 else " " * 62
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
    lines += ["", "targets (pynn / PyTorch, W7 pynn / numpy, same run):"]
    w0 = results.get("W0", {}).get("pynn", {})
    if w0.get("status") == "ok":
        share = w0["flops"] / w0["seconds"] / 1e9 / peak
        lines.append(f"  W0 >= {100 * W0_SHARE_OF_PEAK:.0f}% of the honest peak: {100 * share:.1f}% "
                     f"{'met' if share >= W0_SHARE_OF_PEAK else 'NOT MET'}")
    for key, want, peer in [*((k, v, "torch") for k, v in TARGETS.items()),
                            *((k, v, "numpy") for k, v in NUMPY_TARGETS.items())]:
        by_impl = results.get(key, {})
        mine, other = by_impl.get("pynn", {}), by_impl.get(peer, {})
        if mine.get("status") == "ok" and other.get("status") == "ok":
            got = other["seconds"] / mine["seconds"]
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
    parser.add_argument("--torch-python", metavar="PATH",
                        default=os.environ.get("PYNN_BENCH_TORCH_PYTHON", sys.executable),
                        help="the Python that has PyTorch (default: PYNN_BENCH_TORCH_PYTHON, else this one)")
    parser.add_argument("--no-busy", action="store_true", help="skip the LSTM rows beside a busy loop")
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
    runs = [(key, impl) for key in keys for impl in IMPLS]
    if not args.no_busy:
        runs += [(key + BUSY, impl) for key in keys if key in BUSY_WORKLOADS for impl in BUSY_IMPLS]
    peaks, results = [], {key: {} for key, _ in runs}
    loads = [os.getloadavg()[0]] if hasattr(os, "getloadavg") else []
    # Rounds interleave the implementations in time, so a busy spell on a shared machine does not land on
    # one of them only; every number kept is the best over all rounds.
    for round_no in range(1, rounds + 1):
        peaks.append(spawn("W1", "peak", args.threads, reps, args.quick))
        for key, impl in runs:
            result = spawn(key, impl, args.threads, reps, args.quick, args.torch_python)
            results[key][impl] = best_of(results[key].get(impl), result)
            print(f"  round {round_no}/{rounds} {key} {impl}: {result['status']}"
                  + (f" {result['seconds']:.3f} s" if result["status"] == "ok" else ""), file=sys.stderr,
                  flush=True)
        loads += [os.getloadavg()[0]] if loads else []
    load = f"; load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores" if loads else ""
    print(table(results, peaks, args.threads, args.quick, load))
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "quick": args.quick,
                                               "peak_gflops": peak_text(peaks)[0], "peak_runs": peaks,
                                               "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
