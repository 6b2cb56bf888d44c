"""The record of a training run, written beside the vectors: settings and each epoch as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from w2v.fileio import atomic_write, beside


def log_path(vectors_path: str | Path) -> Path:
    """Where the training log of a vectors file lives: `NAME.log.json`."""
    return beside(vectors_path, ".log.json")


def loss_plot_path(vectors_path: str | Path) -> Path:
    """Where the loss curve of a vectors file lives: `NAME.loss.png`."""
    return beside(vectors_path, ".loss.png")


def write_training_log(log: dict[str, Any], vectors_path: str | Path) -> Path:
    """Write a run's `log` (`w2v.api.TrainedModel.log`) beside the vectors as `NAME.log.json`;
    return its path."""
    path = log_path(vectors_path)
    atomic_write(path, (json.dumps(log, indent=2) + "\n").encode("utf-8"))
    return path
