"""`pynn tui [--data D] [--model SPEC | --load FILE]`: the full-screen app, on the default experiment (784-30-10
on the digits) or on the data and model given. `pynn` with no arguments comes here too when it runs in a
terminal (see tui/cli.py)."""
from __future__ import annotations

import os
import sys

from pynn.errors import PynnError
from pynn_tui.commands.common import add_run_args, given_fields, run_config
from pynn_tui.render.pixels import add_pixels_arg, use_pixels

SCREEN_NAMES = ("model", "train", "weights", "outputs", "probe", "experiments", "lstm", "playground")  # the last: 2-D data


def register(sub) -> None:
    p = sub.add_parser("tui", help="open the full-screen app (also: `pynn` with no arguments)",
                       description="Open the keyboard-driven app: the model's shapes, live training, weight "
                                   "maps, probes, experiments. ? in the app lists every key.")
    add_app_args(p)
    add_pixels_arg(p)
    p.set_defaults(handler=run)


def add_app_args(p) -> None:
    """The app's own options (data, model or file, first screen), which `pynn serve` takes and hands on too."""
    add_run_args(p, ["data"], show_defaults=False, description="the data to work on (default: a loaded model's "
                 "own, as its file describes it, else the digits; with --data, only the data flags given apply)")
    p.add_argument("--model", metavar="SPEC", help="a model spec, e.g. 784-100:relu-10 (default: 784-30-10 on "
                                                   "digits, else one fitting the data); with --load, only for a "
                                                   ".safetensors state dict: the activations its tensors do not say")
    p.add_argument("--load", metavar="FILE", help="open a saved model (.npz), on the data it was trained on "
                                                  "unless --data is given, or one from Keras (.keras, .h5), PyTorch "
                                                  "(.safetensors) or ONNX (.onnx), whose data the app asks for")
    p.add_argument("--screen", choices=SCREEN_NAMES, default="model", help="the screen to open on (default model)")


def terminal_problem() -> str | None:
    """Why a full-screen app cannot run here, or None: it needs a real terminal that can move the cursor."""
    if os.environ.get("TEXTUAL_DRIVER", "").startswith("textual.drivers.web_driver"):
        return None  # `pynn serve` runs the app over pipes, with textual-serve's driver speaking to the browser
    if os.environ.get("TERM") == "dumb":
        return "TERM=dumb cannot show a full-screen app; the pynn subcommands print plain text (see `pynn --help`)."
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "The app needs a terminal; the pynn subcommands work in pipes and scripts (see `pynn --help`)."
    return None


def run(args) -> int:
    problem = terminal_problem()
    if problem:
        raise PynnError(problem)
    return open_app(run=app_run(args), load=args.load, screen=args.screen, pixels=args.pixels, spec=args.model)


def app_run(args):
    """The run description the app's options ask for (a bad one is one sentence, before any screen)."""
    from pynn.files import saved_run
    from pynn.interop import is_foreign

    if args.model and args.load and not str(args.load).lower().endswith(".safetensors"):
        raise PynnError("--model builds a new model and --load opens a saved one; give one of them (--model goes "
                        "with --load only for a .safetensors state dict, whose tensors do not say their "
                        "activations).")
    own = args.load and "data" not in given_fields(args)  # a loaded model's data, changed by the flags given
    if own and is_foreign(args.load) and not given_fields(args):
        return None  # its file says no data: the workbench opens it on the house default, and the app asks
    run = run_config(args, saved_run(args.load) if own else None)
    if args.model:
        run = run.replace(model=args.model)
    return run


def open_app(run=None, load=None, screen: str = "model", pixels: str | None = None, spec: str | None = None) -> int:
    """Builds the workbench on the run description (default: the house defaults) first, so a bad data name,
    spec or file is one sentence before the screen changes, then runs the app until the user quits."""
    use_pixels(pixels, app=True)  # asks the terminal what it can draw before Textual takes its input over
    from pynn_tui.app import PynnApp  # Textual loads only when the app is really wanted
    from pynn_tui.workbench import Workbench

    bench = Workbench(run, load=load, spec=spec)  # spec: the model's, or with load a state dict's
    if screen == "playground":
        from pynn.inspect.surface import why_no_plane

        if why_no_plane(bench.data):
            raise PynnError(f"--screen playground draws a 2-D set: {why_no_plane(bench.data)}")
    PynnApp(bench, first_screen=screen).run()
    return 0
