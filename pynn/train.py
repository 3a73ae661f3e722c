"""The trainer: epochs of shuffled mini-batches, validation, early stopping, history and events.

A front end follows training through `on_event`, called with small dataclasses after each batch and epoch,
and can ask it to stop from another thread; parameter updates hold the model's lock so readers in other
threads never see a half-updated layer.

A stateful run (truncated backpropagation through time, as char-rnn trains) reads the training windows in
order instead: each batch row is a stream of consecutive windows, and each LSTM's state (h, c) at the end of a
batch is where the same row starts in the next, a constant there that no gradient goes back through. The
state restarts from zero at each epoch. Scoring (training accuracy, validation, and every evaluation after the
run) reads each window from the zero state, as it does for any model.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from pynn import core
from pynn.errors import PynnError, TrainingDiverged
from pynn.fused import fused_step
from pynn.model import Sequential, count_correct
from pynn.optim import Optimizer
from pynn.run import ConfigError, RunConfig
from pynn.words import plural

# A loss that grows to this many times the untrained model's (smoothed over batches, so a single unlucky
# batch does not count) has blown up though it is still finite; it stops the run as a NaN does.
EXPLOSION_FACTOR = 100.0
LOSS_SMOOTHING = 0.9            # weight of the running loss against each new batch's
START_LOSS_SAMPLES = 256        # training samples the untrained model's loss is measured on


@dataclass
class EpochRecord:
    epoch: int
    loss: float                   # mean training loss over the epoch's batches
    seconds: float
    train_accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    grad_norms: list[float] = field(default_factory=list)  # mean per parameterised layer, input side first


@dataclass
class BatchEnd:
    epoch: int
    batch: int
    n_batches: int
    loss: float


@dataclass
class EpochEnd:
    record: EpochRecord
    n_epochs: int
    warnings: list[str] = field(default_factory=list)  # sentences for the user raised by this epoch


@dataclass
class TrainEnd:
    history: list[EpochRecord]
    stopped_early: bool
    reason: str
    warnings: list[str] = field(default_factory=list)


class Trainer:
    def __init__(self, model: Sequential, config: RunConfig | None = None,
                 on_event: Callable[[object], None] | None = None, *, eval_train: bool = True,
                 field_name: Callable[[str], str] = str):
        """config: the run description (only its training fields matter here); eval_train: measure the
        accuracy on the whole training set after each epoch; field_name: how the messages for the user name a
        field of the description (the library says `lr`, the command line `--lr`)."""
        self.model = model
        self.config = config or RunConfig()
        self.config.validate()
        self.eval_train = eval_train
        self.on_event = on_event or (lambda event: None)
        self.field_name = field_name
        self.optimizer = Optimizer(self.config.optimizer, self.config.learning_rate, self.config.momentum)
        self.history: list[EpochRecord] = []
        self.progress = _Progress()
        self.reason = ""
        self.warnings: list[str] = []   # what the user should hear about this run (e.g. accuracy at chance)
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask training to stop after the current batch (safe from any thread)."""
        self._stop.set()

    def fit(self, x: np.ndarray, y: np.ndarray) -> list[EpochRecord]:
        """Train from where self.progress says (the start, or a checkpoint given to resume())."""
        cfg, model, st = self.config, self.model, self.progress
        model.check_input(x.shape[1:], "the training data")
        model.check_targets(y, "the training data")
        if len(x) != len(y):
            raise PynnError(f"The data has {plural(len(x), 'sample')} but {plural(len(y), 'target')}.")
        if cfg.stateful:
            _check_stateful(model, cfg)
        # separate streams, so the split and the shuffles can each be reproduced on resume; a stateful run holds
        # out the last windows, so the training ones still follow one another
        x_train, y_train, x_val, y_val = _split(x, y, cfg.val_split, np.random.default_rng([cfg.seed, 1]),
                                                in_order=cfg.stateful)
        if len(x_train) == 0:
            raise PynnError("There are no training samples left after the validation split.")
        shuffle_rng = np.random.default_rng(cfg.seed)
        if st.rng_state is not None:
            shuffle_rng.bit_generator.state = st.rng_state
        decay = cfg.l2 / len(x_train)
        if st.start_loss is None:  # the yardstick for an exploding loss and for a loss that does not fall
            st.start_loss = st.loss_ema = model.evaluate(x_train[:START_LOSS_SAMPLES],
                                                         y_train[:START_LOSS_SAMPLES])["loss"]
        chance = _chance_accuracy(y_train)
        last_good = model.params.copy()
        reason = "finished"
        n_batches = -(-len(x_train) // cfg.batch)
        if cfg.stateful:  # the same order every epoch: no shuffling, or the rows would not be streams
            stream, restarts = stream_order(len(x_train), cfg.batch, windows_apart(x_train))
            n_batches = len(stream) // cfg.batch
            if n_batches == 0:
                raise ConfigError("stateful", f"reads the training windows as {{batch}} streams, one per batch row, "
                                  f"and {len(x_train)} windows do not make {cfg.batch}; use a smaller {{batch}}")
        # a plain dense MLP takes the whole step below in one call into C (same kernels, same order)
        fused = fused_step(model, self.optimizer, x_train, y_train, last_good, max_batch=cfg.batch,
                           decay=decay, clip=cfg.clip)
        for epoch in range(st.epoch, cfg.epochs + 1):
            start = time.perf_counter()
            st.epoch, st.rng_state = epoch, shuffle_rng.bit_generator.state
            order = stream if cfg.stateful else shuffle_rng.permutation(len(x_train))
            for b in range(st.batch, n_batches):
                idx = order[b * cfg.batch:(b + 1) * cfg.batch]
                limit = _exploded_above(st)
                with model.lock:  # the step changes the weights; readers copy them under this lock (Sequential.frozen)
                    if fused is not None:
                        loss, norms = fused.step(idx, limit)
                    elif cfg.stateful:  # each row goes on from where its stream stood after the batch before
                        loss, st.states = model.train_step(x_train[idx], y_train[idx],
                                                           None if b in restarts else st.states)
                    else:
                        loss, _ = model.train_step(x_train[idx], y_train[idx])
                    if not loss <= limit:  # NaN, inf, or finite but exploded: the same stop either way
                        model.restore(last_good)
                        raise TrainingDiverged(_divergence_message(model, loss, epoch, b + 1, st.start_loss,
                                                                   self._smaller_lr()))
                    st.loss_ema = LOSS_SMOOTHING * st.loss_ema + (1 - LOSS_SMOOTHING) * loss
                    if fused is None:
                        norms = model.grad_norms()
                        if cfg.clip > 0:
                            core.clip_grad_norm(model.grads, cfg.clip)
                        np.copyto(last_good, model.params)
                        self.optimizer.step(model.params, model.grads, model.n_weights, decay)
                    st.norms.append(norms)
                st.batch = b + 1
                st.losses.append(loss)
                self.on_event(BatchEnd(epoch, b + 1, n_batches, loss))
                if self._stop.is_set():
                    break
            if st.batch < n_batches:  # stopped mid-epoch: the checkpoint keeps the place, no partial record
                reason = "stopped on request"
                break
            record = EpochRecord(epoch, float(np.mean(st.losses)), 0.0,
                                 grad_norms=[float(v) for v in np.mean(st.norms, axis=0)])
            st.epoch, st.batch, st.losses, st.norms, st.states = epoch + 1, 0, [], [], None
            st.rng_state = shuffle_rng.bit_generator.state
            judged = None  # (loss, accuracy) of the model as it stands, for the chance check
            if self.eval_train:
                judged = model.evaluate(x_train, y_train)
                record.train_accuracy = judged.get("accuracy")
            if len(x_val):
                val = model.evaluate(x_val, y_val)
                record.val_loss, record.val_accuracy = val["loss"], val.get("accuracy")
                judged = judged or val
            new_warnings = []
            if chance is not None and judged and not any(w.startswith(CHANCE_WARNING) for w in self.warnings):
                warning = _chance_warning(judged, chance, st.start_loss, epoch, self._chance_advice())
                new_warnings = [warning] if warning else []
                self.warnings += new_warnings
            record.seconds = time.perf_counter() - start
            self.history.append(record)
            patience_over = False
            if cfg.early_stop and record.val_loss is not None:
                if record.val_loss < st.best_loss:
                    st.best_loss, st.best_params, st.bad_epochs = record.val_loss, model.snapshot(), 0
                else:
                    st.bad_epochs += 1
                    patience_over = st.bad_epochs >= cfg.early_stop
            self.on_event(EpochEnd(record, cfg.epochs, new_warnings))
            if patience_over:
                model.restore(st.best_params)
                reason = (f"early stop: validation loss did not improve for {plural(cfg.early_stop, 'epoch')}; "
                          f"restored the weights of epoch {epoch - cfg.early_stop}")
                break
            if self._stop.is_set():
                reason = "stopped on request"
                break
        self.reason = reason
        self.on_event(TrainEnd(self.history, reason != "finished", reason, list(self.warnings)))
        return self.history

    def _chance_advice(self) -> str:
        """What to change when the run is stuck at chance: a softmax applied twice on purpose is the cause
        itself, so a smaller step would be the wrong advice there."""
        if getattr(self.config, "double_softmax", False):
            return (f"a single softmax ({self.field_name('double_softmax')} off): the second one squashes the "
                    "gradient, which is the freeze pynn freeze shows")
        return self._smaller_lr()

    def _smaller_lr(self) -> str:
        """The advice for steps too large to learn from, naming the setting to change."""
        return f"a smaller learning rate than {self.optimizer.lr:g} ({self.field_name('lr')})"

    # -- checkpoints -----------------------------------------------------------------------------------------

    def checkpoint(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-ready state, arrays) from which resume() continues exactly where this run stands."""
        st = self.progress
        state = {
            "epoch": st.epoch, "batch": st.batch, "rng_state": st.rng_state, "losses": st.losses,
            "norms": st.norms, "best_loss": None if np.isinf(st.best_loss) else st.best_loss,
            "bad_epochs": st.bad_epochs, "optimizer_t": self.optimizer.t,
            "start_loss": st.start_loss, "loss_ema": st.loss_ema,
            "layer_rng_states": [layer.rng.bit_generator.state if hasattr(layer, "rng") else None
                                 for layer in self.model.layers],
        }
        arrays = {f"optimizer_state_{i}": s for i, s in enumerate(self.optimizer.state)}
        for i, carried in enumerate(st.states or []):  # a stateful run stopped mid-epoch goes on from these
            if carried is not None:
                arrays[f"carried_h_{i}"], arrays[f"carried_c_{i}"] = carried
        if st.best_params is not None:
            arrays["best_params"] = st.best_params
        return state, arrays

    def resume(self, state: dict, arrays: dict[str, np.ndarray], history: list[dict]) -> None:
        """Continue a run saved by checkpoint(); the model must already hold the saved parameters."""
        try:
            st = self.progress
            st.epoch, st.batch, st.rng_state = int(state["epoch"]), int(state["batch"]), state["rng_state"]
            st.losses, st.norms = list(state["losses"]), [list(n) for n in state["norms"]]
            st.best_loss = np.inf if state["best_loss"] is None else float(state["best_loss"])
            st.bad_epochs = int(state["bad_epochs"])
            # files saved before these were kept measure the start afresh when they resume
            st.start_loss, st.loss_ema = state.get("start_loss"), state.get("loss_ema")
            st.best_params = arrays.get("best_params")
            carried = [(arrays[f"carried_h_{i}"], arrays[f"carried_c_{i}"]) if f"carried_h_{i}" in arrays else None
                       for i in range(len(self.model.layers))]
            st.states = carried if any(state is not None for state in carried) else None
            n_state = len([k for k in arrays if k.startswith("optimizer_state_")])
            self.optimizer.load_state_dict({"t": state["optimizer_t"],
                                            "state": [arrays[f"optimizer_state_{i}"] for i in range(n_state)]})
            for layer, rng_state in zip(self.model.layers, state["layer_rng_states"]):
                if rng_state is not None:
                    layer.rng.bit_generator.state = rng_state
            self.history = [EpochRecord(**h) for h in history]
        except (KeyError, TypeError, ValueError) as err:
            raise PynnError(f"The checkpoint is incomplete or damaged ({err}); it cannot be resumed.") from None


@dataclass
class _Progress:
    """Where a run stands: the epoch in progress, batches done in it, and what resuming needs."""
    epoch: int = 1
    batch: int = 0
    rng_state: dict | None = None   # the shuffle generator's state at the start of `epoch`
    losses: list[float] = field(default_factory=list)        # this epoch's batch losses so far
    norms: list[list[float]] = field(default_factory=list)   # this epoch's per-layer gradient norms so far
    best_loss: float = np.inf
    best_params: np.ndarray | None = None
    bad_epochs: int = 0
    start_loss: float | None = None  # the untrained model's loss, the yardstick of an exploding one
    loss_ema: float | None = None    # the batch losses so far, smoothed
    states: list | None = None       # a stateful run's LSTM states after the last batch (None: zero)


def _split(x, y, val_split, rng, in_order=False):
    """(train, validation) arrays: a random val_split of the samples held out, or the last ones in_order."""
    if not val_split:
        return x, y, x[:0], y[:0]
    n_val = max(1, int(round(len(x) * val_split)))
    if in_order:
        return x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]
    order = rng.permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


# -- stateful runs ---------------------------------------------------------------------------------------------

def _check_stateful(model: Sequential, cfg: RunConfig) -> None:
    if not any(layer.kind == "lstm" for layer in model.layers):
        raise ConfigError("stateful", "carries an LSTM's state from one batch to the next, and this model has no "
                          "LSTM layer")
    if cfg.as_sequence:
        raise ConfigError("stateful", "carries the state from a window to the next of the same stream, and images "
                          "read as sequences ({as_sequence}) are separate samples, not windows of a stream")


def windows_apart(x: np.ndarray) -> int:
    """How many windows after a window of training data read in order the one that continues it comes: 1 for
    windows laid end to end (a text's), the window's length for windows that start one step apart (a series',
    each overlapping the next in all but one step)."""
    steps = x.shape[1] if x.ndim == 3 else 1
    if steps > 1 and len(x) > 1 and np.array_equal(x[1:, :-1], x[:-1, 1:]):
        return steps
    return 1


def stream_order(n_windows: int, rows: int, apart: int = 1) -> tuple[np.ndarray, set[int]]:
    """The windows of a stateful epoch in the order it reads them, `rows` to a batch, and the batches where the
    state restarts from zero. Window w + apart continues window w: the windows make `apart` chains (one for a
    text, one per starting step for a series), and each chain is cut into `rows` streams of equal length read
    side by side, so batch b's row r is window b of stream r and a row's state passes from each window to the
    next. Windows past the last whole batch of a chain are left out."""
    batches, restarts = [], set()
    for first in range(apart):
        chain = np.arange(first, n_windows, apart)
        length = len(chain) // rows
        if length:
            restarts.add(len(batches))
            batches.extend(chain[:rows * length].reshape(rows, length).T)
    return (np.concatenate(batches) if batches else np.zeros(0, np.int64)), restarts


def _exploded_above(st: _Progress) -> float:
    """The batch loss above which the smoothed loss passes EXPLOSION_FACTOR times the start (inf: no check)."""
    if not st.start_loss or not np.isfinite(st.start_loss) or st.start_loss < 0:
        return np.inf
    return (EXPLOSION_FACTOR * st.start_loss - LOSS_SMOOTHING * st.loss_ema) / (1 - LOSS_SMOOTHING)


def _divergence_message(model: Sequential, loss: float, epoch: int, batch: int, start_loss: float | None,
                        advice: str) -> str:
    bad = [f"layer {layer.index} ({layer.kind})" for layer in model.param_layers
           if not all(np.isfinite(v).all() for v in layer.param_views.values())]
    where = f"; non-finite weights in {', '.join(bad)}" if bad else ""
    what = (f"the loss became {loss}" if not np.isfinite(loss) else
            f"the loss exploded to {loss:.3g}, over {EXPLOSION_FACTOR:g} times the untrained network's "
            f"{start_loss:.3g},")
    return (f"Training diverged: {what} at epoch {epoch}, batch {batch}{where}; the last good "
            f"weights were kept — try {advice}.")


CHANCE_WARNING = "The network is not learning"


def _chance_accuracy(y: np.ndarray) -> float | None:
    """The accuracy of always answering the most common class, for class labels (else None)."""
    if not np.issubdtype(y.dtype, np.integer) or y.size == 0:
        return None
    return float(np.bincount(y.ravel()).max() / y.size)


def _chance_warning(judged: dict, chance: float, start_loss: float, epoch: int, advice: str) -> str | None:
    """A sentence when the model is no better than guessing and its loss has not fallen since the start:
    the steps are too large to learn from (a falling loss at chance is a slow start, not this)."""
    accuracy, loss = judged.get("accuracy"), judged["loss"]
    if accuracy is None or accuracy > chance + 0.1 * (1 - chance) or not loss >= start_loss:
        return None
    return (f"{CHANCE_WARNING}: after epoch {epoch} its accuracy is {100 * accuracy:.1f}%, about what always "
            f"answering the most common class gets ({100 * chance:.1f}%), and its loss has not fallen "
            f"({start_loss:.3g} untrained, {loss:.3g} now) — try {advice}.")


def history_dicts(history: list[EpochRecord]) -> list[dict]:
    return [asdict(r) for r in history]
