"""Tests of the word2vec file formats: exact bytes, round trips with gensim, and malformed files."""

from __future__ import annotations

import errno
import os
import struct
import time
import tracemalloc

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors as GensimKeyedVectors
from hypothesis import given, settings
from hypothesis import strategies as st

from w2v.errors import ConfigError, FormatError, WriteError
from w2v.files.word2vec import read_word2vec, write_word2vec

TINY_WORDS = ["the", "cat"]
TINY_VECTORS = torch.tensor([[0.5, -1.25, 3.0], [0.1, 1.0, -2.0]])
TINY_BINARY = (
    b"2 3\n"
    b"the \x00\x00\x00\x3f\x00\x00\xa0\xbf\x00\x00\x40\x40\n"
    b"cat \xcd\xcc\xcc\x3d\x00\x00\x80\x3f\x00\x00\x00\xc0\n"
)
TINY_TEXT = b"2 3\nthe 0.5 -1.25 3.0\ncat 0.1 1.0 -2.0\n"
MIXED_WORDS = ["the", "café", "東京", "naïve", "x"]


def random_vectors(rows: int, dim: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((rows, dim), np.float32))


def assert_bit_equal(actual: torch.Tensor, expected: torch.Tensor) -> None:
    # Comparing the bits also tells -0.0 from 0.0 and a NaN from a different NaN.
    assert actual.dtype == torch.float32
    assert torch.equal(actual.view(torch.int32), expected.view(torch.int32))


def binary_record(word: str, values: list[float]) -> bytes:
    return word.encode() + b" " + struct.pack(f"<{len(values)}f", *values)


def gensim_vectors(words: list[str], vectors: torch.Tensor) -> GensimKeyedVectors:
    kv = GensimKeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words, vectors.numpy())
    return kv


# Exact bytes


def test_binary_bytes_match_the_c_tool_layout(tmp_path):
    path = tmp_path / "tiny.bin"
    write_word2vec(path, TINY_WORDS, TINY_VECTORS, binary=True)
    assert path.read_bytes() == TINY_BINARY


def test_text_bytes_use_shortest_float32_decimals(tmp_path):
    path = tmp_path / "tiny.txt"
    write_word2vec(path, TINY_WORDS, TINY_VECTORS, binary=False)
    assert path.read_bytes() == TINY_TEXT


@pytest.mark.parametrize("content", [TINY_BINARY, TINY_TEXT])
def test_reads_the_tiny_files(tmp_path, content):
    path = tmp_path / "tiny"
    path.write_bytes(content)
    words, vectors = read_word2vec(path)
    assert words == TINY_WORDS
    assert_bit_equal(vectors, TINY_VECTORS)


# Round trips


@pytest.mark.parametrize("binary", [True, False])
def test_round_trip_is_exact(tmp_path, binary):
    vectors = random_vectors(len(MIXED_WORDS), 7)
    vectors[0, :6] = torch.tensor([0.0, -0.0, 1e-45, 3.4e38, -1e-30, 0.1])
    path = tmp_path / "vectors"
    write_word2vec(path, MIXED_WORDS, vectors, binary=binary)
    words, read = read_word2vec(path)
    assert words == MIXED_WORDS
    assert_bit_equal(read, vectors)


@pytest.mark.parametrize("binary", [True, False])
def test_round_trip_across_write_and_read_chunks(tmp_path, binary):
    words = [f"word{index}" for index in range(10_000)]
    vectors = random_vectors(len(words), 3)
    write_word2vec(tmp_path / "vectors", words, vectors, binary=binary)
    read_words, read = read_word2vec(tmp_path / "vectors")
    assert read_words == words
    assert_bit_equal(read, vectors)


@pytest.mark.parametrize("binary", [True, False])
def test_reads_what_gensim_writes(tmp_path, binary):
    vectors = random_vectors(len(MIXED_WORDS), 6)
    path = tmp_path / "gensim"
    gensim_vectors(MIXED_WORDS, vectors).save_word2vec_format(str(path), binary=binary)
    words, read = read_word2vec(path)
    assert words == MIXED_WORDS
    assert_bit_equal(read, vectors)


