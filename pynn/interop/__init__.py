"""Models trained elsewhere, read into pynn and written back out: ONNX (onnx_format), Keras's .keras and legacy
.h5 (keras_format) and PyTorch state dicts as safetensors (safetensors_format), chosen by the file's suffix.

A model read here is an ordinary pynn Sequential whose `origin` says where it came from (see
pynn.model.Sequential.origin); every view of pynn then works on it. Nothing is ever unpickled: a PyTorch .pt/.pth
file is a pickle, so pynn asks for the state dict as safetensors instead of calling torch.load.
"""
from __future__ import annotations

from pathlib import Path

from pynn.errors import PynnError

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
SAFETENSORS_SUFFIXES = (".safetensors",)
ONNX_SUFFIXES = (".onnx",)
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".ckpt", ".bin")
FOREIGN_SUFFIXES = (*ONNX_SUFFIXES, *KERAS_SUFFIXES, *SAFETENSORS_SUFFIXES, *PICKLE_SUFFIXES)
EXPORT_SUFFIXES = (*ONNX_SUFFIXES, *SAFETENSORS_SUFFIXES)

SAVE_AS_SAFETENSORS = ('from safetensors.torch import save_file; '
                       'save_file(model.state_dict(), "model.safetensors")')


def is_foreign(path) -> bool:
    """True for a file pynn reads by translating it from another framework (by its suffix), not a pynn .npz."""
    return Path(path).suffix.lower() in FOREIGN_SUFFIXES


def read_foreign(path, *, spec: str | None = None):
    """The model in a file another framework wrote, as a pynn Sequential: .onnx, .keras, .h5 or .safetensors.
    spec (a pynn model spec such as 784-25:relu-15:relu-10) says what a safetensors state dict cannot: its
    activations (and an LSTM's steps); without it the shapes give the sizes and model.origin's notes say what
    was assumed. One PynnError sentence for a file pynn cannot read; nothing is half-loaded."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise PynnError(f"{path} is a pickle, which pynn never loads (it could run any code); in PyTorch, save the "
                        f"model's state dict as safetensors instead — {SAVE_AS_SAFETENSORS} — and give pynn that file "
                        "(with --model SPEC for its activations).")
    if spec is not None and suffix not in SAFETENSORS_SUFFIXES:
        raise PynnError(f"{path} describes its own layers; a spec is for a safetensors state dict, whose tensors "
                        "do not say their activations.")
    if suffix in SAFETENSORS_SUFFIXES:
        from pynn.interop.safetensors_format import read_safetensors

        return read_safetensors(path, spec=spec)
    if suffix in KERAS_SUFFIXES:
        from pynn.interop.keras_format import read_keras

        return read_keras(path)
    if suffix in ONNX_SUFFIXES:
        from pynn.interop.onnx_format import read_onnx

        return read_onnx(path)
    raise PynnError(f"{path} is not a model file pynn reads from another framework; it reads "
                    f"{', '.join(FOREIGN_SUFFIXES[:-len(PICKLE_SUFFIXES)])}.")


def write_foreign(model, path) -> Path:
    """Write model for another framework, by path's suffix: .onnx (ONNX Runtime reproduces pynn's outputs) or
    .safetensors (the state dict of the equivalent torch.nn.Sequential, see safetensors_format)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        from pynn.interop.safetensors_format import write_safetensors

        write_safetensors(model, path)
    elif suffix in ONNX_SUFFIXES:
        from pynn.interop.onnx_format import write_onnx

        write_onnx(model, path)
    else:
        raise PynnError(f"pynn exports to .onnx or .safetensors, not {suffix or 'a file without a suffix'} "
                        f"({path}).")
    return path


def foreign_header(model) -> dict:
    """What a pynn model file's header says, for a model read from another framework: no history, no data
    summary, and its origin, so the commands that read a header treat both alike."""
    return {"format": "foreign", "spec": model.spec, "history": [], "data": _drawn_as(model.input_shape),
            "checkpoint": None, "origin": model.origin, "loss": model.loss.name, "n_params": model.n_params}


def _drawn_as(input_shape) -> dict | None:
    """A flat input of a square number of features (784) is drawn as a square image (28x28) in weight maps, as
    the lab's Keras Input((784,)) holds flattened digits; None otherwise."""
    n = int(input_shape[0]) if len(input_shape) == 1 else 0
    side = int(round(n ** 0.5))
    return {"sample_shape": [side, side]} if n > 1 and side * side == n else None


def take_steps_from(model, sample_shape) -> None:
    """An imported model whose first LSTM's steps its file leaves open (a PyTorch state dict, a Keras input of
    (None, n)) takes them from the data's samples, so its summary and traces show the steps it reads."""
    first = model.layers[0]
    if model.origin is None or first.kind != "lstm" or len(sample_shape) != 2:
        return
    if tuple(model.input_shape) != tuple(sample_shape) and model.input_shape[0] == 1 \
            and sample_shape[-1] == model.input_shape[-1]:
        old = "x".join(map(str, model.input_shape))
        model.plan(tuple(sample_shape))
        new = "x".join(map(str, model.input_shape))
        model.spec = new + model.spec[len(old):] if model.spec.startswith(old) else model.spec
        model.run = model.run.replace(model=model.spec)
