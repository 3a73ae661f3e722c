"""The one dataset type every loader returns: arrays plus what a model and a front end need to know."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# What the targets mean, which fixes the default output activation and loss.
CLASSIFICATION = "classification"  # y: int32 class indices (m,), softmax + cross-entropy
BINARY = "binary"                  # y: float32 0/1 (m, k), sigmoid + binary cross-entropy
REGRESSION = "regression"          # y: float32 real values (m, k), linear + mean squared error
TASKS = (CLASSIFICATION, BINARY, REGRESSION)


@dataclass
class Dataset:
    """Train and test arrays. x is float32 (m, *sample_shape); y depends on the task (see TASKS)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sample_shape: tuple[int, ...]
    task: str
    class_names: list[str] | None = None
    source: str = ""                    # where the data came from, with its licence when known
    meta: dict = field(default_factory=dict)  # loader-specific extras (scaling, vocabulary, ...)
    notes: list[str] = field(default_factory=list)  # what the loader decided for the user (columns left out, ...)
    # how load_dataset made it: {'name': ..., 'options': {keyword: value}}, so a model built on it records where
    # its data came from (None for arrays put together by hand)
    recipe: dict | None = None

    @property
    def n_features(self) -> int:
        """Features per sample once flattened, what a first dense layer must accept."""
        return int(np.prod(self.sample_shape))

    @property
    def n_outputs(self) -> int:
        """Output units the task needs: one per class, or the target width."""
        if self.task == CLASSIFICATION:
            return len(self.class_names) if self.class_names else int(max(self.y_train.max(), self.y_test.max())) + 1
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[-1])  # (m, k) or per step (m, T, k)

    def describe(self) -> dict:
        """A JSON-ready summary for `pynn data info` and the model file's header."""
        summary = {
            "name": self.name,
            "task": self.task,
            "sample_shape": list(self.sample_shape),
            "n_features": self.n_features,
            "n_outputs": self.n_outputs,
            "n_train": int(len(self.x_train)),
            "n_test": int(len(self.x_test)),
            "class_names": self.class_names,
            "source": self.source,
        }
        if self.meta.get("kind") == "series":
            summary["series"] = self._series_summary()
        return summary

    def _series_summary(self) -> dict:
        """The column, its time axis and how it was prepared: what a forecast's numbers are in."""
        meta, time = self.meta, self.meta.get("time")
        return {"column": meta.get("column"), "length": len(meta["levels"]), "time_axis": meta.get("time_name"),
                "first": time[0] if time else None, "last": time[-1] if time else None,
                "difference": bool(meta.get("difference")), "train_mean": meta["mean"], "train_std": meta["std"]}