@pytest.mark.parametrize("binary", [True, False])
def test_gensim_reads_what_we_write(tmp_path, binary):
    vectors = random_vectors(len(MIXED_WORDS), 6)
    path = tmp_path / "ours"
    write_word2vec(path, MIXED_WORDS, vectors, binary=binary)
    kv = GensimKeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == MIXED_WORDS
    assert np.array_equal(kv.vectors, vectors.numpy())


# Characters that Unicode counts as spaces but ASCII does not; fastText's .vec files hold U+00A0.
UNICODE_SPACE_WORDS = [
    "New\u00a0York",
    "line\u2028sep",
    "\u0085",
    "\x1c\x1d\x1e\x1f",
    "ideographic\u3000space",
    "\u1680ogham",
    "zero\u200bwidth",
]


@pytest.mark.parametrize("binary", [True, False])
def test_words_with_unicode_spaces_round_trip(tmp_path, binary):
    vectors = random_vectors(len(UNICODE_SPACE_WORDS), 3)
    path = tmp_path / "vectors"
    write_word2vec(path, UNICODE_SPACE_WORDS, vectors, binary=binary)
    words, read = read_word2vec(path)
    assert words == UNICODE_SPACE_WORDS
    assert_bit_equal(read, vectors)


@pytest.mark.parametrize("binary", [True, False])
def test_words_with_unicode_spaces_round_trip_through_gensim(tmp_path, binary):
    vectors = random_vectors(len(UNICODE_SPACE_WORDS), 3)
    write_word2vec(tmp_path / "ours", UNICODE_SPACE_WORDS, vectors, binary=binary)
    kv = GensimKeyedVectors.load_word2vec_format(str(tmp_path / "ours"), binary=binary)
    assert kv.index_to_key == UNICODE_SPACE_WORDS
    kv.save_word2vec_format(str(tmp_path / "gensim"), binary=binary)
    words, read = read_word2vec(tmp_path / "gensim")
    assert words == UNICODE_SPACE_WORDS
    assert_bit_equal(read, vectors)


def test_reads_a_fasttext_vec_with_no_break_spaces_in_words(tmp_path):
    path = tmp_path / "wiki.vec"
    path.write_bytes(b"2 2\nNew\xc2\xa0York 0.5 1 \n\xc2\xa0 -1 2 \n")
    words, vectors = read_word2vec(path)
    assert words == ["New\u00a0York", "\u00a0"]
    assert vectors.tolist() == [[0.5, 1.0], [-1.0, 2.0]]


@pytest.mark.parametrize("binary", [True, False])
def test_round_trip_of_a_word_of_the_maximum_length(tmp_path, binary):
    words = ["é" * 2048, "a" * 4096, "cat"]
    write_word2vec(tmp_path / "vectors", words, random_vectors(3, 2), binary=binary)
    assert read_word2vec(tmp_path / "vectors")[0] == words


words_strategy = st.lists(
    st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters=" \t\n\r\x0b\x0c"),
        min_size=1,
        max_size=6,
    ),
    min_size=1,
    max_size=6,
    unique=True,
)


@settings(max_examples=50, deadline=None)
@given(words=words_strategy, dim=st.integers(1, 5), data=st.data())
def test_binary_round_trip_keeps_every_word_and_bit(tmp_path_factory, words, dim, data):
    bits = data.draw(
        st.lists(
            st.integers(-(2**31), 2**31 - 1), min_size=len(words) * dim, max_size=len(words) * dim
        )
    )
    vectors = torch.tensor(bits, dtype=torch.int32).view(torch.float32).reshape(len(words), dim)
    path = tmp_path_factory.mktemp("hypothesis") / "vectors.bin"
    write_word2vec(path, words, vectors, binary=True)
    read_words, read = read_word2vec(path)
    assert read_words == words
    assert_bit_equal(read, vectors)


