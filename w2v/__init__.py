"""w2v: word2vec-style word embeddings on torch.

import w2v
model = w2v.train(["corpus.txt"], w2v.TrainConfig(dim=100))
model.save("vectors.bin")
kv = w2v.load("vectors.bin")
kv.most_similar("france")
"""

from w2v.errors import W2VError
from w2v.query.evaluate import evaluate_analogies, evaluate_similarity
from w2v.query.vectors import KeyedVectors, load
from w2v.training.checkpoint import CheckpointPlan
from w2v.training.loop import TrainConfig, TrainedModel, train

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
