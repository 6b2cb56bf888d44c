"""Data-parallel training: two ranks under torchrun on this machine, with gloo over localhost."""

import itertools
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import w2v
from corpora import synthetic
from w2v.training.distributed import Group, block_words

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_blocks_are_dealt_round_robin():
    ranks = [Group(rank, 3, rank) for rank in range(3)]
    owners = [[group.rank for group in ranks if group.owns(index)] for index in range(10)]
    assert owners == [[index % 3] for index in range(10)]
    assert [ranks[0].round_ends(index, 10) for index in range(10)] == [
        False, False, True, False, False, True, False, False, True, True
    ]  # fmt: skip
    assert block_words(1_000_000, 4) == 250_000


def test_two_ranks_train_disjoint_shares_and_match_one_process(tmp_path):
    corpus, questions = tmp_path / "corpus.txt", tmp_path / "questions.txt"
    synthetic.write_corpus(corpus, n_sentences=25_000, seed=0)
    synthetic.write_questions(questions)
    output = tmp_path / "out" / "vectors.bin"
    output.parent.mkdir()
    settings = ["--dim", "50", "--threads", "1", "--seed", "3"]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(ROOT / "cli.py"),
        "train",
        str(corpus),
        "-o",
        str(output),
        "--sync-every",
        "50000",  # the corpus is 312k words: 13 blocks of 25k, 7 syncs an epoch
        "--no-plots",
        "-q",
        *settings,
    ]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr

    # Only rank 0 wrote: one vectors file with its tokenizer, counts and log, once.
    assert sorted(path.name for path in output.parent.iterdir()) == [
        "vectors.bin",
        "vectors.log.json",
        "vectors.tokenizer.json",
        "vectors.vocab.txt",
    ]
    assert done.stdout.count("wrote ") == 1

    log = json.loads((output.parent / "vectors.log.json").read_text())
    shares = log["distributed"]["blocks_by_rank"]
    assert log["distributed"]["world_size"] == 2 and all(shares)
    spans = sorted(tuple(span) for share in shares for span in share)
    # Disjoint, and together the whole corpus: each span starts where the one before ended.
    assert spans[0][0] == 0
    assert all(previous[1] == span[0] for previous, span in itertools.pairwise(spans))
    tokens = spans[-1][1]
    vocabulary = (output.parent / "vectors.vocab.txt").read_text().split()
    assert tokens == sum(int(count) for count in vocabulary[1::2])  # every word of the corpus
    assert sum(end - start for share in shares for start, end in share) == tokens
    assert set(map(tuple, shares[0])).isdisjoint(map(tuple, shares[1]))

    two_ranks = w2v.evaluate_analogies(w2v.load(output), questions).to_dict()["overall"]
    config = w2v.TrainConfig(dim=50, threads=1, seed=3)
    one = w2v.train([corpus], config, progress=False)
    one_rank = w2v.evaluate_analogies(one.vectors, questions).to_dict()["overall"]
    assert two_ranks["evaluated"] == one_rank["evaluated"] == 690
    assert two_ranks["accuracy"] >= 0.9
    assert two_ranks["accuracy"] >= one_rank["accuracy"] - 0.02
    # The same total work: the loss of the last epoch (all ranks' pairs together) is close.
    assert abs(log["epochs"][-1]["loss"] - one.history[-1].loss) < 0.05
