"""Issue 13's app polish, driven through the pilot at 80x24 and 120x40: the tab strip that says where you are,
one key list (? and the palette's Keys), few and short-lived notifications, dialogs that fit, and the settings
dialog telling the truth about the activation and the learning rate."""
from __future__ import annotations

import pytest

from apptext import screen_text, wait_until, plain
from pynn_tui.app import MOST_NOTIFICATIONS, PynnApp
from pynn_tui.screens import SCREENS
from pynn_tui.screens.dialogs import FormDialog
from pynn_tui.screens.help import HelpScreen
from pynn_tui.screens.widgets import ScreenTabs
from pynn_tui.workbench import Workbench

SIZES = [(80, 24), (120, 40)]
IDS = [f"{w}x{h}" for w, h in SIZES]


def tab_line(app) -> str:
    return screen_text(app).splitlines()[0]


def marked(app) -> list[str]:
    """The tab strip's entries drawn reversed (the current screen's)."""
    tabs = app.screen.query_one(ScreenTabs)
    line = tabs.render()
    return [line.plain[span.start:span.end].strip() for span in line.spans if "reverse" in str(span.style)]


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_the_tab_strip_names_every_screen_and_marks_the_open_one(size):
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for name, _module, _cls, key, title in SCREENS:
            await pilot.press(key)
            await pilot.pause(0.1)
            line = tab_line(app)
            assert f"{key} {title}" in line  # the open one always whole
            for entry in app.entries:
                assert f" {entry.key}" in line
            assert marked(app) == [f"{key} {title}"]
        if size[0] >= 80:
            assert all(f"{e.key} {e.title}" in tab_line(app) for e in app.entries)  # seven fit 80 columns


def test_the_tab_strip_shortens_the_others_titles_where_they_do_not_fit():
    entries = PynnApp(Workbench(data="xor")).entries
    tabs = ScreenTabs(entries, "experiments")
    for room in (9, 5, 0):
        line = tabs.line(room).plain
        assert "6 Experiments" in line and all(f" {e.key}" in line for e in entries)
    assert tabs.line(0).cell_len < 40 < tabs.line(20).cell_len


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_one_keys_entry_in_the_palette_and_it_opens_the_key_list_which_escape_closes(size):
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        keys = [c for c in app.get_system_commands(app.screen) if c.title == "Keys"]
        assert len(keys) == 1
        keys[0].callback()
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the key list")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        app.action_show_help_panel()  # Textual's own panel (which squeezed the tables) is the key list too
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the key list")
        assert not app.screen.query("HelpPanel")


async def test_the_key_list_says_where_p_pauses_and_where_it_means_previous():
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        rows = [r for r in app.key_rows() if r[1] == "p"]
        pause = [where for where, _key, what in rows if what.startswith("Pause")]
        assert pause == ["everywhere but Probe and LSTM (there ctrl+p offers it)"]
        assert {where for where, _key, what in rows if not what.startswith("Pause")} <= {"Probe", "LSTM"}
        listed = plain(app.screen.query_one("#help-keys").content, width=120)
        assert "everywhere but Probe and LSTM" in listed


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_notifications_keep_only_the_newest_few(size):
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=size) as pilot:
        for i in range(8):
            app.notify(f"note {i}")
        await pilot.pause()
        shown = [n.message for n in app._notifications]
        assert shown == [f"note {i}" for i in range(8 - MOST_NOTIFICATIONS, 8)]
        assert app.NOTIFICATION_TIMEOUT <= 5


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_the_compare_dialogs_title_wraps_instead_of_being_cut(size):
    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("6", "c")
        await wait_until(pilot, lambda: isinstance(app.screen, FormDialog), what="the compare dialog")
        await pilot.pause()
        text = " ".join(" ".join(screen_text(app).split("│")).split())
        assert "e.g. init, activation, optimizer, lr, l2" in text


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_a_choice_list_opens_inside_its_dialog(size):
    from textual.widgets import Select
    from textual.widgets._select import SelectOverlay

    app = PynnApp(Workbench(data="xor"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("2", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, FormDialog), what="the settings")
        dialog = app.screen.query_one(".dialog")
        for select in app.screen.query(Select):
            select.focus()
            select.expanded = True
            await pilot.pause()
            overlay = select.query_one(SelectOverlay)
            assert overlay.region.height <= 7 + 2, select.id
            select.expanded = False
        assert dialog.region.height <= size[1]


async def test_the_activation_field_shows_the_one_the_spec_names_and_a_new_one_is_used():
    app = PynnApp(Workbench(data="xor", spec="2-8:tanh-2"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, FormDialog), what="the settings")
        dialog = app.screen
        assert dialog.query_one("#field-activation").value == "tanh"
        assert "leaky" in [v for v, _ in dialog.query_one("#field-activation")._options if v]
        dialog.query_one("#field-activation").value = "relu"
        await pilot.pause()
        await pilot.press("ctrl+j")
        await wait_until(pilot, lambda: [l.activation for l in app.bench.model.layers][0] == "relu",
                         what="the model rebuilt with relu")
        assert app.bench.run.activation == "relu"
        await wait_until(pilot, lambda: " relu " in screen_text(app), what="the settings line")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, FormDialog), what="the settings again")
        assert app.screen.query_one("#field-activation").value == "relu"
        await pilot.press("ctrl+j")  # nothing touched: nothing rebuilt
        await pilot.pause()
        assert app.bench.run.activation == "relu"


