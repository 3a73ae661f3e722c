"""Experiments: many trainings run and compared — the runners, not the analyses (those are pynn.inspect).

    sweep        a run description plus the fields it varies, over hidden sizes and seeds: "why 25 hidden
                 units and not 100?"
    compare      one run description trained twice, each time with a few fields changed, side by side
    training     one run of either from its plain config, trained as `pynn train` trains it
    workers      where the runs go: this process or local processes
    cluster      the same runs as tasks on a Dask distributed scheduler (optional: pynn[dask])
    results      runs saved as they finish (--out), so an interrupted sweep resumes

The package imports nothing itself, so a worker process can load `workers` before the compiled core.
"""
