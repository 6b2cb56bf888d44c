"""Data-parallel training: two ranks under torchrun on this machine, with gloo over localhost."""

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing
from safetensors import safe_open

import w2v
from corpora import synthetic
from w2v.training import checkpoint
from w2v.training.distributed import Group, Sync, block_words
from w2v.training.huffman import huffman_tree
from w2v.training.merging import SATURATING_SIGHTS, agreed_change, row_frequencies

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


def test_row_frequencies_are_the_shares_of_the_tokens_behind_each_row():
    counts = np.array([5, 3, 2])
    # Huffman: words 1 and 2 join under inner node 0 (5 tokens), which joins word 0 at the root.
    tree = huffman_tree(counts)
    # Word rows 0..2 and one bucket row, 3, which words 0 and 2 hold.
    subwords = (np.array([0, 2, 3, 5]), np.array([0, 3, 1, 2, 3]))
    inputs, outputs, inner = row_frequencies(counts, tree, subwords, input_rows=4, tokens=10)
    assert inputs.tolist() == [0.5, 0.3, 0.2, 0.7]
    assert outputs.tolist() == [0.5, 0.3, 0.2]
    assert inner.tolist() == [0.5, 1.0]
    words_only = row_frequencies(counts, None, None, 3, tokens=10)
    assert [rows.tolist() for rows in words_only] == [[0.5, 0.3, 0.2]] * 2


def test_agreed_change_is_the_mean_of_equal_changes_and_the_sum_of_independent_ones():
    ranks = 4
    equal = torch.tensor([[1.0, 2.0]]).repeat(ranks, 1)
    independent = torch.eye(ranks)
    opposed = torch.tensor([[1.0], [-1.0], [1.0], [-0.5]])
    for changes, merged in (
        (equal, [[1.0, 2.0]]),
        (independent, [[1.0] * ranks]),
        (opposed, [[0.5]]),  # the sum, never scaled up
        (torch.zeros(ranks, 3), [[0.0] * 3]),
    ):
        summed = changes.sum(dim=0, keepdim=True)
        squares = changes.square().sum().reshape(1)
        assert torch.allclose(agreed_change(summed, squares), torch.tensor(merged))


RARE, FREQUENT = 0, 1  # rows: one under SATURATING_SIGHTS a round, one over


def _sync_four_ranks(rank: int, store: str, out: str) -> None:
    """One of four ranks: change both rows by (rank + 1) x the same vector, sync, save the result."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=4)
    matrix = torch.full((2, 2), 10.0) if rank == 0 else torch.zeros(2, 2)
    words_between_syncs = 1000
    frequencies = np.array([SATURATING_SIGHTS - 1, SATURATING_SIGHTS]) / words_between_syncs
    sync = Sync((matrix,), (frequencies,), words_between_syncs)
    matrix += (rank + 1) * torch.tensor([1.0, -1.0])
    sync()
    torch.save(matrix, f"{out}.{rank}")
    dist.destroy_process_group()


def test_sync_adds_the_changes_of_rare_rows_and_agrees_those_of_frequent_ones(tmp_path):
    out = tmp_path / "merged"
    torch.multiprocessing.spawn(_sync_four_ranks, (str(tmp_path / "store"), str(out)), nprocs=4)
    merged = [torch.load(f"{out}.{rank}") for rank in range(4)]
    assert all(torch.equal(matrix, merged[0]) for matrix in merged)
    # From rank 0's start, 10: the rare row moves by the sum of the changes, 1 + 2 + 3 + 4, and
    # the frequent one by that sum scaled by their agreement, (1 + 4 + 9 + 16) / 10^2.
    assert merged[0][RARE].tolist() == [20.0, 0.0]
    assert merged[0][FREQUENT].tolist() == pytest.approx([13.0, 7.0])


ANIMALS = set(synthetic.GROUPS["animals"])
MARKED = (30_000, 45_000)  # tokens well inside block 1 of 25k (rank 1's), away from its ends


def write_corpus_with_a_rank_one_word(path: Path) -> list[int]:
    """The synthetic corpus, but where a line starts within MARKED every animal is called "zebra",
    a word found nowhere else; return zebra's token offsets."""
    lines, offsets, position = [], [], 0
    for sentence in synthetic.sentences(25_000, seed=0):
        if MARKED[0] <= position < MARKED[1]:
            sentence = ["zebra" if word in ANIMALS else word for word in sentence]
        offsets += [position + at for at, word in enumerate(sentence) if word == "zebra"]
        lines.append(" ".join(sentence) + "\n")
        position += len(sentence)
    path.write_text("".join(lines))
    return offsets


