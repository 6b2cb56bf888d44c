"""Reading and writing word2vec vector files, binary and text, as the original C tool and gensim do.

Both formats start with an ASCII header line "V D" (V words of D dimensions). In the binary format
each of the V records is the UTF-8 word, a space, and D little-endian float32 values; the C tool and
old gensim end every record with a newline, new gensim does not, and the reader accepts both. In the
text format each record is a line "word v1 ... vD".

The reader tells the formats apart by the line after the header: the file is text when that line
is a word followed by exactly D whitespace-separated numbers, and binary otherwise. Every valid text
file passes, and float bytes practically never spell out D numbers before a newline. A text file
whose first row is malformed goes to the binary reader, which rejects it (its records then hold
printable text where float bytes belong, words that run across lines, or the wrong amount of data),
and the error describes what is wrong with that first row. Only files of under 16 bytes of values
can be ambiguous: the bytes of "1 1\nw 1.5x" are a one-word binary file or a broken text file.
"""

from __future__ import annotations

import itertools
import mmap
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch

from w2v.errors import ConfigError, FormatError
from w2v.fileio import atomic_output

_HEADER_MAX_BYTES = 256
# Bounds on a text line used only when sniffing the format, so a binary file without newlines is
# never scanned or split whole.
_SNIFF_WORD_MAX_BYTES = 4096
_SNIFF_VALUE_MAX_BYTES = 64
_FLOAT_BYTES = 4
_WRITE_CHUNK_ROWS = 8192
_TEXT_READ_CHUNK_ROWS = 4096
# Fields of both formats are separated by ASCII whitespace, so a word must not contain any.
_WHITESPACE = re.compile(r"[ \t\n\r\v\f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Binary values that are all printable ASCII betray a text file once there are this many bytes of
# them: random float bytes pass with odds of about (95 / 256) ** 16, under one in a million.
_TEXT_SIGNAL_BYTES = 16


def write_word2vec(
    path: str | os.PathLike, words: list[str], vectors: torch.Tensor, binary: bool
) -> None:
    """Write `vectors` (one row per word) to `path` in word2vec binary or text format.

    The file is written under a temporary name and renamed into place, so `path` is either left as
    it was or holds the complete new file.
    """
    path = Path(path)
    matrix = _float32_matrix(words, vectors)
    _check_words(words)
    header = f"{matrix.shape[0]} {matrix.shape[1]}\n".encode("ascii")
    body = _binary_body(words, matrix) if binary else _text_body(words, matrix)
    with atomic_output(path) as stream:
        stream.write(header)
        for chunk in body:
            stream.write(chunk)


def read_word2vec(path: str | os.PathLike) -> tuple[list[str], torch.Tensor]:
    """Read a word2vec file, binary or text (detected), into its words and a V x D tensor."""
    data = _map_file(path)
    vocab_size, dim, body_start = _parse_header(path, data)
    # The smallest possible text record, a one-byte word and D one-digit numbers with their
    # separators, takes 2 * D + 1 bytes; binary records are larger.
    if vocab_size * (2 * dim + 2) - 1 > len(data) - body_start:
        raise FormatError(
            f"{path}: the header announces {vocab_size} words of {dim} dimensions, "
            f"more than the {len(data) - body_start} bytes after it can hold"
        )
    first_line = _first_line(data, body_start, dim)
    text_problem = _text_row_problem(first_line, dim)
    if text_problem is None:
        return _read_text(path, data, vocab_size, dim)
    maybe_text = _is_printable(first_line)
    try:
        return _read_binary(path, data, body_start, vocab_size, dim, maybe_text)
    except FormatError as binary_error:
        if maybe_text:
            raise FormatError(
                f"{path}: line 2 {text_problem}, and the file does not read as binary either"
            ) from binary_error
        raise


def _float32_matrix(words: list[str], vectors: torch.Tensor) -> np.ndarray:
    matrix = torch.as_tensor(vectors).detach().to(device="cpu", dtype=torch.float32)
    if matrix.dim() != 2:
        raise ConfigError(f"vectors must be a V x D matrix, not of shape {tuple(matrix.shape)}")
    if matrix.shape[0] != len(words):
        raise ConfigError(f"{len(words)} words but {matrix.shape[0]} vectors")
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ConfigError(f"cannot write an empty {matrix.shape[0]} x {matrix.shape[1]} matrix")
    return np.ascontiguousarray(matrix.numpy(), dtype="<f4")


def _check_words(words: list[str]) -> None:
    """Refuse words that would make a file the readers cannot split back into the same words."""
    try:
        joined = "".join(words)
    except TypeError:
        raise ConfigError("words must be strings") from None
    if "" in words:
        raise ConfigError(f"cannot write the empty word (row {words.index('') + 1})")
    if _WHITESPACE.search(joined):
        word = next(word for word in words if _WHITESPACE.search(word))
        raise ConfigError(f"cannot write the word {word!r}: words cannot contain whitespace")
    duplicate = _first_duplicate(words)
    if duplicate is not None:
        raise ConfigError(f"cannot write the word {duplicate[0]!r} twice")


def _first_duplicate(words: list[str]) -> tuple[str, int, int] | None:
    """The first word that occurs twice and the indices of both occurrences, or None."""
    if len(set(words)) == len(words):
        return None
    first_indices: dict[str, int] = {}
    for index, word in enumerate(words):
        if word in first_indices:
            return word, first_indices[word], index
        first_indices[word] = index
    return None


def _encode_words(words: list[str]) -> list[bytes]:
    # Words hold no whitespace (checked), so the newline-joined words split back exactly.
    try:
        return "\n".join(words).encode("utf-8").split(b"\n")
    except UnicodeEncodeError:
        word = next(word for word in words if not _encodes_as_utf8(word))
        raise ConfigError(f"cannot encode the word {word!r} as UTF-8") from None


def _encodes_as_utf8(word: str) -> bool:
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _binary_body(words: list[str], matrix: np.ndarray) -> Iterator[bytes]:
    encoded_words = _encode_words(words)
    row_bytes = matrix.shape[1] * _FLOAT_BYTES
    values = memoryview(matrix).cast("B")
    for begin in range(0, len(encoded_words), _WRITE_CHUNK_ROWS):
        rows = range(begin, min(begin + _WRITE_CHUNK_ROWS, len(encoded_words)))
        yield b"".join(
            itertools.chain.from_iterable(
                (encoded_words[row], b" ", values[row * row_bytes : (row + 1) * row_bytes], b"\n")
                for row in rows
            )
        )


def _text_body(words: list[str], matrix: np.ndarray) -> Iterator[bytes]:
    for begin in range(0, len(words), _WRITE_CHUNK_ROWS):
        # numpy prints float32 in its shortest round-trip form, e.g. 0.1 rather than 0.10000000149.
        values = matrix[begin : begin + _WRITE_CHUNK_ROWS].astype(str).tolist()
        lines = (
            f"{word} {' '.join(row)}\n"
            for word, row in zip(words[begin : begin + _WRITE_CHUNK_ROWS], values, strict=True)
        )
        yield "".join(lines).encode("utf-8")


def _map_file(path: str | os.PathLike) -> mmap.mmap:
    """The file's bytes, memory-mapped: a binary file's values are then copied only once, straight
    into the matrix. The mapping closes when the last reference to it goes."""
    try:
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size == 0:
                raise FormatError(f"{path}: the file is empty")
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as error:
        raise FormatError(f"{path}: cannot read the file: {error.strerror or error}") from error


def _parse_header(path: str | os.PathLike, data: mmap.mmap) -> tuple[int, int, int]:
    """Return the word count, the dimension and the offset of the first record."""
    end = data.find(b"\n", 0, _HEADER_MAX_BYTES)
    if end < 0 and len(data) < _HEADER_MAX_BYTES:
        end = len(data)
    header = data[:end] if end >= 0 else data[:_HEADER_MAX_BYTES]
    fields = header.split()
    if end < 0 or len(fields) != 2 or not all(f.isdigit() and int(f) > 0 for f in fields):
        raise FormatError(
            f"{path}: the first line must be two positive integers, the number of words and "
            f"the dimension, not {header[:60].decode('utf-8', 'replace')!r}"
        )
    return int(fields[0]), int(fields[1]), min(end + 1, len(data))


def _first_line(data: mmap.mmap, start: int, dim: int) -> bytes:
    """The line at `start`, cut short where it is too long for a text record of `dim` numbers."""
    limit = start + _SNIFF_WORD_MAX_BYTES + _SNIFF_VALUE_MAX_BYTES * dim
    end = data.find(b"\n", start, limit)
    return data[start : limit if end < 0 else end]


def _is_printable(line: bytes) -> bool:
    if _CONTROL_BYTES.search(line):
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text_row_problem(line: bytes, dim: int) -> str | None:
    """Describe why `line` is not a word followed by `dim` numbers, or return None if it is."""
    fields = line.split()
    if len(fields) != dim + 1:
        return f"has {len(fields)} fields, not a word and {dim} numbers"
    for field in fields[1:]:
        try:
            np.float32(field)
        except ValueError:
            return f"has {field.decode('utf-8', 'replace')!r} where a number should be"
    return None


def _read_text(
    path: str | os.PathLike, data: mmap.mmap, vocab_size: int, dim: int
) -> tuple[list[str], torch.Tensor]:
    lines = bytes(data).split(b"\n")
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    if len(lines) - 1 < vocab_size:
        raise FormatError(
            f"{path}: truncated: the header announces {vocab_size} words "
            f"but only {len(lines) - 1} lines follow"
        )
    if len(lines) - 1 > vocab_size:
        raise FormatError(
            f"{path}: the header announces {vocab_size} words but {len(lines) - 1} lines follow"
        )
    matrix = np.empty((vocab_size, dim), dtype=np.float32)
    raw_words: list[bytes] = []
    for begin in range(1, vocab_size + 1, _TEXT_READ_CHUNK_ROWS):
        chunk = lines[begin : begin + _TEXT_READ_CHUNK_ROWS]
        fields = [line.split() for line in chunk]
        if set(map(len, fields)) != {dim + 1}:
            _raise_first_bad_line(path, chunk, begin + 1, dim)
        values = list(itertools.chain.from_iterable(fields))
        raw_words.extend(values[:: dim + 1])
        del values[:: dim + 1]
        try:
            numbers = np.array(values, dtype=np.float32)
        except ValueError:
            _raise_first_bad_line(path, chunk, begin + 1, dim)
        matrix[begin - 1 : begin - 1 + len(chunk)] = numbers.reshape(len(chunk), dim)
    words = _decode_words(path, raw_words, "line", 2)
    return words, torch.from_numpy(matrix)


def _raise_first_bad_line(
    path: str | os.PathLike, lines: list[bytes], first_line_number: int, dim: int
) -> NoReturn:
    for line_number, line in enumerate(lines, start=first_line_number):
        problem = _text_row_problem(line, dim)
        if problem is not None:
            raise FormatError(f"{path}: line {line_number} {problem}")
    last_line_number = first_line_number + len(lines) - 1
    raise FormatError(f"{path}: lines {first_line_number} to {last_line_number} cannot be read")


def _read_binary(
    path: str | os.PathLike,
    data: mmap.mmap,
    start: int,
    vocab_size: int,
    dim: int,
    maybe_text: bool,
) -> tuple[list[str], torch.Tensor]:
    """Read binary records; `maybe_text` says the first record reads as text, so check the values
    are not text too."""
    row_bytes = dim * _FLOAT_BYTES
    # A record is at least a one-byte word, a space and the values.
    if vocab_size * (row_bytes + 2) > len(data) - start:
        raise FormatError(
            f"{path}: the header announces {vocab_size} words of {dim} dimensions, "
            f"more than the {len(data) - start} bytes after it can hold as binary"
        )
    # One regex pass walks the records in C: a word runs to the first space and the values are
    # exactly row_bytes arbitrary bytes. A match can only fail for lack of bytes, so the matches
    # are back to back from `start` and stop at the first incomplete record.
    record = re.compile(rb"([^ ]*) (?s:.{%d})" % row_bytes)
    raw_words = record.findall(data, start)
    if len(raw_words) < vocab_size:
        raise FormatError(
            f"{path}: truncated: the header announces {vocab_size} words "
            f"but only {len(raw_words)} complete records follow"
        )
    del raw_words[vocab_size:]
    lengths = np.fromiter(map(len, raw_words), dtype=np.int64, count=vocab_size)
    value_starts = start + np.cumsum(lengths + 1) + np.arange(vocab_size) * row_bytes
    end = int(value_starts[-1]) + row_bytes
    if data[end:].strip():
        raise FormatError(
            f"{path}: there is more data after the {vocab_size} records the header announces"
        )
    words = _decode_words(path, raw_words, "record", 1)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.frombuffer(data, dtype=np.uint8), row_bytes
    )
    # Each record's values are one contiguous run of bytes, so this gathers whole rows at once.
    values = windows[value_starts]
    if maybe_text and values.size >= _TEXT_SIGNAL_BYTES and _is_ascii_text(values):
        raise FormatError(f"{path}: its records hold text where float values belong")
    matrix = values.view("<f4").astype(np.float32, copy=False)
    return words, torch.from_numpy(matrix)


