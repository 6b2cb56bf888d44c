"""The record of a training run, written beside the vectors: settings and each epoch as JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from w2v.fileio import atomic_write, beside

if TYPE_CHECKING:
    from w2v.training.loop import TrainedModel


def log_path(vectors_path: str | Path) -> Path:
    """Where the training log of a vectors file lives: `NAME.log.json`."""
    return beside(vectors_path, ".log.json")


def loss_plot_path(vectors_path: str | Path) -> Path:
    """Where the loss curve of a vectors file lives: `NAME.loss.png`."""
    return beside(vectors_path, ".loss.png")


def training_log(model: TrainedModel, corpus: Sequence[object]) -> dict[str, Any]:
    """JSON-ready settings, sizes and timings of a run, with one record per epoch."""
    log = {
        "corpus": [str(source) for source in corpus],
        "config": dataclasses.asdict(model.config),
        "vocabulary": len(model.vectors),
        "corpus_words": model.raw_words,
        "encode_seconds": model.encode_seconds,
        "train_seconds": model.train_seconds,
        "words_per_second": model.words_per_second,
        "epochs": [dataclasses.asdict(record) for record in model.history],
    }
    if model.distributed:
        log["distributed"] = model.distributed
    return log


def write_training_log(
    model: TrainedModel, vectors_path: str | Path, corpus: Sequence[object]
) -> Path:
    """Write the run's log beside the vectors as `NAME.log.json` and return its path."""
    path = log_path(vectors_path)
    text = json.dumps(training_log(model, corpus), indent=2) + "\n"
    atomic_write(path, text.encode("utf-8"))
    return path
