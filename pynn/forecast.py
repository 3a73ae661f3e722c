"""How good a forecaster is: its error beside the naive forecast that repeats the last observed value, so a
user sees at once whether the model learned anything beyond persistence."""
from __future__ import annotations

import numpy as np


def naive_forecast(x: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat each window's last value of its first feature for every step ahead: (m, horizon)."""
    return np.repeat(x[:, -1, :1], horizon, axis=1)


def forecast_errors(model, x: np.ndarray, y: np.ndarray, std: float = 1.0) -> dict:
    """Errors in the series' own units: std undoes the scaling the data was trained with."""
    y = y.reshape(len(y), -1) * std
    pred = model.predict(x).reshape(len(y), -1) * std
    naive = naive_forecast(x, y.shape[1]) * std
    mse, naive_mse = float(np.mean((pred - y) ** 2)), float(np.mean((naive - y) ** 2))
    return {"model_mse": mse, "naive_mse": naive_mse, "model_mae": float(np.mean(np.abs(pred - y))),
            "naive_mae": float(np.mean(np.abs(naive - y))), "skill": 1.0 - mse / naive_mse if naive_mse else None}
