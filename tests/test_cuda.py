"""The CUDA path: the batched torch kernel on a GPU recovers the planted structure as the CPU does.

Skipped only where torch sees no CUDA GPU (CI has none); run it on a GPU machine.
"""

import pytest
import torch

import w2v
from corpora import synthetic

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_training_on_cuda_recovers_the_planted_structure(tmp_path, model):
    corpus, questions = tmp_path / "corpus.txt", tmp_path / "questions.txt"
    synthetic.write_corpus(corpus, n_sentences=25_000, seed=0)
    synthetic.write_questions(questions)
    config = w2v.TrainConfig(dim=50, seed=3, device="cuda", model=model)
    assert config.resolved_kernel() == "torch"
    trained = w2v.train([corpus], config, progress=False)
    assert trained.vectors.vectors.device.type == "cpu"
    result = w2v.evaluate_analogies(trained.vectors, questions)
    assert result.overall.accuracy >= 0.9
    assert trained.vectors.analogy("king", "man", "woman", topn=1)[0][0] == "queen"


def test_auto_device_takes_the_gpu():
    assert w2v.TrainConfig().resolved_device().type == "cuda"
