"""The learning rate: word2vec's schedule, falling linearly from --alpha to --min-alpha."""

import dataclasses
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


@pytest.mark.parametrize(
    ("model", "given", "starts"),
    [("skipgram", {}, 0.025), ("cbow", {}, 0.05), ("cbow", {"alpha": 0.03}, 0.03)],
)
def test_the_rate_starts_where_word2vec_starts_each_model(tiny_corpus, model, given, starts):
    """Skip-gram starts at 0.025 and CBOW at 0.05, as in word2vec and fastText; --alpha wins."""
    config = w2v.TrainConfig(dim=8, epochs=2, min_count=1, threads=1, model=model, **given)
    assert config.resolved().alpha == starts
    model = w2v.train([tiny_corpus], config, progress=False)
    rates = [record.learning_rate for record in model.history]
    assert rates == pytest.approx(word2vec_schedule(starts, 0.0001, 2), abs=1e-9)
    assert model.config.alpha == starts


def test_a_config_replaced_to_another_model_takes_that_models_defaults():
    """Defaults that follow other settings are resolved when a run starts, not when the config is
    made, so `dataclasses.replace` does not carry the old model's over."""
    words = w2v.TrainConfig()
    cbow = dataclasses.replace(words, model="cbow").resolved()
    subwords = dataclasses.replace(words, subwords=True).resolved()
    assert (words.resolved().alpha, cbow.alpha, subwords.alpha) == (0.025, 0.05, 0.025)
    assert (words.resolved().noise_power, subwords.noise_power) == (0.75, 0.5)
    assert (words.resolved().thread_regions, subwords.thread_regions) == (False, True)
    given = dataclasses.replace(words, model="cbow", alpha=0.03, noise_power=0.6).resolved()
    assert (given.alpha, given.noise_power) == (0.03, 0.6)
    assert given.resolved() == given


def test_the_command_line_cbow_starts_at_its_own_rate_and_says_so(tiny_corpus, tmp_path, capsys):
    output = tmp_path / "vectors.bin"
    argv = ["train", str(tiny_corpus), "-o", str(output), "-q", "--no-plots", "--threads", "1"]
    assert main([*argv, "--dim", "8", "--min-count", "1", "--epochs", "1", "--model", "cbow"]) == 0
    log = json.loads((tmp_path / "vectors.log.json").read_text())
    assert log["config"]["alpha"] == 0.05
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "default: 0.025, and 0.05 for CBOW" in " ".join(capsys.readouterr().out.split())
