"""End to end: train through the CLI on a generated corpus with planted structure, then query it."""

import itertools
import json
import random

import pytest
import torch
from gensim.models import KeyedVectors as GensimVectors

import w2v
from corpora import synthetic
from w2v.cli import main
from w2v.text.tokenizer import load_tokenizer
from w2v.text.vocab import Vocabulary


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    corpus, questions, vectors = (
        folder / "corpus.txt",
        folder / "questions.txt",
        folder / "vectors.bin",
    )
    synthetic.write_corpus(corpus, n_sentences=25_000, seed=0)
    synthetic.write_questions(questions)
    status = main(
        [
            "train",
            str(corpus),
            "-o",
            str(vectors),
            "--dim",
            "50",
            "--threads",
            "2",
            "--seed",
            "3",
            "-q",
        ]
    )
    assert status == 0
    return folder, vectors, questions


def test_planted_analogies_are_answered(trained):
    _, vectors, questions = trained
    result = w2v.evaluate_analogies(w2v.load(vectors), questions)
    assert result.to_dict()["overall"]["evaluated"] == 690
    assert result.to_dict()["overall"]["accuracy"] >= 0.9


# Kernels and models compared where the scores are not saturated: a corpus of 10,000 sentences
# (125k words; the fixture above has 25,000, where every setting scores 0.96 to 1), and per model
# a number of epochs that leaves the numba kernel (one thread: plain sequential SGD) well short of
# 1: over seeds 1 to 4 it scored 0.73-0.82 skip-gram, 0.77-0.83 CBOW, 0.71-0.82 CBOW sum, 0.81-0.86
# skip-gram HS, 0.83-0.90 CBOW HS, where a kernel that learned less per word falls behind. The
# torch kernel updates a batch of centres from the same weights, so it takes fewer steps an epoch:
# batches of 256 centres (64 for one epoch of skip-gram HS) give it enough on this corpus; at the
# default 4,096, 30 steps an epoch, it falls far behind (the xfail below). Over seeds 1 to 4 it
# then differed from the numba kernel by at most 0.04, 0.08, 0.08, 0.05 and 0.06.
HARD_SENTENCES = 10_000
# CBOW's mean cases train at skip-gram's alpha 0.025, where they were measured: at CBOW's own 0.05
# both kernels score 0.98 or more, where differences between them would not show (the sum's case
# stays below 0.95 at 0.05).
SETTINGS = {  # name: (the settings of both kernels, the torch kernel's batch_words)
    "skipgram": ({"epochs": 3}, 256),
    "cbow": ({"model": "cbow", "alpha": 0.025, "epochs": 5}, 256),
    "cbow-sum": ({"model": "cbow", "cbow_mean": False, "epochs": 4}, 256),
    "skipgram-hs": ({"hs": True, "negative": 0, "epochs": 1}, 64),
    "cbow-hs": ({"model": "cbow", "alpha": 0.025, "hs": True, "negative": 0, "epochs": 2}, 256),
}
MARGIN = 0.12  # of accuracy: 83 of the 690 questions


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    """A smaller corpus, the same words shuffled across it (no planted contexts left), questions."""
    folder = tmp_path_factory.mktemp("hard")
    corpus, shuffled, questions = (folder / name for name in ("c.txt", "s.txt", "q.txt"))
    synthetic.write_corpus(corpus, n_sentences=HARD_SENTENCES, seed=0)
    synthetic.write_questions(questions)
    lines = [line.split() for line in corpus.read_text().splitlines()]
    words = [word for line in lines for word in line]
    random.Random(0).shuffle(words)
    ends = list(itertools.accumulate(len(line) for line in lines))
    shuffled.write_text(
        "".join(" ".join(words[a:b]) + "\n" for a, b in zip([0, *ends], ends, strict=False))
    )
    return corpus, shuffled, questions


def accuracy(vectors, questions) -> float:
    overall = w2v.evaluate_analogies(vectors, questions).to_dict()["overall"]
    assert overall["evaluated"] == 690
    return overall["accuracy"]


def train_hard(corpus, **settings):
    config = w2v.TrainConfig(dim=50, threads=1, seed=3, **settings)
    return w2v.train([corpus], config, progress=False)


@pytest.mark.parametrize("name", SETTINGS)
def test_both_kernels_learn_the_planted_analogies_equally_well(hard, name):
    corpus, shuffled, questions = hard
    settings, batch_words = SETTINGS[name]
    numba = train_hard(corpus, kernel="numba", **settings)
    torch_kernel = train_hard(corpus, kernel="torch", batch_words=batch_words, **settings)
    baseline = accuracy(train_hard(shuffled, kernel="numba", **settings).vectors, questions)
    scores = {
        "numba": accuracy(numba.vectors, questions),
        "torch": accuracy(torch_kernel.vectors, questions),
    }
    assert 0.45 <= scores["numba"] <= 0.95, scores  # not saturated: differences would show
    assert abs(scores["torch"] - scores["numba"]) <= MARGIN, scores
    assert baseline <= 0.05 and min(scores.values()) >= baseline + 0.4, (scores, baseline)
    for model in (numba, torch_kernel):
        if settings["epochs"] > 1:
            assert model.history[-1].loss < model.history[0].loss
        if settings.get("hs"):
            assert not model.output_vectors.any()  # no negative sampling: its matrix stays zero


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="at the default --batch-words 4096 the torch kernel learns far less than the numba "
    "kernel on a corpus of few batches: skip-gram, 5 epochs: 0.59 against 0.86 (the README's "
    "'same quality' holds on corpora of many batches)",
)
def test_at_the_default_batch_the_torch_kernel_matches_on_a_small_corpus(hard):
    corpus, _, questions = hard
    numba = accuracy(train_hard(corpus, kernel="numba").vectors, questions)
    torch_kernel = accuracy(train_hard(corpus, kernel="torch").vectors, questions)
    assert abs(torch_kernel - numba) <= MARGIN, (numba, torch_kernel)


