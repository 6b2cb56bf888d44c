"""Tests of KeyedVectors: queries on hand-made vectors with known answers, gensim parity, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors as GensimKeyedVectors

from w2v.cli import main
from w2v.errors import ConfigError, OutOfVocabularyError
from w2v.query.vectors import KeyedVectors, load

SQRT_HALF = math.sqrt(0.5)


def analogy_model() -> KeyedVectors:
    """man, woman and royal are orthonormal; king and queen are man and woman made royal."""
    words = ["man", "woman", "king", "queen", "royal", "apple"]
    vectors = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [SQRT_HALF, 0.0, SQRT_HALF, 0.0],
            [0.0, SQRT_HALF, SQRT_HALF, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    # Lengths must not matter: every query works on unit vectors.
    scales = torch.tensor([[2.0], [0.5], [3.0], [1.0], [7.0], [1.5]])
    return KeyedVectors(words, vectors * scales, counts=[60, 50, 40, 30, 20, 10])


def compass_model() -> KeyedVectors:
    """Four 2-D directions at known angles from east."""
    angles = {"east": 0, "northeast": 30, "north": 90, "west": 180}
    vectors = torch.tensor(
        [[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles.values()]
    )
    return KeyedVectors(list(angles), vectors * torch.tensor([[1.0], [4.0], [0.25], [2.0]]))


def cosmul_model() -> KeyedVectors:
    """3CosAdd and 3CosMul disagree on a - b + c: 'near_a' is very close to a alone, while
    'between' is moderately close to both a and c, which 3CosMul rewards."""
    rest_near = math.sqrt(1 - 0.99**2)
    rest_between = math.sqrt(1 - 2 * 0.45**2)
    words = ["a", "b", "c", "near_a", "between"]
    vectors = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0, 0.0],
            [0.99, 0.0, 0.0, rest_near, 0.0],
            [0.45, 0.0, 0.45, 0.0, rest_between],
        ]
    )
    return KeyedVectors(words, vectors)


# Basics


def test_lookups():
    kv = analogy_model()
    assert len(kv) == 6
    assert kv.dim == 4
    assert "queen" in kv
    assert "prince" not in kv
    assert kv.index_of("king") == 2
    assert kv.key_to_index["apple"] == 5
    assert torch.equal(kv["royal"], torch.tensor([0.0, 0.0, 7.0, 0.0]))
    assert kv.counts == [60, 50, 40, 30, 20, 10]
    assert kv.vectors.dtype == torch.float32


def test_index_of_unknown_word():
    with pytest.raises(OutOfVocabularyError) as raised:
        analogy_model().index_of("prince")
    assert str(raised.value) == "not in the vocabulary: 'prince'"


def test_getitem_of_unknown_word_is_a_key_error():
    with pytest.raises(KeyError):
        analogy_model()["prince"]


def test_unit_vectors_keep_zero_rows_zero_and_are_cached():
    kv = KeyedVectors(["zero", "three_four"], torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
    unit = kv.unit_vectors()
    assert unit.tolist() == [[0.0, 0.0], [pytest.approx(0.6), pytest.approx(0.8)]]
    assert kv.unit_vectors() is unit


def test_replacing_the_vectors_refreshes_the_unit_vectors():
    kv = KeyedVectors(["x", "y"], torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    kv.unit_vectors()
    kv.vectors = torch.tensor([[0.0, 2.0], [0.0, 1.0]])
    assert kv.unit_vectors().tolist() == [[0.0, 1.0], [0.0, 1.0]]
    assert kv.similarity("x", "y") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("words", "vectors", "counts", "problem"),
    [
        (["a", "b"], torch.zeros(3, 2), None, "do not fit 2 words"),
        (["a", "b"], torch.zeros(2), None, "do not fit 2 words"),
        (["a", "b", "a"], torch.zeros(3, 2), None, "'a' appears more than once"),
        (["a", "b"], torch.zeros(2, 2), [1], "1 counts for 2 words"),
    ],
)
def test_constructor_refuses_inconsistent_input(words, vectors, counts, problem):
    with pytest.raises(ConfigError, match=problem):
        KeyedVectors(words, vectors, counts)


# Similarity queries with hand-computed answers


def test_similarity_is_the_cosine():
    kv = compass_model()
    assert kv.similarity("east", "northeast") == pytest.approx(math.cos(math.radians(30)))
    assert kv.similarity("east", "west") == pytest.approx(-1.0)
    assert isinstance(kv.similarity("east", "north"), float)


def test_most_similar_ranks_by_cosine_and_leaves_out_the_query():
    result = compass_model().most_similar("east")
    assert [word for word, _ in result] == ["northeast", "north", "west"]
    assert [score for _, score in result] == pytest.approx([math.sqrt(3) / 2, 0.0, -1.0], abs=1e-6)
    assert all(isinstance(score, float) for _, score in result)


def test_most_similar_topn():
    assert compass_model().most_similar("east", topn=1) == [
        ("northeast", pytest.approx(math.sqrt(3) / 2))
    ]


def test_most_similar_restrict_vocab_searches_only_the_first_rows():
    kv = compass_model()
    assert [word for word, _ in kv.most_similar("west", restrict_vocab=2)] == [
        "northeast",
        "east",
    ]
    assert [word for word, _ in kv.most_similar("east", restrict_vocab=2)] == ["northeast"]


def test_most_similar_to_a_vector_keeps_every_word():
    result = compass_model().most_similar(torch.tensor([5.0, 0.0]), topn=2)
    assert result == [("east", pytest.approx(1.0)), ("northeast", pytest.approx(math.sqrt(3) / 2))]


def test_most_similar_with_only_a_negative_word():
    result = compass_model().most_similar(negative="east")
    assert [word for word, _ in result] == ["west", "north", "northeast"]
    assert result[0][1] == pytest.approx(1.0)


def test_analogy_king_minus_man_plus_woman_is_queen():
    kv = analogy_model()
    # The query is unit(king) - unit(man) + unit(woman) = (1/sqrt2 - 1, 1, 1/sqrt2, 0).
    query_length = math.sqrt(3 - math.sqrt(2))
    result = kv.analogy("king", "man", "woman")
    assert [word for word, _ in result] == ["queen", "royal", "apple"]
    assert result[0][1] == pytest.approx((1 + SQRT_HALF) * SQRT_HALF / query_length)
    assert result[1][1] == pytest.approx(SQRT_HALF / query_length)
    assert result[2][1] == pytest.approx(0.0, abs=1e-7)
    assert kv.most_similar(["king", "woman"], ["man"]) == result


def test_analogy_3cosmul_scores():
    kv = analogy_model()
    result = kv.analogy("king", "man", "woman", method="3cosmul")
    cosines = {  # cos with king, woman and man, for each candidate
        "queen": (0.5, SQRT_HALF, 0.0),
        "royal": (SQRT_HALF, 0.0, 0.0),
        "apple": (0.0, 0.0, 0.0),
    }
    expected = {
        word: (1 + king) / 2 * (1 + woman) / 2 / ((1 + man) / 2 + 1e-6)
        for word, (king, woman, man) in cosines.items()
    }
    assert [word for word, _ in result] == ["queen", "royal", "apple"]
    assert dict(result) == pytest.approx(expected)
    assert kv.most_similar_cosmul(["king", "woman"], ["man"]) == result


def test_3cosmul_and_3cosadd_can_disagree():
    kv = cosmul_model()
    additive = kv.analogy("a", "b", "c")
    multiplicative = kv.analogy("a", "b", "c", method="3cosmul")
    assert additive[0] == ("near_a", pytest.approx(0.99 / math.sqrt(3)))
    assert additive[1] == ("between", pytest.approx(0.9 / math.sqrt(3)))
    assert multiplicative[0] == ("between", pytest.approx(0.725**2 / (0.5 + 1e-6)))
    assert multiplicative[1] == ("near_a", pytest.approx(0.995 * 0.5 / (0.5 + 1e-6)))


def test_cosmul_restrict_vocab():
    kv = cosmul_model()
    result = kv.most_similar_cosmul(["a", "c"], ["b"], restrict_vocab=4)
    assert [word for word, _ in result] == ["near_a"]


# Parity with gensim


@pytest.fixture(scope="module")
def random_models() -> tuple[KeyedVectors, GensimKeyedVectors]:
    matrix = np.random.default_rng(7).standard_normal((500, 20)).astype(np.float32)
    words = [f"w{index}" for index in range(len(matrix))]
    reference = GensimKeyedVectors(vector_size=matrix.shape[1])
    reference.add_vectors(words, matrix)
    return KeyedVectors(words, torch.from_numpy(matrix.copy())), reference


def assert_same_ranking(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> None:
    assert [word for word, _ in ours] == [word for word, _ in theirs]
    assert [score for _, score in ours] == pytest.approx([score for _, score in theirs], abs=1e-5)


@pytest.mark.parametrize(
    ("positive", "negative", "restrict_vocab"),
    [
        (["w0"], [], None),
        (["w1", "w2"], ["w3"], None),
        (["w10", "w20", "w30"], ["w40", "w50"], None),
        ([], ["w5"], None),
        (["w1", "w2"], ["w3"], 100),
    ],
)
def test_most_similar_matches_gensim(random_models, positive, negative, restrict_vocab):
    ours, reference = random_models
    assert_same_ranking(
        ours.most_similar(positive, negative, restrict_vocab=restrict_vocab),
        reference.most_similar(positive, negative, restrict_vocab=restrict_vocab),
    )


def test_most_similar_to_a_vector_matches_gensim(random_models):
    ours, reference = random_models
    query = np.random.default_rng(8).standard_normal(20).astype(np.float32)
    assert_same_ranking(
        ours.most_similar(torch.from_numpy(query), topn=5), reference.most_similar([query], topn=5)
    )


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")
@pytest.mark.parametrize(
    ("positive", "negative"), [(["w1", "w2"], ["w3"]), (["w4"], []), (["w6", "w7"], ["w8", "w9"])]
)
def test_most_similar_cosmul_matches_gensim(random_models, positive, negative):
    ours, reference = random_models
    assert_same_ranking(
        ours.most_similar_cosmul(positive, negative),
        reference.most_similar_cosmul(positive, negative),
    )


def test_similarity_matches_gensim(random_models):
    ours, reference = random_models
    assert ours.similarity("w1", "w2") == pytest.approx(float(reference.similarity("w1", "w2")))


# Errors


def test_missing_words_are_all_named_at_once():
    with pytest.raises(OutOfVocabularyError) as raised:
        analogy_model().most_similar(["king", "prince"], ["duke", "prince"])
    assert str(raised.value) == (
        "not in the vocabulary: 'prince', 'duke' (the model has no subwords to build one from)"
    )


def test_analogy_and_similarity_name_missing_words():
    kv = analogy_model()
    with pytest.raises(OutOfVocabularyError, match="not in the vocabulary: 'prince', 'duke'"):
        kv.analogy("prince", "man", "duke", method="3cosmul")
    with pytest.raises(OutOfVocabularyError, match="not in the vocabulary: 'pear'"):
        kv.similarity("apple", "pear")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (lambda kv: kv.most_similar(), "at least one positive or negative word"),
        (lambda kv: kv.most_similar_cosmul(negative=["man"]), "at least one positive word"),
        (lambda kv: kv.analogy("king", "man", "woman", method="3cosplus"), "unknown analogy"),
        (lambda kv: kv.most_similar("king", topn=0), "topn must be at least 1"),
        (lambda kv: kv.most_similar("king", restrict_vocab=0), "restrict_vocab must be at least"),
        (lambda kv: kv.most_similar(torch.ones(3)), r"shape \(4,\)"),
    ],
)
def test_bad_queries_raise_config_error(query, problem):
    with pytest.raises(ConfigError, match=problem):
        query(analogy_model())


# Files


@pytest.mark.parametrize(
    ("name", "text"), [("vectors.bin", False), ("vectors.txt", True), ("vectors.VEC", True)]
)
def test_save_picks_the_format_from_the_name_and_load_reads_it_back(tmp_path, name, text):
    kv = analogy_model()
    path = tmp_path / name
    kv.save(path)
    assert path.read_bytes().startswith(b"6 4\nman ")
    assert (b"man 2.0 0.0 0.0 0.0\n" in path.read_bytes()) == text
    loaded = load(path)
    assert loaded.words == kv.words
    assert torch.equal(loaded.vectors, kv.vectors)
    assert loaded.counts == kv.counts  # beside the vectors, in NAME.vocab.txt
    assert loaded.analogy("king", "man", "woman")[0][0] == "queen"


# doesnt_match, similar_by_vector, and their command line


def test_doesnt_match_picks_the_word_furthest_from_the_mean():
    assert analogy_model().doesnt_match(["man", "woman", "king", "apple"]) == "apple"
    assert analogy_model().doesnt_match(["king"]) == "king"


@pytest.mark.parametrize("seed", range(5))
def test_doesnt_match_matches_gensim(random_models, seed):
    ours, reference = random_models
    words = [f"w{index}" for index in np.random.default_rng(seed).choice(500, 2 + seed, False)]
    assert ours.doesnt_match(words) == reference.doesnt_match(words)


def test_doesnt_match_names_missing_words_and_needs_one():
    with pytest.raises(OutOfVocabularyError, match="'pear', 'plum'"):
        analogy_model().doesnt_match(["man", "pear", "plum"])
    with pytest.raises(ConfigError, match="at least one word"):
        analogy_model().doesnt_match([])


@pytest.mark.parametrize(("topn", "restrict_vocab"), [(10, None), (3, 50), (600, None)])
def test_similar_by_vector_matches_gensim(random_models, topn, restrict_vocab):
    ours, reference = random_models
    query = np.random.default_rng(9).standard_normal(20).astype(np.float32)
    assert_same_ranking(
        ours.similar_by_vector(query, topn=topn, restrict_vocab=restrict_vocab),
        reference.similar_by_vector(query, topn=topn, restrict_vocab=restrict_vocab),
    )


def test_similar_by_vector_keeps_the_word_of_the_vector():
    kv = analogy_model()
    assert kv.similar_by_vector(kv["king"], topn=1) == [("king", pytest.approx(1.0))]


def test_doesnt_match_and_restrict_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "vectors.bin"
    analogy_model().save(path)
    assert main(["doesnt-match", "man", "woman", "apple", "--vectors", str(path)]) == 0
    assert capsys.readouterr().out == "apple\n"
    # Among the 3 most frequent words (man, woman, king) queen cannot be the answer.
    assert main(["analogy", "king", "man", "woman", "--vectors", str(path), "--restrict", "3"]) == 0
    assert "queen" not in capsys.readouterr().out
    assert main(["similar", "queen", "--vectors", str(path), "--restrict", "2", "-k", "5"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[1] for row in rows] == ["woman", "man"]


def test_most_similar_batch_answers_like_one_query_at_a_time():
    generator = torch.Generator().manual_seed(11)
    words = [f"w{i}" for i in range(700)]
    kv = KeyedVectors(words, torch.randn(700, 16, generator=generator))
    queries = ["w0", "w5", "w699", "w300", "w5"]
    for restrict in (None, 400):
        batched = kv.most_similar_batch(queries, topn=7, restrict_vocab=restrict)
        one_by_one = [kv.most_similar(word, topn=7, restrict_vocab=restrict) for word in queries]
        assert [[word for word, _ in answer] for answer in batched] == [
            [word for word, _ in answer] for answer in one_by_one
        ]
        for answer, expected in zip(batched, one_by_one, strict=True):
            assert [score for _, score in answer] == pytest.approx(
                [score for _, score in expected], abs=1e-5
            )
    with pytest.raises(OutOfVocabularyError, match="nope"):
        kv.most_similar_batch(["w1", "nope"])


def test_a_large_matrix_scan_in_half_precision_gives_the_exact_answers(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    words = [f"w{i}" for i in range(5_000)]
    kv = KeyedVectors(words, torch.randn(5_000, 32, generator=generator))
    exact = [kv.most_similar(word, topn=10) for word in ("w1", "w77", "w4999")]
    exact_restricted = kv.most_similar(["w1", "w2"], ["w3"], topn=5, restrict_vocab=3_000)
    monkeypatch.setattr("w2v.query.vectors.HALF_SCAN_VALUES", 1_000)
    assert [kv.most_similar(word, topn=10) for word in ("w1", "w77", "w4999")] == exact
    assert kv.most_similar(["w1", "w2"], ["w3"], topn=5, restrict_vocab=3_000) == exact_restricted
    assert kv._half_units is not None and kv._half_units.dtype == torch.float16
