"""fastText's .bin files and subword queries, checked against Facebook's official bindings: hashes
and n-grams, their models read here, ours read there, conversions, GloVe files without a header,
vectors for words never seen, and one clear line for every file that cannot be read whole."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import fasttext
import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors as GensimKeyedVectors
from scipy.stats import pearsonr

import w2v
from w2v.cli import main
from w2v.errors import FormatError, OutOfVocabularyError
from w2v.files.fasttext import MAGIC, read_fasttext
from w2v.files.model import Model
from w2v.files.store import convert, read_model
from w2v.query.evaluate import evaluate_analogies, evaluate_similarity
from w2v.text.subwords import SubwordSpec, composed_vectors, ngram_hash, subword_rows, word_ngrams

LETTERS = "abcdeéfgüi東京ñ"
BUCKET = 2000
OOV = ["neverseen", "ünïcödé", "東京京", "zz", "a"]


def made_corpus(path: Path) -> None:
    """Lines of words over ASCII and non-ASCII letters, frequent words first (Zipf-like)."""
    rng = random.Random(0)
    words = sorted({"".join(rng.choices(LETTERS, k=rng.randint(2, 7))) for _ in range(300)})
    weights = [1 / (rank + 1) for rank in range(len(words))]
    lines = (" ".join(rng.choices(words, weights, k=10)) for _ in range(1500))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """A skipgram model trained by the official fastText, and its .bin file."""
    folder = tmp_path_factory.mktemp("official")
    made_corpus(folder / "corpus.txt")
    # fastText 0.9 initialises its input matrix in 10 blocks of rows x dim // 10 values, one thread
    # each, leaving the rest uninitialised: with fewer than 10 threads, or rows x dim not a multiple
    # of 10, a run may start from garbage and stop with "Encountered NaN". Hence 10 threads and
    # dim 10; the test needs a valid model, not a reproducible one.
    model = fasttext.train_unsupervised(
        str(folder / "corpus.txt"),
        model="skipgram",
        dim=10,
        minCount=1,
        bucket=BUCKET,
        epoch=2,
        thread=10,
        verbose=0,
    )
    model.save_model(str(folder / "official.bin"))
    return model, folder / "official.bin"


def hand_made(words: list[str], spec: SubwordSpec, dim: int = 6, seed: int = 0) -> Model:
    """A subword model from random matrices, each word's vector composed from its rows."""
    rng = np.random.default_rng(seed)
    subword_input = rng.standard_normal((len(words) + spec.bucket, dim)).astype(np.float32)
    starts, rows = subword_rows(words, spec, len(words))
    return Model(
        words,
        torch.from_numpy(composed_vectors(subword_input, starts, rows)),
        list(range(10 * len(words), 0, -10)),
        torch.from_numpy(rng.standard_normal((len(words), dim)).astype(np.float32)),
        None,
        {"dim": dim, "window": 3, "epochs": 4, "min_count": 2, "negative": 7, "model": "cbow"},
        spec,
        torch.from_numpy(subword_input),
    )


HAND_WORDS = ["</s>", "the", "café", "東京", "naïve", "ab", "x😀"]
# minn 4: a word of one character ("<a>" is 3) has no n-gram in range, so its vector is zero.
HAND_SPEC = SubwordSpec(minn=4, maxn=5, bucket=97)


@pytest.fixture
def ours(tmp_path):
    """A hand-made subword model as w2v writes it to a .bin name."""
    path = tmp_path / "ours.bin"
    w2v.KeyedVectors.from_model(hand_made(HAND_WORDS, HAND_SPEC)).save(path)
    return path


# fastText's definitions


