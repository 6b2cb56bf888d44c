"""Encoding a corpus to ids: tokenization rules, dropped rare words, sentence boundaries."""

import numpy as np

from w2v.text.encode import encode_corpus
from w2v.text.tokenizer import make_tokenizer, words_of


def encoded(tmp_path, text, **options):
    path = tmp_path / "c.txt"
    path.write_text(text)
    tokenizer = options.pop("tokenizer", make_tokenizer())
    vocabulary, corpus = encode_corpus([path], tokenizer, tmp_path, progress=False, **options)
    ends = corpus.sentence_ends.tolist()
    starts = [0, *ends[:-1]]
    sentences = [
        [vocabulary.words[i] for i in corpus.tokens[s:e]] for s, e in zip(starts, ends, strict=True)
    ]
    return vocabulary, corpus, sentences


def test_default_tokenizer_lowercases_and_drops_punctuation():
    assert words_of(make_tokenizer(), "Hello, World! It's 3.14 — Ｆｕｌｌ") == [  # noqa: RUF001
        "hello",
        "world",
        "it",
        "s",
        "3",
        "14",
        "full",
    ]


def test_whitespace_tokenizer_keeps_case_and_punctuation_when_asked():
    tokenizer = make_tokenizer(split="whitespace", lowercase=False)
    assert words_of(tokenizer, "Hello, World!") == ["Hello,", "World!"]


def test_lines_are_sentences_and_rare_words_are_dropped(tmp_path):
    _, corpus, sentences = encoded(tmp_path, "a b c\n\nb a rare\nc c\n", min_count=2)
    assert sentences == [["a", "b", "c"], ["b", "a"], ["c", "c"]]
    assert corpus.raw_words == 8
    assert corpus.tokens.dtype == np.int32


def test_a_sentence_of_only_rare_words_disappears(tmp_path):
    _, _, sentences = encoded(tmp_path, "a a\nrare\na a\n", min_count=2)
    assert sentences == [["a", "a"], ["a", "a"]]


def test_long_lines_are_cut_into_sentences_of_at_most_the_limit(tmp_path):
    text = " ".join(["x"] * 25) + "\n" + " ".join(["y"] * 3)
    _, corpus, sentences = encoded(tmp_path, text, min_count=1, max_sentence_words=10)
    assert [len(s) for s in sentences] == [10, 10, 5, 3]
    assert corpus.sentence_ends.tolist() == [10, 20, 25, 28]


def test_tokenizer_afterwards_maps_words_to_vocabulary_ids(tmp_path):
    tokenizer = make_tokenizer()
    vocabulary, _, _ = encoded(tmp_path, "b a b\nc b a\n", min_count=1, tokenizer=tokenizer)
    assert vocabulary.words == ["b", "a", "c"]
    assert tokenizer.encode("A B unknown C").ids == [1, 0, 3, 2]


def test_saved_tokenizer_has_no_special_token_to_collide_with_a_word(tmp_path):
    tokenizer = make_tokenizer(split="whitespace", lowercase=False)
    vocabulary, _, _ = encoded(tmp_path, "[UNK] b b\n", min_count=1, tokenizer=tokenizer)
    assert tokenizer.get_added_tokens_decoder() == {}
    assert vocabulary.words == ["b", "[UNK]"]
    assert tokenizer.encode("b [UNK] zzz").ids == [0, 1, 2]


def test_reading_a_span_of_the_corpus_gives_the_mapped_tokens(tmp_path):
    text = "".join(f"w{i % 7} w{i % 5} w{i % 3}\n" for i in range(500))
    _, corpus, _ = encoded(tmp_path, text, min_count=1)
    assert isinstance(corpus.tokens, np.memmap)
    for start, end in ((0, 1500), (7, 8), (1499, 1500), (300, 300), (123, 1001)):
        read = corpus.read(start, end)
        assert read.dtype == np.int32 and not isinstance(read, np.memmap)
        assert read.tolist() == corpus.tokens[start:end].tolist()
