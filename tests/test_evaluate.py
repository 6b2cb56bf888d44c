"""Tests of analogy and word-pair evaluation: hand-made geometry, then agreement with gensim."""

import json
import random

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors as GensimKeyedVectors
from scipy import stats

from w2v.errors import ConfigError, FormatError
from w2v.query.evaluate import (
    SHIPPED_LISTS,
    _average_ranks,
    evaluate_analogies,
    evaluate_similarity,
    lowercase_index,
    shipped_list,
)
from w2v.query.vectors import KeyedVectors

# Each word is the sum of two feature axes, so for a=(X,P), b=(Y,P), c=(X,Q) the 3CosAdd target
# b - a + c is exactly d=(Y,Q): cosine 1, and every other word scores strictly less.
FEATURES = [
    "FR", "IT", "ES", "DE", "cap", "cty", "M", "F", "person", "royal", "child",
    "GOOD", "BAD", "BIG", "base", "comp", "CAT", "DOG", "ZEB", "sg", "pl", "banana", "apple",
]  # fmt: skip
WORDS = {
    "paris": ("FR", "cap"), "france": ("FR", "cty"), "rome": ("IT", "cap"), "italy": ("IT", "cty"),
    "madrid": ("ES", "cap"), "spain": ("ES", "cty"), "berlin": ("DE", "cap"),
    "germany": ("DE", "cty"), "man": ("M", "person"), "woman": ("F", "person"),
    "king": ("M", "royal"), "queen": ("F", "royal"), "boy": ("M", "child"), "girl": ("F", "child"),
    "good": ("GOOD", "base"), "better": ("GOOD", "comp"), "bad": ("BAD", "base"),
    "worse": ("BAD", "comp"), "big": ("BIG", "base"), "bigger": ("BIG", "comp"),
    "cat": ("CAT", "sg"), "cats": ("CAT", "pl"), "dog": ("DOG", "sg"), "dogs": ("DOG", "pl"),
    "banana": ("banana",), "apple": ("apple",),
    # Rarest last, so a small restrict_vocab leaves them out.
    "zebra": ("ZEB", "sg"), "zebras": ("ZEB", "pl"),
}  # fmt: skip


def feature_vector(*features: str) -> list[float]:
    return [1.0 if f in features else 0.0 for f in FEATURES]


def make_kv(entries: dict[str, tuple[str, ...]]) -> KeyedVectors:
    words = list(entries)
    vectors = torch.tensor([feature_vector(*entries[w]) for w in words])
    return KeyedVectors(words, vectors, list(range(len(words) * 10, 0, -10)))


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SEVEN_SECTIONS = """\
: capital-common-countries
paris france rome italy
madrid spain berlin germany
: capital-world
paris france madrid spain
paris france rome banana
: currency
paris atlantis rome italy
: city-in-state
PARIS FRANCE BERLIN GERMANY
: family
man woman king queen
man woman boy girl
king queen boy girl
: gram3-comparative
good better bad worse
good better big bigger
bad worse big apple
: gram8-plural
cat cats dog dogs
cat cats zebra zebras
"""


def counts(section):
    return section.correct, section.evaluated, section.total


def test_sections_split_and_counts(tmp_path):
    kv = make_kv(WORDS)
    result = evaluate_analogies(kv, write(tmp_path, "q.txt", SEVEN_SECTIONS))
    got = {s.name: counts(s) for s in result.sections}
    assert got == {
        "capital-common-countries": (2, 2, 2),
        "capital-world": (1, 2, 2),
        "currency": (0, 0, 1),
        "city-in-state": (1, 1, 1),
        "family": (3, 3, 3),
        "gram3-comparative": (2, 3, 3),
        "gram8-plural": (2, 2, 2),
    }
    assert counts(result.semantic) == (7, 8, 9)
    assert counts(result.syntactic) == (4, 5, 5)
    assert counts(result.overall) == (11, 13, 14)
    assert result.overall.accuracy == pytest.approx(11 / 13)
    assert result.overall.coverage == pytest.approx(13 / 14)
    assert result.sections[2].accuracy is None
    assert result.skipped_lines == 0
    assert result.restrict_vocab == len(WORDS)


