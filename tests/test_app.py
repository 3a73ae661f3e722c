"""The Textual app driven through its pilot: every screen at 80x24, 120x40 and 40x12, the keys, a training run
inside the app that reaches a stated accuracy while the UI keeps answering, saving and loading, experiments,
errors as notifications, NO_COLOR; and how `pynn` / `pynn tui` decide whether to open it."""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

from apptext import plain, screen_text, wait_until
from pynn.errors import PynnError
from pynn.files import load_model
from pynn_tui.app import PynnApp
from pynn_tui.render.colour import colour_on
from pynn_tui.screens import SCREENS, UnavailableScreen
from pynn_tui.screens.dialogs import FormDialog, InputDialog
from pynn_tui.screens.help import HelpScreen
from pynn_tui.workbench import Workbench

SIZES = [(80, 24), (120, 40), (40, 12)]


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]


async def fill(pilot, app, values: dict[str, str]) -> None:
    """Types into the open dialog's fields (by name for a form, the one field for an input dialog), then Enter."""
    from textual.widgets import Input

    dialog = app.screen
    await pilot.pause()
    if isinstance(dialog, InputDialog):
        assert app.focused is dialog.query_one(Input)  # so the Enter a user presses is the dialog's
        dialog.query_one(Input).value = values["value"]
    else:
        assert isinstance(dialog, FormDialog)
        assert app.focused is dialog.query_one(f"#field-{dialog.fields[0][0]}")
        for name, text in values.items():
            dialog.query_one(f"#field-{name}").value = text
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


# -- every screen opens at every size ---------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_every_screen_opens_by_its_digit(size):
    app = PynnApp(Workbench())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert app.current_mode == "model"
        for name, _module, cls_name, key, title in SCREENS:
            await pilot.press(key)
            await pilot.pause(0.15)
            assert app.current_mode == name
            assert type(app.screen).__name__ == cls_name  # the real screen, not the placeholder
            text = screen_text(app)
            assert text.strip(), f"{title} drew nothing at {size}"
        await pilot.press("1")
        await pilot.pause()
        text = screen_text(app)
        if size[0] >= 80:
            # the footer names every app-wide key on one line at 80 columns
            footer = text.splitlines()[-1]
            for key in ("1-7", "t Train", "? Keys", "^s Save", "^o Load", "q Quit", "e Edit"):
                assert key in footer
            assert "784-30-10" in text and "23,860" in text


async def test_a_screen_that_fails_to_build_is_a_placeholder_and_a_notification():
    app = PynnApp(Workbench(data="xor"))

    def broken(bench):
        raise ValueError("half-written")

    app.entries[2].factory = broken
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await wait_until(pilot, lambda: "half-written" in screen_text(app), what="the placeholder")
        assert app.is_running and isinstance(app.screen, UnavailableScreen)
        assert any("could not open" in m for m in messages(app))
        await pilot.press("2")
        await pilot.pause()
        assert app.current_mode == "train"


# -- Model screen -----------------------------------------------------------------------------------------

async def test_model_screen_shows_shapes_arithmetic_data_and_samples():
    app = PynnApp(Workbench())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "W (30, 784)" in text and "30·784 + 30 = 23,550" in text and "23,860" in text
        data = plain(app.screen.query_one("#data-summary").content, width=100)
        assert "digits" in data and "8000" in data and "the first 4 training samples" in data
        assert "#0: " + str(app.bench.data.y_train[0]) in data