@settings(max_examples=50, deadline=None)
@given(words=words_strategy, dim=st.integers(1, 5), data=st.data())
def test_text_round_trip_keeps_every_word_and_finite_value(tmp_path_factory, words, dim, data):
    values = data.draw(
        st.lists(
            st.floats(width=32, allow_nan=False, allow_infinity=False),
            min_size=len(words) * dim,
            max_size=len(words) * dim,
        )
    )
    vectors = torch.tensor(values, dtype=torch.float32).reshape(len(words), dim)
    path = tmp_path_factory.mktemp("hypothesis") / "vectors.txt"
    write_word2vec(path, words, vectors, binary=False)
    read_words, read = read_word2vec(path)
    assert read_words == words
    assert_bit_equal(read, vectors)


# Variants written by other tools


def test_binary_without_record_newlines(tmp_path):
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"2 2\n" + binary_record("the", [1.0, 2.0]) + binary_record("cat", [3.0, 4.0]))
    words, vectors = read_word2vec(path)
    assert words == TINY_WORDS
    assert vectors.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_binary_with_newlines_before_the_words(tmp_path):
    path = tmp_path / "vectors.bin"
    content = (
        b"2 2\n\n" + binary_record("the", [1.0, 2.0]) + b"\n" + binary_record("cat", [3.0, 4.0])
    )
    path.write_bytes(content + b"\n")
    words, vectors = read_word2vec(path)
    assert words == TINY_WORDS
    assert vectors.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_binary_with_several_newlines_between_records(tmp_path):
    path = tmp_path / "vectors.bin"
    content = b"2 2\n\n\n" + binary_record("the", [1.0, 2.0])
    path.write_bytes(content + b"\n\n\n" + binary_record("cat", [3.0, 4.0]) + b"\n\n")
    words, vectors = read_word2vec(path)
    assert words == TINY_WORDS
    assert vectors.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_binary_values_whose_bytes_are_spaces_and_newlines(tmp_path):
    # The first value starts with b"\n", so the line after the header reads "the " as text.
    awkward = np.frombuffer(b"\n\x00\x00\x3f \n \x3f    \n\n\n\n", dtype="<f4").reshape(2, 2)
    path = tmp_path / "vectors.bin"
    write_word2vec(path, TINY_WORDS, torch.from_numpy(awkward.copy()), binary=True)
    words, vectors = read_word2vec(path)
    assert words == TINY_WORDS
    assert_bit_equal(vectors, torch.from_numpy(awkward.copy()))


