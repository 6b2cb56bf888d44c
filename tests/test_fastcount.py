"""The compiled word counter gives exactly the words, ids, counts and sentences of the tokenizers
pipeline (the tokenizer's trainer learning every word, then encoding the text to ids)."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import pre_tokenizers
from tokenizers.trainers import WordLevelTrainer

from w2v.errors import CorpusError
from w2v.text.corpus import read_pieces
from w2v.text.counting import WordCounter, ascii_rules
from w2v.text.encode import encode_corpus
from w2v.text.tokenizer import encode, make_tokenizer, set_vocabulary
from w2v.text.vocab import Vocabulary

RULES = [(split, lowercase) for split in ("words", "whitespace") for lowercase in (True, False)]
# ASCII of every kind, with the whitespace WhitespaceSplit knows and the separators it does not,
# and Unicode that NFKC, lowercasing or \w treat specially.
ASCII = [chr(c) for c in range(1, 128)]
UNICODE = list("éÉßİΣςﬁＦｕ٣①\u0301\u00a0\u2003\u0085\u200b\u3000中文😀Å")
# Stretches of ASCII and of other text, a space or more apart or not.
PARTS = ["ab", "Cd", " ", "  ", ".", "\t", "Ｆ", "é", " \u0301", "e\u0301", "ΣΑ", "x²", "中 文"]  # noqa: RUF001
texts = st.lists(
    st.text(alphabet=st.sampled_from(ASCII + UNICODE), max_size=80)
    | st.lists(st.sampled_from(PARTS), max_size=30).map("".join)
    | st.text(alphabet=st.sampled_from(list("aAbB_1 ,.\t\n-")), max_size=80)
    | st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), max_size=40),
    min_size=1,
    max_size=6,
)


def learn_word_types(tokenizer, texts) -> list[str]:
    """Every distinct word in the texts by the tokenizers library's own trainer: the reference
    the compiled pass must agree with."""
    trainer = WordLevelTrainer(
        vocab_size=2**31 - 1, min_frequency=0, special_tokens=[], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    vocabulary = tokenizer.get_vocab()
    words = [""] * len(vocabulary)
    for word, index in vocabulary.items():
        words[index] = word
    return words


def reference_words(texts, split, lowercase):
    """The words of each text as the tokenizers pipeline encodes them."""
    tokenizer = make_tokenizer(split, lowercase)
    types = learn_word_types(tokenizer, texts)
    set_vocabulary(tokenizer, types)
    return [[types[i] for i in ids.tolist()] for ids in encode(tokenizer, texts)]


def counted_words(texts, split, lowercase, counter=None):
    if counter is None:
        counter = WordCounter(make_tokenizer(split, lowercase))
    ids, piece_tokens = counter.encode(texts)
    words = counter.words
    starts = [0, *piece_tokens[:-1].tolist()]
    found = [
        [words[i] for i in ids[s:e].tolist()] for s, e in zip(starts, piece_tokens, strict=True)
    ]
    return found, counter


@pytest.mark.parametrize(("split", "lowercase"), RULES)
def test_the_rules_are_recognised(split, lowercase):
    assert ascii_rules(make_tokenizer(split, lowercase)) == (
        0 if split == "words" else 1,
        lowercase,
    )


@settings(max_examples=150, deadline=None)
@given(texts=texts, rules=st.sampled_from(RULES))
def test_words_ids_and_counts_are_the_tokenizers(texts, rules):
    found, counter = counted_words(texts, *rules)
    expected = reference_words(texts, *rules)
    assert found == expected
    assert len(set(counter.words)) == len(counter.words)
    assert dict(zip(counter.words, counter.counts.tolist(), strict=True)) == Counter(
        word for words in expected for word in words
    )


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(texts, min_size=2, max_size=4), rules=st.sampled_from(RULES))
def test_one_word_keeps_one_id_across_batches(batches, rules):
    counter = WordCounter(make_tokenizer(*rules))
    for batch in batches:
        found, _ = counted_words(batch, *rules, counter=counter)
        assert found == reference_words(batch, *rules)
    everything = [text for batch in batches for text in batch]
    expected = Counter(word for words in reference_words(everything, *rules) for word in words)
    assert dict(zip(counter.words, counter.counts.tolist(), strict=True)) == expected


def test_exact_counts_ascii_and_unicode():
    found, counter = counted_words(
        ["The cat, the CAT's dog.", "Ｆｕｌｌ café CAFÉ the", ""],  # noqa: RUF001
        "words",
        True,
    )
    assert found == [["the", "cat", "the", "cat", "s", "dog"], ["full", "café", "café", "the"], []]
    assert dict(zip(counter.words, counter.counts.tolist(), strict=True)) == {
        "the": 3,
        "cat": 2,
        "s": 1,
        "dog": 1,
        "full": 1,
        "café": 2,
    }


def test_whitespace_split_keeps_punctuation_and_unit_separators():
    found, _ = counted_words(["a,b\x1fc\td\x0be\x0cf\rg  h"], "whitespace", False)
    assert found == [["a,b\x1fc", "d", "e", "f", "g", "h"]]


def test_the_table_and_arena_grow_past_their_first_size():
    words = [f"w{number}" for number in range(150_000)]
    long_word = "x" * 3_000_000
    text = " ".join(words + words[:10] + [long_word, long_word])
    found, counter = counted_words([text], "whitespace", True)
    assert found == [[*words, *words[:10], long_word, long_word]]
    assert len(counter) == 150_001
    assert counter.counts[:10].tolist() == [2] * 10 and counter.counts[-1] == 2


def reference_corpus(path, split, lowercase, min_count, max_sentence_words):
    """encode_corpus's result computed with the tokenizers pipeline, as it used to be."""
    pieces = list(read_pieces([path]))
    tokenizer = make_tokenizer(split, lowercase)
    types = learn_word_types(tokenizer, [text for text, _ in pieces])
    set_vocabulary(tokenizer, types)
    encoded = encode(tokenizer, [text for text, _ in pieces])
    if sum(map(len, encoded)) == 0:
        raise CorpusError("no words in the corpus")
    ids = np.concatenate(encoded)
    counts = np.bincount(ids, minlength=len(types))
    vocabulary, new_ids = Vocabulary.from_counts(types, counts, min_count)
    new_ids = new_ids.tolist()
    sentences, sentence, start = [], [], 0
    for piece_ids, (_, ends_line) in zip(encoded, pieces, strict=True):
        for word in piece_ids.tolist():
            sentence.append(new_ids[word])
            if len(sentence) - start == max_sentence_words:
                sentences.append(sentence[start:])
                start = len(sentence)
        if ends_line and len(sentence) > start:
            sentences.append(sentence[start:])
            start = len(sentence)
    kept = [[i for i in s if i >= 0] for s in sentences]
    return vocabulary, [s for s in kept if s]


