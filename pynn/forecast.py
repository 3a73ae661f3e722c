"""How good a regression is, in numbers a user can judge: a forecaster's error in the series' own units beside
the naive forecast that repeats the last observed value (and, when it loses, why it probably did); a plain
regression's loss beside the loss of predicting the training mean; and what the training loss itself measures.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.data.dataset import REGRESSION, Dataset
from pynn.losses import DESCRIPTIONS


def naive_forecast(x: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat each window's last value of its first feature for every step ahead: (m, horizon)."""
    return np.repeat(x[:, -1, :1], horizon, axis=1)


def _error_summary(truth: np.ndarray, forecast: np.ndarray, naive: np.ndarray) -> dict:
    mse, naive_mse = float(np.mean((forecast - truth) ** 2)), float(np.mean((naive - truth) ** 2))
    return {"model_mse": mse, "naive_mse": naive_mse, "model_mae": float(np.mean(np.abs(forecast - truth))),
            "naive_mae": float(np.mean(np.abs(naive - truth))), "skill": 1.0 - mse / naive_mse if naive_mse else None}


def forecast_errors(model, x: np.ndarray, y: np.ndarray, std: float = 1.0) -> dict:
    """Errors of windows of plain values, in their own units: std undoes the scaling they were trained with.
    For a Dataset, series_errors also undoes differencing."""
    y = y.reshape(len(y), -1) * std
    return _error_summary(y, model.predict(x).reshape(len(y), -1) * std, naive_forecast(x, y.shape[1]) * std)


@dataclass
class Forecasts:
    """Windows of a series in its own units: history (m, lookback), truth, forecast and naive (m, horizon).
    start is where each window's history begins in the series, to look up its time labels."""

    history: np.ndarray
    truth: np.ndarray
    forecast: np.ndarray
    naive: np.ndarray
    start: np.ndarray
    time: list[str] | None

    def labels(self, i: int) -> tuple[list[str], list[str]] | None:
        """Window i's time labels (its history, then the steps ahead), when the series has a time axis."""
        if self.time is None:
            return None
        s, lookback, horizon = int(self.start[i]), self.history.shape[1], self.truth.shape[1]
        return self.time[s:s + lookback], self.time[s + lookback:s + lookback + horizon]


def series_forecasts(model, data: Dataset, index: int | None = None) -> Forecasts:
    """The model's forecasts of the held-out windows (or of window index alone), in the series' units.

    The model sees standardised values (or changes, with difference); this undoes both, so a differenced
    model's forecast is the last value plus its predicted changes, and truth and history come straight from
    the series."""
    meta = data.meta
    x = data.x_test if index is None else data.x_test[index:index + 1]
    first = meta["test_from"] + (0 if index is None else index)
    lookback, horizon, shift = meta["lookback"], meta["horizon"], int(bool(meta.get("difference")))
    start = first + shift + np.arange(len(x))  # a window of changes d[s:s+L] spans the values levels[s+1:s+L+1]
    levels = meta["levels"]
    history = np.stack([levels[s:s + lookback] for s in start])
    truth = np.stack([levels[s + lookback:s + lookback + horizon] for s in start])
    predicted = model.predict(x).reshape(len(x), horizon).astype(np.float64) * meta["std"] + meta["mean"]
    last = history[:, -1:]
    forecast = last + np.cumsum(predicted, axis=1) if shift else predicted
    return Forecasts(history, truth, forecast, np.repeat(last, horizon, axis=1), start, meta.get("time"))


def series_errors(model, data: Dataset) -> dict:
    """The held-out forecast errors in the series' units, beside the naive forecast's, with a verdict: None
    when the model wins, else a sentence saying it lost, the likely reason and what to try."""
    forecasts = series_forecasts(model, data)
    errors = _error_summary(forecasts.truth, forecasts.forecast, forecasts.naive)
    errors["units"] = f"column {data.meta['column']}" if data.meta.get("column") else "the series"
    errors["windows"] = len(forecasts.truth)
    errors["verdict"] = _verdict(errors, data, forecasts)
    return errors