async def test_an_empty_learning_rate_says_the_rate_it_stands_for():
    from textual.widgets import Input

    app = PynnApp(Workbench(data="xor"))
    app.bench.configure(optimizer="adam")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, FormDialog), what="the settings")
        lr = app.screen.query_one("#field-lr", Input)
        assert lr.value == "" and lr.placeholder == "default: 0.001 for adam"
        await pilot.pause()
        assert "default: 0.001 for adam" in screen_text(app)


# -- the Train screen's charts ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_digits():
    """784-30-10 after four epochs with a validation split: curves with something to draw."""
    bench = Workbench()
    bench.configure(epochs=4, val_split=0.1)
    bench.train()
    bench.evaluate()
    return bench




@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_the_train_charts_are_braille_lines_with_epoch_axes_filling_the_panel(size, trained_digits):
    app = PynnApp(trained_digits, first_screen="train")
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        text = screen_text(app)
        lines = text.splitlines()
        axis_rows = [i for i, line in enumerate(lines) if "└" in line]
        assert axis_rows, text
        top = min(i for i, line in enumerate(lines) if "┤" in line)
        plot_height = axis_rows[0] - top
        assert plot_height >= (7 if size[1] == 24 else 20)  # the panel's height, not a fixed 7 rows
        assert any(0x2800 < ord(ch) <= 0x28FF for ch in text)  # lines in braille dots
        assert "epoch" in lines[axis_rows[0] + 1] or "epoch" in lines[axis_rows[0] + 2]
        assert "4" in lines[axis_rows[0] + 1]  # the last epoch's tick
        chart = app.screen.query_one("#accuracy-chart")
        for line in lines[top:axis_rows[0]]:
            # the column before the accuracy chart is blank: the loss chart's last point never touches its labels
            assert line[chart.region.x - 1] == " "
        assert app.screen.query_one("#train-scroll").max_scroll_y == 0  # everything fits, nothing to scroll


def test_a_line_chart_moves_in_quarter_rows_and_keeps_a_free_right_column():
    from pynn_tui.render.charts import LineChart, Series

    chart = LineChart([Series("y", [0, 1, 2, 3], [0.0, 0.25, 0.5, 1.0], marks=False)], height=3)
    rows = plain(chart, width=30).splitlines()
    plot = rows[2][rows[2].index("┤") + 1:]  # the bottom row
    dots = [ch for ch in plot if 0x2800 < ord(ch) <= 0x28FF]
    assert len(set(dots)) > 2  # one row, yet the rising line takes several heights within it
    assert max(len(row) for row in rows[:3]) == 29  # the right-most of the 30 columns is left free


def test_without_colour_each_series_has_its_own_dash_and_the_first_mark_stays_on_top():
    from pynn_tui.render.charts import LineChart, Series

    x = [10, 11, 12]
    chart = LineChart([Series("truth", x, [1.0, 2.0, 3.0]), Series("forecast", x, [1.0, 2.0, 3.0]),
                       Series("naive", x, [1.0, 1.0, 1.0])], height=6)
    *plot, legend = plain(chart, width=50).splitlines()
    plot = "\n".join(plot)
    assert plot.count("●") == 3 and "○" not in plot  # truth's three points, over the forecast's on them
    assert plot.count("◆") == 2  # the naive guess shows where it is not the truth
    assert legend.split() == ["●", "truth", "○", "forecast", "◆", "naive"]
    lines = LineChart([Series(n, [0, 50], [0, 1]) for n in ("a", "b", "c")], height=4)
    keys = [item.split(" ")[0] for item in plain(lines, width=60).splitlines()[-1].split("  ") if item]
    assert len(set(keys)) == 3  # three different dashes
