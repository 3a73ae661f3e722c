"""Experiments: many trainings run and compared — the runners, not the analyses (those are pynn.inspect).

    sweep        hidden-size sweeps over seeds: "why 25 hidden units and not 100?"
    compare      two trainings that differ in a few settings, side by side
    workers      where the runs go: this process or local processes
    cluster      the same runs as tasks on a Dask distributed scheduler (optional: pynn[dask])
    results      runs saved as they finish (--out), so an interrupted sweep resumes

The package imports nothing itself, so a worker process can load `workers` before the compiled core.
"""
