"""Tests of analogy and word-pair evaluation: hand-made geometry, agreement with gensim, the forms
analogy and similarity sets come in (MSR CSV, BATS folders, headers), and the shipped battery."""

import json
import random

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors as GensimKeyedVectors
from scipy import stats

from w2v.cli import main
from w2v.errors import ConfigError, FormatError
from w2v.query.evaluate import (
    ANALOGY_BATTERY,
    SHIPPED_LISTS,
    SIMILARITY_BATTERY,
    _average_ranks,
    evaluate_analogies,
    evaluate_battery,
    evaluate_similarity,
    format_battery,
    lowercase_index,
    shipped_list,
)
from w2v.query.vectors import KeyedVectors, load

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
    semantic, syntactic = result.groups
    assert (semantic.name, syntactic.name) == ("semantic", "syntactic")
    assert counts(semantic) == (7, 8, 9)
    assert counts(syntactic) == (4, 5, 5)
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


# Columns in another order than the shipped file's, a malformed row, a question with an unknown word.
MSR = """\
,type,word1,word2,word3,target
0,JJ_JJR,good,better,bad,worse
1,JJR_JJ,better,good,worse,bad
2,JJ_JJR,good,better,big,bigger
3,JJ_JJR,bad,worse,big,apple
4,NN_NNS,cat,cats,dog,dogs
5,NN_NNS,cat,cats,atlantis,dogs
6,NN_NNS,cat,cats
7,NNS_NN,dogs,dog,cats,cat
"""


def test_msr_csv_relations_and_groups(tmp_path):
    result = evaluate_analogies(make_kv(WORDS), write(tmp_path, "msr.csv", MSR))
    assert result.form == "msr" and result.name == "msr.csv"
    assert {s.name: counts(s) for s in result.sections} == {
        "JJ_JJR": (2, 3, 3),
        "JJR_JJ": (1, 1, 1),
        "NN_NNS": (1, 1, 2),
        "NNS_NN": (1, 1, 1),
    }
    assert {g.name: counts(g) for g in result.groups} == {
        "adjectives": (3, 4, 4),
        "nouns": (2, 2, 3),
    }
    assert counts(result.overall) == (5, 6, 7)
    assert result.skipped_lines == 1
    assert result.missing_words == ["atlantis"]
    (wrong,) = result.sections[0].wrong
    assert (wrong.question, wrong.expected, wrong.got) == (
        ("bad", "worse", "big"),
        "apple",
        "bigger",
    )


def test_msr_csv_reads_its_columns_by_name(tmp_path):
    reordered = "target,word3,word2,word1\nworse,bad,better,good\nbigger,big,better,good\n"
    result = evaluate_analogies(make_kv(WORDS), write(tmp_path, "r.csv", reordered))
    assert [s.name for s in result.sections] == ["all"] and result.grouping == []
    assert counts(result.overall) == (2, 2, 2)
    with pytest.raises(FormatError, match=r"bad\.csv: not an analogy CSV .*found 'a', 'b'"):
        evaluate_analogies(make_kv(WORDS), write(tmp_path, "bad.csv", "a,b\n1,2\n"))
    with pytest.raises(FormatError, match=r"empty\.csv: no analogy questions"):
        evaluate_analogies(
            make_kv(WORDS), write(tmp_path, "empty.csv", "word1,word2,word3,target\n")
        )


def write_bats(folder, relations: dict[str, str]):
    """A BATS 3.0 folder: category subfolders holding a file per relation."""
    for name, text in relations.items():
        category = {"I": "1_Inflectional_morphology", "E": "3_Encyclopedic_semantics"}.get(name[0])
        path = folder / category / f"{name}.txt" if category else folder / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


BATS = {
    "I01 [noun - plural_reg]": "cat\tcats\ndog\tdogs\nzebra\tzebras\n",
    # italy's listed answers start with a word outside the vocabulary: rome is its b, and is right.
    "E01 [country - capital]": "france\tparis\nitaly\tatlantis/rome\r\nspain\tmadrid\n\n"
    "germany\tberlin\nnowhere\n",
    # The first answer found is b; any answer found is right.
    "L02 [hypernyms - misc]": "man\twoman\nking\tqueen/boy\n",
    "X01 [not a category]": "good\tbetter\nbad\tworse\n",
}


