"""What the app's pilot tests share: the app's current frame and a widget's Rich content as plain text, waiting
for a condition instead of for a while, and a real workbench whose training run the test paces batch by batch,
so no test depends on how fast or how loaded the machine is."""
from __future__ import annotations

import threading
import time

from rich.console import Console

from pynn.train import BatchEnd
from pynn_tui.workbench import Workbench

# A safety net only: a condition a test waits for arrives in well under a second on an idle machine, and no
# test's result depends on how long it takes.
PATIENCE_S = 120.0


def screen_text(app) -> str:
    """What the terminal shows now, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def plain(renderable, width: int = 120) -> str:
    """A Rich renderable printed without colour at `width` columns."""
    console = Console(width=width, no_color=True, color_system=None, force_terminal=False)
    with console.capture() as cap:
        console.print(renderable)
    return cap.get()


async def wait_until(pilot, condition, what: str = "condition", timeout: float = PATIENCE_S) -> None:
    """Let the app run until condition() holds; fail (never just pass) if it does not within the timeout."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


class PacedWorkbench(Workbench):
    """A real Workbench, really training, whose run holds after every batch until the test lets more batches
    through (`allow`). What the run has done when the test looks is then a count the test chose, and a run
    the test has not finished cannot end before the test is done with it, however fast the machine.
    stop() (the app's s and q, and the fixture's teardown) lets every later batch through, so the run ends
    after its current batch as it would unpaced."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._gate = threading.Condition()
        self.batches = 0        # batches finished by this workbench's runs
        self._allowed = 0       # the run holds after the batch that brings `batches` to this count
        self._free = False
        self._ended = False     # the last run has ended: no more batches will come

    def train(self, on_event=lambda event: None):
        def paced(event):
            on_event(event)
            if isinstance(event, BatchEnd):  # in the training thread, between batches, outside the model's lock
                self._hold()
        self._ended = False
        try:
            return super().train(paced)
        finally:
            with self._gate:
                self._ended = True
                self._gate.notify_all()  # a test waiting for batches learns that no more will come

    def _hold(self) -> None:
        with self._gate:
            self.batches += 1
            self._gate.notify_all()
            if not self._gate.wait_for(lambda: self._free or self.batches < self._allowed, timeout=PATIENCE_S):
                self.stop()  # a test that failed while the run was held: end the run rather than hang

    @property
    def held(self) -> bool:
        """Whether the run is waiting for the test (its version and weights cannot move until allow())."""
        with self._gate:
            return self.training and not self._free and self.batches >= self._allowed

    def allow(self, n: int = 1) -> int:
        """Let the run finish n more batches, then hold again; returns the batch count it will hold at."""
        with self._gate:
            self._allowed = max(self._allowed, self.batches) + n
            self._gate.notify_all()
            return self._allowed

    def wait_for_batches(self, n: int) -> None:
        """Block the calling thread (in an async test: the app's event loop too) until n batches are done."""
        with self._gate:
            self._gate.wait_for(lambda: self.batches >= n or self._ended, timeout=PATIENCE_S)
            if self.batches < n:
                raise AssertionError(f"the run did {self.batches} batches, not {n}"
                                     + (" (it ended)" if self._ended else f", in {PATIENCE_S:.0f} s"))

    def stop(self) -> None:
        with self._gate:
            self._free = True
            self._gate.notify_all()
        super().stop()
