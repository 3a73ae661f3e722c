"""True pixels: maps (weights, filters, surfaces, templates) drawn as images where the terminal has an image
protocol — kitty graphics, sixel or iTerm2's inline images — one image pixel per value, coloured by the same
diverging scale as the character maps (render/colour.py). Every other terminal, a pipe and the browser keep the
characters of render/heatmap.py.

Which one: choose_renderer() decides from facts alone (the setting, the environment, what the terminal
answered), so each case is tested without a terminal. Known terminals are recognised by their environment,
without asking: kitty and Ghostty (TERM=xterm-kitty / xterm-ghostty, forwarded by ssh) take kitty graphics;
iTerm2 and WezTerm (TERM_PROGRAM, or LC_TERMINAL=iTerm2, which ssh forwards with LC_*) take iTerm2's images.
Any other terminal is asked, through textual-image, whether it speaks sixel (its DA1 reply lists 4) or kitty
graphics (it answers a query), each with a 0.1 s timeout: over a slow SSH link the answer can come too late, and
then the characters stay (PYNN_PIXELS=sixel and the like say it outright). Inside tmux only sixel works: tmux
answers the DA1 query itself and draws sixel when it was built with it (3.4+), and passes neither of the others
on. The browser (xterm.js, `pynn serve`) has no images. In the app kitty's images are Unicode placeholders, text
that Textual lays out; sixel and iTerm2 draw at the cursor, so there a map is blank cells with the image drawn
over them from a zero-width control segment after its last row (AnchoredMap; see there).

textual-image rather than rich-pixels: rich-pixels draws half blocks, as heatmap.py already does; textual-image
asks the terminal, encodes sixel and places kitty images with placeholders that work inside Textual.
"""
from __future__ import annotations

import base64
import io
import logging
import os
import sys
from collections import deque
from dataclasses import dataclass
from typing import Mapping, NamedTuple
from weakref import WeakValueDictionary

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.segment import ControlType, Segment
from rich.style import Style

from pynn.errors import PynnError
from pynn_tui.render import heatmap
from pynn_tui.render.colour import diverging_rgb_array
from pynn_tui.render.heatmap import HeatMap, Legend, TITLE_STYLE, max_abs

# textual-image logs a terminal's odd answer with its traceback; without a handler Python would print it
logging.getLogger("textual_image").addHandler(logging.NullHandler())

PROTOCOLS = ("kitty", "sixel", "iterm2")
CHARACTERS = "characters"
SETTINGS = ("auto", "on", "off") + PROTOCOLS
ENV = "PYNN_PIXELS"


@dataclass(frozen=True)
class TerminalFacts:
    """What the terminal showed of itself: whether output goes to a terminal at all, and its answers to the
    sixel and kitty-graphics queries (False where it was not asked or did not answer)."""
    tty: bool
    sixel: bool = False
    kitty: bool = False


def pixel_setting(flag: str | None, env: Mapping[str, str]) -> str:
    """The setting in force: the flag where given, else PYNN_PIXELS, else auto."""
    setting = (flag or env.get(ENV, "") or "auto").strip().lower()
    if setting not in SETTINGS:
        raise PynnError(f"{ENV} must be one of {', '.join(SETTINGS)}, not {setting!r}.")
    return setting


def in_browser(env: Mapping[str, str]) -> bool:
    """True under textual-serve (pynn serve), whose xterm.js shows no images."""
    return env.get("TERM_PROGRAM") == "textual" or env.get("TEXTUAL_DRIVER", "").startswith("textual.drivers.web")


def known_terminal(env: Mapping[str, str]) -> str | None:
    """The protocol of a terminal its environment names, or None: then only asking it can tell."""
    if env.get("TMUX"):
        return None  # tmux's own TERM_PROGRAM, and it passes iTerm2's and kitty's images on to no one
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if term in ("xterm-kitty", "xterm-ghostty") or program == "ghostty" or env.get("KITTY_WINDOW_ID"):
        return "kitty"
    if program in ("iTerm.app", "WezTerm") or env.get("LC_TERMINAL") == "iTerm2":
        return "iterm2"
    return None


