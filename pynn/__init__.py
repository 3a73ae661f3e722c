"""pynn: build, train and look inside small neural networks. numpy and a compiled C core; no terminal code.

The front door, for people who know Keras:

    import pynn
    data = pynn.load_dataset("digits")
    model = pynn.build("784-30-10", data)      # or pynn.Sequential([pynn.Dense(30, "sigmoid"), pynn.Dense(10)])
                                               # or "28x28-conv8k5-pool2-30-10": pynn.Conv2D(8, 5), pynn.MaxPool2D(2)
    model.fit(data, epochs=3, seed=1)          # keywords are the run description's fields (pynn.RunConfig)
    model.evaluate(data)["accuracy"]
    pynn.save(model, "m.npz"); model = pynn.load("m.npz")
    pynn.inspect.weight_maps(model)

Importing pynn loads nothing else, so a worker process can set its thread count before the compiled core loads;
each name here loads its module when first used.
"""
from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "load_dataset": "pynn.data",
    "build": "pynn.model",
    "Sequential": "pynn.model",
    "Dense": "pynn.layers",
    "Dropout": "pynn.layers",
    "LSTM": "pynn.lstm",
    "Conv2D": "pynn.convolution",
    "MaxPool2D": "pynn.convolution",
    "RunConfig": "pynn.run",
    "PynnError": "pynn.errors",
}
# the parts a user reaches as attributes (pynn.inspect.weight_maps) without importing them first
_SUBPACKAGES = ("data", "experiments", "inspect")
__all__ = sorted([*_EXPORTS, *_SUBPACKAGES, "load", "save"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
    elif name in _SUBPACKAGES:
        value = import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def save(model, path):
    """Save model atomically to path: an .npz with a JSON header holding its run description, where its data
    came from and its last fit's history. pynn.load reads it back."""
    from pynn.files import save_model
    from pynn.train import history_dicts

    return save_model(model, path, history=history_dicts(model.history), data=model.data_summary)


def load(path, *, spec=None):
    """The model saved at path by pynn.save or pynn.files.save_model (pynn.files.load_model also gives the file's
    header), or one another framework wrote: .onnx, .keras, .h5, or a PyTorch state dict as .safetensors, whose
    activations spec gives (pynn.load("lab.safetensors", spec="784-25:relu-15:relu-10")); model.origin then says
    where it came from and what pynn assumed in reading it."""
    from pynn.files import load_model

    return load_model(path, spec=spec)[0]
