"""End to end: train through the CLI on a generated corpus with planted structure, then query it."""

import json

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


def test_the_pure_torch_kernel_recovers_the_structure_as_well(trained):
    folder, _, questions = trained
    config = w2v.TrainConfig(dim=50, threads=2, seed=3, kernel="torch")
    model = w2v.train([folder / "corpus.txt"], config, progress=False)
    result = w2v.evaluate_analogies(model.vectors, questions)
    assert result.to_dict()["overall"]["accuracy"] >= 0.9
    assert model.vectors.analogy("king", "man", "woman", topn=1)[0][0] == "queen"


@pytest.mark.parametrize(("kernel", "mean"), [("numba", True), ("torch", True), ("numba", False)])
def test_cbow_recovers_the_structure(trained, kernel, mean):
    folder, _, questions = trained
    config = w2v.TrainConfig(dim=50, threads=2, seed=3, model="cbow", kernel=kernel, cbow_mean=mean)
    model = w2v.train([folder / "corpus.txt"], config, progress=False)
    result = w2v.evaluate_analogies(model.vectors, questions)
    assert result.to_dict()["overall"]["accuracy"] >= 0.9
    assert model.history[-1].loss < model.history[0].loss


@pytest.mark.parametrize(
    ("model", "kernel"),
    [("skipgram", "numba"), ("cbow", "numba"), ("skipgram", "torch"), ("cbow", "torch")],
)
def test_hierarchical_softmax_alone_recovers_the_structure(trained, model, kernel):
    folder, _, questions = trained
    config = w2v.TrainConfig(
        dim=50, threads=2, seed=3, model=model, kernel=kernel, hs=True, negative=0
    )
    model = w2v.train([folder / "corpus.txt"], config, progress=False)
    result = w2v.evaluate_analogies(model.vectors, questions)
    assert result.to_dict()["overall"]["accuracy"] >= 0.9
    assert model.history[-1].loss < model.history[0].loss
    assert not model.output_vectors.any()  # no negative sampling: its matrix stays zero


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
    config = w2v.TrainConfig(dim=20, epochs=1, threads=2, seed=7)
    first = w2v.train([corpus], config, progress=False).vectors.vectors
    second = w2v.train([corpus], config, progress=False).vectors.vectors
    third = w2v.train(
        [corpus], w2v.TrainConfig(dim=20, epochs=1, threads=2, seed=8), progress=False
    ).vectors.vectors
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
