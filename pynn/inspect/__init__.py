"""Looking inside a trained network: pure functions from a model (and data) to numpy arrays and small
dataclasses. Nothing here draws; tui/render turns the results into pictures.

    activations  every layer's output for a batch, and running the network from a middle layer; which
                 layers have units (dense layers and LSTMs, whose hidden states are hidden units)
    weights      incoming weights as maps shaped like the input; back-projection for deeper layers; an
                 LSTM's weights per gate
    contributions  which hidden units an output relies on (the "Lego blocks")
    probe        one sample's journey through the layers
    blame        what decided a prediction: the logit gap to the true class split over the units, and its
                 saliency over the input
    triggers     the examples that excite a unit most, and activation maximisation
    health       dead and saturated units, LSTM gates stuck shut or open, gradient norms, weight histograms
    filmstrip    one neuron's weights epoch by epoch, recorded while training
    ablation     accuracy lost when hidden units are silenced (an LSTM's inside its recurrence)
    doctor       findings about a model or spec that explain common mistakes
    filters      a conv layer's filters, one sample's feature maps, the image patches that excite a filter most

The runners of sweeps and comparisons live in pynn.experiments: they train; these only look.

The analyses can be imported from it by name (`from pynn.inspect import weight_maps`): each module loads when one
of its names is first used.
"""
from importlib import import_module

_ANALYSES = {
    "activations": ["layer_outputs", "forward_from", "predicted_classes"],
    "weights": ["weight_maps", "back_projection"],
    "contributions": ["output_reliance", "top_contributors"],
    "probe": ["sample_journey", "misclassified"],
    "blame": ["logit_gap", "gap_saliency"],
    "triggers": ["exciting_examples", "maximise_activation"],
    "health": ["unit_health", "gradient_trend", "weight_histograms"],
    "filmstrip": ["replay_training"],
    "ablation": ["ablate"],
    "doctor": ["check_spec", "check_saved"],
    "filters": ["filter_maps", "feature_maps", "exciting_patches"],
}
_MODULE_OF = {name: module for module, names in _ANALYSES.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
