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
        if size[0] >= 120 or len(app.entries) <= 7:  # seven fit 80 columns; with the Playground, 120
            assert all(f"{e.key} {e.title}" in tab_line(app) for e in app.entries)


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


# -- the Weights overview ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES, ids=IDS)
@pytest.mark.parametrize("hidden", [30, 100])
async def test_the_weights_overview_shows_every_map_of_the_layer_at_once(size, hidden):
    from pynn_tui.screens.weights import WeightsScreen

    app = PynnApp(Workbench(spec=f"784-{hidden}-10"), first_screen="weights")
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, WeightsScreen) and len(app.screen.cells) == hidden,
                         what="the grid")
        await pilot.pause(0.2)
        screen = app.screen
        body = screen.query_one("#body")
        assert body.max_scroll_y == 0, f"{hidden} maps need scrolling at {size}"
        assert all(cell.region.bottom <= body.region.bottom for cell in screen.cells)  # every one on screen
        if hidden == 30 and size == (120, 40):
            assert screen.factor < 4  # more room: larger maps
        assert f"{screen.factor}x{screen.factor} means" in screen.query_one("#head").content.plain
        await pilot.press("right", "down", "enter")
        await pilot.pause()
        assert screen.zoomed and screen.zoom.neuron == 1 + screen.columns
        assert screen.zoom.map.shape == (28, 28)  # the close-up at full size


def test_maps_are_averaged_over_blocks_edges_included():
    import numpy as np

    from pynn_tui.screens.weights import downsampled, overview_factor

    maps = np.arange(2 * 5 * 5, dtype=float).reshape(2, 5, 5)
    small = downsampled(maps, 2)
    assert small.shape == (2, 3, 3)
    assert small[0, 0, 0] == maps[0, :2, :2].mean() and small[1, 2, 2] == maps[1, 4, 4]
    assert small[0, 0, 2] == maps[0, :2, 4].mean()
    assert downsampled(np.ones((3, 1, 10)), 5).shape == (3, 1, 2)  # a strip shrinks along its length only
    assert overview_factor((28, 28), 30, (78, 20), colour=True) == 4
    assert overview_factor((28, 28), 2, (78, 20), colour=True) == 1  # a few maps keep every weight


# -- the LSTM screen --------------------------------------------------------------------------------------

def traced(screen, index: int = 0):
    """A condition: the LSTM screen shows the trace of test sample `index` (traces are read in a worker)."""
    return lambda: screen.shown is not None and screen.shown.key[0] == index and screen.maps


def lstm_app(size_note: str = "", **bench) -> PynnApp:
    return PynnApp(Workbench(**bench), first_screen="lstm")


CHARS = dict(data="shakespeare", data_options={"n": 6000, "lookback": 64}, spec="lstm128*-55")  # 55 characters


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_the_six_gate_maps_fit_the_screen_with_the_characters_under_them(size):
    app = lstm_app(**CHARS)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: hasattr(app.screen, "shown") and traced(app.screen)(), what="the trace")
        await pilot.pause()
        screen, lines = app.screen, screen_text(app).splitlines()
        labels = ["input i", "forget f", "cand. g", "output o", "cell c", "hidden h"]
        rows = [next(i for i, line in enumerate(lines) if line.startswith(f" {label}")) for label in labels]
        assert rows == sorted(rows)  # all six on the first screen, in order
        units_each = len(screen.units)
        assert 2 <= units_each < 128 and all(m.values.shape == (units_each, 64) for m in screen.maps)
        if size == (120, 40):
            assert units_each > 6  # more room, more units
        chars = screen.window_text().replace("\n", "↵").replace(" ", "␣")
        input_line = next(line for line in lines if line.startswith(" input  "))
        assert chars in input_line
        map_line = lines[rows[0]]
        assert input_line.index(chars) == map_line.index("▀")  # step t's character under step t's column
        assert sum(line.count("▶") for line in lines) == 6  # the cursor unit marked in each map


