"""Stateful runs (issue 20, section 5): each batch row a stream of consecutive windows, the LSTMs' states
carried from one batch to the next and not back-propagated through (truncated BPTT)."""
import numpy as np
import pytest

import pynn
from pynn.errors import PynnError
from pynn.lstm import carried_states, gate_trace, stream_states
from pynn.train import Trainer, stream_order, windows_apart


@pytest.fixture(scope="module")
def text():
    return pynn.load_dataset("shakespeare", n=6000, lookback=16)


def test_two_windows_with_the_state_carried_give_the_states_of_one_twice_as_long(rng):
    """Through a model of two LSTMs: the second half of a sequence run from the states the first half ended in
    gives every layer's h and c of the whole sequence run at once."""
    model = pynn.build("12x3-lstm9*-lstm5*-2", seed=3)
    x = rng.standard_normal((4, 12, 3)).astype(np.float32)
    whole = model.forward(x)[1]
    first = model.forward(x[:, :6])[1]
    second = model.forward(x[:, 6:], states=carried_states(model, first))[1]
    for layer in (0, 1):
        for name in ("h", "c"):
            joined = np.concatenate([getattr(first[layer], name), getattr(second[layer], name)], axis=1)
            np.testing.assert_allclose(joined, getattr(whole[layer], name), rtol=1e-6, atol=1e-7)
    # and without the states the second half starts afresh, which is not the same
    assert np.abs(model.forward(x[:, 6:])[1][0].h - whole[0].h[:, 6:]).max() > 1e-3


def test_stream_order_makes_each_row_a_stream_of_consecutive_windows():
    order, restarts = stream_order(23, 4)  # 5 windows per stream, 3 left over
    batches = order.reshape(-1, 4)
    assert batches.shape == (5, 4) and restarts == {0}
    for b in range(5):
        assert batches[b].tolist() == [r * 5 + b for r in range(4)]  # batch b's row r: window b of stream r
    # windows that start one step apart (a series') continue `apart` later: one set of streams per first step
    order, restarts = stream_order(30, 2, apart=3)
    batches = order.reshape(-1, 2)
    assert restarts == {0, 5, 10} and sorted(order.tolist()) == list(range(30))
    assert (np.diff(batches[:5], axis=0) == 3).all() and batches[0].tolist() == [0, 15]


def test_windows_apart_tells_a_text_from_a_series(text):
    assert windows_apart(text.x_train) == 1
    sine = pynn.load_dataset("sine")
    assert windows_apart(sine.x_train) == sine.x_train.shape[1]


def record_training_batches(model):
    """Wrap model.forward to keep (x, states) of every training forward."""
    seen, forward = [], model.forward

    def recording(x, training=False, **kwargs):
        if training:
            seen.append((np.array(x), kwargs.get("states")))
        return forward(x, training, **kwargs)

    model.forward = recording
    return seen


def test_a_stateful_run_on_shakespeare_reads_streams_and_carries_the_state(text):
    rows, epochs = 4, 2
    model = pynn.build(f"lstm16*-{text.n_outputs}", text, seed=1)
    seen = record_training_batches(model)
    losses = []
    model.fit(text, epochs=epochs, batch=rows, optimizer="adam", lr=0.01, stateful=True, val_split=0.2,
              on_event=lambda event: losses.append(getattr(event, "loss", None)))
    n_train = len(text.x_train) - int(round(len(text.x_train) * 0.2))  # the last windows are held out, in order
    per_stream = n_train // rows
    assert len(seen) == epochs * per_stream
    vocab_size = text.n_outputs
    x_train = text.x_train[:n_train]
    for k, (x, states) in enumerate(seen):
        b = k % per_stream
        # batch b's row r is window b of stream r, the streams cut one after another from the text
        np.testing.assert_array_equal(x, x_train[[r * per_stream + b for r in range(rows)]])
        if b == 0:
            assert states is None  # every epoch starts from the zero state
        else:
            previous_x = seen[k - 1][0]
            # each row's window continues the row's window of the batch before: its first character is the one
            # that followed that window, which was its last target
            last_targets = text.y_train[[r * per_stream + b - 1 for r in range(rows)], -1]
            assert (x[:, 0].argmax(axis=1) == last_targets).all() and x[:, 0].shape[-1] == vocab_size
            assert previous_x.shape == x.shape
            h0, c0 = states[0]
            assert h0.shape == (rows, 16) and np.abs(c0).max() > 0
    assert model.run.stateful and len(model.history) == epochs