def choose_renderer(setting: str, env: Mapping[str, str], facts: TerminalFacts) -> str:
    """"kitty", "sixel", "iterm2" or "characters" for a setting (auto, on, off or a protocol's name), the
    environment and the terminal's answers. Never into a pipe, the browser, TERM=dumb or NO_COLOR (images
    are colour). Otherwise a protocol named outright is used as it is; "on" draws images even where the
    terminal gave no answer (sixel, the most widely spoken, then); "auto" draws them only where the terminal
    is known or said it can. The same in the app as in a command."""
    if (setting == "off" or not facts.tty or in_browser(env) or env.get("TERM") == "dumb"
            or "NO_COLOR" in env):
        return CHARACTERS
    if setting in PROTOCOLS:
        return setting
    known = known_terminal(env)
    if known:
        return known
    if facts.sixel:  # before kitty: WezTerm and Konsole answer the kitty query but do not draw its placeholders
        return "sixel"
    if facts.kitty:
        return "kitty"
    return "sixel" if setting == "on" else CHARACTERS


def ask_terminal() -> TerminalFacts:
    """The terminal's answers, through textual-image, which asks once when first imported (sixel first, then
    kitty graphics). Must run before Textual starts reading the input."""
    from textual_image import renderable  # the import is the asking
    from textual_image.renderable.sixel import Image as SixelImage
    from textual_image.renderable.tgp import Image as TGPImage

    return TerminalFacts(tty=True, sixel=renderable.Image is SixelImage, kitty=renderable.Image is TGPImage)


_renderer = CHARACTERS  # what maps are drawn with in this process; characters until use_pixels() says more
_in_app = False         # the process runs the Textual app: grids are laid out by Textual, not at the cursor


def use_pixels(flag: str | None = None, env: Mapping[str, str] | None = None, app: bool = False) -> str:
    """Decides once, at a command's start (app: the app's), how this process draws maps, and returns it."""
    global _renderer, _in_app
    env = os.environ if env is None else env
    setting = pixel_setting(flag, env)
    tty = bool(sys.stdout.isatty())
    facts = TerminalFacts(tty)
    if (setting in ("auto", "on") and tty and sys.stdin.isatty() and not in_browser(env)
            and known_terminal(env) is None):
        try:
            facts = ask_terminal()
        except Exception:  # a terminal that answers nonsense draws characters, as one that does not answer
            pass
    _renderer, _in_app = choose_renderer(setting, env, facts), app
    if _renderer != CHARACTERS and tty:
        # textual-image asks the terminal when its renderers are first imported, and for the cell size when
        # first drawn: both now, while stdin is still ours, not from inside the app
        import textual_image.renderable  # noqa: F401
        cell_pixels()
    return _renderer


def renderer() -> str:
    """How maps are drawn in this process (see use_pixels)."""
    return _renderer


def add_pixels_arg(parser) -> None:
    parser.add_argument("--pixels", choices=SETTINGS, default=None,
                        help="draw maps as images where the terminal can (kitty, sixel, iTerm2): auto (default) "
                             "detects it, on insists, off keeps characters, or name the protocol; the "
                             f"environment variable {ENV} says the same when the flag is not given")


# -- the images ---------------------------------------------------------------------------------------------

def map_rgb(values, scale: float) -> np.ndarray:
    """A map's colours, one pixel per value: uint8 (H, W, 3) on the diverging scale of render/colour.py
    (a 1-D map is one row)."""
    values = np.asarray(values, dtype=np.float64)
    return diverging_rgb_array(values.reshape(1, -1) if values.ndim == 1 else values, scale).astype(np.uint8)


class Dot(NamedTuple):
    """A point drawn over a map's image (a surface's training or test point): centred on the value at (row,
    col), coloured 0xRRGGBB, a disc or, hollow, a ring."""
    row: int
    col: int
    rgb: int
    hollow: bool = False


