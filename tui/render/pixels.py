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
on. The browser (xterm.js, `pynn serve`) has no images.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Mapping

from pynn.errors import PynnError

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
    environment and the terminal's answers. A protocol named outright is used as it is; "on" draws images
    even where the terminal gave no answer (sixel, the most widely spoken, then), but never into a pipe or the
    browser; "auto" draws them only where the terminal is known or said it can."""
    if setting in PROTOCOLS:
        return setting
    if setting == "off" or not facts.tty or in_browser(env) or env.get("TERM") == "dumb":
        return CHARACTERS
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


def use_pixels(flag: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """Decides once, at a command's start, how this process draws maps, and returns it."""
    global _renderer
    env = os.environ if env is None else env
    setting = pixel_setting(flag, env)
    tty = bool(sys.stdout.isatty())
    facts = TerminalFacts(tty)
    if setting in ("auto", "on") and tty and not in_browser(env) and known_terminal(env) is None:
        facts = ask_terminal()
    _renderer = choose_renderer(setting, env, facts)
    return _renderer


def renderer() -> str:
    """How maps are drawn in this process (see use_pixels)."""
    return _renderer


def add_pixels_arg(parser) -> None:
    parser.add_argument("--pixels", choices=SETTINGS, default=None,
                        help="draw maps as images where the terminal can (kitty, sixel, iTerm2): auto (default) "
                             "detects it, on insists, off keeps characters, or name the protocol; the "
                             f"environment variable {ENV} says the same when the flag is not given")
