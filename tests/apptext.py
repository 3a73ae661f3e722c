"""What the app shows, as plain text: the terminal's current frame and a widget's Rich content, shared by the
app's pilot tests."""
from rich.console import Console


def screen_text(app) -> str:
    """What the terminal shows now, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def plain(renderable, width: int = 120) -> str:
    """A Rich renderable printed without colour at `width` columns."""
    console = Console(width=width, no_color=True, color_system=None, force_terminal=False)
    with console.capture() as cap:
        console.print(renderable)
    return cap.get()
