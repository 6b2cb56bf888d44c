"""Tests of analogy figures with words outside the vocabulary answered from their n-grams: planted
n-gram rows, exact counts with and without them, and the battery's n-gram rows."""

import pytest
import torch

from w2v.cli import main
from w2v.query.evaluate import (
    ANALOGY_BATTERY,
    NGRAM_SUFFIX,
    SIMILARITY_BATTERY,
    evaluate_analogies,
    evaluate_battery,
    format_battery,
)
from w2v.query.vectors import KeyedVectors, load
from w2v.reports.report import write_report
from w2v.text.subwords import SubwordSpec, subword_rows

# Each word is the sum of two feature axes, so for a=(X,P), b=(Y,P), c=(X,Q) the 3CosAdd target
# b - a + c is exactly d=(Y,Q).
FEATURES = ["FR", "IT", "DE", "PT", "cap", "cty", "CAT", "MOUSE", "ZEB", "sg", "pl", "banana"]
VOCABULARY = {
    "paris": ("FR", "cap"), "france": ("FR", "cty"), "rome": ("IT", "cap"),
    "italy": ("IT", "cty"), "germany": ("DE", "cty"), "cat": ("CAT", "sg"),
    "cats": ("CAT", "pl"), "banana": ("banana",),
    # Rarest last, so a small restrict_vocab leaves them out.
    "zebra": ("ZEB", "sg"), "zebras": ("ZEB", "pl"),
}  # fmt: skip
# Words outside the vocabulary whose n-gram rows all hold the vector of these features: no two
# share an n-gram, so each word's mean is exactly its own.
UNSEEN = {
    "berlin": ("DE", "cap"), "lisbon": ("PT", "cap"), "portugal": ("PT", "cty"),
    "mouse": ("MOUSE", "sg"), "mice": ("MOUSE", "pl"),
}  # fmt: skip
SPEC = SubwordSpec(minn=3, maxn=5, bucket=20_000)

QUESTIONS = """\
: capital-common-countries
paris france berlin germany
berlin germany rome italy
paris france rome italy
rome italy lisbon portugal
: gram9-plural-nouns
mouse mice cat cats
"""


def feature_vector(features: tuple[str, ...]) -> torch.Tensor:
    return torch.tensor([1.0 if f in features else 0.0 for f in FEATURES])


def subword_kv() -> KeyedVectors:
    words = list(VOCABULARY)
    vectors = torch.stack([feature_vector(VOCABULARY[w]) for w in words])
    subword_input = torch.zeros(len(words) + SPEC.bucket, len(FEATURES))
    subword_input[: len(words)] = vectors
    for word, features in UNSEEN.items():
        _, rows = subword_rows([word], SPEC, len(words), own_rows=False)
        subword_input[torch.from_numpy(rows)] = feature_vector(features)
    counts = list(range(len(words) * 10, 0, -10))
    return KeyedVectors(words, vectors, counts, subwords=SPEC, subword_input=subword_input)


@pytest.fixture(scope="module")
def kv() -> KeyedVectors:
    kv = subword_kv()
    # The planted rows do not collide: each unseen word's n-grams give back its features.
    expected = torch.stack([feature_vector(f) for f in UNSEEN.values()])
    assert torch.equal(kv.vectors_for(list(UNSEEN)), expected)
    return kv


def counts(result) -> list[tuple[int, int, int]]:
    return [(s.correct, s.evaluated, s.total) for s in result.sections]


