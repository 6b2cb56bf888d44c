"""The learning rate: word2vec's schedule, falling linearly from --alpha to --min-alpha."""

import json
from pathlib import Path

import pytest

import w2v
from corpora import synthetic
from w2v.cli import main


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schedule") / "corpus.txt"
    synthetic.write_corpus(path, n_sentences=300, seed=5)
    return path


def word2vec_schedule(alpha: float, min_alpha: float, epochs: int) -> list[float]:
    """The rate at each epoch's end: alpha - (alpha - min_alpha) * share of training done."""
    return [alpha - (alpha - min_alpha) * epoch / epochs for epoch in range(1, epochs + 1)]


@pytest.mark.parametrize(
    ("alpha", "min_alpha", "epochs"),
    [(0.05, 0.002, 4), (0.025, 0.0, 3), (0.03, 0.03, 2), (0.01, 0.0001, 1)],
)
def test_the_rate_falls_linearly_to_min_alpha(tiny_corpus, alpha, min_alpha, epochs):
    config = w2v.TrainConfig(
        dim=8, epochs=epochs, min_count=1, threads=1, alpha=alpha, min_alpha=min_alpha
    )
    model = w2v.train([tiny_corpus], config, progress=False)
    rates = [record.learning_rate for record in model.history]
    assert [record.epoch for record in model.history] == list(range(1, epochs + 1))
    assert rates == pytest.approx(word2vec_schedule(alpha, min_alpha, epochs), abs=1e-9)
    assert abs(model.history[-1].learning_rate - min_alpha) < 1e-9


def test_the_command_line_rates_reach_min_alpha(tiny_corpus, tmp_path):
    output = tmp_path / "vectors.bin"
    argv = ["train", str(tiny_corpus), "-o", str(output), "-q", "--no-plots", "--threads", "1"]
    argv += ["--dim", "8", "--min-count", "1", "--epochs", "5"]
    assert main([*argv, "--alpha", "0.04", "--min-alpha", "0.004"]) == 0
    log = json.loads((tmp_path / "vectors.log.json").read_text())
    rates = [record["learning_rate"] for record in log["epochs"]]
    assert rates == pytest.approx(word2vec_schedule(0.04, 0.004, 5), abs=1e-9)
    assert abs(rates[-1] - 0.004) < 1e-9
    # Equal steps: the same fall every epoch, as a straight line from alpha gives.
    steps = [before - after for before, after in zip([0.04, *rates], rates, strict=False)]
    assert steps == pytest.approx([0.0072] * 5, abs=1e-9)