def test_wrong_answers_are_kept(tmp_path):
    result = evaluate_analogies(make_kv(WORDS), write(tmp_path, "q.txt", SEVEN_SECTIONS))
    (wrong,) = result.sections[1].wrong
    assert wrong.question == ("paris", "france", "rome")
    assert (wrong.expected, wrong.got) == ("banana", "italy")
    assert wrong.got_score == pytest.approx(1.0)
    assert wrong.expected_score == pytest.approx(0.0, abs=1e-6)
    assert [w.got for w in result.sections[5].wrong] == ["bigger"]
    assert len(result.overall.wrong) == 2


def test_restrict_vocab_excludes_rare_words(tmp_path):
    path = write(tmp_path, "q.txt", SEVEN_SECTIONS)
    result = evaluate_analogies(make_kv(WORDS), path, restrict_vocab=len(WORDS) - 2)
    assert counts(result.sections[6]) == (1, 1, 2)
    assert counts(result.overall) == (10, 12, 14)
    assert result.restrict_vocab == len(WORDS) - 2


def test_restrict_vocab_limits_the_candidate_answers(tmp_path):
    # The rare "italia" sits exactly on the target; "italy" is a little off it.
    entries = WORDS | {"italy": ("IT", "cty", "apple"), "italia": ("IT", "cty")}
    path = write(tmp_path, "q.txt", ": s\nparis france rome italy\n")
    result = evaluate_analogies(make_kv(entries), path)
    assert counts(result.overall) == (0, 1, 1)
    assert result.overall.wrong[0].got == "italia"
    result = evaluate_analogies(make_kv(entries), path, restrict_vocab=len(entries) - 1)
    assert counts(result.overall) == (1, 1, 1)


def test_upper_case_questions_match_lower_case_vocabulary(tmp_path):
    path = write(tmp_path, "q.txt", ": s\nPARIS France ROME ITALY\n")
    assert counts(evaluate_analogies(make_kv(WORDS), path).overall) == (1, 1, 1)


def test_cased_vocabulary_uses_most_frequent_variant(tmp_path):
    path = write(tmp_path, "q.txt", ": s\nparis france rome italy\n")
    # A "paris" with italy's vector turns the target into paris itself, so the answer is wrong.
    wrong_paris = ("IT", "cty")
    # "Paris" (row 0) has the right vector and wins over the wrong "paris" further down.
    entries = {"Paris": WORDS["paris"]} | WORDS | {"paris": wrong_paris}
    assert counts(evaluate_analogies(make_kv(entries), path).overall) == (1, 1, 1)
    # The other way round the question is asked with the wrong vector, and fails.
    others = {w: f for w, f in WORDS.items() if w != "paris"}
    entries = {"paris": wrong_paris} | others | {"Paris": WORDS["paris"]}
    assert counts(evaluate_analogies(make_kv(entries), path).overall) == (0, 1, 1)


def test_case_variants_of_question_words_are_never_the_answer(tmp_path):
    # "Rome" sits exactly on the target while "italy" is a little off it: only masking every
    # case variant of the question word "rome" lets "italy" win (as gensim does).
    entries = dict(WORDS)
    entries["Rome"] = ("IT", "cty")
    entries["italy"] = ("IT", "cty", "apple")
    path = write(tmp_path, "q.txt", ": s\nparis france rome italy\n")
    result = evaluate_analogies(make_kv(entries), path)
    assert counts(result.overall) == (1, 1, 1)


def test_any_case_variant_of_the_expected_word_counts(tmp_path):
    # The expected "italy" maps to the junk row "italy"; the answer "Italy" is the same word.
    entries = {"italy": ("banana", "apple")} | {w: f for w, f in WORDS.items() if w != "italy"}
    entries["Italy"] = WORDS["italy"]
    path = write(tmp_path, "q.txt", ": s\nparis france rome italy\n")
    result = evaluate_analogies(make_kv(entries), path)
    assert counts(result.overall) == (1, 1, 1)