def map_image(values, scale: float | None = None, size: tuple[int, int] | None = None, dots=()):
    """The map as a PIL image at its real resolution (one pixel per value), or enlarged to size (width,
    height in pixels) with every value a block of one colour (nearest neighbour: no blending of values); then
    the dots over it, each about as wide as a value's block (a pixel at the real resolution)."""
    from PIL import Image, ImageDraw

    values = np.asarray(values, dtype=np.float64)
    image = Image.fromarray(map_rgb(values, max_abs(values) if scale is None else scale), "RGB")
    if size is not None and size != image.size:
        image = image.resize(size, Image.Resampling.NEAREST)
    if dots:
        draw = ImageDraw.Draw(image)
        rows, cols = values.shape if values.ndim == 2 else (1, values.size)
        block_w, block_h = image.width / cols, image.height / rows
        radius = max(0.5, 0.45 * min(block_w, block_h) - 0.5)
        for dot in dots:
            x, y = (dot.col + 0.5) * block_w - 0.5, (dot.row + 0.5) * block_h - 0.5
            colour = ((dot.rgb >> 16) & 0xFF, (dot.rgb >> 8) & 0xFF, dot.rgb & 0xFF)
            box = [x - radius, y - radius, x + radius, y + radius]
            if dot.hollow:
                draw.ellipse(box, outline=colour, width=max(1, round(radius / 3)))
            else:
                draw.ellipse(box, fill=colour)
    return image


def cell_pixels() -> tuple[int, int]:
    """A terminal cell's (width, height) in pixels, as the terminal reports it (textual-image asks once), or
    10x20 where it does not say."""
    if not sys.stdout.isatty():
        return 10, 20
    from textual_image._terminal import get_cell_size

    try:
        size = get_cell_size()
    except (ArithmeticError, OSError):  # a terminal that reports no size at all (0 columns)
        return 10, 20
    return (size.width, size.height) if size.width > 0 and size.height > 0 else (10, 20)


def cells_of(values) -> tuple[int, int]:
    """The (columns, rows) a map takes: as its half-block drawing does, so a layout fits either way."""
    h, w = np.shape(values) if np.ndim(values) == 2 else (1, np.size(values))
    return w, -(-h // 2)


def _png_base64(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def image_escape(protocol: str, image, columns: int, rows: int) -> str:
    """The escape sequence that draws image at the cursor over columns x rows cells: kitty graphics (PNG, in
    chunks of 4096, the cursor left where it was), iTerm2's inline image (PNG) or sixel (textual-image's
    encoder; at most 256 colours, so very close values may share one)."""
    if protocol == "kitty":
        data = _png_base64(image)
        chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)] or [""]
        first = f"a=T,f=100,c={columns},r={rows},C=1,q=2,"
        return "".join(f"\x1b_G{first if i == 0 else ''}m={int(i < len(chunks) - 1)};{chunk}\x1b\\"
                       for i, chunk in enumerate(chunks))
    if protocol == "iterm2":
        data = _png_base64(image)
        return (f"\x1b]1337;File=inline=1;size={len(base64.b64decode(data))};width={columns};height={rows};"
                f"preserveAspectRatio=0:{data}\a")
    if protocol == "sixel":
        from textual_image._sixel import image_to_sixels
        return image_to_sixels(image)
    raise ValueError(f"no image protocol {protocol!r}")


_RAW = [(ControlType.CURSOR_FORWARD, 0)]  # marks a segment Rich writes as it is (an escape sequence)


