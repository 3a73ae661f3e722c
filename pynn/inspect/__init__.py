"""Looking inside a trained network: pure functions from a model (and data) to numpy arrays and small
dataclasses. Nothing here draws; tui/render turns the results into pictures.

    activations  every layer's output for a batch, and running the network from a middle layer; which
                 layers have units (dense layers and LSTMs, whose hidden states are hidden units)
    weights      incoming weights as maps shaped like the input; back-projection for deeper layers; an
                 LSTM's weights per gate
    contributions  which hidden units an output relies on (the "Lego blocks")
    probe        one sample's journey through the layers
    triggers     the examples that excite a unit most, and activation maximisation
    health       dead and saturated units, LSTM gates stuck shut or open, gradient norms, weight histograms
    filmstrip    one neuron's weights epoch by epoch, recorded while training
    ablation     accuracy lost when hidden units are silenced (an LSTM's inside its recurrence)
    sweep        hidden-size sweeps over seeds, run in parallel processes
    compare      two trainings that differ in a few settings, side by side
    doctor       findings about a model or spec that explain common mistakes
    workers      where the runs of a sweep or comparison go: this process or local processes
    cluster      the same runs as tasks on a Dask distributed scheduler (optional: pynn[dask])
    results      runs saved as they finish (--out), so an interrupted sweep resumes

The package imports nothing itself, so a worker process can load `workers` before the compiled core.
"""
