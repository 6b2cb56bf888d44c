"""Tests of the synthetic corpus generator: determinism, file formats and the planted structure."""

import re
import statistics
from collections import Counter

import pytest

from corpora import synthetic

PLANTED_WORDS = [
    word
    for pairs in (synthetic.GENDER_PAIRS, synthetic.CAPITAL_PAIRS, synthetic.PLURAL_PAIRS)
    for pair in pairs
    for word in pair
] + [word for members in synthetic.GROUPS.values() for word in members]


@pytest.fixture(scope="module")
def default_sentences() -> list[list[str]]:
    """The default corpus, generated once for the module."""
    return list(synthetic.sentences())


@pytest.fixture(scope="module")
def default_counts(default_sentences: list[list[str]]) -> Counter[str]:
    """Word counts of the default corpus."""
    return Counter(word for sentence in default_sentences for word in sentence)


def test_same_seed_gives_same_bytes_and_other_seed_other_bytes(tmp_path):
    first, again, other = tmp_path / "first.txt", tmp_path / "again.txt", tmp_path / "other.txt"
    synthetic.write_corpus(first, n_sentences=2000, seed=7)
    synthetic.write_corpus(again, n_sentences=2000, seed=7)
    synthetic.write_corpus(other, n_sentences=2000, seed=8)
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_write_corpus_writes_one_sentence_a_line_and_counts_words(tmp_path):
    path = tmp_path / "corpus.txt"
    word_count = synthetic.write_corpus(path, n_sentences=500, seed=3)
    lines = path.read_text(encoding="ascii").splitlines()
    assert [line.split(" ") for line in lines] == list(synthetic.sentences(500, seed=3))
    assert word_count == sum(len(line.split(" ")) for line in lines)


def test_write_corpus_replaces_an_existing_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("old contents that are much longer than the new corpus\n" * 1000)
    synthetic.write_corpus(path, n_sentences=10)
    assert len(path.read_text().splitlines()) == 10
    assert [entry.name for entry in tmp_path.iterdir()] == ["corpus.txt"]


def test_default_corpus_size_is_about_half_a_million_words(default_counts):
    assert 400_000 <= sum(default_counts.values()) <= 600_000


def test_sentence_lengths_span_the_range(default_sentences):
    lengths = {len(sentence) for sentence in default_sentences}
    assert lengths == set(range(synthetic.MIN_SENTENCE_LENGTH, synthetic.MAX_SENTENCE_LENGTH + 1))


def test_tokens_are_lower_case_ascii_words(default_counts):
    assert all(re.fullmatch("[a-z]+", word) for word in default_counts)


def test_planted_words_are_distinct():
    assert len(set(PLANTED_WORDS)) == len(PLANTED_WORDS)


def test_every_planted_word_occurs_often_enough(default_counts):
    rare = {word: default_counts[word] for word in PLANTED_WORDS if default_counts[word] < 200}
    assert not rare


def test_word_frequencies_are_zipf_like(default_counts):
    frequencies = sorted(default_counts.values(), reverse=True)
    assert frequencies[0] > 50 * statistics.median(frequencies)
    # A few function words take a large share, as in natural text.
    assert sum(frequencies[:10]) > 0.2 * sum(frequencies)


@pytest.mark.parametrize(
    ("word", "pronouns"),
    [("king", {"he", "his", "him", "himself"}), ("queen", {"she", "her", "hers", "herself"})],
)
def test_attribute_words_fall_within_the_window(default_sentences, word, pronouns):
    window = synthetic.CONTEXT_WINDOW
    for sentence in default_sentences:
        for position, token in enumerate(sentence):
            if token == word:
                nearby = sentence[max(0, position - window) : position + window + 1]
                assert pronouns & set(nearby), sentence


def test_analogy_questions_are_all_ordered_pairs_of_distinct_pairs():
    questions = synthetic.analogy_questions()
    assert list(questions) == ["gender", "capital", "plural"]
    for section, pairs in [
        ("gender", synthetic.GENDER_PAIRS),
        ("capital", synthetic.CAPITAL_PAIRS),
        ("plural", synthetic.PLURAL_PAIRS),
    ]:
        section_questions = questions[section]
        assert (
            len(section_questions) == len(set(section_questions)) == len(pairs) * (len(pairs) - 1)
        )
        for a, b, c, d in section_questions:
            assert (a, b) in pairs and (c, d) in pairs and (a, b) != (c, d)


def test_write_questions_uses_the_questions_words_format(tmp_path):
    path = tmp_path / "questions-words.txt"
    question_count = synthetic.write_questions(path)
    lines = path.read_text(encoding="ascii").splitlines()
    assert lines[:4] == [
        ": gender",
        "king queen man woman",
        "king queen prince princess",
        "king queen boy girl",
    ]
    assert [line for line in lines if line.startswith(":")] == [": gender", ": capital", ": plural"]
    assert "france paris germany berlin" in lines
    assert "car cars dog dogs" in lines
    question_lines = [line for line in lines if not line.startswith(":")]
    assert question_count == len(question_lines) == 16 * 15 + 16 * 15 + 15 * 14
    assert all(len(line.split(" ")) == 4 for line in question_lines)
