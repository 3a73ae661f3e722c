"""The `pynn` command: parses arguments, hands each subcommand to its module, and turns user errors into one
clear sentence on stderr with exit status 2 (130 after Ctrl-C), never a traceback. With no arguments in a
terminal it opens the app (`pynn tui`)."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from pynn.errors import PynnError
from pynn.run import ConfigError

import pynn_tui.commands
from pynn_tui.commands.common import flag_name

# Subcommands listed first in `pynn --help`; any other module in tui/commands with register() follows.
FIRST = ["train", "eval", "summary", "data",
         "weights", "explain", "probe", "triggers", "health", "ablate", "sweep", "compare", "check"]


def command_modules() -> list[str]:
    found = [m.name for m in pkgutil.iter_modules(pynn_tui.commands.__path__) if m.name != "common"]
    return [n for n in FIRST if n in found] + sorted(n for n in found if n not in FIRST)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one sentence and status 2 like every other user error."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        raise PynnError(f"{message[0].upper()}{message[1:]} (see `{self.prog} --help`).")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pynn", description="Build, train and look inside small neural networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in command_modules():
        module = importlib.import_module(f"pynn_tui.commands.{name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv:
            # bare `pynn` opens the app in a terminal (before the parser, which imports every command);
            # piped, scripted or on TERM=dumb it prints the help below
            from pynn_tui.commands.tui import open_app, terminal_problem
            if terminal_problem() is None:
                return open_app()
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return 0
        return int(args.handler(args) or 0)
    except ConfigError as err:  # the library names the field; the command line names its flag
        print(f"pynn: {err.worded_for(flag_name)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except PynnError as err:
        print(f"pynn: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("pynn: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `pynn ... | head` closed the pipe: not an error worth a traceback
        return 0


if __name__ == "__main__":
    sys.exit(main())
