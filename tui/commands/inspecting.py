"""What the inspection commands share: a saved model with the data it was trained on (or other data), the
split to look at, and a class named on the command line. Not a subcommand itself (it has no register)."""
from __future__ import annotations

import argparse

import numpy as np

from pynn.data.dataset import Dataset
from pynn.errors import PynnError
from pynn.files import load_model
from pynn.interop import take_steps_from
from pynn.model import Sequential
from pynn_tui.commands.common import add_run_args, given_fields, run_config
from pynn_tui.labels import shown_char
from pynn_tui.output import Output

MODEL_DATA = ("the data to look at; by default the data the model was trained on, as its file describes it "
              "(with --data, only the data flags given apply; a model from Keras, PyTorch or ONNX takes --data)")
MODEL_FILE = ("a model saved by `pynn train --save`, or one from Keras (.keras, .h5), PyTorch (.safetensors) or "
              "ONNX (.onnx)")
FOREIGN_SPEC = ("for a PyTorch state dict (.safetensors): the model spec its tensors cannot say, e.g. "
                "784-25:relu-15:relu-10 (default: relu between Linear layers, logits out of the last)")


def add_model_file_arg(p: argparse.ArgumentParser, name: str = "file", metavar: str = "FILE") -> None:
    """The model file argument, and --model SPEC for what a safetensors state dict cannot say."""
    p.add_argument(name, metavar=metavar, help=MODEL_FILE)
    p.add_argument("--model", dest="model_spec", metavar="SPEC", help=FOREIGN_SPEC)


def load_model_file(path: str, args) -> tuple[Sequential, dict]:
    """(model, header) of any model file pynn reads (pynn.files.load_model), with --model's spec."""
    spec = getattr(args, "model_spec", None)
    if spec is not None and not str(path).lower().endswith(".safetensors"):
        raise PynnError(f"--model SPEC is for a .safetensors state dict, whose tensors do not say their "
                        f"activations; {path} describes its own layers.")
    model, header = load_model(path, spec=spec)
    for note in (model.origin or {}).get("notes", []):  # what pynn assumed in reading another framework's file
        Output(json=getattr(args, "json", False)).note(note)
    return model, header


def add_model_and_data_args(p: argparse.ArgumentParser, split: bool = True) -> None:
    add_model_file_arg(p)
    add_run_args(p, ["data"], show_defaults=False, description=MODEL_DATA)
    if split:
        p.add_argument("--split", choices=["test", "train"], default="test",
                       help="which part of the data to look at (default: test)")


def load_model_and_data(args) -> tuple[Sequential, dict, Dataset]:
    """The saved model, its header, and the data: the model's own (its run description's), with the data
    flags given applied; --data starts afresh from the flags alone."""
    model, header = load_model_file(args.file, args)
    data = model_data(args, model)
    model.check_input(data.sample_shape, f"the data {data.name}")
    return model, header, data


def model_data(args, model: Sequential) -> Dataset:
    """The data a command looks at a model with: its description's recipe, changed by the data flags given. A
    model from another framework has no recipe, so it takes --data; an LSTM whose steps its file leaves open
    takes them from the data."""
    if model.origin is not None and "data" not in given_fields(args):
        raise PynnError(f"This model comes from {model.origin.get('framework', 'another framework')}, and its file "
                        "does not say what data it was trained on; give it with --data (e.g. --data digits, or "
                        "--data digits --as-sequence for an LSTM reading a digit's rows).")
    data = run_config(args, None if "data" in given_fields(args) else model.run).load_data()
    take_steps_from(model, data.sample_shape)
    return data


def split(args, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return (data.x_test, data.y_test) if args.split == "test" else (data.x_train, data.y_train)


def class_index(model: Sequential, data: Dataset, text: str) -> int:
    """A class given by name (as the data or model calls it) or by index."""
    names = model.class_names or data.class_names or []
    if text in names:
        return names.index(text)
    shown = [shown_char(n) for n in names]
    if text in shown:                  # a newline written as the ⏎ the output shows for it
        return shown.index(text)
    try:
        return int(text)
    except ValueError:
        raise PynnError(f"There is no class {text!r}; the classes are {', '.join(shown) or 'numbered'}.") from None