def test_text_with_trailing_spaces_and_crlf_as_the_c_tool_writes(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_bytes(
        b"2 3\r\nthe 0.500000 -1.250000 3.000000 \r\ncat 0.100000 1.000000 -2.000000 \r\n"
    )
    words, vectors = read_word2vec(path)
    assert words == TINY_WORDS
    assert_bit_equal(vectors, TINY_VECTORS)


def test_text_without_a_final_newline(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_bytes(TINY_TEXT.rstrip(b"\n"))
    assert read_word2vec(path)[0] == TINY_WORDS


# Malformed files


def read_error(tmp_path, content: bytes) -> str:
    path = tmp_path / "bad.vectors"
    path.write_bytes(content)
    with pytest.raises(FormatError) as raised:
        read_word2vec(path)
    message = str(raised.value)
    assert str(path) in message
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="cannot read the file"):
        read_word2vec(tmp_path / "absent.bin")


def test_empty_file(tmp_path):
    assert "empty" in read_error(tmp_path, b"")


@pytest.mark.parametrize(
    "header", [b"", b"2\n", b"2 3 4\n", b"two 3\n", b"0 3\n", b"2 0\n", b"-2 3\n"]
)
def test_header_must_be_two_positive_integers(tmp_path, header):
    assert "two positive integers" in read_error(tmp_path, header + TINY_TEXT[4:])


def test_header_without_newline_in_a_long_file(tmp_path):
    assert "two positive integers" in read_error(tmp_path, b"2" * 1000)


def test_header_claiming_a_trillion_rows_is_refused_before_allocating(tmp_path):
    message = read_error(tmp_path, b"1000000000000 300\n" + TINY_BINARY[4:])
    assert "1000000000000 words" in message


def test_truncated_binary(tmp_path):
    message = read_error(tmp_path, TINY_BINARY[:-5])
    assert "truncated" in message
    assert "only 1 complete records" in message


def test_binary_header_claiming_more_rows(tmp_path):
    assert "truncated" in read_error(tmp_path, b"3" + TINY_BINARY[1:] + b"x" * 10)


def test_binary_header_claiming_fewer_rows(tmp_path):
    assert "more data after the 1 records" in read_error(tmp_path, b"1" + TINY_BINARY[1:])


def test_truncated_text(tmp_path):
    assert "truncated" in read_error(tmp_path, b"3" + TINY_TEXT[1:])


def test_text_header_claiming_fewer_rows(tmp_path):
    assert "announces 1 words but 2 lines follow" in read_error(tmp_path, b"1" + TINY_TEXT[1:])


def test_text_row_of_the_wrong_length(tmp_path):
    message = read_error(tmp_path, b"2 3\nthe 0.5 -1.25 3.0\ncat 0.1 1.0\n")
    assert "line 3 has 3 fields, not a word and 3 numbers" in message


def test_text_non_number(tmp_path):
    message = read_error(tmp_path, b"2 3\nthe 0.5 -1.25 3.0\ncat 0.1 one -2.0\n")
    assert "line 3 has 'one' where a number should be" in message


def test_text_with_a_bad_first_row_is_reported_as_text(tmp_path):
    message = read_error(tmp_path, b"2 3\nthe 0.5 oops 3.0\ncat 0.1 1.0 -2.0\n")
    assert "line 2 has 'oops' where a number should be" in message


@pytest.mark.parametrize(
    "first_row",
    [
        b"the 0.25 oops 3.0\n",  # read as binary, the second word would span a line break
        b"the 0.5 oops 3.0\n",  # exactly as long as a binary record ending in a newline
        b"the 0.5 oops 3.\n",  # exactly as long as a binary record without one
    ],
)
def test_text_with_a_bad_first_row_is_never_read_as_binary(tmp_path, first_row):
    content = b"3 3\n" + first_row + b"cat 0.1 1.0 -2.0\ndog 1.0 2.0 3.0\n"
    assert "line 2 has 'oops' where a number should be" in read_error(tmp_path, content)


def test_binary_word_with_a_newline_inside(tmp_path):
    content = b"2 1\n" + binary_record("the", [1.0]) + b"\n" + binary_record("c\nat", [2.0])
    assert "word in record 2 contains a newline" in read_error(tmp_path, content)


def test_text_header_with_the_wrong_dimension(tmp_path):
    assert "line 2 has 4 fields, not a word and 4 numbers" in read_error(
        tmp_path, b"2 4" + TINY_TEXT[3:]
    )


def test_binary_word_that_is_not_utf8(tmp_path):
    content = b"2 1\n" + binary_record("the", [1.0]) + b"\n\xff\xfe " + struct.pack("<f", 2.0)
    assert "word in record 2 is not valid UTF-8" in read_error(tmp_path, content)


def test_text_word_that_is_not_utf8(tmp_path):
    assert "word in line 3 is not valid UTF-8" in read_error(tmp_path, b"2 1\nthe 1\n\xe6\x9d 2\n")


def test_duplicate_words(tmp_path):
    message = read_error(tmp_path, b"3 1\nthe 1\ncat 2\nthe 3\n")
    assert "'the' appears twice, in lines 2 and 4" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        # Read as binary, the record's word runs on without a space.
        (b"1 1\n" + b"a" * 100_000, "does not read as binary either"),
        (b"2 1\n" + b"\x00" * 40_000, "the word in record 1 is longer than 4096 bytes"),
        (b"1 1\n" + binary_record("w", [1.0]) + b"\x00" * 40_000, "more data after the 1 records"),
        (b"3 1\n" + binary_record("w", [1.0]) + b"v" * 40_000, "longer than 4096 bytes"),
    ],
    ids=["letters", "zeros", "zeros-after-the-records", "letters-after-a-record"],
)
def test_binary_words_without_an_end_are_refused_in_linear_time(tmp_path, content, problem):
    # Every failed match once cost a scan to the end of the file, so these took seconds.
    started = time.perf_counter()
    assert problem in read_error(tmp_path, content)
    assert time.perf_counter() - started < 2


