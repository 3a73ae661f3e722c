"""A series cut into forecasting windows: `lookback` values in, the next `horizon` values out. The last fifth
of the windows is the test set, after a gap of `lookback` steps so no test window overlaps training.

With difference, the windows hold the changes from one value to the next instead of the values, so a series
that trends beyond the range it trained on still gives the model inputs and targets it has seen; a forecast is
then the last value plus the predicted changes (pynn.forecast turns it back into the series' units)."""
from __future__ import annotations

import numpy as np

from pynn.data.dataset import REGRESSION, Dataset
from pynn.errors import PynnError
from pynn.run import ConfigError
from pynn.words import plural

DEFAULT_LOOKBACK, DEFAULT_HORIZON = 20, 1


def series_dataset(name: str, series: np.ndarray, lookback: int | None, horizon: int | None, source: str,
                   scale: bool = False, *, difference: bool = False, time: list[str] | None = None,
                   time_name: str | None = None, column: str | None = None, notes: list[str] | None = None
                   ) -> Dataset:
    """Windows of a 1-D series. With scale, the values (or changes) are standardised with the training part's
    mean and standard deviation, kept in meta so errors can be reported in the series' own units. time labels
    each value (dates from a CSV's time column); meta keeps the values themselves as `levels`."""
    lookback = DEFAULT_LOOKBACK if lookback is None else lookback
    horizon = DEFAULT_HORIZON if horizon is None else horizon
    if lookback < 1 or horizon < 1:
        raise ConfigError("lookback", f"and {{horizon}} must be at least 1, not {lookback} and {horizon}")
    levels = np.asarray(series, np.float64)
    if not np.isfinite(levels).all():
        raise PynnError(f"{name} has values that are NaN or infinite.")
    modelled = np.diff(levels) if difference else levels
    windows = len(modelled) - lookback - horizon + 1
    if windows < 10:
        raise PynnError(f"{name} has {plural(len(levels), 'value')}; windows of {lookback} + {horizon}"
                        + (" changes" if difference else "") + f" leave {plural(max(windows, 0), 'sample')}, "
                        "too few to train and test on.")
    n_train = int(windows * 0.8)
    train_values = n_train + lookback + horizon - 1  # how much of the modelled series training windows see
    mean, std = 0.0, 1.0
    if scale:
        train_part = modelled[:train_values]
        mean, std = float(train_part.mean()), float(train_part.std() or 1.0)
    values = ((modelled - mean) / std).astype(np.float32)
    starts = np.arange(windows)
    x = np.stack([values[s:s + lookback] for s in starts])[:, :, None]
    y = np.stack([values[s + lookback:s + lookback + horizon] for s in starts])
    test_from = min(windows, n_train + lookback)
    meta = {"kind": "series", "series": values, "lookback": lookback, "horizon": horizon, "mean": mean,
            "std": std, "levels": levels, "difference": difference, "test_from": test_from,
            "train_levels": train_values + int(difference), "time": time, "time_name": time_name,
            "column": column}
    return Dataset(name, x[:n_train], y[:n_train], x[test_from:], y[test_from:], (lookback, 1), REGRESSION,
                   None, source=source, meta=meta, notes=list(notes or []))

