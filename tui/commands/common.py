"""Arguments and steps several subcommands share: choosing data, the model spec default, JSON output."""
from __future__ import annotations

import argparse

from pynn.data import load_dataset
from pynn.data.dataset import Dataset

DEFAULT_DATA = "digits"


def add_data_args(p: argparse.ArgumentParser, default: str | None = DEFAULT_DATA) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", default=default, metavar="NAME|PATH",
                   help=f"a dataset name (see `pynn data list`) or a file (default: {default})")
    g.add_argument("--labels", metavar="PATH", help="labels in a second file, for --data holding only inputs")
    g.add_argument("--target", metavar="COLUMN", help="the CSV column (name or index) holding the target")
    g.add_argument("--standardize", action="store_true", help="standardise features with the train set's statistics")
    g.add_argument("--limit", type=int, metavar="N", help="use only the first N samples")
    g.add_argument("--lookback", type=int, metavar="N", help="steps in each input window of a series (sine)")
    g.add_argument("--horizon", type=int, metavar="H", help="steps a series model forecasts (sine)")
    g.add_argument("--difference", action="store_true", help="model a series' change from its last value (the "
                   "forecast is the last value plus the predicted change): for a series that trends")
    g.add_argument("--as-sequence", action="store_true",
                   help="read each image as a sequence of its rows (a digit: 28 steps of 28 pixels), for LSTMs")


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object with the results, nothing else")


def data_options(args: argparse.Namespace) -> dict:
    """The keyword arguments that reproduce this data choice (saved in model files for `pynn eval`)."""
    opts = {"labels": args.labels, "target": args.target, "standardize": args.standardize, "n": args.limit,
            "lookback": getattr(args, "lookback", None), "horizon": getattr(args, "horizon", None),
            "as_sequence": getattr(args, "as_sequence", False), "difference": getattr(args, "difference", False)}
    return {k: v for k, v in opts.items() if v not in (None, False)}


def load_data(args: argparse.Namespace) -> Dataset:
    return load_dataset(args.data, **data_options(args))


def default_spec(data: Dataset) -> str:
    """784-30-10 on digit images, an LSTM of 32 for a series, else one hidden layer of 30 with the input
    taken from the data."""
    if data.meta.get("kind") == "series":
        return f"lstm32-{data.n_outputs}"
    if data.meta.get("kind") == "text":
        return f"lstm128*-{data.n_outputs}"
    if data.meta.get("kind") == "sequence":
        return f"lstm128-{data.n_outputs}"
    if data.n_features == 784 and data.n_outputs == 10:
        return "784-30-10"
    return f"30-{data.n_outputs}"