def test_group_members_are_each_others_nearest_neighbours(trained):
    kv = w2v.load(trained[1])
    hits = total = 0
    for members in synthetic.GROUPS.values():
        for word in members:
            neighbours = [other for other, _ in kv.most_similar(word, topn=3)]
            hits += sum(other in members for other in neighbours)
            total += 3
    assert hits / total >= 0.9


def test_analogy_command_prints_queen_first(trained, capsys):
    capsys.readouterr()
    assert main(["analogy", "king", "man", "woman", "--vectors", str(trained[1]), "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rank", "word", "cosine"]
    assert lines[1].split()[:2] == ["1", "queen"]
    assert len(lines) == 4


def test_similar_command_ranks_by_cosine(trained, capsys):
    capsys.readouterr()
    assert main(["similar", "paris", "--vectors", str(trained[1])]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    scores = [float(row[2]) for row in rows]
    assert len(rows) == 10 and scores == sorted(scores, reverse=True)
    assert "paris" not in [row[1] for row in rows]


def test_evaluate_command_prints_json(trained, capsys):
    folder, vectors, questions = trained
    pairs = folder / "pairs.tsv"
    pairs.write_text(
        "# word1\tword2\tscore\nking\tqueen\t9\nking\tcars\t1\nparis\tfrance\t8\ndog\tdogs\t7\nzzz\tking\t3\n"
    )
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--vectors",
                str(vectors),
                "--analogies",
                str(questions),
                "--similarity",
                str(pairs),
                "--json",
            ]
        )
        == 0
    )
    analogy, similarity = json.loads(capsys.readouterr().out)
    assert analogy["overall"]["accuracy"] >= 0.9
    assert similarity["pairs_used"] == 4


def test_training_writes_tokenizer_and_counts_beside_the_vectors(trained):
    folder, vectors, _ = trained
    kv = w2v.load(vectors)
    vocabulary = Vocabulary.load(folder / "vectors.vocab.txt")
    assert vocabulary.words == kv.words
    assert vocabulary.counts.tolist() == sorted(vocabulary.counts.tolist(), reverse=True)
    tokenizer = load_tokenizer(folder / "vectors.tokenizer.json")
    assert tokenizer.encode("The King, the QUEEN!").ids == [
        kv.index_of(w) for w in ("the", "king", "the", "queen")
    ]


def test_gensim_reads_what_training_wrote(trained):
    kv = w2v.load(trained[1])
    theirs = GensimVectors.load_word2vec_format(str(trained[1]), binary=True)
    assert theirs.index_to_key == kv.words
    assert torch.equal(torch.from_numpy(theirs.vectors), kv.vectors)


def test_same_seed_same_threads_gives_identical_vectors(tmp_path):
    corpus = tmp_path / "c.txt"
    synthetic.write_corpus(corpus, n_sentences=2_000, seed=1)
    # Two threads share the matrices and race unless --reproducible merges private copies.
    config = w2v.TrainConfig(dim=20, epochs=1, threads=2, seed=7, reproducible=True)
    first = w2v.train([corpus], config, progress=False).vectors.vectors
    second = w2v.train([corpus], config, progress=False).vectors.vectors
    other_seed = w2v.TrainConfig(dim=20, epochs=1, threads=2, seed=8, reproducible=True)
    third = w2v.train([corpus], other_seed, progress=False).vectors.vectors
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["train", "-q", "no-such-file.txt"], "no-such-file.txt: no such file or folder"),
        (["train", "-q", "CORPUS", "--dim", "0"], "--dim must be at least 1"),
        (["train", "-q", "CORPUS", "--min-count", "1000000"], "use --min-count 10 or lower"),
        (["train", "-q", "CORPUS", "-o", "missing-folder/v.bin"], "does not exist"),
        (["analogy", "king", "man", "qqqq", "--vectors", "VECTORS"], "qqqq"),
    ],
)
def test_bad_input_gives_one_line_error(trained, tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "small.txt"
    corpus.write_text("a b c\n" * 10)
    arguments = [
        str(corpus) if a == "CORPUS" else str(trained[1]) if a == "VECTORS" else a
        for a in arguments
    ]
    capsys.readouterr()
    assert main(arguments) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and message in captured.err
    assert captured.err.count("\n") == 1
    assert not list(tmp_path.glob("*.bin"))
