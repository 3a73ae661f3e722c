"""What the inspection screens (Weights, Outputs, Probe, LSTM) share: a screen that follows the workbench's
version ten times a second and redraws only when it moved, shows one sentence when it does not apply to the
model, and turns a user's mistake (a PynnError) into a notification instead of a crash."""
from __future__ import annotations

import contextlib
import time

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual import widgets as textual_widgets
from textual.widget import Widget
from textual.widgets import Static

from pynn.errors import PynnError
from pynn_tui.labels import class_name
from pynn_tui.render.colour import colour_on
from pynn_tui.render.pixels import anchor_after

POLL_SECONDS = 0.1  # at most ten redraws a second, however fast the training worker bumps the version


def few_threads():
    """A context in which the calling thread's OpenMP work (the core's kernels) runs on one thread: what the
    UI reads for a picture must not open a team across the cores a training run is using. OpenMP's thread
    count is the calling thread's own setting, so the run's threads keep theirs. (Without threadpoolctl the
    work runs as it would.)"""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="openmp")


class Footer(textual_widgets.Footer):
    """Textual's footer, letting go of the keys it drew before. Each key it composes binds its `compact` to the
    footer's, and Textual drops such a watcher only when `compact` changes, which it never does here: every
    redraw of the keys (two or more a run, as t gives way to p and s) kept the old ones alive for good, some
    70 KB a run on every screen's footer."""

    async def recompose(self) -> None:
        await super().recompose()
        for watchers in getattr(self, "__watchers", {}).values():
            watchers[:] = [(node, callback) for node, callback in watchers if not node._closing and not node._closed]