def test_malformed_lines_are_skipped_and_counted(tmp_path):
    text = "paris france rome italy\n: s\nparis france rome\n\nparis france rome italy spain\n"
    text += "madrid spain berlin germany\n"
    result = evaluate_analogies(make_kv(WORDS), write(tmp_path, "q.txt", text))
    assert result.skipped_lines == 3
    assert counts(result.overall) == (1, 1, 1)


def test_file_without_questions_is_a_format_error(tmp_path):
    path = write(tmp_path, "empty.txt", ": s\nonly three words\n")
    with pytest.raises(FormatError, match=r"empty\.txt"):
        evaluate_analogies(make_kv(WORDS), path)
    with pytest.raises(FormatError, match=r"missing\.txt"):
        evaluate_analogies(make_kv(WORDS), tmp_path / "missing.txt")


def test_bad_parameters_are_config_errors(tmp_path):
    path = write(tmp_path, "q.txt", SEVEN_SECTIONS)
    with pytest.raises(ConfigError):
        evaluate_analogies(make_kv(WORDS), path, method="3cosavg")
    with pytest.raises(ConfigError):
        evaluate_analogies(make_kv(WORDS), path, restrict_vocab=0)


def test_3cosmul_on_exact_geometry(tmp_path):
    result = evaluate_analogies(
        make_kv(WORDS), write(tmp_path, "q.txt", SEVEN_SECTIONS), method="3CosMul"
    )
    assert result.method == "3cosmul"
    assert counts(result.overall) == (11, 13, 14)


def test_result_reports(tmp_path):
    result = evaluate_analogies(make_kv(WORDS), write(tmp_path, "q.txt", SEVEN_SECTIONS))
    text = result.format()
    for section in result.sections:
        assert section.name in text
    assert "total" in text and "11/13" in text and "84.62%" in text
    assert "coverage 13/14 (92.9%)" in text
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["overall"]["correct"] == 11
    assert "wrong" not in summary["sections"][1]
    detailed = json.loads(json.dumps(result.to_dict(include_wrong=True)))
    assert detailed["sections"][1]["wrong"][0]["got"] == "italy"
    assert detailed["sections"][2]["accuracy"] is None


def structured_vectors(seed: int, cased: bool) -> tuple[list[str], np.ndarray, list[str]]:
    """A few hundred words where b - a is a section offset plus noise, and questions on them."""
    rng = np.random.default_rng(seed)
    dim, pairs_per_section, n_sections = 24, 12, 7
    offsets = rng.normal(size=(n_sections, dim))
    words, vectors, lines = [], [], []
    for s in range(n_sections):
        lines.append(f": section-{s}")
        section_pairs = []
        for p in range(pairs_per_section):
            a = rng.normal(size=dim)
            b = a + offsets[s] + rng.normal(scale=1.3, size=dim)
            section_pairs.append((f"a{s}x{p}", f"b{s}x{p}"))
            words += section_pairs[-1]
            vectors += [a, b]
        for i in range(pairs_per_section):
            for j in range(i + 1, min(i + 4, pairs_per_section)):
                (a, b), (c, d) = section_pairs[i], section_pairs[j]
                lines.append(f"{a} {b} {c} {d}")
        lines.append(f"{section_pairs[0][0]} {section_pairs[0][1]} atlantis {section_pairs[1][1]}")
    words += [f"filler{i}" for i in range(100)]
    vectors += list(rng.normal(size=(100, dim)))
    order = rng.permutation(len(words))
    words = [words[i] for i in order]
    vectors = np.array([vectors[i] for i in order], dtype=np.float32)
    if cased:
        # Upper-case variants with their own vectors, some before their lower-case word, some after.
        r = random.Random(seed)
        for word in r.sample(words, 60):
            row = r.randrange(len(words) + 1)
            words.insert(row, word.upper())
            vectors = np.insert(vectors, row, rng.normal(size=dim), axis=0)
        lines = [line.upper() if r.random() < 0.3 else line for line in lines]
    return words, vectors, lines


