"""`pynn train`: train a model on a dataset with live progress, report test accuracy, optionally save it."""
from __future__ import annotations

import signal
import time
from contextlib import contextmanager

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

import pynn.run
from pynn.errors import PynnError, TrainingDiverged
from pynn.files import check_destination, load_checkpoint, save_model
from pynn.forecast import regression_report
from pynn.train import BatchEnd, EpochEnd, Trainer, history_dicts
from pynn.words import plural
from pynn_tui.commands.common import add_json_arg, add_run_args, flag_name, given_fields, run_config
from pynn_tui.output import Output, colour_allowed

EXIT_INTERRUPTED = 130


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model and report its test accuracy",
                       description="Train a model on a dataset; the default is 784-30-10 on the bundled digits. "
                                   "--config FILE runs a description kept in a file; flags change its fields.")
    p.add_argument("--config", metavar="FILE", help="the run to make: a TOML file of fields named as the flags "
                   "(model = \"784-20-10\", epochs = 1), or a saved model (.npz), to run again what made it")
    add_run_args(p, pynn.run.GROUPS)
    p.add_argument("--save", metavar="FILE", help="save the trained model here (.npz), with a checkpoint "
                   "that --resume continues")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N", help="also save every N epochs")
    p.add_argument("--resume", metavar="FILE", help="continue the run saved in FILE (its data, model and "
                   "settings; only --epochs, the new total, may change); the result equals an uninterrupted run")
    p.add_argument("--from", dest="from_file", metavar="FILE", help="go on training the model in FILE, its layers "
                   "and weights: a pynn model (.npz), or one from Keras (.keras, .h5), PyTorch (.safetensors, with "
                   "--model SPEC for its activations) or ONNX (.onnx), which takes --data; the training flags apply")
    add_json_arg(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    out = Output(json=args.json)
    if args.save:  # before any data is loaded or epoch trained: a run is never lost to a wrong destination
        check_destination(args.save)
    if args.resume:
        model, data, config, resume_from = _resumed(args)
    elif args.from_file:
        model, data, config = _continued(args)
        resume_from = None
    else:
        config = run_config(args, pynn.run.RunConfig.from_file(args.config) if args.config else None)
        data = config.load_data()
        model = config.build_model(data)
        config, resume_from = model.run, None  # the description with the model spec written out
    save_path = args.save  # --resume only reads its file: a run is written where --save says, or nowhere
    if args.resume and not save_path:
        out.note(f"{args.resume} stays as it is and this run will not be saved: resuming writes only where --save "
                 f"says (--save {args.resume} continues the run in place).")
    for note in (*data.notes, *model.notes, *((model.origin or {}).get("notes", []))):
        out.note(note)

    def save(trainer: Trainer):
        return save_model(model, save_path, history=history_dicts(trainer.history), run=config,
                          data=data.describe(), checkpoint=trainer.checkpoint())

    with _progress(out) as show_progress:
        def on_event(event):
            show_progress(event)
            if (isinstance(event, EpochEnd) and save_path and args.checkpoint_every
                    and event.record.epoch % args.checkpoint_every == 0):
                save(trainer)

        trainer = Trainer(model, config, on_event, field_name=flag_name)
        if resume_from:
            trainer.resume(*resume_from)
        out.line(f"training {model.spec} ({model.n_params:,} parameters) on {data.name}: "
                 f"{len(data.x_train):,} train / {len(data.x_test):,} test samples, {config.optimizer} "
                 f"lr {trainer.optimizer.lr:g}, batch {config.batch}, {plural(config.epochs, 'epoch')}"
                 + (f", resuming at epoch {trainer.progress.epoch}" if resume_from else ""))
        with _stop_on_ctrl_c(trainer) as interrupted:
            try:
                history = trainer.fit(data.x_train, data.y_train)
            except TrainingDiverged as err:  # stderr says it (the CLI's error line); --json readers get it too
                out.emit_json({"model": model.spec, "data": data.name, "run": config.to_dict(), "stopped": "diverged",
                               "warnings": [*trainer.warnings, str(err)], "history": history_dicts(trainer.history)})
                raise
    test = model.evaluate(data.x_test, data.y_test)
    judged = regression_report(model, data)  # what the loss measures, and the baseline to judge it by
    seconds = sum(r.seconds for r in history)
    result = {
        "model": model.spec, "data": data.name, "run": config.to_dict(), "n_params": model.n_params,
        "epochs_run": len(history), "stopped": trainer.reason, "test_loss": test["loss"],
        "test_accuracy": test.get("accuracy"), "seconds": seconds,
        "seconds_per_epoch": seconds / max(len(history), 1), "lr": trainer.optimizer.lr,
        "history": history_dicts(history), "warnings": trainer.warnings,
    }
    if judged:
        result.update(judged.as_json())
    if save_path:
        result["saved"] = str(save(trainer))
    if args.json:
        out.emit_json(result)
    else:
        acc = test.get("accuracy")
        score = (f"test accuracy {100 * acc:.2f}% (loss {test['loss']:.4f})" if acc is not None
                 else f"test loss {test['loss']:.5f}")
        out.line(f"{score} after {plural(len(history), 'epoch')}, "
                 f"{result['seconds_per_epoch']:.2f} s per epoch" + ("" if trainer.reason == "finished"
                                                                      else f" — {trainer.reason}"))
        for line in judged.lines() if judged else []:
            out.line(line)
        if save_path:
            out.line(f"saved {save_path}" + (f" (continue it with --resume {save_path} --save {save_path})"
                                             if interrupted else ""))
    return EXIT_INTERRUPTED if interrupted else 0


def _resumed(args):
    """Model, data, run description and trainer state of a saved run, for --resume."""
    changed = [name for name in given_fields(args) if name != "epochs"]
    if args.config or changed:
        other = "--config" if args.config else flag_name(changed[0])
        raise PynnError(f"--resume continues the run saved in {args.resume} as it was described; {other} would "
                        "change it (only --epochs may: the new total).")
    model, header, state, arrays = load_checkpoint(args.resume)
    config = model.run
    _check_epochs_left(args, config.epochs, state)
    if hasattr(args, "epochs"):
        config = config.replace(epochs=args.epochs)
    return model, config.load_data(), config, (state, arrays, header.get("history", []))


def _continued(args):
    """Model, data and run description for --from: the file's model with its weights, trained further on its own
    data (a pynn file's recipe) or on --data, with the training flags given. The layers are the file's, so the
    flags that shape a model are refused; --model is the spec of a safetensors state dict."""
    from pynn.files import load_model
    from pynn.interop import take_steps_from

    if args.resume or args.config:
        other = "--resume" if args.resume else "--config"
        raise PynnError(f"--from trains the model in {args.from_file} further; {other} describes another run, so "
                        "give one of them.")
    given = given_fields(args)
    spec = given.pop("model", None)
    if spec is not None and not str(args.from_file).lower().endswith(".safetensors"):
        raise PynnError(f"--from {args.from_file} gives the model; --model SPEC goes with --from only for a "
                        ".safetensors state dict, whose tensors do not say their activations.")
    shaping = [f.name for f in pynn.run.fields_of("model") if f.name in given]
    if shaping:
        raise PynnError(f"{flag_name(shaping[0])} shapes the layers, and --from {args.from_file} keeps the "
                        "layers it holds.")
    model, _ = load_model(args.from_file, spec=spec)
    data_given = any(f.name in given for f in pynn.run.fields_of("data"))
    if model.origin is not None and "data" not in given:
        raise PynnError(f"{args.from_file} comes from {model.origin.get('framework', 'another framework')} and does "
                        "not say what data it was trained on; give it with --data (e.g. --data digits).")
    base = model.run
    if "data" in given:  # other data starts afresh from the data flags given, as the inspection commands do
        base = base.replace(**{f.name: f.default for f in pynn.run.fields_of("data")})
    config = base.replace(**given) if given or data_given else base
    data = config.load_data()
    take_steps_from(model, data.sample_shape)
    model.check_input(data.sample_shape, f"the data {data.name}")
    model.check_targets(data.y_train, f"the data {data.name}", n_classes=data.n_outputs if model.loss.name == "xent"
                        else None)
    config = config.replace(model=model.spec)
    model.run = config
    return model, data, config


def _check_epochs_left(args, saved_epochs, state: dict) -> None:
    """Refuse, before anything is loaded or written, a resume that has no epoch left to train."""
    given = getattr(args, "epochs", None)
    epochs = given if given is not None else saved_epochs
    at = state.get("epoch") if isinstance(state, dict) else None
    if not isinstance(epochs, int) or not isinstance(at, int) or at <= epochs:
        return  # an epoch is left (a damaged checkpoint is reported by the trainer)
    done = plural(at - 1, "epoch") + (" and part of the next" if state.get("batch") else "")
    asked = (f"--epochs {given} asks for no more" if given is not None
             else f"its run asked for {epochs}")
    raise PynnError(f"{args.resume} has already trained {done}, and {asked}; nothing was trained or saved — give "
                    f"--epochs above {at - 1} to train it further.")


def _warning(text: str) -> str:
    """A sentence about how the run is going (also in --json's warnings), as Rich markup."""
    return f"[bold yellow]warning:[/] {escape(text)}" if colour_allowed() else escape(f"warning: {text}")


@contextmanager
def _progress(out: Output):
    """An event handler drawing Rich bars on a terminal, or printing one line per epoch otherwise; an epoch's
    warnings follow its line (on stderr when piped, so stdout keeps its one line per epoch)."""
    def epoch_line(record) -> str:
        parts = [f"epoch {record.epoch:>3}", f"loss {record.loss:.4f}"]
        if record.train_accuracy is not None:
            parts.append(f"train {100 * record.train_accuracy:.2f}%")
        if record.val_loss is not None:
            parts.append(f"val loss {record.val_loss:.4f}")
        if record.val_accuracy is not None:
            parts.append(f"val {100 * record.val_accuracy:.2f}%")
        parts.append(f"{record.seconds:.2f}s")
        return "  ".join(parts)

    if not out.rich:
        def plain(event):
            if isinstance(event, EpochEnd):
                out.line(epoch_line(event.record))
                for warning in event.warnings:
                    out.err.print(_warning(warning))
        yield plain
        return

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=out.console)
    epochs = progress.add_task("epochs", total=None, info="")
    batches = progress.add_task("batches", total=None, info="")
    last = [0.0]

    def fancy(event):
        if isinstance(event, BatchEnd):
            now = time.monotonic()
            if now - last[0] > 0.05 or event.batch == event.n_batches:  # redraw at most ~20 times a second
                last[0] = now
                progress.update(batches, completed=event.batch, total=event.n_batches,
                                info=f"loss {event.loss:.4f}")
        elif isinstance(event, EpochEnd):
            progress.console.print(epoch_line(event.record))
            for warning in event.warnings:  # through the bars' console, which keeps them above the bars
                progress.console.print(_warning(warning))
            progress.update(epochs, completed=event.record.epoch, total=event.n_epochs)

    with progress:
        yield fancy


@contextmanager
def _stop_on_ctrl_c(trainer: Trainer):
    """First Ctrl-C: finish the current batch, then stop (and save, if asked). A second one aborts."""
    interrupted: list[bool] = []

    def handler(signum, frame):
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(True)
        trainer.stop()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield interrupted
        return
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
