"""Arguments and steps several subcommands share: the run description's flags, JSON output."""
from __future__ import annotations

import argparse
from typing import Iterable

import pynn.run  # read at call time, not copied: a field added to RunConfig becomes a flag by itself

RUN_FIELDS = "run_fields"   # the namespace attribute listing the fields a parser has flags for


def add_run_args(parser: argparse.ArgumentParser, groups: Iterable[str], *, exclude: Iterable[str] = (),
                 show_defaults: bool = True, description: str | None = None) -> None:
    """A flag for every field of the run description in the given groups (model, data, training): named as
    the field (val_split -> --val-split), with its help, choices and metavar. A flag the user does not give
    stays out of the namespace, so run_config() applies only what was written on the command line.
    show_defaults adds the house default to the help; a command whose default is something else (a saved
    model's own data) says so in its description instead."""
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


def flag_name(field: str) -> str:
    """The flag of a run description's field: val_split -> --val-split."""
    return "--" + field.replace("_", "-")


def _field_parser(name: str):
    """The flag's value from its text; a ConfigError (not argparse's message) for text of the wrong kind."""
    return lambda text: pynn.run.parse_value(name, text, "the command line")


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


def shared_run(args: argparse.Namespace):
    """(description, data) for commands that train several runs on one model and data (compare, freeze): the
    flags' description with the model spec written out for the data, so every run builds the same model."""
    from pynn.experiments.training import dataset  # the data loaders only when a command needs them

    config = run_config(args)
    data = dataset(config)
    return config.for_data(data), data


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object with the results, nothing else")


def add_picture_args(p: argparse.ArgumentParser) -> None:
    """--json and --pixels, for a command that draws maps."""
    from pynn_tui.render.pixels import add_pixels_arg

    add_json_arg(p)
    add_pixels_arg(p)


def picture_output(args):
    """The Output of a command that draws maps, its maps drawn as --pixels says (never as images in JSON)."""
    from pynn_tui.output import Output
    from pynn_tui.render.pixels import use_pixels

    use_pixels("off" if args.json else args.pixels)
    return Output(json=args.json)