def encoded_sentences(vocabulary, corpus):
    ends = corpus.sentence_ends.tolist()
    return [corpus.tokens[s:e].tolist() for s, e in zip([0, *ends[:-1]], ends, strict=True)]


@settings(max_examples=60, deadline=None)
@given(
    text=st.lists(st.sampled_from([*"abAB é\n\n,.", "ab ", "Ｆ"]), max_size=150).map("".join),  # noqa: RUF001
    rules=st.sampled_from(RULES),
    min_count=st.integers(1, 3),
    limit=st.integers(1, 5),
)
def test_encode_corpus_matches_the_tokenizers_pipeline(
    tmp_path_factory, text, rules, min_count, limit
):
    folder = tmp_path_factory.mktemp("c")
    path = folder / "c.txt"
    path.write_text(text, encoding="utf-8")
    try:
        expected_vocabulary, expected = reference_corpus(path, *rules, min_count, limit)
    except Exception as error:  # no words, or none frequent enough: encode_corpus must fail too
        with pytest.raises(type(error)):
            encode_corpus([path], make_tokenizer(*rules), folder, min_count, None, limit, False)
        return
    if sum(map(len, expected)) == len(expected):  # every sentence one word: refused
        with pytest.raises(Exception, match="no line holds two words"):
            encode_corpus([path], make_tokenizer(*rules), folder, min_count, None, limit, False)
        return
    vocabulary, corpus = encode_corpus(
        [path], make_tokenizer(*rules), folder, min_count, None, limit, False
    )
    assert vocabulary.words == expected_vocabulary.words
    assert vocabulary.counts.tolist() == expected_vocabulary.counts.tolist()
    assert encoded_sentences(vocabulary, corpus) == expected


def test_a_long_line_matches_the_tokenizers_pipeline(tmp_path):
    rng = np.random.default_rng(0)
    words = np.array(["the", "Cat", "dog's", "café", "a-b", "x", "ＦＵ", "10"])  # noqa: RUF001
    text = " ".join(words[rng.integers(0, len(words), 500_000)].tolist()) + "\nend of it\n"
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8")
    assert len(list(read_pieces([path]))) > 2  # the line comes in pieces
    for rules in [("words", True), ("whitespace", False)]:
        expected_vocabulary, expected = reference_corpus(path, *rules, 2, 10_000)
        vocabulary, corpus = encode_corpus(
            [path], make_tokenizer(*rules), tmp_path, 2, None, 10_000, False
        )
        assert vocabulary.words == expected_vocabulary.words
        assert vocabulary.counts.tolist() == expected_vocabulary.counts.tolist()
        assert encoded_sentences(vocabulary, corpus) == expected


def test_a_tokenizer_of_other_rules_is_followed_exactly():
    def other():
        tokenizer = make_tokenizer()
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # punctuation kept as words
        return tokenizer

    texts = ["Hello, World! It's 3.14 café", "", "a--b ＦＵ"]  # noqa: RUF001
    assert ascii_rules(other()) is None
    counter = WordCounter(other())
    ids, piece_tokens = counter.encode(texts)
    reference = other()
    types = learn_word_types(reference, texts)
    set_vocabulary(reference, types)
    expected = [types[i] for ids in encode(reference, texts) for i in ids.tolist()]
    assert [counter.words[i] for i in ids.tolist()] == expected
    assert "," in expected and piece_tokens.tolist() == [11, 11, 15]


def test_text_without_spaces_is_cut_at_punctuation_only_so_cjk_needs_segmenting():
    # What the README says: each run of letters between punctuation or spaces is one word, so
    # unsegmented Chinese or Japanese gives one word a clause; segmented text gives its words.
    counter = WordCounter(make_tokenizer("words"))
    ids, _ = counter.encode(["我爱北京。北京很大，我爱北京", "我 爱 北京 。 北京 很 大"])  # noqa: RUF001
    assert counter.words == ["我爱北京", "北京很大", "我", "爱", "北京", "很", "大"]
    assert ids.tolist() == [0, 1, 0, 2, 3, 4, 4, 5, 6]
