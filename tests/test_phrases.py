"""Phrases: word2phrase's scores and greedy joining, checked by hand and against a plain reference."""

import itertools
import random
from collections import Counter
from functools import partial

import pytest
import torch

import w2v
from w2v.cli import main
from w2v.errors import ConfigError
from w2v.query.evaluate import shipped_list
from w2v.text import corpus, phrases
from w2v.text.phrases import pass_thresholds, write_phrases
from w2v.text.tokenizer import make_tokenizer, words_of

# new=20, york=10, we=10, like=10, the=40, one=10, 100 words seen once: N = 200 words.
HAND_MADE = (
    ["we like new york"] * 10
    + ["the new one"] * 10
    + [" ".join(f"filler{i}{j}" for j in range(10)) for i in range(10)]
    + ["the"] * 30
)
HAND_SCORES = {  # (count(ab) - 5) * 200 / (count(a) * count(b))
    "we_like": 5 * 200 / (10 * 10),  # 10
    "like_new": 5 * 200 / (10 * 20),  # 5
    "new_york": 5 * 200 / (20 * 10),  # 5
    "new_one": 5 * 200 / (20 * 10),  # 5
    "the_new": 5 * 200 / (40 * 20),  # 1.25
}


def phrased(tmp_path, lines, text=None, **options):
    source, output = tmp_path / "corpus.txt", tmp_path / "phrased.txt"
    source.write_text(text if text is not None else "\n".join(lines) + "\n")
    found = write_phrases([source], output, progress=False, **options)
    return output.read_text().split("\n")[:-1], found


def reference(lines, passes, threshold, min_count):
    """word2phrase, one line at a time, each pass on the previous pass's text."""
    for threshold_of_pass in pass_thresholds(threshold, passes):
        split = [line.split() for line in lines]
        words = Counter(word for line in split for word in line)
        pairs = Counter(pair for line in split for pair in itertools.pairwise(line))
        total = sum(words.values())

        def score(a, b, words=words, pairs=pairs, total=total):
            if words[a] < min_count or words[b] < min_count:
                return 0.0
            return (pairs[a, b] - min_count) * float(total) / (words[a] * words[b])

        lines = []
        for line in split:
            out, joined = [], True  # the first word has no left neighbour to join
            for left, word in zip([None, *line], line, strict=False):
                if not joined and score(left, word) > threshold_of_pass:
                    out[-1] += "_" + word
                    joined = True
                else:
                    out.append(word)
                    joined = False
            lines.append(" ".join(out))
    return lines


def test_scores_are_word2phrases_exactly(tmp_path):
    _, (found,) = phrased(tmp_path, HAND_MADE, threshold=1.0)
    assert found.words == 200
    assert {name: score for name, _, score in found.phrases} == HAND_SCORES
    assert {name: count for name, count, _ in found.phrases} == dict.fromkeys(HAND_SCORES, 10)


def test_new_york_is_joined_and_the_new_is_not(tmp_path):
    lines, (found,) = phrased(tmp_path, HAND_MADE, threshold=4.0)
    # we_like takes `like`, so `like new` cannot join too; `the new` scores 1.25 only.
    assert lines[0] == "we_like new_york"
    assert lines[10] == "the new_one"
    assert lines == reference(HAND_MADE, 1, 4.0, 5)
    assert found.joined == 30
    assert "new_york" in found.describe()


def test_a_score_must_exceed_the_threshold(tmp_path):
    at, _ = phrased(tmp_path, HAND_MADE, threshold=5.0)
    assert at[0] == "we_like new york"
    below, _ = phrased(tmp_path, HAND_MADE, threshold=4.999)
    assert below[0] == "we_like new_york"


def test_words_under_min_count_join_nothing(tmp_path):
    lines, (found,) = phrased(tmp_path, HAND_MADE, threshold=1.0, min_count=11)
    assert found.phrases == []
    assert lines[0] == "we like new york"


def test_two_passes_make_a_trigram(tmp_path):
    lines = ["read the new york times"] * 20 + ["new york"] * 5 + ["times"] * 20
    lines += ["the"] * 80 + ["read"] * 40 + [f"once{i}" for i in range(750)]  # N = 1000
    one, _ = phrased(tmp_path, lines, threshold=20.0)
    assert one[0] == "read the new_york times"
    two, found = phrased(tmp_path, lines, threshold=20.0, passes=2)
    assert two[0] == "read the new_york_times"
    assert [summary.threshold for summary in found] == [20.0, 10.0]
    assert [summary.words for summary in found] == [1000, 975]
    assert two == reference(lines, 2, 20.0, 5)


def test_output_keeps_every_line_and_the_tokenizers_words(tmp_path):
    text = "\n\nNew York, new  York!\n\n\tthe end\nnew york"  # no final newline
    lines, _ = phrased(tmp_path, None, text=text, threshold=0.1, min_count=1)
    # `the end` occurs once: (1 - min_count) leaves it no score.
    assert lines == ["", "", "new_york new_york", "", "the end", "new_york"]