class PixelMapGrid:
    """Maps side by side in rows, each drawn as an image in the terminal's protocol, with its title above it
    in text: the image counterpart of heatmap.HeatMapGrid, taking the same cells. A row is written as blank
    lines first, then each image is drawn into its place from a saved cursor, so the images sit beside each
    other whatever the protocol does with the cursor."""

    def __init__(self, maps, titles: list[str], scales: list[float], protocol: str,
                 cols: int | None = None, gap: int = 2, dots: list | None = None):
        self.maps = [np.asarray(m, dtype=np.float64) for m in maps]
        self.titles = titles
        self.scales = scales
        self.protocol = protocol
        self.cols = cols
        self.gap = gap
        self.dots = dots or [()] * len(self.maps)  # each map's Dots

    def cell_width(self) -> int:
        return max((max(cells_of(m)[0], len(t)) for m, t in zip(self.maps, self.titles)), default=1)

    def columns(self, max_width: int) -> int:
        fit = max(1, (max_width + self.gap) // (self.cell_width() + self.gap))
        return max(1, min(self.cols or fit, len(self.maps) or 1))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        cell, cols = self.cell_width(), self.columns(options.max_width)
        return Measurement(cell, cols * cell + (cols - 1) * self.gap)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        cols, cell = self.columns(options.max_width), self.cell_width()
        cw, ch = cell_pixels()
        for start in range(0, len(self.maps), cols):
            row = range(start, min(start + cols, len(self.maps)))
            width = len(row) * cell + (len(row) - 1) * self.gap
            if any(self.titles[i] for i in row):
                titles = (" " * self.gap).join(self.titles[i][:cell].center(cell) for i in row)
                yield Segment(titles, TITLE_STYLE)
                yield Segment.line()
            height = max(cells_of(self.maps[i])[1] for i in row)
            for _ in range(height):
                yield Segment(" " * width)
                yield Segment.line()
            yield Segment("\x1b7", control=_RAW)  # saved: the line below the row, where writing goes on
            for k, i in enumerate(row):
                columns, rows = cells_of(self.maps[i])
                image = map_image(self.maps[i], self.scales[i], (columns * cw, rows * ch), self.dots[i])
                right = k * (cell + self.gap) + (cell - columns) // 2
                yield Segment(f"\x1b8\x1b[{height}A\r" + (f"\x1b[{right}C" if right else ""), control=_RAW)
                yield Segment(image_escape(self.protocol, image, columns, rows), control=_RAW)
            yield Segment("\x1b8", control=_RAW)
            if row.stop < len(self.maps):
                yield Segment.line()


def map_grid(maps, titles: list[str], scale: str = "shared", cols: int | None = None,
             negative: str = "dislikes", positive: str = "likes") -> Group:
    """heatmap.map_grid (maps (k, H, W), titles, a shared scale or one each, a legend), drawn as images where
    this process draws images (see use_pixels), else in characters exactly as heatmap.map_grid."""
    if _renderer == CHARACTERS:
        return heatmap.map_grid(maps, titles, scale, cols, negative, positive)
    if scale == "each":
        scales = [max_abs(m) for m in maps]
        titles = [f"{t} ±{s:.2g}" for t, s in zip(titles, scales)]
        legend = Legend(None, negative, positive)
    else:
        shared = max_abs(maps)
        scales = [shared] * len(maps)
        legend = Legend(shared, negative, positive)
    return Group(view_grid([map_view(m, s, t) for m, s, t in zip(maps, scales, titles)], cols), legend)


def view_grid(views: list, cols: int | None = None, gap: int = 2):
    """Views made by map_view (or any HeatMap-like, e.g. a surface's) side by side: a HeatMapGrid of them,
    except for a command's images, which a PixelMapGrid draws from a saved cursor."""
    if _renderer == CHARACTERS or _in_app or not all(isinstance(v, (KittyMap, CursorMap)) for v in views):
        return heatmap.HeatMapGrid(views, cols, gap)  # the app lays out kitty's placeholders and the anchors
    return PixelMapGrid([v.values for v in views], [v.title or "" for v in views], [v.scale for v in views],
                        _renderer, cols, gap, [v.dots for v in views])


def draws_images() -> bool:
    """Whether map_view draws images in this process (else it draws the characters of a HeatMap)."""
    return _renderer != CHARACTERS


# -- inside the app -----------------------------------------------------------------------------------------

class ImageMap(HeatMap):
    """A HeatMap to be drawn as an image, with dots over it (Dot), which the characters have no room for."""

    def __init__(self, values, scale: float | None = None, title: str | None = None, dots=()):
        super().__init__(values, scale, title)
        self.dots = list(dots)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.values.shape[0] == 1:  # a strip wraps to the width: characters
            yield from super().__rich_console__(console, options)
            return
        width = min(self.width, options.max_width)
        if self.title:
            yield Segment(self.title[:width].center(width), TITLE_STYLE)
            yield Segment.line()
        yield from self.image_lines(console, options, width)

    def image_lines(self, console: Console, options: ConsoleOptions, width: int) -> RenderResult:
        """The image's rows of cells, width wide."""
        raise NotImplementedError


class KittyMap(ImageMap):
    """A HeatMap (same cells, title, values and scale) drawn as a kitty-graphics image through textual-image's
    Unicode placeholders: ordinary characters whose colour names the image, so Textual lays them out like any
    text."""

    def image_lines(self, console: Console, options: ConsoleOptions, width: int) -> RenderResult:
        from textual_image.renderable.tgp import Image as TGPImage

        columns, rows = cells_of(self.values)
        cw, ch = cell_pixels()
        image = TGPImage(map_image(self.values, self.scale, (columns * cw, rows * ch), self.dots), columns, rows)
        _forget_oldest(image)
        pad = Segment(" " * (width - columns)) if width > columns else None
        for line in console.render_lines(image, options.update(width=columns, height=rows), pad=False):
            yield from line
            if pad:
                yield pad
            yield Segment.line()


_shown: deque = deque()   # kitty images sent to the terminal, oldest first
SHOWN_AT_MOST = 256       # a live grid sends its maps ten times a second; older ones are deleted in the terminal


def _forget_oldest(image) -> None:
    _shown.append(image)
    while len(_shown) > SHOWN_AT_MOST:
        _shown.popleft().cleanup()


class CursorMap(ImageMap):
    """A HeatMap drawn as one sixel or iTerm2 image at the cursor, for a command's output. Printed on its own
    (or in a Group), not inside a grid that stitches lines side by side: map_grid does that for images."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.values.shape[0] == 1:
            yield from super().__rich_console__(console, options)
            return
        yield PixelMapGrid([self.values], [self.title or ""], [self.scale], _renderer, cols=1, dots=[self.dots])


class AnchoredMap(ImageMap):
    """In the app, a HeatMap (same cells, title, values and scale) drawn as a sixel or iTerm2 image over blank
    cells. Textual keeps no control segment of a widget's content (its styling rebuilds every segment as text),
    so the map marks its last row's cells with its key in their style's meta, and the widget (PixelStatic in
    screens/widgets.py) puts the anchor after them: a zero-width control segment that saves the cursor, goes up
    and back to the map's first cell, draws the image there and restores the cursor. Textual writes a widget's
    lines top to bottom, so the image comes after the blank cells it covers. Drawn from its last line up, it
    would cover whatever is above a widget scrolled partly out of view, or a dialog over its screen: the widget
    adds anchors only while wholly in view on the active screen."""

    def image_lines(self, console: Console, options: ConsoleOptions, width: int) -> RenderResult:
        columns, rows = cells_of(self.values)
        pad = [Segment(" " * (width - columns))] if width > columns else []
        _anchored[id(self)] = self
        marked = Style(meta={ANCHOR_KEY: id(self)})
        for row in range(rows):
            last = row == rows - 1 and columns <= width  # a map cut at the right draws no image
            yield Segment(" " * columns, marked if last else None)
            yield from pad
            yield Segment.line()

    def anchor(self) -> str:
        """The anchor's text, encoded once per map (a screen renders a widget more than once)."""
        if not hasattr(self, "_anchor"):
            columns, rows = cells_of(self.values)
            cw, ch = cell_pixels()
            image = map_image(self.values, self.scale, (columns * cw, rows * ch), self.dots)
            up = f"\x1b[{rows - 1}A" if rows > 1 else ""  # CSI 0 A would still move one line
            self._anchor = f"\x1b7{up}\x1b[{columns}D{image_escape(_renderer, image, columns, rows)}\x1b8"
        return self._anchor


ANCHOR_KEY = "pynn-image"  # the style meta naming the AnchoredMap whose last row a segment is
ANCHOR = ((ControlType.CURSOR_FORWARD, 0), (ControlType.CURSOR_BACKWARD, 0))  # marks an anchor segment
_anchored: WeakValueDictionary = WeakValueDictionary()  # the maps a widget's content still holds, by key


def anchor_after(segment: Segment) -> Segment | None:
    """The anchor that follows a map's last row, where segment is one, else None."""
    style = segment.style
    if style is None or style._meta is None:  # (cheap: most segments carry no meta)
        return None
    view = _anchored.get(style.meta.get(ANCHOR_KEY))
    return None if view is None else Segment(view.anchor(), None, ANCHOR)


def is_anchor(segment: Segment) -> bool:
    return segment.control is not None and tuple(segment.control) == ANCHOR


def map_view(values, scale: float | None = None, title: str | None = None, dots=()) -> HeatMap:
    """One map for a screen or a command, as an image where this process draws images (a KittyMap; a
    CursorMap in a command's output, an AnchoredMap in the app), else the HeatMap of characters (which leaves
    the dots out). All take the same cells and carry values, scale and title."""
    if _renderer == "kitty":
        return KittyMap(values, scale, title, dots)
    if _renderer in ("sixel", "iterm2"):
        return AnchoredMap(values, scale, title, dots) if _in_app else CursorMap(values, scale, title, dots)
    return HeatMap(values, scale, title)
