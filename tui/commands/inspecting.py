"""What the inspection commands share: a saved model with the data it was trained on (or other data), the
split to look at, and a class named on the command line. Not a subcommand itself (it has no register)."""
from __future__ import annotations

import argparse

import numpy as np

from pynn.data.dataset import Dataset
from pynn.errors import PynnError
from pynn.files import load_model
from pynn.model import Sequential
from pynn_tui.commands.common import add_run_args, given_fields, run_config
from pynn_tui.labels import shown_char

MODEL_DATA = ("the data to look at; by default the data the model was trained on, as its file describes it "
              "(with --data, only the data flags given apply)")


def add_model_and_data_args(p: argparse.ArgumentParser, split: bool = True) -> None:
    p.add_argument("file", metavar="FILE", help="a model saved by `pynn train --save`")
    add_run_args(p, ["data"], show_defaults=False, description=MODEL_DATA)
    if split:
        p.add_argument("--split", choices=["test", "train"], default="test",
                       help="which part of the data to look at (default: test)")


def load_model_and_data(args) -> tuple[Sequential, dict, Dataset]:
    """The saved model, its header, and the data: the model's own (its run description's), with the data
    flags given applied; --data starts afresh from the flags alone."""
    model, header = load_model(args.file)
    data = model_data(args, model)
    model.check_input(data.sample_shape, f"the data {data.name}")
    return model, header, data


def model_data(args, model: Sequential) -> Dataset:
    """The data a command looks at a model with: its description's recipe, changed by the data flags given."""
    return run_config(args, None if "data" in given_fields(args) else model.run).load_data()


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