def test_bats_folder_asks_every_pair_of_pairs_both_ways(tmp_path):
    folder = write_bats(tmp_path / "BATS_3.0", BATS)
    result = evaluate_analogies(make_kv(WORDS), folder)
    assert result.form == "bats" and result.name == "BATS_3.0"
    # In the order of their paths: the category folders, then files at the top.
    assert {s.name: counts(s) for s in result.sections} == {
        "I01 [noun - plural_reg]": (6, 6, 6),
        "E01 [country - capital]": (12, 12, 12),
        "L02 [hypernyms - misc]": (2, 2, 2),
        "X01 [not a category]": (2, 2, 2),
    }
    assert [g.name for g in result.groups] == [
        "inflectional morphology",
        "encyclopedic semantics",
        "lexicographic semantics",
    ]
    assert [counts(g) for g in result.groups] == [(6, 6, 6), (12, 12, 12), (2, 2, 2)]
    assert result.skipped_lines == 1
    assert result.missing_words == []


def test_bats_missing_words_and_wrong_answers(tmp_path):
    relations = {"D01 [noun+less_reg]": "cat\tcats\ndog\tdogs\nfrance\tzzz/yyy\nqqq\tcats\n"}
    folder = write_bats(tmp_path / "b", relations)
    result = evaluate_analogies(make_kv(WORDS), folder)
    # 12 questions; france has no answer in the vocabulary and qqq is unknown: only cat and dog
    # pairs are asked, each way round.
    (section,) = result.sections
    assert counts(section) == (2, 2, 12)
    assert result.missing_words == ["zzz", "yyy", "qqq"]
    assert [g.name for g in result.groups] == ["derivational morphology"]
    with pytest.raises(FormatError, match=r"empty: no BATS relation files"):
        (tmp_path / "empty").mkdir()
        evaluate_analogies(make_kv(WORDS), tmp_path / "empty")
    with pytest.raises(FormatError, match=r"one: no analogy questions"):
        evaluate_analogies(make_kv(WORDS), write_bats(tmp_path / "one", {"I01": "cat\tcats\n"}))


def test_bats_agrees_with_gensim_most_similar(tmp_path):
    rng = np.random.default_rng(7)
    dim, n_relations, n_pairs = 16, 3, 9
    words, vectors, relations = [], [], {}
    for r in range(n_relations):
        offset = rng.normal(size=dim)
        lines = []
        for p in range(n_pairs):
            a = rng.normal(size=dim)
            words += [f"a{r}x{p}", f"b{r}x{p}", f"c{r}x{p}"]
            vectors += [a, a + offset + rng.normal(scale=1.0, size=dim), rng.normal(size=dim)]
            # Two answers: the related word second, after a random one.
            lines.append(f"a{r}x{p}\tc{r}x{p}/b{r}x{p}" if p % 3 == 0 else f"a{r}x{p}\tb{r}x{p}")
        relations[f"I0{r} [rel {r}]"] = "\n".join(lines) + "\n"
    vectors = np.array(vectors, dtype=np.float32)
    folder = write_bats(tmp_path / "bats", relations)
    ours = evaluate_analogies(KeyedVectors(words, torch.from_numpy(vectors)), folder)
    reference = GensimKeyedVectors(vector_size=dim)
    reference.add_vectors(words, vectors)
    expected = []
    for text in relations.values():
        pairs = [line.split("\t") for line in text.splitlines()]
        right = 0
        for i, (a, b_answers) in enumerate(pairs):
            for j, (c, d_answers) in enumerate(pairs):
                if i != j:
                    b = b_answers.split("/")[0]
                    (answer, _), *_ = reference.most_similar(positive=[b, c], negative=[a], topn=1)
                    right += answer in d_answers.split("/")
        expected.append(right)
    assert [s.correct for s in ours.sections] == expected
    assert [s.evaluated for s in ours.sections] == [n_pairs * (n_pairs - 1)] * n_relations
    assert 0 < ours.overall.correct < ours.overall.evaluated


