"""Vocabulary: exact counts, id order, min-count and max-vocab, subsampling, the vocab file."""

import numpy as np
import pytest
import torch

from w2v.errors import VocabularyError
from w2v.text.encode import encode_corpus
from w2v.text.tokenizer import make_tokenizer
from w2v.text.vocab import Vocabulary


def test_counts_and_ids_in_descending_frequency_ties_alphabetical():
    words = ["dog", "the", "cat", "ant", "rare"]
    vocabulary, new_ids = Vocabulary.from_counts(words, np.array([3, 9, 3, 3, 1]), min_count=2)
    assert vocabulary.words == ["the", "ant", "cat", "dog"]
    assert vocabulary.counts.tolist() == [9, 3, 3, 3]
    assert new_ids.tolist() == [3, 0, 2, 1, -1]
    assert vocabulary.total == 18


def test_max_vocab_keeps_the_most_frequent():
    vocabulary, new_ids = Vocabulary.from_counts(
        ["a", "b", "c"], np.array([5, 7, 6]), min_count=1, max_vocab=2
    )
    assert vocabulary.words == ["b", "c"]
    assert new_ids.tolist() == [-1, 0, 1]


def test_every_word_under_min_count_says_which_count_would_work():
    with pytest.raises(
        VocabularyError, match=r"most frequent occurs 3 times\): use --min-count 3 or lower"
    ):
        Vocabulary.from_counts(["a", "b"], np.array([3, 1]), min_count=5)


def test_keep_probability_is_word2vecs_formula():
    vocabulary = Vocabulary(["a", "b", "c"], np.array([9000, 995, 5]))
    keep = vocabulary.keep_probabilities(1e-3)
    threshold = 1e-3 * 10000
    expected = [min(1.0, ((c / threshold) ** 0.5 + 1) * threshold / c) for c in (9000, 995, 5)]
    assert keep.tolist() == pytest.approx(expected, rel=1e-6)
    assert expected[2] == 1.0 and expected[0] < 0.05
    assert vocabulary.keep_probabilities(0).tolist() == [1.0, 1.0, 1.0]


def test_subsampling_keeps_words_at_that_rate():
    vocabulary = Vocabulary(["a", "b"], np.array([900_000, 100_000]))
    keep = vocabulary.keep_probabilities(1e-3)
    draws = torch.rand(200_000, generator=torch.Generator().manual_seed(0)) < keep[0]
    assert draws.float().mean().item() == pytest.approx(keep[0].item(), abs=0.005)


def test_vocab_file_is_word2vecs_save_vocab_format(tmp_path):
    vocabulary = Vocabulary(["the", "café"], np.array([10, 5]))
    path = tmp_path / "v.txt"
    vocabulary.save(path)
    assert path.read_bytes() == "the 10\ncafé 5\n".encode()
    loaded = Vocabulary.load(path)
    assert loaded.words == vocabulary.words and loaded.counts.tolist() == [10, 5]


def test_counts_from_a_corpus_are_exact(tmp_path):
    (tmp_path / "c.txt").write_text("The cat, the dog.\nA cat! the end\n")
    vocabulary, corpus = encode_corpus(
        [tmp_path / "c.txt"], make_tokenizer(), tmp_path, min_count=1, progress=False
    )
    assert dict(zip(vocabulary.words, vocabulary.counts.tolist(), strict=True)) == {
        "the": 3,
        "cat": 2,
        "a": 1,
        "dog": 1,
        "end": 1,
    }
    assert vocabulary.words[:2] == ["the", "cat"]
    assert corpus.raw_words == 8
