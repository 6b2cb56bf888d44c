"""w2v: word2vec-style word embeddings on torch.

import w2v
model = w2v.train(["corpus.txt"], w2v.TrainConfig(dim=100))
model.save("vectors.bin")
kv = w2v.load("vectors.bin")
kv.most_similar("france")
"""

from __future__ import annotations

import importlib
from typing import Any

from w2v.errors import W2VError
from w2v.query.evaluate import evaluate_analogies, evaluate_similarity
from w2v.query.vectors import KeyedVectors, load

# Training brings numba and llvmlite (about 290 MB and 1.5 s): a program that only loads and
# queries vectors never pays for them, so these names are imported when first used (PEP 562).
_TRAINING_NAMES = {
    "CheckpointPlan": "w2v.training.checkpoint",
    "TrainConfig": "w2v.training.config",
    "TrainedModel": "w2v.api",
    "train": "w2v.api",
}

__all__ = [
    "CheckpointPlan",
    "KeyedVectors",
    "TrainConfig",
    "TrainedModel",
    "W2VError",
    "evaluate_analogies",
    "evaluate_similarity",
    "load",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in _TRAINING_NAMES:
        return getattr(importlib.import_module(_TRAINING_NAMES[name]), name)
    raise AttributeError(f"module 'w2v' has no attribute {name!r}")