def gensim_kv(words: list[str], vectors: np.ndarray) -> GensimKeyedVectors:
    kv = GensimKeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


@pytest.mark.parametrize("cased", [False, True])
@pytest.mark.parametrize("restrict", [220, 1000])
def test_analogies_agree_with_gensim(tmp_path, cased, restrict):
    words, vectors, lines = structured_vectors(seed=3, cased=cased)
    assert len(set(words)) == len(words)
    path = write(tmp_path, "q.txt", "\n".join(lines) + "\n")
    ours = evaluate_analogies(KeyedVectors(words, torch.from_numpy(vectors)), path, restrict)
    _, theirs = gensim_kv(words, vectors).evaluate_word_analogies(
        str(path), restrict_vocab=restrict, case_insensitive=True
    )
    for section, reference in zip([*ours.sections, ours.overall], theirs, strict=True):
        right, wrong = len(reference["correct"]), len(reference["incorrect"])
        assert (section.correct, section.evaluated) == (right, right + wrong), section.name
    # The noise is tuned so that the check is not vacuous.
    assert 0 < ours.overall.correct < ours.overall.evaluated


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")
def test_3cosmul_agrees_with_gensim(tmp_path):
    words, vectors, lines = structured_vectors(seed=5, cased=False)
    path = write(tmp_path, "q.txt", "\n".join(lines) + "\n")
    ours = evaluate_analogies(
        KeyedVectors(words, torch.from_numpy(vectors)), path, method="3cosmul"
    )
    reference = gensim_kv(words, vectors)
    expected_correct = 0
    for line in lines:
        question = line.split()
        if line.startswith(":") or "atlantis" in question:
            continue
        a, b, c, d = question
        (answer, _), *_ = reference.most_similar_cosmul(positive=[b, c], negative=[a], topn=1)
        expected_correct += answer == d
    assert ours.overall.correct == expected_correct
    assert 0 < expected_correct < ours.overall.evaluated


def test_lowercase_index_prefers_lowest_row():
    assert lowercase_index(["The", "cat", "the", "CAT", "dog"]) == {"the": 0, "cat": 1, "dog": 4}
    assert lowercase_index(["The", "cat", "the", "CAT", "dog"], limit=2) == {"the": 0, "cat": 1}


def test_average_ranks_match_scipy():
    generator = torch.Generator().manual_seed(0)
    for n in (1, 2, 7, 200):
        x = torch.randint(0, 6, (n,), generator=generator).double()
        assert torch.equal(_average_ranks(x), torch.from_numpy(stats.rankdata(x.numpy())))


PAIRS = """\
# word pairs, tab separated
# Word 1\tWord 2\tHuman (mean)
paris\tfrance\t8.5
ROME\titaly\t8.5
paris\trome\t6.0

madrid\tspain\t8.5
king\tqueen\t7.0
man\tboy\t7.0
cat\tdog\t5.0
cats\tdogs\t5.0
banana\tapple\t2.0
good\tbad\t1.0
big\tbanana\t1.0
atlantis\tparis\t3.0
paris\tfrance
paris\tfrance\thigh
"""


def test_similarity_counts_and_ties(tmp_path):
    kv = make_kv(WORDS)
    result = evaluate_similarity(kv, write(tmp_path, "pairs.tsv", PAIRS))
    assert (result.pairs_used, result.pairs_total, result.skipped_lines) == (11, 12, 2)
    assert result.coverage == pytest.approx(11 / 12)
    # Both columns have ties (equal scores; pairs with equal cosines), so this checks the averaging.
    pairs = [line.split("\t") for line in PAIRS.splitlines()[2:14] if line]
    unit = kv.unit_vectors()
    human = [float(s) for _, _, s in pairs]
    cosine = [
        float(unit[kv.key_to_index[a.lower()]] @ unit[kv.key_to_index[b.lower()]])
        for a, b, _ in pairs
    ]
    assert len(set(cosine)) < len(cosine) and len(set(human)) < len(human)
    assert result.spearman == pytest.approx(stats.spearmanr(human, cosine).statistic, abs=1e-9)
    assert result.pearson == pytest.approx(stats.pearsonr(human, cosine).statistic, abs=1e-9)