def torchrun(ranks: int, *arguments: str) -> list[str]:
    """The command that trains with `ranks` gloo ranks on this machine, one thread each."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(ranks),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(ROOT / "cli.py"),
        "train",
        *arguments,
        "--threads",
        "1",
        "--no-plots",
        "-q",
    ]


def test_two_ranks_train_disjoint_shares_and_match_one_process(tmp_path):
    corpus, questions = tmp_path / "corpus.txt", tmp_path / "questions.txt"
    zebras = write_corpus_with_a_rank_one_word(corpus)
    synthetic.write_questions(questions)
    output = tmp_path / "out" / "vectors.bin"
    output.parent.mkdir()
    # The corpus is 312k words: 13 blocks of 25k (rank 1: the odd ones), 7 syncs an epoch.
    command = torchrun(
        2, str(corpus), "-o", str(output), "--sync-every", "50000", "--dim", "50", "--seed", "3"
    )
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

    two = w2v.load(output)
    one = w2v.train([corpus], w2v.TrainConfig(dim=50, threads=1, seed=3), progress=False)

    # "zebra" is in rank 1's share only, so rank 0 learns it only through the syncs: in the
    # vectors rank 0 wrote it has moved from its starting vector (that of a one-process run at a
    # learning rate too small to move anything) to where the animals are, and about as far as in
    # the one-process run.
    words = corpus.read_text().split()
    assert tokens == len(words) and len(zebras) >= 50  # every word kept: offsets are the text's
    assert all(any(start <= at < end for start, end in shares[1]) for at in zebras)
    untrained = w2v.TrainConfig(dim=50, threads=1, seed=3, epochs=1, alpha=1e-12, min_alpha=0)
    start = w2v.train([corpus], untrained, progress=False).vectors
    assert start.words == two.words == one.vectors.words
    zebra = two.index_of("zebra")
    moved = (two.vectors[zebra] - start.vectors[zebra]).norm()
    assert moved > 5 * start.vectors[zebra].norm()
    neighbours = [word for word, _ in two.most_similar("zebra", topn=10)]
    assert len(ANIMALS.intersection(neighbours)) >= 4, neighbours
    alone = (one.vectors.vectors[zebra] - start.vectors[zebra]).norm()
    assert 0.8 < moved / alone < 1.25  # measured 0.93 to 1.01; without the syncs it is 0

    two_ranks = w2v.evaluate_analogies(two, questions).to_dict()["overall"]
    one_rank = w2v.evaluate_analogies(one.vectors, questions).to_dict()["overall"]
    assert two_ranks["evaluated"] == one_rank["evaluated"] == 690
    assert two_ranks["accuracy"] >= 0.9
    assert two_ranks["accuracy"] >= one_rank["accuracy"] - 0.02
    # The same total work: the loss of the last epoch (all ranks' pairs together) is close.
    assert abs(log["epochs"][-1]["loss"] - one.history[-1].loss) < 0.05


def kill_with_its_ranks(torchrun_pid: int) -> None:
    """SIGKILL torchrun and its ranks, each of which torchrun starts in a session of its own."""
    ranks = Path(f"/proc/{torchrun_pid}/task/{torchrun_pid}/children").read_text().split()
    for pid in (torchrun_pid, *map(int, ranks)):
        os.kill(pid, signal.SIGKILL)


def test_two_ranks_killed_mid_run_resume_to_the_uninterrupted_bytes(tmp_path):
    corpus = tmp_path / "corpus.txt"
    synthetic.write_corpus(corpus, n_sentences=25_000, seed=0)
    settings = [str(corpus), "--dim", "30", "--epochs", "4", "--seed", "4", "--sync-every", "50000"]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}

    def train(ranks: int, *arguments: str) -> subprocess.CompletedProcess:
        command = torchrun(ranks, *settings, *arguments)
        return subprocess.run(
            command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300
        )

    whole = train(2, "-o", "whole.bin")
    assert whole.returncode == 0, whole.stderr

    output, folder = tmp_path / "killed.bin", tmp_path / "killed.bin.checkpoint"
    # A checkpoint at every sync; torchrun and its ranks killed at the first one found.
    process = subprocess.Popen(
        torchrun(2, *settings, "-o", str(output), "--checkpoint-every", "1e-9"),
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (folder / checkpoint.STATE).exists() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert process.poll() is None, "training ended before its first checkpoint"
    kill_with_its_ranks(process.pid)
    process.wait()
    time.sleep(1)  # nothing left to write the vectors
    assert not output.exists()
    saved = safe_open(folder / checkpoint.STATE, "pt")
    position = json.loads(saved.metadata()["state"])
    assert position["epoch"] < 4  # killed with epochs left to train
    assert saved.get_tensor("generator").shape[0] == 2  # each rank's own

    refused = train(3, "-o", str(output), "--resume", str(folder))
    assert refused.returncode != 0 and not output.exists()
    assert f"error: {folder}: checkpoint made by 2 rank(s), this run has 3" in refused.stderr

    resumed = train(2, "-o", str(output), "--resume", str(folder))
    assert resumed.returncode == 0, resumed.stderr
    assert output.read_bytes() == (tmp_path / "whole.bin").read_bytes()
    assert not folder.exists()
    # Every epoch's loss, the interrupted one's too, is all ranks' pairs' as before (summed in
    # another order: to the last bits).
    whole_log, resumed_log = (
        json.loads((tmp_path / f"{name}.log.json").read_text())["epochs"]
        for name in ("whole", "killed")
    )
    assert [epoch["learning_rate"] for epoch in resumed_log] == [
        epoch["learning_rate"] for epoch in whole_log
    ]
    assert [epoch["loss"] for epoch in resumed_log] == pytest.approx(
        [epoch["loss"] for epoch in whole_log], rel=1e-12
    )