# Tabs with spaces, runs of spaces, a header that is skipped and counted, a malformed line after it.
LENIENT = """\
# a comment
Word 1\tWord 2\tHuman (mean)
paris \t france\t40
rome    italy   45.5
king\t\tqueen\t35
cat dog 25
banana\tapple 10
good bad 5
big\tbanana\t1
not a pair at all
"""


def test_similarity_any_whitespace_header_and_scale(tmp_path):
    kv = make_kv(WORDS)
    result = evaluate_similarity(kv, write(tmp_path, "p.txt", LENIENT))
    assert (result.pairs_used, result.pairs_total, result.skipped_lines) == (7, 7, 1)
    assert result.header == "Word 1\tWord 2\tHuman (mean)"
    assert result.score_range == (1.0, 45.5)
    assert result.to_dict()["header_lines"] == 1
    assert "skipped header line 'Word 1\\tWord 2\\tHuman (mean)'" in result.format()
    assert "skipped 1 malformed lines" in result.format()
    pairs = [("paris", "france", 40), ("rome", "italy", 45.5), ("king", "queen", 35)]
    pairs += [("cat", "dog", 25), ("banana", "apple", 10), ("good", "bad", 5), ("big", "banana", 1)]
    unit = kv.unit_vectors()
    cosine = [float(unit[kv.key_to_index[a]] @ unit[kv.key_to_index[b]]) for a, b, _ in pairs]
    human = [s for _, _, s in pairs]
    assert result.spearman == pytest.approx(stats.spearmanr(human, cosine).statistic, abs=1e-9)
    # The same pairs on a 0-1 scale, without a header: the same correlations.
    scaled = "".join(f"{a} {b} {s / 50}\n" for a, b, s in pairs)
    other = evaluate_similarity(kv, write(tmp_path, "scaled.txt", scaled))
    assert other.header is None and other.skipped_lines == 0
    assert other.spearman == pytest.approx(result.spearman, abs=1e-12)
    assert other.pearson == pytest.approx(result.pearson, abs=1e-12)
    assert other.score_range == (pytest.approx(0.02), pytest.approx(0.91))


def test_only_the_first_line_can_be_a_header(tmp_path):
    text = "paris france 8\nword1 word2 score\ncat dog 5\n"
    result = evaluate_similarity(make_kv(WORDS), write(tmp_path, "p.txt", text))
    assert result.header is None and result.skipped_lines == 1 and result.pairs_total == 2
    with pytest.raises(FormatError, match=r"h\.txt: no word pairs"):
        evaluate_similarity(make_kv(WORDS), write(tmp_path, "h.txt", "word1 word2 score\n"))


def shipped_words() -> list[str]:
    """The words of MC-30 and of the first two MSR questions (good:better :: rough:rougher and
    back), each once."""
    words = ["good", "better", "rough", "rougher"]
    for line in shipped_list("mc30.txt").read_text().splitlines():
        words += [w for w in line.split("\t")[:2] if w not in words]
    return words


@pytest.fixture(scope="module")
def battery_kv() -> KeyedVectors:
    words = shipped_words()
    generator = torch.Generator().manual_seed(3)
    return KeyedVectors(words, torch.randn(len(words), 8, generator=generator))