def test_hashes_and_ngrams_equal_the_official_ones(official):
    model, _ = official
    spec = SubwordSpec(3, 6, BUCKET)
    nwords = len(model.words)
    for word in [*model.words[:40], "</s>", *OOV, "x😀y", "ÀÉÎõü"]:
        ngrams, ids = model.get_subwords(word)
        known = word in model.words
        ours = word_ngrams(word, spec)
        assert list(ngrams) == ([word] if known else []) + ours, word
        assert [nwords + ngram_hash(ngram) % BUCKET for ngram in ours] == list(ids[known:]), word
        _, rows = subword_rows([word], spec, nwords, own_rows=False)
        assert rows.tolist() == list(ids[known:]), word
    # The signed-char quirk matters: plain FNV-1a over unsigned bytes hashes "é" otherwise.
    unsigned = 2166136261
    for byte in "é".encode():
        unsigned = ((unsigned ^ byte) * 16777619) & 0xFFFFFFFF
    assert ngram_hash("é") != unsigned


# Their files read here


def test_an_official_model_gives_its_vectors_for_every_word(official):
    model, path = official
    kv = w2v.load(path)
    assert kv.words == model.words
    assert kv.counts == model.get_words(include_freq=True)[1].tolist()
    assert kv.subwords == SubwordSpec(3, 6, BUCKET)
    assert torch.equal(kv.subword_input, torch.from_numpy(model.get_input_matrix()))
    assert torch.equal(kv.output_vectors, torch.from_numpy(model.get_output_matrix()))
    theirs = np.stack([model.get_word_vector(word) for word in model.words])
    np.testing.assert_allclose(kv.vectors.numpy(), theirs, rtol=0, atol=1e-6)
    for word in OOV:
        assert word not in kv
        np.testing.assert_allclose(kv[word].numpy(), model.get_word_vector(word), atol=1e-6)
    assert kv.training["model"] == "skipgram" and kv.training["dim"] == 10
    assert kv.training["min_count"] == 1 and kv.training["negative"] == 5


