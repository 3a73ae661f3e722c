"""Arguments and steps several subcommands share: the run description's flags, JSON output."""
from __future__ import annotations

import argparse
from typing import Iterable

import pynn.run  # read at call time, not copied: a field added to RunConfig becomes a flag by itself
from pynn.data import load_dataset
from pynn.data.dataset import Dataset
from pynn.run import default_spec  # noqa: F401 - moved to the library; sweep and compare still import it here

RUN_FIELDS = "run_fields"   # the namespace attribute listing the fields a parser has flags for


def add_run_args(parser: argparse.ArgumentParser, groups: Iterable[str], *, exclude: Iterable[str] = (),
                 show_defaults: bool = True, description: str | None = None) -> None:
    """A flag for every field of the run description in the given groups (model, data, training): named as
    the field (val_split -> --val-split), with its help, choices and metavar. A flag the user does not give
    stays out of the namespace, so run_config() applies only what was written on the command line.
    show_defaults adds the house default to the help; a command whose default is something else (a saved
    model's own data) says so in its description instead."""
    from tui.cli import flag_name

    registered = list(parser.get_default(RUN_FIELDS) or [])
    for group in groups:
        fields = [f for f in pynn.run.fields_of(group) if f.name not in exclude]
        if not fields:
            continue
        g = parser.add_argument_group(group, description)
        for f in fields:
            meta, flag = f.metadata, flag_name(f.name)
            help_text = meta["help"]
            if show_defaults and f.default not in (None, False) and "default" not in help_text:
                help_text += f" (default: {f.default})"
            help_text = help_text.replace("%", "%%")
            if pynn.run.field_kind(f.name) is bool:
                g.add_argument(flag, dest=f.name, action="store_true", default=argparse.SUPPRESS, help=help_text)
            else:
                g.add_argument(flag, dest=f.name, type=_field_parser(f.name), default=argparse.SUPPRESS,
                               choices=meta["choices"], metavar=meta["metavar"], help=help_text)
            registered.append(f.name)
    parser.set_defaults(**{RUN_FIELDS: registered})


def _field_parser(name: str):
    def parse(text: str):
        return pynn.run.parse_value(name, text, "the command line")
    parse.__name__ = pynn.run.field_kind(name).__name__  # argparse names the kind in its own messages
    return parse


def given_fields(args: argparse.Namespace) -> dict:
    """The run description's fields the user gave as flags, with their values."""
    return {name: getattr(args, name) for name in getattr(args, RUN_FIELDS, []) if hasattr(args, name)}


def run_config(args: argparse.Namespace, base: "pynn.run.RunConfig | None" = None) -> "pynn.run.RunConfig":
    """The run description: base (else the house defaults) with the flags the user gave applied, validated
    (a bad value is a ConfigError naming the field, which the CLI words with its flag)."""
    base = pynn.run.RunConfig() if base is None else base
    given = given_fields(args)
    if not given:
        base.validate()
        return base
    return base.replace(**given)

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