def test_similarity_whitespace_separated_and_restricted(tmp_path):
    path = write(tmp_path, "pairs.txt", "paris france 8\nzebra cat 4\ncat dog 5\nbanana good 1\n")
    result = evaluate_similarity(make_kv(WORDS), path, restrict_vocab=len(WORDS) - 2)
    assert (result.pairs_used, result.pairs_total) == (3, 4)
    full = evaluate_similarity(make_kv(WORDS), path)
    assert full.pairs_used == 4


def test_similarity_edge_cases(tmp_path):
    single = evaluate_similarity(make_kv(WORDS), write(tmp_path, "one.txt", "paris france 8\n"))
    assert single.spearman is None and single.pearson is None
    assert "pairs 1/1" in single.format()
    with pytest.raises(FormatError, match=r"none\.txt"):
        evaluate_similarity(make_kv(WORDS), write(tmp_path, "none.txt", "# nothing\n\n"))


def test_similarity_agrees_with_gensim_and_scipy(tmp_path):
    words, vectors, _ = structured_vectors(seed=11, cased=True)
    rng = random.Random(11)
    lines = [f"{rng.choice(words).lower()}\t{rng.choice(words)}\t{rng.randint(0, 20) / 2}"]
    lines += [
        f"{rng.choice(words)}\t{rng.choice(words)}\t{rng.randint(0, 20) / 2}" for _ in range(150)
    ]
    lines += ["atlantis\tparis\t3.0"]
    path = write(tmp_path, "pairs.tsv", "# comment\n" + "\n".join(lines) + "\n")
    ours = evaluate_similarity(KeyedVectors(words, torch.from_numpy(vectors)), path)
    pearson, spearman, oov_percent = gensim_kv(words, vectors).evaluate_word_pairs(
        str(path), restrict_vocab=len(words), case_insensitive=True
    )
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-6)
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert 100 * (1 - ours.coverage) == pytest.approx(oov_percent)
    assert json.loads(json.dumps(ours.to_dict()))["pairs_used"] == ours.pairs_used
    assert "pairs.tsv" in ours.format() and f"{ours.spearman:.4f}" in ours.format()


def test_shipped_lists():
    for name in SHIPPED_LISTS:
        assert shipped_list(name).is_file()
    with pytest.raises(ConfigError, match=r"nope\.txt"):
        shipped_list("nope.txt")


def test_shipped_google_set_parses():
    entries = {"athens": WORDS["paris"], "greece": WORDS["france"]}
    kv = make_kv(entries | {"baghdad": WORDS["rome"], "iraq": WORDS["italy"]})
    result = evaluate_analogies(kv, shipped_list("questions-words.txt"))
    assert len(result.sections) == 14
    assert result.overall.total == 19544
    assert result.sections[0].name == "capital-common-countries"
    assert counts(result.overall) == (3, 3, 19544)
    assert result.skipped_lines == 0


def test_words_that_keep_questions_out_are_named_with_near_spellings(tmp_path):
    words = ["king", "queen", "man", "woman", "paris", "france"]
    kv = KeyedVectors(words, torch.eye(6))
    questions = tmp_path / "q.txt"
    questions.write_text(": s\nkng queen man woman\nking queen man woman\nzzzq x king queen\n")
    result = evaluate_analogies(kv, questions)
    assert result.missing_words == ["kng", "zzzq", "x"]
    assert (
        "not among the 6 words searched: 'kng' (did you mean 'king'?), 'zzzq', 'x'"
        in result.format()
    )
    assert result.to_dict()["missing_words"] == ["kng", "zzzq", "x"]
    pairs = tmp_path / "p.tsv"
    pairs.write_text("king\tqueen\t9\nparis\tfrnce\t8\n")
    similarity = evaluate_similarity(kv, pairs)
    assert similarity.missing_words == ["frnce"]
    assert "'frnce' (did you mean 'france'?)" in similarity.format()