def _verdict(errors: dict, data: Dataset, forecasts: Forecasts) -> str | None:
    if errors["model_mse"] <= errors["naive_mse"]:
        return None
    lost = (f"The model forecasts the held-out windows worse than repeating the last value (MSE "
            f"{errors['model_mse']:,.4g} against {errors['naive_mse']:,.4g})")
    trained = data.meta["levels"][:data.meta["train_levels"]]
    low, high = float(trained.min()), float(trained.max())
    held_out = np.concatenate([forecasts.history.ravel(), forecasts.truth.ravel()])
    beyond = float(held_out.max()) if held_out.max() > high else float(held_out.min()) if held_out.min() < low \
        else None
    if data.meta.get("difference"):
        return (f"{lost}, even modelling the changes: they may be mostly noise, or the model needs more epochs, "
                "another learning rate or a longer --lookback.")
    if beyond is not None:
        return (f"{lost}: the held-out values reach {beyond:,.4g}, outside the {low:,.4g} to {high:,.4g} it "
                "trained on, so the series trends past the range it was scaled on and the model meets inputs it "
                "never saw. Try --difference: the model then learns the change from the last value, which stays "
                "in range as the series trends.")
    return (f"{lost}: the model may need more epochs, another learning rate or a longer --lookback; if the series "
            "moves mostly by its last step, try --difference (model the change from the last value).")


@dataclass
class RegressionReport:
    """What a regression's test loss means and the baseline to judge it by, for `pynn train` and its JSON."""

    loss_means: str
    forecast: dict | None = None            # series_errors, for a forecaster
    mean_baseline_loss: float | None = None  # a plain regression: the loss of always predicting the training mean

    def lines(self) -> list[str]:
        lines = [f"the test loss is the {self.loss_means}"]
        if self.forecast:
            f = self.forecast
            lines.append(f"forecast error (MSE) on {f['windows']} held-out windows, in the units of {f['units']}: "
                         f"model {f['model_mse']:,.5g}, naive 'repeat the last value' {f['naive_mse']:,.5g}")
            lines += [f["verdict"]] if f["verdict"] else []
        if self.mean_baseline_loss is not None:
            lines.append(f"predicting the training mean for every test sample gives loss "
                         f"{self.mean_baseline_loss:.5f}: the baseline to beat")
        return lines

    def as_json(self) -> dict:
        result: dict = {"loss_means": self.loss_means}
        if self.forecast:
            result["forecast"] = self.forecast
        if self.mean_baseline_loss is not None:
            result["mean_baseline_loss"] = self.mean_baseline_loss
        return result


def regression_report(model, data: Dataset) -> RegressionReport | None:
    """For a regression trained with the quadratic cost: what its loss measures, and the baseline beside it."""
    if model.loss.name != "mse" or data.task != REGRESSION:
        return None
    meta = data.meta
    if meta.get("kind") == "series":
        scaled = meta["mean"] != 0.0 or meta["std"] != 1.0
        what = "changes" if meta.get("difference") else "values"
        scale = (f"on the standardised {what}, ({what[:-1]} - {meta['mean']:.4g}) / {meta['std']:.4g}" if scaled
                 else f"on the series' {what}")
        if not meta.get("difference"):  # each window's ½·Σ over its horizon steps, against a mean over steps
            scale += f"; the MSE below is {2 * meta['std'] ** 2 / meta['horizon']:.4g} x this loss"
        return RegressionReport(f"{DESCRIPTIONS['mse']}, {scale}", forecast=series_errors(model, data))
    y = np.asarray(data.y_train, np.float64)
    y = y.reshape(len(y), 1) if y.ndim == 1 else y
    mean = y.reshape(-1, y.shape[-1]).mean(axis=0)  # over samples (and steps): one value per output
    baseline, _, _ = model.loss(np.ascontiguousarray(np.broadcast_to(mean, data.y_test.shape), np.float32),
                                data.y_test)
    return RegressionReport(f"{DESCRIPTIONS['mse']} on the targets as the data gives them", mean_baseline_loss=float(baseline))