def test_joined_words_survive_the_training_tokenizers():
    assert words_of(make_tokenizer(), "new_york new_york_times") == ["new_york", "new_york_times"]
    assert words_of(make_tokenizer("whitespace"), "new_york,") == ["new_york,"]


def test_an_existing_word_is_reused_for_the_phrase_spelling_it(tmp_path):
    lines = ["new york"] * 10 + ["new_york"] * 10
    result, (found,) = phrased(tmp_path, lines, threshold=0.1)
    assert set(result) == {"new_york"}
    assert found.phrases[0][:2] == ("new_york", 10)


@pytest.mark.parametrize("seed", range(6))
def test_blocks_and_passes_agree_with_the_reference(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(9)]
    weights = [1 / (i + 1) for i in range(9)]
    lines = [" ".join(rng.choices(vocabulary, weights, k=rng.randrange(0, 14))) for _ in range(300)]
    passes, threshold, min_count = rng.randint(1, 3), rng.uniform(0.5, 2.0), rng.randint(1, 6)
    expected = reference(lines, passes, threshold, min_count)
    whole, _ = phrased(tmp_path, lines, passes=passes, threshold=threshold, min_count=min_count)
    assert whole == expected
    # Blocks of a few words and text read in pieces of a few characters change nothing.
    monkeypatch.setattr(phrases, "BLOCK_TOKENS", rng.randint(2, 9))
    monkeypatch.setattr(corpus, "BATCH_CHARS", 16)
    blocks, _ = phrased(tmp_path, lines, passes=passes, threshold=threshold, min_count=min_count)
    assert blocks == expected


def test_a_huge_line_is_streamed_with_the_same_result(tmp_path, monkeypatch):
    rng = random.Random(1)
    words = rng.choices(["new", "york", "the", "city", "of", "a"], k=20_000)
    line = " ".join(words)
    whole, _ = phrased(tmp_path, [line], threshold=1.0)
    monkeypatch.setattr(corpus, "read_pieces", partial(corpus.read_pieces, chunk_chars=100))
    monkeypatch.setattr(phrases, "BLOCK_TOKENS", 1000)
    streamed, _ = phrased(tmp_path, [line], threshold=1.0)
    assert streamed == whole == reference([line], 1, 1.0, 5)
    assert len(streamed) == 1


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"passes": 0}, "--passes"),
        ({"threshold": 0}, "--threshold"),
        ({"min_count": 0}, "--min-count"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path, options, problem):
    with pytest.raises(ConfigError, match=problem):
        phrased(tmp_path, HAND_MADE, **options)
    with pytest.raises(ConfigError, match="does not exist"):
        write_phrases([tmp_path / "corpus.txt"], tmp_path / "nowhere" / "out.txt", progress=False)


def test_phrases_command(tmp_path, capsys):
    source, output = tmp_path / "corpus.txt", tmp_path / "phrased.txt"
    source.write_text("\n".join(HAND_MADE) + "\n")
    status = main(["phrases", str(source), "-o", str(output), "--threshold", "4", "-q"])
    assert status == 0
    assert output.read_text().split("\n")[0] == "we_like new_york"
    assert "phrases pass 1 (threshold 4): 4 phrases, 30 pairs joined" in capsys.readouterr().out


def test_train_with_phrases_learns_vectors_for_them(tmp_path):
    rng = random.Random(0)
    filler = [f"word{i}" for i in range(40)]
    lines = [
        " ".join([*rng.choices(filler, k=4), "new", "york", *rng.choices(filler, k=4)])
        for _ in range(300)
    ] + [" ".join(rng.choices([*filler, "new", "york"], k=10)) for _ in range(300)]
    source, model = tmp_path / "corpus.txt", tmp_path / "model"
    source.write_text("\n".join(lines) + "\n")
    arguments = ["train", str(source), "-o", str(model), "--phrases", "1", "--dim", "8"]
    assert (
        main([*arguments, "--epochs", "1", "--threads", "1", "--phrase-threshold", "5", "-q"]) == 0
    )
    kv = w2v.load(model)
    assert "new_york" in kv and "new" in kv
    assert kv.counts[kv.index_of("new_york")] >= 300


def test_the_phrase_analogy_list_is_scored_case_insensitively():
    # Baltimore : Baltimore_Sun :: Boston : Boston_Globe, with the paper = its city + "paper".
    city = {"baltimore": [1.0, 0, 0], "boston": [0, 1.0, 0], "chicago": [0.1, 0.1, 0]}
    words = [
        *city,
        *(f"{name}_{paper}" for name, paper in [("baltimore", "sun"), ("boston", "globe")]),
    ]
    rows = [*city.values(), [1.0, 0, 1.0], [0, 1.0, 1.0]]
    kv = w2v.KeyedVectors(words, torch.tensor(rows))
    result = w2v.evaluate_analogies(kv, shipped_list("questions-phrases.txt"))
    assert result.overall.total == 3218
    assert [section.name for section in result.sections][:2] == ["newspapers", "ice_hockey"]
    assert (result.overall.correct, result.overall.evaluated) == (2, 2)