async def test_lstm_model_shows_the_unrolled_cell():
    app = PynnApp(Workbench(data="sine", spec="20x1-lstm30-1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        summary = plain(app.screen.query_one("#model-summary").content, width=120)
        assert "unrolled over 20 steps" in summary and "Wx (120, 1)" in summary


async def test_editing_the_spec_builds_a_new_model_and_a_bad_spec_is_a_notification():
    app = PynnApp(Workbench())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        await fill(pilot, app, {"value": "784-50:relu-10"})
        assert app.bench.model.spec == "784-50:relu-10"
        await wait_until(pilot, lambda: "50·784 + 50 = 39,250" in screen_text(app), what="the new model on screen")
        await pilot.press("e")
        await fill(pilot, app, {"value": "784-abc-10"})
        assert app.bench.model.spec == "784-50:relu-10" and app.is_running
        assert any("Cannot read 'abc'" in m for m in messages(app))


# -- Train screen -----------------------------------------------------------------------------------------

async def test_training_in_the_app_reaches_90_percent_on_digits():
    """t starts a run from the Model screen and shows it on the Train screen; 3 epochs of 784-30-10, with a
    validation split (the house default has none) so the validation curve is drawn too."""
    bench = Workbench()
    bench.configure(epochs=3, val_split=0.1)
    app = PynnApp(bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        assert app.current_mode == "train"
        # the notification is the worker's last act, after the test score the screen shows
        await wait_until(pilot, lambda: any("3 epochs, finished" in m for m in messages(app)), what="the run")
        assert not app.training and bench.test_result["accuracy"] >= 0.90
        assert [h.epoch for h in bench.history] == [1, 2, 3]
        await wait_until(pilot, lambda: "test accuracy" in screen_text(app), what="the Train screen's last redraw")
        text = screen_text(app)
        assert "3/3" in text and "720/720" in text
        assert "train loss" in text and "val acc" in text
        await pilot.press("t")  # a second run continues the history's numbering
        await wait_until(pilot, lambda: len(bench.history) == 6 and not app.training, what="the second run")
        assert [h.epoch for h in bench.history][-1] == 6


async def test_keys_work_while_training(paced_workbench):
    """During a digits run every screen opens by its digit, the key list opens, pause holds the weights still,
    resume and stop work — all while the run goes on. The run is paced (it holds after each batch until the
    test lets it on), so it is still going whatever the machine's speed; how long the UI can stall during a
    free run is measured by bench/ui_stall.py, since a time bound would depend on the machine's load."""
    bench = paced_workbench(spec="784-100-10")
    app = PynnApp(bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("t")
        await wait_until(pilot, lambda: bench.held, what="the run's first batch")
        held_at = bench.allow(bench.progress.n_batches)  # a whole epoch, so the screens have a history to show
        await wait_until(pilot, lambda: bench.batches == held_at and bench.held, what="the first epoch")
        assert [h.epoch for h in bench.history] == [1]
        for name, _module, _cls, key, _title in [*SCREENS, SCREENS[1]]:
            held_at = bench.allow(1)  # the run moves on under every screen
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == name and bench.training
            await wait_until(pilot, lambda: bench.batches == held_at and bench.held, what="the next batch")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and bench.training
        await pilot.press("escape")
        await pilot.press("p")
        held_at = bench.allow(5)  # the pause takes hold after the batch that is held now: none of these 5 runs
        await wait_until(pilot, lambda: bench.progress.paused, what="the pause")
        batches, weights = bench.batches, bench.read(lambda m: m.params.copy())
        await wait_until(pilot, lambda: "paused" in screen_text(app), what="the Train screen to say paused")
        await pilot.pause(0.3)  # a run the pause failed to hold would be free to do its 5 batches now
        assert bench.batches == batches and bench.training
        assert np.array_equal(bench.read(lambda m: m.params), weights)
        await pilot.press("p")
        await wait_until(pilot, lambda: bench.batches == held_at and bench.held, what="the run to resume")
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.training, what="the stop")
        assert bench.last_reason == "stopped on request" and bench.batches == held_at
        assert [h.epoch for h in bench.history] == [1]


async def test_settings_form_applies_values_rebuilds_for_dropout_and_refuses_bad_ones():
    app = PynnApp(Workbench())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: "sgd lr 0.5" in screen_text(app), what="the house defaults' real rate")
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog)
        await fill(pilot, app, {"lr": "0.1", "batch": "32", "epochs": "4", "dropout": "0.2", "l2": "5",
                                "optimizer": "momentum"})
        run = app.bench.run
        assert (run.lr, run.batch, run.epochs, run.dropout, run.l2, run.optimizer) == (0.1, 32, 4, 0.2, 5.0, "momentum")
        assert app.bench.model.spec == "784-30-drop0.2-10" and run.model == "784-30-10"
        await wait_until(pilot, lambda: "momentum lr 0.1" in screen_text(app), what="the new settings")
        await pilot.press("e")
        await fill(pilot, app, {"lr": "fast", "epochs": "9"})
        assert app.bench.run.lr == 0.1 and app.bench.run.epochs == 4
        assert any("lr must be a number, not 'fast'" in m for m in messages(app))
        await pilot.press("e")
        await fill(pilot, app, {"val_split": "1.5"})  # read, but no run could use it: the field's own sentence
        assert app.bench.run.val_split == 0.0 and any("val_split must be in [0, 1), not 1.5" in m
                                                      for m in messages(app))
        await pilot.press("e")
        await fill(pilot, app, {"optimizer": "adam"})  # the rate left as it was follows the optimiser
        assert app.bench.run.optimizer == "adam" and app.bench.run.lr is None
        await wait_until(pilot, lambda: "adam lr 0.001" in screen_text(app), what="the new optimiser's rate")


async def test_the_settings_dialog_is_the_run_descriptions_model_and_training_fields():
    """Every model and training field of RunConfig is in the dialog (a Select where it has choices, the loss
    offering its default); a model field (activation) rebuilds the model, and the line shows the activation
    the model really uses."""
    from textual.widgets import Input, Select

    import pynn.run

    app = PynnApp(Workbench(data="xor", spec="2-8-4:tanh-2"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "e")
        await pilot.pause()
        dialog = app.screen
        expected = [f.name for group in ("model", "training") for f in pynn.run.fields_of(group)]
        assert [f.name for f in dialog.fields] == expected
        for f in pynn.run.fields_of("model") + pynn.run.fields_of("training"):
            widget = dialog.query_one(f"#field-{f.name}")
            a_choice = f.metadata["choices"] or pynn.run.field_kind(f.name) is bool  # true/false is a choice too
            assert isinstance(widget, Select if a_choice else Input), f.name
        assert dialog.query_one("#field-loss").value == "default"
        assert dialog.query_one("#field-model").value == "2-8-4:tanh-2"
        before = app.bench.model
        await fill(pilot, app, {"activation": "relu"})
        assert app.bench.run.activation == "relu" and app.bench.model is not before
        await wait_until(pilot, lambda: "relu/tanh" in screen_text(app), what="the activations the model uses")
        await pilot.press("e")
        await fill(pilot, app, {"seed": "3"})  # a training field: the weights stay
        assert app.bench.run.seed == 3 and app.bench.model.spec == "2-8-4:tanh-2"


async def test_a_field_added_to_the_run_description_is_offered_by_the_dialog_and_saved(monkeypatch, tmp_path):
    """The dialog reads RunConfig's fields when it opens: a field added to the description (here by a subclass
    standing in for an edit of pynn/run.py) is offered with its help, its value lands in the workbench's
    description, the settings line and a file saved with ctrl+s, with no edit of the app."""
    import dataclasses

    import pynn.run

    extended = dataclasses.make_dataclass(
        "RunConfig", [("warmup", int, pynn.run.setting(0, "training", "epochs of warm-up", metavar="N"))],
        bases=(pynn.run.RunConfig,))
    monkeypatch.setattr(pynn.run, "RunConfig", extended)
    app = PynnApp(Workbench(data="xor"))
    path = tmp_path / "warm.npz"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "e")
        await pilot.pause()
        field = app.screen.query_one("#field-warmup")
        assert field.value == "0"
        field.focus()
        await pilot.pause()
        assert "epochs of warm-up" in str(app.screen.query_one("#field-help").render())
        await pilot.press("escape")
        await pilot.press("e")
        await fill(pilot, app, {"warmup": "soon"})
        assert any("warmup must be a whole number, not 'soon'" in m for m in messages(app))
        await pilot.press("e")
        await fill(pilot, app, {"warmup": "3"})
        assert app.bench.run.warmup == 3
        await wait_until(pilot, lambda: "warmup 3" in screen_text(app), what="the new field on the settings line")
        await pilot.press("ctrl+s")
        await fill(pilot, app, {"value": str(path)})
    assert load_model(path)[0].run.warmup == 3


def test_the_workbench_refuses_a_data_field_or_an_unknown_one_and_keeps_its_description():
    bench = Workbench(data="xor")
    before, model = bench.run, bench.model
    with pytest.raises(PynnError, match="--limit"):
        bench.configure(limit=5)
    with pytest.raises(PynnError, match="Unknown field 'batch_size'"):
        bench.configure(batch_size=32)
    assert bench.run == before and bench.model is model


async def test_a_diverging_run_is_a_notification_and_keeps_the_last_good_weights():
    bench = Workbench(data="sine", spec="16:relu-1")
    bench.configure(lr=10.0, epochs=2)
    app = PynnApp(bench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await wait_until(pilot, lambda: any("diverged" in m for m in messages(app)), what="the divergence")
        assert app.is_running and not app.training
        assert all(np.isfinite(p).all() for p in bench.read(lambda m: [m.params]))


# -- files ------------------------------------------------------------------------------------------------

async def test_save_then_load_restores_the_weights_and_a_bad_file_is_a_notification(tmp_path):
    bench = Workbench(data="xor")
    bench.configure(epochs=7, lr=0.2)
    app = PynnApp(bench)
    path = tmp_path / "xor.npz"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        await fill(pilot, app, {"value": str(path)})
        assert path.exists()
        saved = bench.read(lambda m: m.params.copy())
        assert np.array_equal(load_model(path)[0].params, saved)
        assert load_model(path)[0].run == bench.run  # the file holds the description
        bench.set_spec("2-8:tanh-2")
        bench.configure(epochs=1, lr=None)
        await pilot.press("ctrl+o")
        await pilot.pause()
        await fill(pilot, app, {"value": str(path)})
        assert bench.model.spec == "2-30-2" and np.array_equal(bench.read(lambda m: m.params.copy()), saved)
        assert (bench.run.epochs, bench.run.lr, bench.run.model) == (7, 0.2, "30-2")  # the saved description
        await pilot.press("ctrl+o")
        await pilot.pause()
        await fill(pilot, app, {"value": str(tmp_path / "nothing.npz")})
        assert app.is_running and any("No model file" in m for m in messages(app))


# -- Experiments screen -----------------------------------------------------------------------------------

async def test_sweep_fills_in_a_table_and_chart_from_the_app():
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6", "w")
        await pilot.pause()
        await fill(pilot, app, {"hidden": "2,8", "seeds": "1", "epochs": "2"})
        screen = app.screen
        await wait_until(pilot, lambda: not screen.running and screen.kind == "sweep", what="the sweep")
        await wait_until(pilot, lambda: "2 of 2 runs done" in screen_text(app), what="the sweep's results")
        assert sorted(r["hidden"] for r in screen.results) == [2, 8]
        results = plain(screen.query_one("#experiments-results").content, width=120)
        assert "test accuracy by hidden-layer size" in results and "test accuracy: mean over seeds" in results
        assert "√n_in" in results  # the rules of thumb marked on the chart
        assert "2 of 2 runs done" in screen_text(app)


async def test_comparison_runs_both_settings_and_a_bad_setting_is_a_notification():
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6", "c")
        await pilot.pause()
        await fill(pilot, app, {"a": "init=normal", "b": "init=lecun,l2=5", "epochs": "2"})
        screen = app.screen
        await wait_until(pilot, lambda: not screen.running and len(screen.results) == 2, what="the comparison")
        await pilot.pause()
        results = plain(screen.query_one("#experiments-results").content, width=120)
        assert "init=normal" in results and "init=lecun,l2=5" in results and "a: train accuracy" in results
        await pilot.press("c")
        await pilot.pause()
        await fill(pilot, app, {"a": "init=bogus", "b": "", "epochs": "2"})
        assert any("init must be one of lecun, normal, xavier, he, not 'bogus'" in m for m in messages(app))
        assert not screen.running


# -- keys, palette, colour --------------------------------------------------------------------------------

async def test_question_mark_lists_every_key_of_every_screen():
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        listed = plain(app.screen.query_one("#help-keys").content, width=120)
        for key in ("1", "7", "t", "p", "s", "^s", "^o", "q", "ctrl+p"):
            assert f"│ {key} " in listed
        for entry in app.entries:
            for binding in getattr(entry.factory, "BINDINGS", []):
                assert binding.description in listed
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_the_main_actions():
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Train", "Stop training", "Pause or resume", "Save model", "Load model", "Hidden-size sweep",
                "Compare settings", "Keys"} <= titles
        sweep = next(c for c in app.get_system_commands(app.screen) if c.title == "Hidden-size sweep")
        sweep.callback()
        await wait_until(pilot, lambda: isinstance(app.screen, FormDialog), what="the sweep's form")
        assert app.current_mode == "experiments"


async def test_no_color_draws_pictures_in_plain_characters(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = PynnApp(Workbench())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not colour_on(app.console)
        with app.console.capture() as cap:
            app.console.print(app.screen.query_one("#data-summary").content)
        samples = cap.get()
        assert "#" in samples and "▀" not in samples  # pixels as characters, not colour-only half blocks


# -- how `pynn` and `pynn tui` start ----------------------------------------------------------------------

def test_bare_pynn_prints_help_when_not_in_a_terminal(capsys):
    from pynn_tui.cli import main

    assert main([]) == 0
    assert "train" in capsys.readouterr().out


def test_pynn_tui_outside_a_terminal_or_on_term_dumb_is_one_sentence(capsys, monkeypatch):
    from pynn_tui.cli import main

    assert main(["tui"]) == 2
    assert "needs a terminal" in capsys.readouterr().err
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert main(["tui"]) == 2
    assert "TERM=dumb" in capsys.readouterr().err
    assert main([]) == 0  # bare pynn on a dumb terminal: the help, not the app
    assert "train" in capsys.readouterr().out


def test_bare_pynn_in_a_terminal_opens_the_app_on_the_default_experiment(monkeypatch):
    import pynn_tui.commands.tui as command
    from pynn_tui.cli import main

    opened = []
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(command, "terminal_problem", lambda: None)
    monkeypatch.setattr(command, "open_app", lambda **kw: opened.append(kw) or 0)
    assert main([]) == 0 and opened == [{}]


def test_pynn_tui_with_a_bad_spec_fails_before_the_screen_changes(monkeypatch, capsys):
    import pynn_tui.commands.tui as command
    from pynn_tui.cli import main

    monkeypatch.setattr(command, "terminal_problem", lambda: None)
    assert main(["tui", "--data", "xor", "--model", "2-x-2"]) == 2
    assert "Cannot read 'x'" in capsys.readouterr().err


def launch_in_pty(args: list[str], marker: bytes, size=(80, 24), cwd=None) -> tuple[float, int, bytes]:
    """Runs `pynn ARGS` on a pseudo-terminal of `size`, waits until `marker` is drawn, presses q; returns
    (seconds from start to the first frame showing marker, exit status, everything drawn)."""
    import fcntl
    import select
    import struct
    import subprocess
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pynn_tui.cli", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=cwd, start_new_session=True)
    os.close(slave)
    drawn, first, quit_sent = b"", None, False
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the app closed the terminal
                    break
                if not chunk:
                    break
                drawn += chunk
            if first is None and marker in drawn:
                first = time.perf_counter() - start
            if first is not None and not quit_sent:
                os.write(master, b"q")
                quit_sent = True
            if proc.poll() is not None and not ready:
                break
            if time.perf_counter() - start > 120:
                raise AssertionError(f"no {marker!r} after 120 s; drawn: {drawn[-500:]!r}")
        return first, proc.wait(timeout=30), drawn
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_pynn_tui_load_opens_the_saved_model_on_its_own_data(monkeypatch, tmp_path):
    import pynn_tui.commands.tui as command
    from pynn_tui.cli import main

    bench = Workbench(data="xor", spec="2-8:tanh-2")
    bench.save(tmp_path / "xor.npz")
    opened = []
    monkeypatch.setattr(command, "terminal_problem", lambda: None)
    monkeypatch.setattr(PynnApp, "run", lambda self: opened.append((self.bench, self.first_screen)))
    assert main(["tui", "--load", str(tmp_path / "xor.npz"), "--screen", "train"]) == 0
    (loaded, screen), = opened
    assert loaded.data.name == "xor" and loaded.model.spec == "2-8:tanh-2" and screen == "train"
    assert np.array_equal(loaded.read(lambda m: m.params), bench.read(lambda m: m.params))


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_bare_pynn_opens_in_a_real_terminal_and_q_quits(tmp_path):
    """`pynn` on an 80x24 pty draws the default experiment, and q leaves with status 0."""
    first, status, drawn = launch_in_pty([], b"784-30-10", cwd=tmp_path)
    print(f"pynn to first frame: {first:.2f} s")
    assert first is not None and status == 0
    assert b"23,860" in drawn
