"""Faults: byte-identical reruns, checkpoints that survive kill -9, resuming, divergence."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import w2v
from corpora import synthetic
from w2v.cli import main
from w2v.training import checkpoint
from w2v.training import loop as trainer

CLI = Path(__file__).resolve().parents[1] / "cli.py"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    synthetic.write_corpus(path, n_sentences=8_000, seed=0)
    return path


def train_args(corpus, output, *extra):
    common = ["--dim", "20", "--epochs", "2", "--seed", "5", "--threads", "2", "--reproducible"]
    common += ["-q", "--no-plots"]
    return ["train", str(corpus), "-o", str(output), *common, *extra]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_same_corpus_seed_and_threads_write_identical_bytes(corpus, tmp_path, threads):
    for name in ("a.bin", "b.bin"):
        assert main([*train_args(corpus, tmp_path / name), "--threads", threads]) == 0
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


# With --hs the checkpoint holds the inner nodes' matrix too, and must, for the same bytes.
@pytest.mark.parametrize("extra", [[], ["--hs"]])
def test_resuming_mid_epoch_gives_the_uninterrupted_vectors(corpus, tmp_path, monkeypatch, extra):
    monkeypatch.setattr(trainer, "BLOCK_WORDS", 20_000)  # five blocks an epoch
    assert main(train_args(corpus, tmp_path / "whole.bin", *extra)) == 0

    save_state = checkpoint.save_state
    saved = []

    def stop_after_three(folder, state):
        save_state(folder, state)
        saved.append((state.epoch, state.block))
        if len(saved) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save_state", stop_after_three)
    output, folder = tmp_path / "resumed.bin", tmp_path / "resumed.bin.checkpoint"
    assert main(train_args(corpus, output, "--checkpoint-every", "1e-9", *extra)) == 130
    assert saved == [(0, 1), (0, 2), (0, 3)] and not output.exists()
    assert main(train_args(corpus, output, "--resume", str(folder), *extra)) == 0
    assert output.read_bytes() == (tmp_path / "whole.bin").read_bytes()
    assert not folder.exists()  # removed once the vectors are written


def test_a_killed_training_process_resumes_to_the_same_vectors(tmp_path):
    corpus, questions = tmp_path / "corpus.txt", tmp_path / "questions.txt"
    synthetic.write_corpus(corpus, n_sentences=25_000, seed=0)
    synthetic.write_questions(questions)
    args = [*train_args(corpus, tmp_path / "whole.bin"), "--epochs", "8", "--dim", "50"]
    assert main(args) == 0

    output, folder = tmp_path / "killed.bin", tmp_path / "killed.bin.checkpoint"
    args[3] = str(output)
    process = subprocess.Popen(
        [sys.executable, str(CLI), *args, "--checkpoint-every", "0.001"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (folder / checkpoint.STATE).exists() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert process.poll() is None, "training ended before its first checkpoint"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not output.exists()
    position = json.loads(safe_open(folder / checkpoint.STATE, "pt").metadata()["state"])
    assert position["epoch"] < 8  # killed with epochs left to train

    assert main([*args, "--resume", str(folder)]) == 0
    assert output.read_bytes() == (tmp_path / "whole.bin").read_bytes()
    accuracy = w2v.evaluate_analogies(w2v.load(output), questions).to_dict()["overall"]
    assert accuracy["accuracy"] >= 0.9


def test_resume_refuses_other_settings_or_another_corpus(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoint, "remove", lambda folder: None)  # keep it to resume from
    folder = tmp_path / "saved"
    assert main(train_args(corpus, tmp_path / "v.bin", "--checkpoint-dir", str(folder))) == 0
    capsys.readouterr()
    assert (
        main([*train_args(corpus, tmp_path / "v.bin", "--resume", str(folder)), "--dim", "30"]) == 1
    )
    error = capsys.readouterr().err
    assert "checkpoint made with dim 20, this run has 30" in error and error.count("\n") == 1

    other = tmp_path / "other.txt"
    other.write_bytes(corpus.read_bytes())
    assert main(train_args(other, tmp_path / "v.bin", "--resume", str(folder))) == 1
    assert "another corpus" in capsys.readouterr().err


def test_diverging_weights_stop_training_before_anything_is_written(corpus, tmp_path, capsys):
    output = tmp_path / "v.bin"
    assert main(train_args(corpus, output, "--alpha", "1e30", "--min-alpha", "1e30")) == 1
    error = capsys.readouterr().err
    assert "diverged in epoch 1" in error and "--alpha" in error
    assert not output.exists()


def test_a_runaway_loss_with_finite_weights_is_divergence_too():
    """Weights that run away while still finite (threads' summed changes overshooting) show in the
    loss: a block's loss past DIVERGED_LOSS a pair stops training as infinite weights do."""
    from w2v.errors import ConfigError
    from w2v.training.config import TrainConfig
    from w2v.training.loop import DIVERGED_LOSS, Matrices, check_diverged

    matrices = Matrices(torch.full((4, 3), 1e17), torch.zeros(4, 3), None)
    config = TrainConfig(alpha=0.025)
    check_diverged(matrices, 4.2 * 1000, 1000, 0, config)  # a loss as training has it
    check_diverged(matrices, 0.0, 0, 0, config)  # another rank's block
    with pytest.raises(ConfigError) as error:
        check_diverged(matrices, 10 * DIVERGED_LOSS * 1000, 1000, 2, config)
    assert str(error.value) == (
        "training diverged in epoch 3 (the loss grew to 1e+05 a pair): lower --alpha (now 0.025)"
    )