def mapped_file(address: int) -> str | None:
    """The file mapped at `address` in this process, from /proc/self/maps (None for none)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(bound, 16) for bound in fields[0].split("-"))
        if start <= address < end:
            return fields[5] if len(fields) == 6 else None
    return None


def test_the_input_matrix_is_mapped_from_the_file_and_never_written_back(official, tmp_path):
    _, path = official
    copy = tmp_path / "copy.bin"
    copy.write_bytes(path.read_bytes())
    kv = w2v.load(copy)
    assert mapped_file(kv.subword_input.data_ptr()) == str(copy.resolve())
    assert mapped_file(kv.output_vectors.data_ptr()) == str(copy.resolve())
    kv.subword_input[0] += 1.0  # a private copy of that page, not the file's
    assert copy.read_bytes() == path.read_bytes()


def test_a_model_without_ngrams_reads_its_rows_as_the_vectors(tmp_path):
    corpus = tmp_path / "corpus.txt"
    made_corpus(corpus)
    words_only = fasttext.train_unsupervised(
        str(corpus), model="cbow", dim=10, minCount=1, maxn=0, epoch=1, thread=10, verbose=0
    )
    words_only.save_model(str(tmp_path / "words.bin"))
    kv = w2v.load(tmp_path / "words.bin")
    assert kv.subwords is None
    np.testing.assert_array_equal(kv.vectors.numpy(), words_only.get_input_matrix()[: len(kv)])
    assert kv.training["model"] == "cbow"
    with pytest.raises(OutOfVocabularyError, match="no subwords to build one from"):
        kv["neverseen"]


# Our files read there


def test_a_model_we_write_is_read_by_fasttext_with_our_vectors(ours):
    model = hand_made(HAND_WORDS, HAND_SPEC)
    kv = w2v.KeyedVectors.from_model(model)
    theirs = fasttext.load_model(str(ours))
    assert theirs.words == HAND_WORDS
    assert theirs.get_words(include_freq=True)[1].tolist() == model.counts
    np.testing.assert_array_equal(theirs.get_input_matrix(), model.subword_input.numpy())
    np.testing.assert_array_equal(theirs.get_output_matrix(), model.output_vectors.numpy())
    for word in [*HAND_WORDS, "neverseen", "cafés", "東京都", "a"]:
        np.testing.assert_allclose(theirs.get_word_vector(word), kv[word].numpy(), atol=1e-6)
    assert not kv["a"].any() and not theirs.get_word_vector("a").any()  # no n-gram in range
    args = theirs.f.getArgs()
    assert (args.dim, args.ws, args.epoch, args.minCount, args.neg) == (6, 3, 4, 2, 7)
    assert (args.minn, args.maxn, args.bucket) == (4, 5, 97)
    assert str(args.model) == "model_name.cbow" and str(args.loss) == "loss_name.ns"


def test_a_model_we_write_reads_back_the_same(ours):
    model = hand_made(HAND_WORDS, HAND_SPEC)
    back = read_fasttext(ours)
    assert back.words == model.words and back.counts == model.counts
    assert back.subwords == HAND_SPEC
    assert torch.equal(back.subword_input, model.subword_input)
    assert torch.equal(back.output_vectors, model.output_vectors)
    torch.testing.assert_close(back.vectors, model.vectors, rtol=0, atol=1e-6)
    assert {key: back.training[key] for key in model.training} == model.training


def test_an_official_file_converted_to_a_folder_and_back_is_the_same_bytes(official, tmp_path):
    _, path = official
    convert(path, tmp_path / "model")
    folder = read_model(tmp_path / "model")
    assert folder.subwords == SubwordSpec(3, 6, BUCKET)
    written = convert(tmp_path / "model", tmp_path / "back.bin")
    assert written.paths == [tmp_path / "back.bin", tmp_path / "back.tokenizer.json"]
    assert written.left_out == []
    assert (tmp_path / "back.bin").read_bytes() == path.read_bytes()


def test_a_subword_model_as_word2vec_files_holds_its_composed_vectors(official, tmp_path):
    _, path = official
    kv = w2v.load(path)
    for name, word2vec in (("vectors.bin", True), ("vectors.txt", False), ("vectors.vec", False)):
        written = convert(path, tmp_path / name, word2vec=word2vec)
        assert "n-gram vectors" in written.left_out
        gensim = GensimKeyedVectors.load_word2vec_format(tmp_path / name, binary=word2vec)
        assert gensim.index_to_key == kv.words
        np.testing.assert_array_equal(gensim.vectors, kv.vectors.numpy())
        assert w2v.load(tmp_path / name).subwords is None


def test_the_cli_converts_to_word2vec_binary_when_asked(official, tmp_path, capsys):
    _, path = official
    assert main(["convert", str(path), str(tmp_path / "plain.bin"), "--word2vec"]) == 0
    assert "n-gram vectors" in capsys.readouterr().out
    assert (tmp_path / "plain.bin").read_bytes()[:1].isdigit()  # the "V D" header
    assert main(["convert", str(path), str(tmp_path / "sub.bin")]) == 0
    assert struct.unpack("<i", (tmp_path / "sub.bin").read_bytes()[:4])[0] == MAGIC


def test_the_native_folder_keeps_the_ngram_rows(official, tmp_path):
    model, path = official
    w2v.load(path).save(tmp_path / "model")
    kv = w2v.load(tmp_path / "model")
    assert kv.subwords == SubwordSpec(3, 6, BUCKET)
    for word in OOV:
        np.testing.assert_allclose(kv[word].numpy(), model.get_word_vector(word), atol=1e-6)


# Queries for words never seen


def test_queries_take_words_outside_the_vocabulary(official):
    model, path = official
    kv = w2v.load(path)
    query = model.get_word_vector("neverseen")
    units = kv.unit_vectors()
    cosines = units @ torch.from_numpy(query / np.linalg.norm(query))
    expected = [kv.words[row] for row in torch.argsort(cosines, descending=True)[:5].tolist()]
    assert [word for word, _ in kv.most_similar("neverseen", topn=5)] == expected
    assert [word for word, _ in kv.most_similar_batch(["neverseen"], topn=5)[0]] == expected
    known = kv.words[3]
    assert kv.similarity("neverseen", known) == pytest.approx(float(cosines[3]), abs=1e-5)
    a, b = kv.words[4], kv.words[5]
    answer = kv.analogy(a, "neverseen", b, topn=3)
    assert a not in dict(answer) and b not in dict(answer) and len(answer) == 3
    assert kv.doesnt_match([a, b, "neverseen"]) in (a, b, "neverseen")


def test_covering_gives_unseen_words_rows_for_encode_and_to_embedding(official):
    model, path = official
    kv = w2v.load(path)
    texts = [f"{kv.words[1]} neverseen", "ünïcödé neverseen"]
    covered = kv.covering(texts)
    assert covered.words[len(kv) :] == ["neverseen", "ünïcödé"]
    ids = covered.encode(texts)
    layer = covered.to_embedding()
    np.testing.assert_allclose(
        layer(ids)[1, 0].numpy(), model.get_word_vector("ünïcödé"), atol=1e-6
    )
    assert torch.equal(layer(ids)[0, 0], kv.vectors[1])
    with pytest.raises(OutOfVocabularyError, match="covering"):
        kv.encode(texts, padding=False)


def test_a_model_without_subwords_says_so(tmp_path):
    kv = w2v.KeyedVectors(["a", "b"], torch.eye(2))
    for query in (lambda: kv["zz"], lambda: kv.most_similar("zz"), lambda: kv.covering("zz")):
        with pytest.raises(OutOfVocabularyError) as raised:
            query()
        assert str(raised.value) == (
            "not in the vocabulary: 'zz' (the model has no subwords to build one from)"
        )


# GloVe's files, without a header line


def test_glove_files_without_a_header_are_read(tmp_path):
    words = ["the", "café", "東京", "x"]
    vectors = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    lines = [
        f"{w} {' '.join(map(str, row.tolist()))}" for w, row in zip(words, vectors, strict=True)
    ]
    path = tmp_path / "glove.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kv = w2v.load(path)
    gensim = GensimKeyedVectors.load_word2vec_format(path, no_header=True)
    assert kv.words == gensim.index_to_key == words
    np.testing.assert_array_equal(kv.vectors.numpy(), gensim.vectors)
    assert w2v.load(path, no_header=True).words == words
    with pytest.raises(FormatError, match="two positive integers"):
        w2v.load(path, no_header=False)
    path.write_text("\n".join([*lines[:2], "bad 1.0 2.0", *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match="line 3 has 3 fields"):
        w2v.load(path)


def test_a_header_still_wins_over_a_one_dimensional_glove_reading(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("2 1\nthe 0.5\ncat 1.5\n")
    assert w2v.load(path).words == ["the", "cat"]


# Files that cannot be read whole


def error_of(path: Path, capsys) -> str:
    """The one line the CLI prints for `path`, which names it; the library raises FormatError."""
    with pytest.raises(FormatError):
        w2v.load(path)
    status = main(["similar", "the", "--vectors", str(path)])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {path}: ")
    return err.rstrip("\n")


def test_a_file_cut_anywhere_is_truncated(ours, tmp_path, capsys):
    data = ours.read_bytes()
    cut = tmp_path / "cut.bin"
    for length in range(8, len(data)):
        cut.write_bytes(data[:length])
        with pytest.raises(FormatError) as raised:
            w2v.load(cut)
        assert "truncated" in str(raised.value) and "\n" not in str(raised.value), length
    cut.write_bytes(data[:300])
    assert "truncated in the input matrix" in error_of(cut, capsys)


def patched(path: Path, offset: int, raw: bytes, tmp_path: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(raw)] = raw
    out = tmp_path / "patched.bin"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize(
    ("offset", "raw", "problem"),
    [
        (0, struct.pack("<i", MAGIC + 1), "neither a fastText model"),
        (4, struct.pack("<i", 10), "fastText format version 10, an older one"),
        (4, struct.pack("<i", 13), "fastText format version 13, a newer one"),
        (8, struct.pack("<i", 0), "corrupt: its arguments hold dim 0"),
        (36, struct.pack("<i", 3), "a supervised fastText model"),
        (64, struct.pack("<i", 99), "corrupt: the dictionary announces 99 entries"),
        (84, struct.pack("<q", 5), "a pruned dictionary"),
    ],
)
def test_a_corrupt_header_is_named(ours, tmp_path, capsys, offset, raw, problem):
    assert problem in error_of(patched(ours, offset, raw, tmp_path), capsys)


def test_corrupt_bodies_are_named(ours, tmp_path, capsys):
    data = ours.read_bytes()
    flag = data.index(b"x\xf0\x9f\x98\x80\x00") + 6 + 9  # after the last entry
    assert "a quantized fastText model" in error_of(patched(ours, flag, b"\1", tmp_path), capsys)
    assert "neither 0 nor 1" in error_of(patched(ours, flag, b"\7", tmp_path), capsys)
    rows = struct.pack("<q", len(HAND_WORDS) + HAND_SPEC.bucket + 1)
    assert "the input matrix is 105 x 6" in error_of(
        patched(ours, flag + 1, rows, tmp_path), capsys
    )
    longer = tmp_path / "longer.bin"
    longer.write_bytes(data + b"\0")
    assert "1 bytes follow the output matrix" in error_of(longer, capsys)
    space = data.index(b"caf")
    assert "holds whitespace" in error_of(patched(ours, space, b" ", tmp_path), capsys)


def test_a_supervised_model_is_refused(tmp_path, capsys):
    path = tmp_path / "labels.txt"
    path.write_text("__label__a the cat\n__label__b a dog\n" * 20)
    classifier = fasttext.train_supervised(
        str(path), dim=10, epoch=1, bucket=100, thread=10, verbose=0
    )
    classifier.save_model(str(tmp_path / "classifier.bin"))
    message = error_of(tmp_path / "classifier.bin", capsys)
    assert "a supervised fastText model" in message


def test_similarity_figures_with_unseen_words_from_their_ngrams(official, tmp_path):
    model, path = official
    kv = w2v.load(path)
    rng = random.Random(1)
    pairs = [(rng.choice([*kv.words[1:30], *OOV]), rng.choice(kv.words[1:30])) for _ in range(40)]
    pairs += [("neverseen", "ünïcödé")]
    human = [rng.random() for _ in pairs]
    lines = [f"{a}\t{b}\t{score}" for (a, b), score in zip(pairs, human, strict=True)]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plain = evaluate_similarity(kv, tmp_path / "pairs.txt")
    assert plain.pairs_used < len(pairs)
    result = evaluate_similarity(kv, tmp_path / "pairs.txt", subwords=True)
    assert result.pairs_used == len(pairs)

    def cosine(a: str, b: str) -> float:
        u, v = model.get_word_vector(a), model.get_word_vector(b)
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    # Pearson's r, as Spearman's rho may swap cosines within float32 rounding of each other.
    expected = pearsonr(human, [cosine(a, b) for a, b in pairs]).statistic
    assert result.pearson == pytest.approx(expected, abs=1e-5)


def test_analogies_with_unseen_words_answer_as_fasttext_does(official, tmp_path):
    model, path = official
    kv = w2v.load(path)
    rng = random.Random(2)
    words = [*kv.words[1:40], *OOV]
    quads: list[tuple[str, ...]] = []
    while len(quads) < 30:
        a, b, c = rng.sample(words, 3)
        # fastText's analogies A B C answer A - B + C, ours a:b :: c:? b - a + c; a clear best
        # answer only, as training with 10 threads varies from run to run.
        (best, answer), (second, _) = model.get_analogies(b, a, c, k=2)
        if best - second > 1e-4:
            quads.append((a, b, c, answer))
    lines = [": all", *(" ".join(quad) for quad in quads)]
    (tmp_path / "questions.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plain = evaluate_analogies(kv, tmp_path / "questions.txt", restrict_vocab=len(kv))
    in_vocabulary = sum(not set(quad) & set(OOV) for quad in quads)
    assert plain.overall.evaluated == in_vocabulary < len(quads)
    result = evaluate_analogies(kv, tmp_path / "questions.txt", len(kv), subwords=True)
    assert (result.overall.correct, result.overall.evaluated) == (len(quads), len(quads))