def test_the_state_carried_is_the_one_the_batch_before_ended_in(text):
    model = pynn.build(f"lstm8*-{text.n_outputs}", text, seed=2)
    seen = record_training_batches(model)
    model.fit(text, epochs=1, batch=5, stateful=True, optimizer="adam", lr=0.01)
    first_x, _ = seen[0]
    second_x, states = seen[1]
    # the weights changed between the batches, so the state is recomputed from the first batch's forward on the
    # weights it ran with: those are the model's initial weights
    fresh = pynn.build(f"lstm8*-{text.n_outputs}", text, seed=2)
    expected = carried_states(fresh, fresh.forward(first_x)[1])
    np.testing.assert_allclose(states[0][0], expected[0][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(states[0][1], expected[0][1], rtol=1e-5, atol=1e-6)


def test_a_stateful_run_stopped_mid_epoch_resumes_to_the_same_weights(text):
    settings = dict(epochs=2, batch=4, stateful=True, optimizer="adam", lr=0.01)
    straight = pynn.build(f"lstm8*-{text.n_outputs}", text, seed=4)
    straight.fit(text, **settings)

    stopped = pynn.build(f"lstm8*-{text.n_outputs}", text, seed=4)
    run = stopped.run.replace(**settings)
    trainer = Trainer(stopped, run, lambda event: trainer.stop() if getattr(event, "batch", 0) == 7 else None)
    trainer.fit(text.x_train, text.y_train)
    state, arrays = trainer.checkpoint()
    assert state["batch"] == 7 and "carried_h_0" in arrays  # mid-epoch, with the state it stood in

    resumed = pynn.build(f"lstm8*-{text.n_outputs}", text, seed=4)
    resumed.restore(stopped.params)
    again = Trainer(resumed, run)
    again.resume(state, arrays, [])
    again.fit(text.x_train, text.y_train)
    np.testing.assert_array_equal(resumed.params, straight.params)


def test_a_series_runs_statefully_with_its_windows_lookback_apart():
    sine = pynn.load_dataset("sine")
    model = pynn.build("lstm8-1", sine, seed=0)
    seen = record_training_batches(model)
    model.fit(sine, epochs=1, batch=3, stateful=True, optimizer="adam", lr=0.01)
    steps = sine.x_train.shape[1]
    index = {x.tobytes(): i for i, x in enumerate(sine.x_train)}
    carried = [(x, next_x) for (x, _), (next_x, states) in zip(seen, seen[1:]) if states is not None]
    assert len(carried) > len(seen) // 2
    for x, next_x in carried:  # each row's next window starts a lookback after the row's window before
        assert [index[w.tobytes()] + steps for w in x] == [index[w.tobytes()] for w in next_x]
    assert sum(states is None for _, states in seen) == steps  # one set of streams per first step, each from zero


def test_stateful_needs_an_lstm_and_a_stream(digits):
    with pytest.raises(PynnError, match="stateful carries an LSTM's state .* no LSTM layer"):
        pynn.build("784-10-10", digits).fit(digits, epochs=1, stateful=True)
    tiny = pynn.load_dataset("shakespeare", n=200, lookback=16)
    with pytest.raises(PynnError, match="windows do not make 64"):
        pynn.build(f"lstm4*-{tiny.n_outputs}", tiny).fit(tiny, epochs=1, batch=64, stateful=True)


def test_gate_trace_starts_from_the_state_the_windows_before_leave(text):
    model = pynn.build(f"lstm8*-lstm6*-{text.n_outputs}", text, seed=5)
    x = text.x_test
    alone = gate_trace(model, x[3])
    assert not alone.start_cell.any() and not alone.start_hidden.any()
    read = gate_trace(model, x[3], layer_index=model.layers[1].index, before=x[:3])
    states = stream_states(model, x[:3])
    np.testing.assert_array_equal(read.start_hidden, states[1][0][0])
    # the same steps as the stream read as one sequence
    whole = model.forward(x[None, :4].reshape(1, -1, x.shape[-1]), upto=2)[1][1]
    np.testing.assert_allclose(read.hidden, whole.h[0, -x.shape[1]:], rtol=1e-6, atol=1e-7)


def test_the_summary_says_what_is_carried(text):
    from pynn.summary import model_summary
    from pynn_tui.render.unrolled import unrolled_diagram

    def states_sentence(model):
        row = next(r for r in model_summary(model)["layers"] if r["kind"] == "lstm")
        return next(line.plain for line in unrolled_diagram(row).renderables if line.plain.startswith("states:"))

    model = pynn.build(f"lstm8*-{text.n_outputs}", text)
    assert "Every window starts from h_0 = c_0 = 0" in states_sentence(model)
    model.fit(text, epochs=1, batch=4, stateful=True)
    said = states_sentence(model)
    assert "the (h_16, c_16) that the window before it in its batch row" in said and "not back-propagated" in said


async def test_the_lstm_screen_shows_the_state_a_window_starts_from():
    from apptext import plain
    from test_app_screens import Host

    from pynn.run import RunConfig
    from pynn_tui.screens.lstm import LSTMScreen
    from pynn_tui.workbench import Workbench

    run = RunConfig(data="shakespeare", limit=5000, lookback=16, model="lstm8*-53")
    for stateful in (False, True):
        bench = Workbench(run.replace(stateful=stateful))
        app = Host(LSTMScreen, bench)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            screen = app.screen
            await pilot.press("n", "n", "n")
            await pilot.pause()
            gates = plain(screen.query_one("#gates").content)
            if not stateful:
                assert "stateful" not in gates and not screen.trace.start_hidden.any()
                continue
            assert "starts from h_0 and c_0 carried from the 3 test windows before it" in gates
            expected = stream_states(bench.model, bench.data.x_test[:3])[0]
            np.testing.assert_allclose(screen.trace.start_hidden, expected[0][0], rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(screen.trace.start_cell, expected[1][0], rtol=1e-6, atol=1e-7)
