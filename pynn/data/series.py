"""A series cut into forecasting windows: `lookback` values in, the next `horizon` values out. The last fifth
of the windows is the test set, after a gap of `lookback` steps so no test window overlaps training."""
from __future__ import annotations

import numpy as np

from pynn.data.dataset import REGRESSION, Dataset
from pynn.errors import PynnError


def series_dataset(name: str, series: np.ndarray, lookback: int, horizon: int, source: str,
                   scale: bool = False) -> Dataset:
    """Windows of a 1-D series. With scale, the values are standardised with the training part's mean and
    standard deviation, kept in meta so errors can be reported in the series' own units."""
    if lookback < 1 or horizon < 1:
        raise PynnError(f"--lookback and --horizon must be at least 1, not {lookback} and {horizon}.")
    windows = len(series) - lookback - horizon + 1
    if windows < 10:
        raise PynnError(f"{name} has {len(series)} values; windows of {lookback} + {horizon} leave {max(windows, 0)} "
                        "samples, too few to train and test on.")
    n_train = int(windows * 0.8)
    mean, std = 0.0, 1.0
    if scale:
        train_part = series[: n_train + lookback + horizon - 1]
        mean, std = float(train_part.mean()), float(train_part.std() or 1.0)
    values = ((series - mean) / std).astype(np.float32)
    starts = np.arange(windows)
    x = np.stack([values[s:s + lookback] for s in starts])[:, :, None]
    y = np.stack([values[s + lookback:s + lookback + horizon] for s in starts])
    test_from = min(windows, n_train + lookback)
    return Dataset(name, x[:n_train], y[:n_train], x[test_from:], y[test_from:], (lookback, 1), REGRESSION,
                   None, source=source, meta={"kind": "series", "series": values, "lookback": lookback,
                                              "horizon": horizon, "mean": mean, "std": std})
