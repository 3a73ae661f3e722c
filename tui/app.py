"""The Textual app: one Workbench shared by seven screens (one mode each, opened by its digit), the training
run in a worker thread, saving and loading, the key list (?) and the command palette. Every mistake a user can
make becomes a notification; nothing here raises into Textual."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from pynn.errors import PynnError
from pynn.forecast import series_errors
from pynn.words import plural
from pynn_tui.screens import SCREENS, ScreenEntry, UnavailableScreen, screen_entries
from pynn_tui.screens.dialogs import InputDialog
from pynn_tui.screens.help import HelpScreen
from pynn_tui.screens.playground import playground_entries
from pynn_tui.screens.widgets import ScreenTabs, few_threads
from pynn_tui.workbench import Workbench

# Screens where starting a run also shows it: the others (weights, outputs...) are worth watching live.
SHOW_TRAINING_FROM = ("model", "experiments")
# Toasts on screen at once: a newer one pushes the oldest out, so a burst never covers the screen.
MOST_NOTIFICATIONS = 3


class PynnApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "pynn"
    # below 110 columns the footer drops the palette's key (ctrl+p still works, and ? lists it)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    NOTIFICATION_TIMEOUT = 4  # seconds; errors ask for longer
    # The footer shows the digits as one "1-7 screens" entry (the first digit's), so every key the app has
    # still fits one 80-column line beside a screen's own; ? lists each digit, the tab strip names them.
    BINDINGS = [Binding(key, f"show('{name}')", "screens", key_display=f"1-{len(SCREENS)}") if i == 0
                else Binding(key, f"show('{name}')", title, show=False)
                for i, (name, _module, _cls, key, title) in enumerate(SCREENS)] + [
        Binding("t", "train", "Train", tooltip="start a run with the Train screen's settings"),
        Binding("p", "pause", "Pause", tooltip="hold the run after this batch; again to resume"),
        Binding("s", "stop", "Stop", tooltip="end the run after this batch (the weights stay)"),
        Binding("question_mark", "help", "Keys", key_display="?", tooltip="this list"),
        Binding("ctrl+s", "save", "Save", tooltip="write the model, its data and history to a .npz"),
        Binding("ctrl+o", "load", "Load", tooltip="open a saved .npz model, or one from Keras, PyTorch, ONNX"),
        Binding("q", "quit", "Quit", tooltip="stop any run and leave"),
    ]

    def __init__(self, bench: Workbench | None = None, first_screen: str = "model"):
        super().__init__()
        self.bench = bench if bench is not None else Workbench()
        self.entries: list[ScreenEntry] = screen_entries() + playground_entries(self)  # 8 on 2-D data
        self.first_screen = first_screen
        self.model_path = ""        # the last file saved or loaded, offered again by ctrl+s / ctrl+o
        self._train_worker = None
        for entry in self.entries:
            self.add_mode(entry.name, partial(self._build_screen, entry))
        if self.no_color:
            # Textual only filters colours out at the end; telling the console lets pynn's renderables switch
            # to their plain-character forms (a heat map's sign would otherwise be lost in greys).
            self.console.no_color = True

    def on_mount(self) -> None:
        # The UI thread's reading (weight maps, probes...) in one OpenMP thread, and numpy's BLAS in one for
        # the whole app: a picture taking both cores would stall the run it shows. The run's thread opens
        # its own team as usual (OpenMP's count is per thread).
        self._thread_limits = [few_threads()]
        with contextlib.suppress(ImportError):
            from threadpoolctl import threadpool_limits
            self._thread_limits.append(threadpool_limits(limits=1, user_api="blas"))
        self.switch_mode(self.first_screen)
        if self.bench.data_unknown:  # a model from another framework, opened without --data
            self._ask_data()

    # -- screens --------------------------------------------------------------------------------------
    def _build_screen(self, entry: ScreenEntry) -> Screen:
        """The entry's screen on this workbench; one whose constructor fails becomes a placeholder naming the
        problem, so one broken screen never takes the app down."""
        try:
            screen = entry.factory(self.bench)
        except Exception as err:  # noqa: BLE001
            problem = f"{type(err).__name__}: {err}"
            self.notify(f"The {entry.title} screen could not open ({problem}).", severity="error", timeout=10)
            screen = UnavailableScreen(self.bench, entry.title, problem)
        return _with_tabs(screen, ScreenTabs(self.entries, entry.name))

    def action_show(self, name: str) -> None:
        # a dialog or the key list on top closes first, so the digit always lands on the screen asked for
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.switch_mode(name)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.key_rows()))

    def action_show_help_panel(self) -> None:
        # Textual's own keys panel squeezes the screen beside it and ignores Escape: the key list stands in
        self.action_help()

    def _on_notify(self, event) -> None:
        super()._on_notify(event)
        for old in list(self._notifications)[:-MOST_NOTIFICATIONS]:
            self._unnotify(old)

    def key_rows(self) -> list[tuple[str, str, str]]:
        """(where, key, what) for every key: the app's, then each screen's. An app key a screen takes for
        itself (p is "previous" on Probe and LSTM) says where it does not apply."""
        rows = [("everywhere", entry.key, f"the {entry.title} screen") for entry in self.entries]
        for b in Binding.make_bindings(self.BINDINGS):
            if not b.action.startswith("show("):
                taken = [entry.title for entry in self.entries if b.key in _screen_keys(entry.factory)]
                where = f"everywhere but {_listed(taken)} (there ctrl+p offers it)" if taken else "everywhere"
                rows.append((where, self.get_key_display(b), _what(b)))
        rows.append(("everywhere", "ctrl+p", "command palette (train, stop, save, load, sweep...)"))
        for entry in self.entries:
            for b in Binding.make_bindings(getattr(entry.factory, "BINDINGS", [])):
                if b.description:
                    rows.append((entry.title, self.get_key_display(b), _what(b)))
        rows.append(("dialogs", "escape", "cancel"))
        rows.append(("dialogs", "enter", "OK"))
        return rows

    # -- training -------------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.bench.training or (self._train_worker is not None and self._train_worker.is_running)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # keys that cannot do anything now leave the footer (t while a run goes; p and s without one)
        if action == "train":
            return not self.training
        if action in ("pause", "stop"):
            return self.training
        return True

    def action_train(self) -> None:
        if self.training:
            self.notify("A run is in progress: p pauses or resumes it, s stops it.", severity="warning")
            return
        # the description was checked when it changed; the worker reports what only training finds
        self._train_worker = self.run_worker(self._train, thread=True, name="training", group="training",
                                             exit_on_error=False)
        self.refresh_bindings()
        if self.current_mode in SHOW_TRAINING_FROM:
            self.action_show("train")

    def on_worker_state_changed(self, event) -> None:
        # the footer offers t, or p and s, by whether a run is going: redraw it when the worker ends
        if event.worker is self._train_worker and self.screen_stack:  # (none left while the app closes)
            self.refresh_bindings()

    def _train(self) -> None:
        """The worker thread: train, then score on the test set; every outcome is a notification."""
        bench = self.bench
        try:
            records = bench.train()
            result = bench.evaluate()
        except PynnError as err:  # a diverging run, a spec that cannot train on this data...
            self.call_from_thread(self.notify, str(err), title="training stopped", severity="error", timeout=12)
            return
        except Exception as err:  # noqa: BLE001 - a bug must not take the app (and unsaved work) down
            self.call_from_thread(self.notify, f"Training failed unexpectedly: {type(err).__name__}: {err}",
                                  severity="error", timeout=12)
            return
        score = (f"test accuracy {result['accuracy']:.2%}" if "accuracy" in result
                 else f"test loss {result['loss']:.4g}")
        if bench.data.meta.get("kind") == "series":  # as `pynn train` does: is it better than doing nothing?
            errors = bench.read(lambda model: series_errors(model, bench.data))
            score += (f"; forecast MSE {errors['model_mse']:.4g} against {errors['naive_mse']:.4g} for "
                      "'repeat the last value'")
        self.call_from_thread(self.notify, f"{plural(len(records), 'epoch')}, {bench.last_reason}; {score}.",
                              title="training done")

    def action_pause(self) -> None:
        if not self.bench.training:
            self.notify("Nothing to pause: t starts a run.")
        elif self.bench.paused:
            self.bench.resume()
            self.notify("resumed")
        else:
            self.bench.pause()
            self.notify("paused after this batch; p resumes, s stops")

    def action_stop(self) -> None:
        if not self.bench.training:
            self.notify("No run to stop.")
            return
        self.bench.stop()
        self.notify("stopping after this batch")

    # -- files ----------------------------------------------------------------------------------------
    def action_save(self) -> None:
        default = self.model_path or re.sub(r"[^A-Za-z0-9_.-]+", "_", self.bench.model.spec) + ".npz"
        self.push_screen(InputDialog("Save the model (weights, run description, history) to:", default),
                         self._save_to)

    def _save_to(self, path: str | None) -> None:
        if not path:
            return
        try:
            saved = self.bench.save(Path(path).expanduser())
        except (PynnError, OSError) as err:
            self.notify(_sentence(err), title="not saved", severity="error", timeout=10)
            return
        self.model_path = path
        self.notify(f"saved {saved}")

    def action_load(self) -> None:
        self.push_screen(InputDialog("Load a model file (.npz, or .keras, .h5, .safetensors, .onnx):", self.model_path,
                                     "e.g. digits.npz"),
                         self._load_from)

    def _load_from(self, path: str | None) -> None:
        if not path:
            return
        try:
            model = self.bench.load(Path(path).expanduser())
        except (PynnError, OSError, ValueError) as err:
            self.notify(_sentence(err), title="not loaded", severity="error", timeout=10)
            return
        self.model_path = path
        self.notify(f"loaded {model.spec} from {path} ({plural(len(self.bench.history), 'epoch')} of history)")
        if model.origin is not None:  # another framework's file does not say its data
            self._ask_data()

    def _ask_data(self) -> None:
        name = self.bench.model.origin.get("framework", "another framework")
        self.push_screen(InputDialog(f"This model comes from {name}; its file does not say what data it was trained "
                                     "on. Look at it with (a dataset name or file):", self.bench.data.name,
                                     "e.g. digits"), self._use_data)

    def _use_data(self, name: str | None) -> None:
        if not name:
            return
        try:
            data = self.bench.use_data(name)
        except (PynnError, OSError, ValueError) as err:
            self.notify(_sentence(err), title="data not changed", severity="error", timeout=10)
            return
        self.notify(f"looking at {self.bench.model.spec} with {data.name}")

    # -- leaving --------------------------------------------------------------------------------------
    async def action_quit(self) -> None:
        self.bench.stop()  # the worker ends after its batch, so leaving never waits for a whole run
        self.exit()

    # -- command palette ------------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's "Keys" opens its own panel; ours (the ? list) is the one Keys entry
        yield from (command for command in super().get_system_commands(screen) if command.title != "Keys")
        yield SystemCommand("Train", "Start a training run with the Train screen's settings (t)", self.action_train)
        yield SystemCommand("Pause or resume", "Hold the run after this batch, or carry on (p)", self.action_pause)
        yield SystemCommand("Stop training", "Stop the run after this batch (s)", self.action_stop)
        yield SystemCommand("Save model", "Save the model to a file (ctrl+s)", self.action_save)
        yield SystemCommand("Load model", "Load a model file (ctrl+o)", self.action_load)
        yield SystemCommand("Edit model spec", "Build a new model from a spec (1, then e)",
                            self._on_screen("model", "edit_spec"))
        yield SystemCommand("Training settings", "Learning rate, batch, epochs, optimiser... (2, then e)",
                            self._on_screen("train", "edit_settings"))
        yield SystemCommand("Hidden-size sweep", "Train one network per hidden size (6, then w)",
                            self._on_screen("experiments", "sweep"))
        yield SystemCommand("Compare settings", "Two trainings, e.g. init=normal against init=lecun,l2=5 "
                            "(6, then c)", self._on_screen("experiments", "compare"))
        yield SystemCommand("Keys", "Every key of every screen (?)", self.action_help)
        for entry in self.entries:
            yield SystemCommand(f"Show {entry.title}", f"The {entry.title} screen ({entry.key})",
                                partial(self.action_show, entry.name))

    def _on_screen(self, name: str, action: str) -> Callable[[], None]:
        """A palette command that opens a screen and runs one of its actions there."""
        def run() -> None:
            self.action_show(name)
            self.call_after_refresh(lambda: getattr(self.screen, f"action_{action}")())
        return run


def _with_tabs(screen: Screen, tabs: ScreenTabs) -> Screen:
    """The screen with the tab strip at its top: added here, once, so every screen has it (a placeholder and
    screens registered by others too) without each composing it."""
    compose = screen.compose

    def compose_with_tabs():
        yield tabs
        yield from compose()
    screen.compose = compose_with_tabs
    return screen


def _screen_keys(factory) -> set[str]:
    return {b.key for b in Binding.make_bindings(getattr(factory, "BINDINGS", []))}


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _what(binding: Binding) -> str:
    return f"{binding.description}: {binding.tooltip}" if binding.tooltip else binding.description


def _sentence(err: BaseException) -> str:
    if isinstance(err, OSError):
        return f"{err.filename or 'The file'}: {err.strerror or err}."
    return str(err)