def test_binary_file_with_far_more_records_than_announced_is_refused_quickly(tmp_path):
    content = b"1 1\n" + binary_record("w", [1.0]) * 1_000_000
    started = time.perf_counter()
    assert "more data after the 1 records" in read_error(tmp_path, content)
    assert time.perf_counter() - started < 2


def peak_allocation_of_reading(path: os.PathLike) -> int:
    tracemalloc.start()
    try:
        read_word2vec(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("binary", [True, False])
def test_reading_takes_little_memory_beyond_the_matrix(tmp_path, binary):
    # About 5 MB of either format; tracemalloc sees numpy's buffers but not the memory map.
    rows, dim = (5000, 250) if binary else (4500, 100)
    path = tmp_path / "vectors"
    words = [f"w{row}" for row in range(rows)]
    write_word2vec(path, words, random_vectors(rows, dim), binary=binary)
    assert path.stat().st_size > 4_000_000
    assert peak_allocation_of_reading(path) < 1.5 * path.stat().st_size


MENDABLE_TEXT = b"3 1\nthe 1\ncaf\xe9 2\n\xe6\x9d\xb1\xe4\xba 3\n"
MENDABLE_BINARY = b"3 1\n" + b"\n".join(
    word + b" " + struct.pack("<f", value)
    for word, value in [(b"the", 1.0), (b"caf\xe9", 2.0), (b"\xe6\x9d\xb1\xe4\xba", 3.0)]
)


@pytest.mark.parametrize("content", [MENDABLE_TEXT, MENDABLE_BINARY], ids=["text", "binary"])
@pytest.mark.parametrize(
    ("unicode_errors", "expected"),
    [("replace", ["the", "caf\ufffd", "東\ufffd"]), ("ignore", ["the", "caf", "東"])],
)
def test_unicode_errors_mend_words_that_are_not_utf8(tmp_path, content, unicode_errors, expected):
    path = tmp_path / "vectors"
    path.write_bytes(content)
    words, vectors = read_word2vec(path, unicode_errors=unicode_errors)
    assert words == expected
    assert vectors.tolist() == [[1.0], [2.0], [3.0]]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (MENDABLE_TEXT, "word in line 3 is not valid UTF-8: b'caf\\xe9'"),
        (MENDABLE_BINARY, "word in record 2 is not valid UTF-8: b'caf\\xe9'"),
    ],
    ids=["text", "binary"],
)
def test_unicode_errors_strict_is_the_default(tmp_path, content, problem):
    assert problem in read_error(tmp_path, content)
    with pytest.raises(FormatError) as raised:
        read_word2vec(tmp_path / "bad.vectors", unicode_errors="strict")
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("content", "unicode_errors", "problem"),
    [
        (
            b"2 1\ncaf\xe9 1\ncaf\xff 2\n",
            "replace",
            "the word 'caf\ufffd' appears twice, in lines 2 and 3, "
            "once decoded with unicode_errors='replace' from b'caf\\xe9' and b'caf\\xff'",
        ),
        (
            b"2 1\n" + binary_record("caf", [1.0]) + b"caf\xff " + struct.pack("<f", 2.0),
            "ignore",
            "the word 'caf' appears twice, in records 1 and 2, "
            "once decoded with unicode_errors='ignore' from b'caf' and b'caf\\xff'",
        ),
        (
            b"2 1\nthe 1\n\xff\xfe 2\n",
            "ignore",
            "the word in line 3 is empty, once decoded with unicode_errors='ignore' "
            "from b'\\xff\\xfe'",
        ),
    ],
    ids=["replace-clash", "ignore-clash", "ignore-empty"],
)
def test_unicode_errors_that_make_words_clash_or_vanish(tmp_path, content, unicode_errors, problem):
    path = tmp_path / "vectors"
    path.write_bytes(content)
    with pytest.raises(FormatError) as raised:
        read_word2vec(path, unicode_errors=unicode_errors)
    assert problem in str(raised.value)