async def test_the_unit_cursor_walks_the_ranking_and_enter_shows_its_six_traces():
    from pynn_tui.screens.lstm import ranked_units

    app = lstm_app(**CHARS)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: hasattr(app.screen, "shown") and traced(app.screen)(), what="the trace")
        screen = app.screen
        order = list(ranked_units(screen.trace))
        assert screen.unit == order[0]
        for _ in range(len(screen.units) + 1):  # past the first page of units
            await pilot.press("down")
        assert screen.unit == order[len(screen.units) + 1] and screen.unit in screen.units
        assert f"unit #{screen.unit}" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        text = screen_text(app)
        assert f"unit #{screen.unit}: its gates" in text and "forget f" in text and "hidden h" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.zoomed and "units ranked" in screen_text(app)


async def test_a_sequence_classifier_shows_its_input_beside_the_maps():
    app = lstm_app(data="digits", data_options={"as_sequence": True}, spec="28x28-lstm32-10")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: hasattr(app.screen, "shown") and traced(app.screen)(), what="the trace")
        await pilot.pause()
        assert "the input (row t: step t)" in screen_text(app)
        assert app.screen.check_action("generate", ()) is False
        assert " g " not in screen_text(app).splitlines()[-1]  # no new-text key where there is no text


@pytest.mark.parametrize("colour", [True, False], ids=["colour", "no-colour"])
async def test_the_forecast_draws_the_truth_the_forecast_and_the_naive_guess(colour, monkeypatch):
    if not colour:
        monkeypatch.setenv("NO_COLOR", "1")
    app = lstm_app(data="sine", data_options={"horizon": 5}, spec="lstm8-5")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: hasattr(app.screen, "shown") and traced(app.screen)(), what="the trace")
        screen = app.screen
        assert " g " not in screen_text(app).splitlines()[-1]
        outcome = plain(screen.query_one("#outcome").content, width=78).splitlines()
        legend = next(line for line in outcome if "truth" in line and "naive" in line)
        assert legend.split()[:6] == ["●", "truth", "○", "forecast", "◆", "naive"]
        plot = "\n".join(line for line in outcome if "┤" in line or "│" in line)
        assert plot.count("●") >= 1  # the truth's marks are drawn (on top of the others where they meet)
        assert plot.count("●") + plot.count("○") + plot.count("◆") >= 5 + 2


async def test_the_generated_text_follows_the_weights(paced_workbench, monkeypatch):
    """While a run goes, the text is regenerated at most every TEXT_SECONDS (here: never); once the run has
    moved the weights and stopped, the text is the one those weights write."""
    from pynn.generate import generate_text
    import pynn_tui.screens.lstm as lstm

    monkeypatch.setattr(lstm, "TEXT_SECONDS", 1e9)
    bench = paced_workbench(data="shakespeare", data_options={"n": 3000, "lookback": 16}, spec="lstm16*-52")
    bench.configure(epochs=100)
    app = PynnApp(bench, first_screen="lstm")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: hasattr(screen, "generated") and screen.generated is not None,
                         what="the first text")
        first, version = screen.generated[3], screen.generated_at[0]
        await pilot.press("t")
        bench.wait_for_batches(bench.allow(20))
        await wait_until(pilot, lambda: screen.shown is not None and screen.shown.key[2] == bench.version,
                         what="the trace of the moved weights")
        await pilot.pause(0.3)
        assert screen.generated[3] == first and screen.generated_at[0] == version  # throttled while it runs
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.training, what="the stop")
        await wait_until(pilot, lambda: screen.generated_at[0] == bench.version, what="the new text")
        expected = generate_text(bench.model, screen.vocabulary(), length=lstm.GENERATE_LENGTH,
                                 prime=screen.window_text(), temperature=lstm.TEMPERATURE, seed=0)
        assert screen.generated[3] == expected != first


async def test_the_ui_reads_with_one_openmp_thread_while_a_runs_thread_keeps_its_team(monkeypatch):
    import os
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")
    import pynn_tui.screens.lstm as lstm

    def openmp_threads() -> int:
        return max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp")

    seen = []
    real = lstm.gate_trace

    def recording(*args, **kwargs):
        seen.append((threading.current_thread() is threading.main_thread(), openmp_threads()))
        return real(*args, **kwargs)

    monkeypatch.setattr(lstm, "gate_trace", recording)
    app = lstm_app(data="sine", spec="lstm8-1")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: hasattr(app.screen, "shown") and traced(app.screen)(), what="the trace")
        assert seen and seen[0] == (False, 1)  # off the UI thread, in one OpenMP thread
        assert openmp_threads() == 1  # the UI thread's own reading
        other = []
        thread = threading.Thread(target=lambda: other.append(openmp_threads()))
        thread.start()
        thread.join()
        # the cores this process may use (taskset -c 0 leaves one, and OpenMP's default team is then one)
        if len(os.sched_getaffinity(0)) > 1 and "OMP_NUM_THREADS" not in os.environ:
            assert other[0] > 1  # a run's thread still opens its team