def _is_ascii_text(values: np.ndarray) -> bool:
    # The first row alone settles nearly every binary file, before the whole matrix is scanned.
    for block in (values[:1], values):
        printable = (block >= 0x20) & (block < 0x7F)
        if not np.all(
            printable | (block == ord("\t")) | (block == ord("\n")) | (block == ord("\r"))
        ):
            return False
    return True


def _decode_words(
    path: str | os.PathLike, raw_words: list[bytes], unit: str, first_number: int
) -> list[str]:
    """Decode the words of records numbered from `first_number`; they must be valid and unique."""
    # No word holds a space, so one decode of the space-joined words splits back exactly.
    try:
        text = b" ".join(raw_words).decode("utf-8")
    except UnicodeDecodeError as error:
        ends = np.cumsum(np.fromiter(map(len, raw_words), dtype=np.int64) + 1)
        row = int(np.searchsorted(ends, error.start, side="right"))
        raise FormatError(
            f"{path}: the word in {unit} {row + first_number} is not valid UTF-8: "
            f"{raw_words[row]!r}"
        ) from None
    # A binary word starts with the newline that ends the previous record, where there is one.
    text = text.lstrip("\n")
    while " \n" in text:
        text = text.replace(" \n", " ")
    # A newline inside a word is no writer's output but a text file parsed as binary.
    if "\n" in text:
        row = text.count(" ", 0, text.index("\n"))
        raise FormatError(f"{path}: the word in {unit} {row + first_number} contains a newline")
    words = text.split(" ")
    if "" in words:
        raise FormatError(f"{path}: the word in {unit} {words.index('') + first_number} is empty")
    duplicate = _first_duplicate(words)
    if duplicate is not None:
        word, first, second = duplicate
        raise FormatError(
            f"{path}: the word {word!r} appears twice, in {unit}s "
            f"{first + first_number} and {second + first_number}"
        )
    return words