class ScreenTabs(Widget):
    """The strip at the top of every screen naming the screens by digit, the one open marked: where am I, and
    where can I go. Where the titles do not all fit, the others' are shortened (down to the digit alone)."""

    DEFAULT_CSS = """
    ScreenTabs {
        dock: top;
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self, entries, current: str):
        super().__init__()
        self.entries, self.current = entries, current  # the app's ScreenEntry list, the mode name of this one

    def render(self) -> Text:
        width = max(self.size.width, 1)
        longest = max(len(e.title) for e in self.entries)
        for room in range(longest, -1, -1):  # the longest titles that fit, the current one always whole
            line = self.line(room)
            if line.cell_len <= width:
                return line
        return line

    def line(self, room: int) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for entry in self.entries:
            here = entry.name == self.current
            title = entry.title if here else entry.title[:room]
            text.append(f" {entry.key}{' ' + title if title else ''} ", style="bold reverse" if here else "")
        return text


class PixelStatic(Static):
    """A Static that may hold maps drawn as sixel or iTerm2 images (render/pixels.py, AnchoredMap): it puts each
    map's anchor after its last row, only while the whole widget is in view on the active screen, since an
    image is drawn from there up over the lines above; scrolled partly out of view, or under a dialog, its maps
    are blank until it is back."""

    def render_lines(self, crop: Region) -> list[Strip]:
        strips = super().render_lines(crop)
        if crop != Region(0, 0, *self.outer_size) or not self.screen.is_active:
            return strips
        return [self.anchored(strip) for strip in strips]

    @staticmethod
    def anchored(strip: Strip) -> Strip:
        segments, anchors = [], 0
        for segment in strip:
            segments.append(segment)
            anchor = anchor_after(segment)
            if anchor is not None:
                segments.append(anchor)
                anchors += 1
        return Strip(segments, strip.cell_length) if anchors else strip


class InspectScreen(Screen):
    """A screen over the workbench: `compose_body` yields its widgets, `why_not` says (in one sentence) why
    the screen does not apply to this model, and `draw` fills the widgets in. `draw` runs on mount, when the
    screen comes back, after a key changes what it shows, and whenever `bench.version` moved — never more
    often than POLL_SECONDS, and not while another mode's screen is shown."""

    DEFAULT_CSS = """
    InspectScreen .why-not {
        padding: 1 2;
    }
    InspectScreen .head {
        padding: 0 1;
        height: auto;
    }
    """

    # Seconds between redraws that only follow training. A screen drawn as one tall picture re-renders all
    # of it on every update, so the heavy ones follow a run a few times a second and keep the keys responsive;
    # a key still redraws at once.
    LIVE_SECONDS = POLL_SECONDS

    def live_seconds(self) -> float:
        return self.LIVE_SECONDS

    def __init__(self, bench):
        super().__init__()
        self.bench = bench
        self.drawn_version: int | None = None
        self.drawn_at = 0.0  # time.monotonic() of the last draw
        self.reason = ""  # the sentence shown instead of the body when the screen does not apply

    # -- for subclasses -------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield from ()

    def why_not(self) -> str:
        """Empty when the screen applies to the current model and data, else why not, in one sentence."""
        return ""

    def draw(self) -> None:
        """Read what the screen shows (under bench.read) and put it in the widgets."""

    # -- the frame ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="head", classes="head")
        with VerticalScroll(id="body"):
            yield from self.compose_body()
        yield Static("", id="why-not", classes="why-not")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(POLL_SECONDS, self.poll)

    def on_screen_resume(self) -> None:
        self.poll()

    def poll(self) -> None:
        if not self.is_current or self.bench.version == self.drawn_version:
            return
        if self.bench.training and time.monotonic() - self.drawn_at < self.live_seconds():
            return
        self.redraw()

    def redraw(self) -> None:
        """Draw now: the body, or the sentence saying why this screen shows nothing for this model."""
        self.drawn_version, self.drawn_at = self.bench.version, time.monotonic()
        reason = self.why_not()
        if not reason:
            try:
                self.draw()
            except PynnError as err:
                # drawn once per version, so a lasting problem is one notification, not ten a second
                self.notify(str(err), severity="error")
                reason = str(err)
            except Exception as err:  # noqa: BLE001 - a bug here must not take the app (and unsaved work) down
                reason = f"This screen failed unexpectedly: {type(err).__name__}: {err}"
                self.notify(reason, severity="error", timeout=12)
        if reason != self.reason:
            self.refresh_bindings()  # the screen's keys leave the footer while it does not apply
        self.reason = reason
        self.query_one("#why-not", Static).update(reason)
        self.query_one("#why-not").display = bool(reason)
        self.query_one("#body").display = not reason
        if reason:
            self.set_head("")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        own = {binding.action.split("(")[0] for binding in Binding.make_bindings(type(self).BINDINGS)}
        return not (self.reason and action in own)

    def attempt(self, action) -> bool:
        """Run a key's action; a PynnError becomes an error notification. True when it went through."""
        try:
            action()
        except PynnError as err:
            self.notify(str(err), severity="error")
            return False
        return True

    # -- helpers --------------------------------------------------------------------------------------
    def set_head(self, text: RenderableType, layout: bool = True) -> None:
        self.query_one("#head", Static).update(text, layout=layout)

    def lines(self, renderable: RenderableType, widget_id: str) -> int:
        """Lines a (small) renderable takes at the width of a widget: a live redraw whose pieces keep their
        heights can skip the relayout, which would render every picture once more just to measure it."""
        console = self.app.console
        width = max(self.query_one(widget_id).size.width, 1)
        return len(console.render_lines(renderable, console.options.update_width(width), pad=False))

    @property
    def colour(self) -> bool:
        """Whether pictures come out in colour (not with NO_COLOR): it changes how tall a heat map is."""
        return colour_on(self.app.console)

    def class_label(self, index: int) -> str:
        return class_name(self.bench.model, self.bench.data, index)



def has_lstm(model) -> bool:
    """Whether an LSTM sits in the model: then weight maps over the input, output reliance and the dense
    journey do not apply, and the LSTM screen does."""
    return any(layer.kind == "lstm" for layer in model.layers)