def test_the_shipped_battery_reads_every_set_whole(battery_kv):
    results = evaluate_battery(battery_kv)
    assert [r.name for r in results] == [name for name, _ in ANALOGY_BATTERY + SIMILARITY_BATTERY]
    assert [r.kind for r in results] == ["analogy"] * 2 + ["similarity"] * 9
    google, msr, *similarities = results
    assert google.overall.total == 19544 and len(google.sections) == 14
    assert [(g.name, g.total) for g in google.groups] == [("semantic", 8869), ("syntactic", 10675)]
    assert msr.overall.total == 8000 and len(msr.sections) == 16
    assert [(g.name, g.total) for g in msr.groups] == [
        ("adjectives", 3000),
        ("nouns", 2000),
        ("verbs", 3000),
    ]
    assert [counts(s)[1:] for s in msr.sections[:3]] == [(1, 500), (1, 500), (0, 500)]
    assert [r.pairs_total for r in similarities] == [353, 203, 252, 999, 3000, 2034, 771, 65, 30]
    assert all(r.skipped_lines == 0 and r.header is None for r in similarities)
    assert google.skipped_lines == 0 and msr.skipped_lines == 0
    mc30 = similarities[-1]
    assert mc30.pairs_used == 30 and mc30.score_range == (0.08, 3.92)
    assert [r.score_range[1] for r in similarities][4] == 50.0  # MEN's 0-50 scale


def test_battery_table(battery_kv):
    results = evaluate_battery(battery_kv)
    lines = format_battery(results).splitlines()
    assert lines[0].split() == ["set", "kind", "score", "coverage"]
    assert lines[1].startswith("Google analogies ") and lines[2].startswith("  semantic ")
    (mc30,) = [line for line in lines if line.startswith("MC-30 ")]
    assert mc30.split()[1:] == ["similarity", f"{results[-1].spearman:.4f}", "30/30", "(100.0%)"]
    (msr,) = [line for line in lines if line.startswith("MSR analogies ")]
    assert msr.split()[2:] == ["analogy", f"{results[1].score:.4f}", "2/8,000", "(0.0%)"]
    assert len(lines) == 1 + 3 + 4 + 9 + 1
    rows = len(battery_kv.words)
    assert lines[-1] == (
        f"score: accuracy for analogies (3CosAdd, top {rows} words); Spearman's rho for word "
        "similarity"
    )


def test_evaluate_command_runs_the_battery(battery_kv, tmp_path, capsys):
    vectors = tmp_path / "v.txt"
    battery_kv.save(vectors)
    assert main(["evaluate", "--vectors", str(vectors)]) == 0
    expected = format_battery(evaluate_battery(load(vectors)))
    assert capsys.readouterr().out == expected + "\n"
    assert main(["evaluate", "--vectors", str(vectors), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["set"] for row in rows][:3] == ["Google analogies", "MSR analogies", "WordSim-353"]
    assert rows[-1]["kind"] == "similarity" and rows[-1]["coverage"] == 1.0
    assert rows[1]["groups"][0]["name"] == "adjectives" and rows[1]["coverage"] == 2 / 8000
    report = tmp_path / "report.md"
    assert main(["evaluate", "--vectors", str(vectors), "--report", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert "| set | kind | score | coverage |" in text
    assert "| MSR analogies: nouns | analogy | - | 0/2,000 (0.0%) |" in text
    assert "## Analogies: Google analogies" in text and "## Analogies: MSR analogies" in text
    assert "| **verbs** | 0 | 0 | 3000 | - |" in text
    assert "| MEN | " in text and " | 0 to 50 | " in text


def test_evaluate_command_takes_a_bats_folder(tmp_path, capsys):
    vectors = tmp_path / "v.txt"
    make_kv(WORDS).save(vectors)
    folder = write_bats(tmp_path / "BATS_3.0", BATS)
    report = tmp_path / "r.md"
    argv = [
        "evaluate",
        "--vectors",
        str(vectors),
        "--analogies",
        str(folder),
        "--report",
        str(report),
    ]
    assert main([*argv, "--method", "3cosmul"]) == 0
    out = capsys.readouterr().out
    assert "analogies BATS_3.0 (3CosMul, top 28 words)" in out
    assert "inflectional morphology" in out and "22/22" in out
    text = report.read_text(encoding="utf-8")
    assert "| E01 [country - capital] | 12 | 12 | 12 | 100.0% |" in text
    assert "| **lexicographic semantics** | 2 | 2 | 2 | 100.0% |" in text
    assert "| BATS_3.0 | analogy | 1.0000 | 22/22 (100.0%) |" in text