@pytest.fixture
def questions(tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text(QUESTIONS, encoding="utf-8")
    return path


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_unseen_question_words_are_answered_from_their_ngrams(kv, questions, method):
    plain = evaluate_analogies(kv, questions, method=method)
    assert counts(plain) == [(1, 1, 4), (0, 0, 1)]
    assert not plain.from_ngrams and plain.coverage == 1 / 5
    result = evaluate_analogies(kv, questions, method=method, subwords=True)
    assert counts(result) == [(3, 4, 4), (1, 1, 1)]
    assert result.from_ngrams and result.coverage == 1.0
    assert (result.overall.correct, result.overall.evaluated) == (4, 5)
    # The same words are still named as missing from the rows searched.
    assert (
        result.missing_words
        == plain.missing_words
        == ["berlin", "lisbon", "portugal", "mouse", "mice"]
    )


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_an_unseen_expected_word_counts_wrong_though_it_scores_best(kv, questions, method):
    result = evaluate_analogies(kv, questions, method=method, subwords=True)
    (wrong,) = result.sections[0].wrong
    assert wrong.question == ("rome", "italy", "lisbon") and wrong.expected == "portugal"
    # Its n-grams make it the best answer, but only the vocabulary's rows can be answers.
    assert wrong.got in VOCABULARY and wrong.got not in ("rome", "italy")
    assert wrong.expected_score > wrong.got_score
    if method == "3cosadd":
        assert wrong.expected_score == pytest.approx(1.0)


def test_words_beyond_the_rows_searched_count_and_are_never_answers(kv, tmp_path):
    path = tmp_path / "plurals.txt"
    path.write_text(": gram9-plural-nouns\ncat cats zebra zebras\nzebra zebras cat cats\n")
    rows = len(kv) - 2
    plain = evaluate_analogies(kv, path, restrict_vocab=rows)
    assert counts(plain) == [(0, 0, 2)]
    result = evaluate_analogies(kv, path, restrict_vocab=rows, subwords=True)
    # zebra takes its own vector, but zebras, outside the rows, cannot be answered.
    assert counts(result) == [(1, 2, 2)] and result.restrict_vocab == rows
    (wrong,) = result.sections[0].wrong
    assert wrong.expected == "zebras" and wrong.got not in ("zebra", "zebras")
    assert wrong.expected_score == pytest.approx(1.0)


def test_without_subwords_the_option_changes_nothing(questions):
    words = list(VOCABULARY)
    plain_kv = KeyedVectors(words, torch.stack([feature_vector(VOCABULARY[w]) for w in words]))
    result = evaluate_analogies(plain_kv, questions, subwords=True)
    assert counts(result) == [(1, 1, 4), (0, 0, 1)] and not result.from_ngrams


def test_the_table_and_json_say_where_the_words_came_from(kv, questions):
    result = evaluate_analogies(kv, questions, subwords=True)
    assert result.format().splitlines()[0] == (
        "analogies questions.txt (3CosAdd, top 10 words, unseen words from n-grams)"
    )
    assert result.to_dict()["from_ngrams"] is True
    plain = evaluate_analogies(kv, questions)
    assert plain.format().splitlines()[0] == "analogies questions.txt (3CosAdd, top 10 words)"


def test_the_battery_adds_an_ngram_row_per_analogy_set(kv, tmp_path, capsys):
    results = evaluate_battery(kv)
    names = [name for name, _ in ANALOGY_BATTERY + SIMILARITY_BATTERY]
    assert [r.name for r in results] == [
        n for name in names for n in (name, f"{name} {NGRAM_SUFFIX}")
    ]
    google, google_ngrams, msr, msr_ngrams = results[:4]
    assert google.overall.total == google_ngrams.overall.evaluated == 19544
    assert msr.overall.total == msr_ngrams.overall.evaluated == 8000
    assert [(g.name, g.evaluated, g.total) for g in google_ngrams.groups] == [
        ("semantic", 8869, 8869),
        ("syntactic", 10675, 10675),
    ]
    assert [g.name for g in msr_ngrams.groups] == ["adjectives", "nouns", "verbs"]
    lines = format_battery(results).splitlines()
    start = lines.index(
        next(line for line in lines if line.startswith(f"Google analogies {NGRAM_SUFFIX}"))
    )
    assert lines[start].split()[-2:] == ["19,544/19,544", "(100.0%)"]
    assert lines[start + 1].split()[0] == "semantic"
    assert lines[start + 1].split()[-2:] == ["8,869/8,869", "(100.0%)"]
    # The command prints the same table for the model saved and read back whole.
    kv.save(tmp_path / "model")
    assert load(tmp_path / "model").subwords == SPEC
    assert main(["evaluate", "--vectors", str(tmp_path / "model")]) == 0
    assert capsys.readouterr().out == format_battery(results) + "\n"


def test_the_report_keeps_both_figures_of_a_set_apart(kv, questions, tmp_path):
    """The usual and the n-gram figures of one file get a chart and a sentence each."""
    results = [
        evaluate_analogies(kv, questions),
        evaluate_analogies(kv, questions, subwords=True),
    ]
    report = tmp_path / "report.md"
    written = write_report(report, "model", results)
    charts = sorted(path.name for path in written if path.suffix == ".png")
    assert charts == [f"report.{questions.stem}.ngrams.png", f"report.{questions.stem}.png"]
    assert all((tmp_path / name).stat().st_size > 0 for name in charts)
    text = report.read_text()
    assert "a question counts when its four words are among them." in text
    assert "words outside them get vectors from their n-grams, so every question counts" in text
