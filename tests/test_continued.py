"""Continued training (`train --init MODEL`): a saved native model trained on with new text."""

import json
from collections import Counter

import numpy as np
import pytest
import torch

import w2v
from corpora import synthetic
from w2v.cli import main
from w2v.files.native import read_native
from w2v.text.tokenizer import make_tokenizer
from w2v.text.vocab import Vocabulary
from w2v.training.continued import InitialModel

NEW_WORDS = ("emperor", "empress")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Model A trained on text without the emperor and the empress, then continued through the
    command line on new text that has them."""
    folder = tmp_path_factory.mktemp("continued")
    old_text = [
        sentence
        for sentence in synthetic.sentences(25_000, seed=0)
        if not set(NEW_WORDS) & set(sentence)
    ]
    new_text = list(synthetic.sentences(8_000, seed=1))
    for name, sentences in (("a.txt", old_text), ("b.txt", new_text)):
        (folder / name).write_text("".join(" ".join(words) + "\n" for words in sentences))
    questions = folder / "questions.txt"
    synthetic.write_questions(questions)
    config = w2v.TrainConfig(dim=50, threads=2, seed=3, negative=6)
    model = w2v.train([folder / "a.txt"], config, progress=False)
    model.save(folder / "model_a")
    status = main(
        [
            "train",
            str(folder / "b.txt"),
            "--init",
            str(folder / "model_a"),
            "-o",
            str(folder / "model_b"),
            "--seed",
            "4",
            "--threads",
            "2",
            "--no-plots",
            "-q",
        ]
    )
    assert status == 0
    counts = {
        name: Counter(word for words in sentences for word in words)
        for name, sentences in (("a", old_text), ("b", new_text))
    }
    return folder, questions, counts


def test_new_words_get_vectors_that_answer_their_analogy(runs):
    folder, _, _ = runs
    old, new = w2v.load(folder / "model_a"), w2v.load(folder / "model_b")
    assert not set(NEW_WORDS) & set(old.words)
    assert set(NEW_WORDS) <= set(new.words)
    assert new.analogy("emperor", "man", "woman", topn=1)[0][0] == "empress"
    assert new.analogy("king", "emperor", "empress", topn=1)[0][0] == "queen"


def test_old_words_move_and_keep_their_analogies(runs):
    folder, questions, _ = runs
    old, new = w2v.load(folder / "model_a"), w2v.load(folder / "model_b")
    for word in ("king", "paris", "the"):
        assert not torch.equal(old[word], new[word])
    before = w2v.evaluate_analogies(old, questions).to_dict()["overall"]
    after = w2v.evaluate_analogies(new, questions).to_dict()["overall"]
    # Before: the questions without the emperor and the empress; after: all of them.
    assert before["evaluated"] < after["evaluated"] == after["total"]
    assert before["accuracy"] >= 0.9 and after["accuracy"] >= 0.9


def test_counts_merge_exactly_and_ids_stay_in_descending_frequency(runs):
    folder, _, counts = runs
    old, new = read_native(folder / "model_a"), read_native(folder / "model_b")
    merged = dict(zip(new.words, new.counts, strict=True))
    for word, count in zip(old.words, old.counts, strict=True):
        assert count == counts["a"][word]
        assert merged.pop(word) == count + counts["b"][word]
    # The words left are the new text's new words seen at least min_count (5) times.
    assert merged == {
        word: count
        for word, count in counts["b"].items()
        if word not in set(old.words) and count >= 5
    }
    assert set(NEW_WORDS) <= set(merged)
    assert all(np.diff(new.counts) <= 0)


def test_settings_come_from_the_model_unless_given(runs):
    folder, _, _ = runs
    training = json.loads((folder / "model_b" / "config.json").read_text())["training"]
    assert (training["dim"], training["negative"], training["seed"]) == (50, 6, 4)


def test_matrices_follow_their_words_and_new_rows_start_as_word2vec_does():
    old = InitialModel(
        path=None,
        vocabulary=Vocabulary(["a", "b", "c"], np.array([9, 5, 5])),
        input_vectors=torch.arange(6.0).reshape(3, 2),
        output_vectors=-torch.arange(6.0).reshape(3, 2),
        tokenizer=make_tokenizer(),
        training=None,
    )
    vocabulary, ids = old.merge(["c", "x", "y", "a"], np.array([10, 7, 2, 0]), 5, None)
    assert vocabulary.words == ["c", "a", "x", "b"]
    assert vocabulary.counts.tolist() == [15, 9, 7, 5]
    assert ids.tolist() == [0, 2, -1, 1]  # y is under min_count
    input_vectors, output_vectors = old.matrices(vocabulary, seed=1)
    for row, word in ((0, 2), (1, 0), (3, 1)):
        assert torch.equal(input_vectors[row], old.input_vectors[word])
        assert torch.equal(output_vectors[row], old.output_vectors[word])
    assert (input_vectors[2].abs() < 0.5 / 2).all() and not input_vectors[2].eq(0).any()
    assert output_vectors[2].eq(0).all()
    # --max-vocab lets new words in while the vocabulary is under it, and never drops old ones.
    vocabulary, _ = old.merge(["x", "z"], np.array([7, 6]), 5, 4)
    assert vocabulary.words == ["a", "x", "b", "c"]


def test_a_word2vec_file_or_another_dim_is_refused(runs, capsys):
    folder, _, _ = runs
    w2v.load(folder / "model_a").save(folder / "vectors_a.bin")
    tries = {
        "(-o model/)": ["--init", str(folder / "vectors_a.bin")],
        "has 50 dimensions, this run asks for --dim 30": [
            *("--init", str(folder / "model_a")),
            *("--dim", "30"),
        ],
    }
    for message, options in tries.items():
        output = folder / "refused"
        capsys.readouterr()
        status = main(["train", str(folder / "b.txt"), "-o", str(output), "-q", *options])
        error = capsys.readouterr().err
        assert status == 1 and error.count("\n") == 1 and message in error, error
        assert not output.exists()
    with pytest.raises(w2v.W2VError, match="50 dimensions"):
        w2v.train([folder / "b.txt"], w2v.TrainConfig(dim=30), init=folder / "model_a")