@pytest.mark.parametrize("unicode_errors", ["bogus", "surrogateescape", "", None])
def test_unicode_errors_must_be_strict_replace_or_ignore(tmp_path, unicode_errors):
    path = tmp_path / "tiny.txt"
    path.write_bytes(TINY_TEXT)
    with pytest.raises(ConfigError, match="unicode_errors must be"):
        read_word2vec(path, unicode_errors=unicode_errors)


# Writing


def test_write_replaces_an_existing_file(tmp_path):
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"old")
    write_word2vec(path, TINY_WORDS, TINY_VECTORS, binary=True)
    assert path.read_bytes() == TINY_BINARY
    assert os.listdir(tmp_path) == ["vectors.bin"]


class FailingAfterFirstWrite:
    """A file whose second write fails as on a full disk."""

    def __init__(self, file):
        self.file = file
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.file.close()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"old contents")
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *args: FailingAfterFirstWrite(real_fdopen(*args)))
    with pytest.raises(WriteError, match="No space left"):
        write_word2vec(path, TINY_WORDS, TINY_VECTORS, binary=True)
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["vectors.bin"]


def test_a_failed_rename_leaves_no_temporary(tmp_path, monkeypatch):
    def failing_replace(source, destination):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(WriteError, match="cross-device"):
        write_word2vec(tmp_path / "vectors.txt", TINY_WORDS, TINY_VECTORS, binary=False)
    assert os.listdir(tmp_path) == []


def test_written_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        write_word2vec(tmp_path / "vectors.bin", TINY_WORDS, TINY_VECTORS, binary=True)
    finally:
        os.umask(umask)
    assert (tmp_path / "vectors.bin").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("words", "vectors", "problem"),
    [
        (["the", "big cat"], TINY_VECTORS, "cannot contain whitespace"),
        (["the", "tab\tcat"], TINY_VECTORS, "cannot contain whitespace"),
        (["the", ""], TINY_VECTORS, "empty word"),
        (["the", "the"], TINY_VECTORS, "twice"),
        (["the", "\ud800"], TINY_VECTORS, "UTF-8"),
        (["the", "a" * 4097], TINY_VECTORS, "at most 4096 bytes"),
        (["the"], TINY_VECTORS, "1 words but 2 vectors"),
        (TINY_WORDS, TINY_VECTORS[0], "V x D matrix"),
        ([], torch.empty(0, 3), "empty"),
    ],
)
def test_write_refuses_what_could_not_be_read_back(tmp_path, words, vectors, problem):
    with pytest.raises(ConfigError, match=problem):
        write_word2vec(tmp_path / "vectors.bin", words, vectors, binary=True)
    assert os.listdir(tmp_path) == []


def damaged(original: bytes) -> st.SearchStrategy[bytes]:
    """`original` cut short, with a byte changed, or with bytes appended."""
    return st.one_of(
        st.integers(0, len(original)).map(lambda end: original[:end]),
        st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)).map(
            lambda change: original[: change[0]] + bytes([change[1]]) + original[change[0] + 1 :]
        ),
        st.binary(min_size=1, max_size=20).map(lambda tail: original + tail),
    )


@settings(max_examples=100, deadline=None)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.tuples(st.sampled_from([b"2 3\n", b"1 1\n", b"3 2\r\n"]), st.binary(max_size=60)).map(
            b"".join
        ),
        damaged(TINY_BINARY),
        damaged(TINY_TEXT),
    )
)
def test_any_bytes_read_as_vectors_or_raise_a_format_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("hypothesis") / "any.vectors"
    path.write_bytes(content)
    try:
        words, vectors = read_word2vec(path)
    except FormatError as error:
        assert str(path) in str(error)
        assert "\n" not in str(error)
        return
    assert vectors.dtype == torch.float32
    assert vectors.shape[0] == len(words) == len(set(words)) >= 1