# -- Experiments ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_the_default_sweep_goes_past_30_and_a_comparison_sits_beside_it(size):
    from apptext import plain as plain_text
    from pynn_tui.screens.experiments import DEFAULT_SIZES

    assert [int(v) for v in DEFAULT_SIZES.split(",")][-2:] == [100, 300]
    app = PynnApp(Workbench(data="xor"))
    app.bench.configure(val_split=0.2)
    async with app.run_test(size=size) as pilot:
        await pilot.press("6", "w")
        await wait_until(pilot, lambda: isinstance(app.screen, FormDialog), what="the sweep's form")
        assert app.screen.query_one("#field-hidden").value == DEFAULT_SIZES
        app.screen.query_one("#field-epochs").value = "1"
        await pilot.press("ctrl+j")
        screen = app.screen
        await wait_until(pilot, lambda: not screen.running and screen.kind == "sweep", what="the sweep")
        assert sorted(r["hidden"] for r in screen.results) == [2, 3, 5, 10, 30, 100, 300]
        table = plain_text(screen.query_one("#experiments-results").content, width=78).splitlines()
        rows = [line for line in table if line.strip().split(" ")[0] in {"2", "3", "5", "10", "30", "100", "300"}
                and "%" in line]
        assert len(rows) == 7 and all(line.count("%") == 5 for line in rows)  # one line each, nothing wrapped
        assert not any("…" in line for line in table[:12])
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, FormDialog), what="the compare form")
        app.screen.query_one("#field-epochs").value = "2"
        await pilot.press("ctrl+j")
        await wait_until(pilot, lambda: not screen.running and screen.kind == "compare" and len(screen.results) == 2,
                         what="the comparison")
        shown = plain_text(screen.query_one("#experiments-results").content, width=78)
        assert "test accuracy by hidden-layer size" in shown and "comparison (same model" in shown
        assert shown.index("hidden-layer size") < shown.index("comparison")
        for label in ("a", "b"):
            assert f"{label}: train accuracy" in shown and f"{label}: validation" in shown
            assert f"{label}: test (end)" in shown


# -- memory over hours ------------------------------------------------------------------------------------

async def test_the_footer_lets_go_of_the_keys_it_drew_before():
    from pynn_tui.screens.widgets import Footer

    app = PynnApp(Workbench(data="xor"), first_screen="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        for _ in range(12):  # as every run does, twice or more: t gives way to p and s, and back
            app.refresh_bindings()
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        watchers = getattr(footer, "__watchers", {}).get("compact", [])
        assert len(watchers) <= len(footer.children)


def test_a_long_runs_history_is_thinned_and_keeps_counting_epochs(monkeypatch):
    import pynn_tui.workbench as workbench

    monkeypatch.setattr(workbench, "HISTORY_KEPT", 40)
    bench = Workbench(data="xor", spec="2-4-2")
    bench.configure(epochs=100)
    bench.train()
    epochs = [h.epoch for h in bench.history]
    assert len(epochs) <= 40 and epochs[0] == 1 and epochs[-1] == 100 and epochs == sorted(epochs)
    assert epochs[-20:] == list(range(81, 101))  # the recent epochs whole
    bench.configure(epochs=3)
    bench.train()
    assert [h.epoch for h in bench.history][-3:] == [101, 102, 103]


def test_the_train_charts_draw_a_long_history_from_a_bounded_number_of_points():
    from pynn.train import EpochRecord
    from pynn_tui.screens.train import CHART_POINTS, accuracy_chart, loss_chart

    bench = Workbench(data="xor", spec="2-4-2")
    bench.history = [EpochRecord(epoch=e, loss=1.0 / e, seconds=0.0, train_accuracy=0.5) for e in range(1, 5001)]
    for chart in (loss_chart(bench), accuracy_chart(bench)):
        assert all(len(s.x) <= CHART_POINTS for s in chart.series)
        assert chart.series[0].x[0] == 1 and chart.series[0].x[-1] == 5000
