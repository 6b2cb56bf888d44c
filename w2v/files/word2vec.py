"""Reading and writing word2vec vector files, binary and text, as the original C tool and gensim do.

Both formats start with an ASCII header line "V D" (V words of D dimensions). In the binary format
each of the V records is the UTF-8 word, a space, and D little-endian float32 values; the C tool and
old gensim end every record with a newline, new gensim does not, and the reader accepts both. In the
text format each record is a line "word v1 ... vD". Fields are separated by ASCII whitespace only,
so a word may hold any other character, such as the no-break spaces of fastText's .vec files. A word
is at most 4096 bytes of UTF-8, which lets the binary reader find where a record's word ends within
a bounded run of bytes.

GloVe's text files are the text format without the header line (gensim's `no_header`): the reader
takes a file for one when asked, or, asked to find out, when its first line is not the two positive
integers of a header but a word and D numbers, and the next line, if any, is a word and D numbers
too.

The reader tells the formats apart by the line after the header: the file is text when that line
is a word followed by exactly D whitespace-separated numbers, and binary otherwise. Every valid text
file passes, and float bytes practically never spell out D numbers before a newline. A text file
whose first row is malformed goes to the binary reader, which rejects it (its records then hold
printable text where float bytes belong, words that run across lines, or the wrong amount of data),
and the error describes what is wrong with that first row. Only files of under 16 bytes of values
can be ambiguous: the bytes of "1 1\nw 1.5x" are a one-word binary file or a broken text file.

Both readers take time linear in the file's size, whatever its bytes, and memory little beyond the
matrix and the words: the file is memory-mapped and walked a chunk at a time.
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
from w2v.files.words import check_words, first_duplicate

_HEADER_MAX_BYTES = 256
# The C tool keeps words of up to 100 bytes and gensim of any length; this bound is far above any
# real word and keeps the binary reader's search for the space after a word short.
_WORD_MAX_BYTES = 4096
# Bound on a number in the line sniffed for the format, so a binary file without newlines is never
# scanned or split whole.
_SNIFF_VALUE_MAX_BYTES = 64
_FLOAT_BYTES = 4
_WRITE_CHUNK_ROWS = 8192
# The text reader parses this many bytes of lines at a time. The chunk's fields, one bytes object
# each, take about six times the chunk's size, so a small chunk keeps the reader's memory near the
# matrix's; parsing still costs far more than the per-chunk overhead.
_TEXT_CHUNK_BYTES = 1 << 18
# The binary reader matches records in windows of at least this many bytes.
_BINARY_CHUNK_BYTES = 1 << 20
# Block size for scans of a text file before parsing (its line count, its trailing whitespace).
_SCAN_BLOCK_BYTES = 1 << 20
# Fields of both formats are separated by ASCII whitespace, so a word must not contain any.
_WHITESPACE_RUN = re.compile(rb"[ \t\n\r\v\f]*")
# The newlines at the start of a binary word (at the start or after a space in the joined words)
# end the previous record.
_RECORD_NEWLINES = re.compile(rb"(?<![^ ])\n+")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Binary values that are all printable ASCII betray a text file once there are this many bytes of
# them: random float bytes pass with odds of about (95 / 256) ** 16, under one in a million.
_TEXT_SIGNAL_BYTES = 16
_UNICODE_ERRORS = ("strict", "replace", "ignore")
# A file without a header is sniffed on a first line of at most this many numbers' worth of bytes.
_HEADERLESS_SNIFF_DIM = 4096


def write_word2vec(
    path: str | os.PathLike, words: list[str], vectors: torch.Tensor, binary: bool
) -> None:
    """Write `vectors` (one row per word) to `path` in word2vec binary or text format.

    The file is written under a temporary name and renamed into place, so `path` is either left as
    it was or holds the complete new file.
    """
    path = Path(path)
    matrix = _float32_matrix(words, vectors)
    check_words(words)
    encoded_words = _encode_words(words)
    header = f"{matrix.shape[0]} {matrix.shape[1]}\n".encode("ascii")
    body = _binary_body(encoded_words, matrix) if binary else _text_body(words, matrix)
    with atomic_output(path) as stream:
        stream.write(header)
        for chunk in body:
            stream.write(chunk)


def read_word2vec(
    path: str | os.PathLike, unicode_errors: str = "strict", no_header: bool | None = False
) -> tuple[list[str], torch.Tensor]:
    """Read a word2vec file, binary or text (detected), into its words and a V x D tensor.

    Words that are not valid UTF-8 refuse the file when `unicode_errors` is "strict", and decode
    with Python's "replace" or "ignore" error handler otherwise, as gensim's option of that name.
    `no_header` True reads a text file without the header line, as GloVe writes them; None finds
    out whether the file has one (see the module's description); False requires it.
    """
    if unicode_errors not in _UNICODE_ERRORS:
        raise ConfigError(
            f"unicode_errors must be 'strict', 'replace' or 'ignore', not {unicode_errors!r}"
        )
    data = _map_file(path)
    if no_header is None:
        no_header = _is_headerless(data)
    if no_header:
        first = _first_line(data, 0, _HEADERLESS_SNIFF_DIM)
        dim = len(first.split()) - 1
        if (
            dim < 1
            or len(first) == _WORD_MAX_BYTES + _SNIFF_VALUE_MAX_BYTES * _HEADERLESS_SNIFF_DIM
        ):
            raise FormatError(
                f"{path}: line 1 is not a word and its numbers, as a file without a header "
                "line starts"
            )
        end = _content_end(data, 0)
        line_count = _count_newlines(data, 0, end) + 1
        return _read_text(path, data, 0, line_count, dim, unicode_errors, first_line=1)
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
        return _read_text(path, data, body_start, vocab_size, dim, unicode_errors)
    maybe_text = _is_printable(first_line)
    try:
        return _read_binary(path, data, body_start, vocab_size, dim, maybe_text, unicode_errors)
    except FormatError as binary_error:
        if maybe_text:
            raise FormatError(
                f"{path}: line 2 {text_problem}, and the file does not read as binary either"
            ) from binary_error
        raise


def starts_with_header(path: str | os.PathLike) -> bool:
    """Whether the file's first bytes (after any whitespace) are a digit, as a word2vec header's."""
    with open(path, "rb") as file:
        start = file.read(_HEADER_MAX_BYTES).lstrip()
    return start[:1].isdigit()


def _is_headerless(data: mmap.mmap) -> bool:
    """Whether the file is text without a header line (GloVe's): its first line is a word and D
    numbers, not two positive integers, and so is the next line if there is one."""
    first = _first_line(data, 0, _HEADERLESS_SNIFF_DIM)
    fields = first.split()
    if len(fields) < 2 or (len(fields) == 2 and all(f.isdigit() and int(f) > 0 for f in fields)):
        return False
    dim = len(fields) - 1
    if _text_row_problem(first, dim) is not None:
        return False
    second_start = len(first) + 1
    if _content_end(data, second_start) == second_start:
        return True
    return _text_row_problem(_first_line(data, second_start, dim), dim) is None


def _float32_matrix(words: list[str], vectors: torch.Tensor) -> np.ndarray:
    matrix = torch.as_tensor(vectors).detach().to(device="cpu", dtype=torch.float32)
    if matrix.dim() != 2:
        raise ConfigError(f"vectors must be a V x D matrix, not of shape {tuple(matrix.shape)}")
    if matrix.shape[0] != len(words):
        raise ConfigError(f"{len(words)} words but {matrix.shape[0]} vectors")
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ConfigError(f"cannot write an empty {matrix.shape[0]} x {matrix.shape[1]} matrix")
    return np.ascontiguousarray(matrix.numpy(), dtype="<f4")


def _encode_words(words: list[str]) -> list[bytes]:
    """The words in UTF-8, each at most _WORD_MAX_BYTES long, as the binary reader requires."""
    # Words hold no whitespace (checked), so the newline-joined words split back exactly.
    try:
        encoded = "\n".join(words).encode("utf-8").split(b"\n")
    except UnicodeEncodeError:
        word = next(word for word in words if not _encodes_as_utf8(word))
        raise ConfigError(f"cannot encode the word {word!r} as UTF-8") from None
    longest = max(encoded, key=len)
    if len(longest) > _WORD_MAX_BYTES:
        raise ConfigError(
            f"cannot write the word {longest[:20].decode('utf-8', 'replace')!r}... of "
            f"{len(longest)} bytes: words are at most {_WORD_MAX_BYTES} bytes in UTF-8"
        )
    return encoded


def _encodes_as_utf8(word: str) -> bool:
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _binary_body(encoded_words: list[bytes], matrix: np.ndarray) -> Iterator[bytes]:
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
    """The file's bytes, memory-mapped: the readers then copy them only a chunk at a time. The
    mapping closes when the last reference to it goes."""
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
    limit = start + _WORD_MAX_BYTES + _SNIFF_VALUE_MAX_BYTES * dim
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
    path: str | os.PathLike,
    data: mmap.mmap,
    start: int,
    vocab_size: int,
    dim: int,
    unicode_errors: str,
    first_line: int = 2,
) -> tuple[list[str], torch.Tensor]:
    """Parse the lines from `start` (line number `first_line`), a chunk at a time, straight into
    a V x D matrix."""
    # Whitespace-only lines at the end are no records; counting the rest first reports a wrong
    # count before any parsing, as for a file cut short.
    end = _content_end(data, start)
    line_count = _count_newlines(data, start, end) + 1
    if line_count < vocab_size:
        raise FormatError(
            f"{path}: truncated: the header announces {vocab_size} words "
            f"but only {line_count} lines follow"
        )
    if line_count > vocab_size:
        raise FormatError(
            f"{path}: the header announces {vocab_size} words but {line_count} lines follow"
        )
    matrix = np.empty((vocab_size, dim), dtype=np.float32)
    encoded_words: list[bytes] = []
    row = 0
    while row < vocab_size:
        chunk_end = data.find(b"\n", start + _TEXT_CHUNK_BYTES, end)
        if chunk_end < 0:
            chunk_end = end
        lines = data[start:chunk_end].split(b"\n")
        start = chunk_end + 1
        # Splitting at most dim + 1 times bounds the fields a hostile overlong line can make.
        fields = [line.split(maxsplit=dim + 1) for line in lines]
        if set(map(len, fields)) != {dim + 1}:
            _raise_first_bad_line(path, lines, row + first_line, dim)
        raw_words = [line_fields.pop(0) for line_fields in fields]
        try:
            matrix[row : row + len(lines)] = np.array(fields, dtype=np.float32)
        except ValueError:
            _raise_first_bad_line(path, lines, row + first_line, dim)
        encoded_words.append(b" ".join(raw_words) + b" ")
        row += len(lines)
    words = _decode_words(path, b"".join(encoded_words), "line", first_line, unicode_errors)
    return words, torch.from_numpy(matrix)


def _content_end(data: mmap.mmap, start: int) -> int:
    """The offset just past the last byte from `start` on that is not ASCII whitespace."""
    end = len(data)
    while end > start:
        block_start = max(start, end - _SCAN_BLOCK_BYTES)
        kept = data[block_start:end].rstrip()
        if kept:
            return block_start + len(kept)
        end = block_start
    return start


def _count_newlines(data: mmap.mmap, start: int, end: int) -> int:
    """The number of newlines from `start` to `end`, counted a block at a time."""
    return sum(
        data[block : min(block + _SCAN_BLOCK_BYTES, end)].count(b"\n")
        for block in range(start, end, _SCAN_BLOCK_BYTES)
    )


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
    unicode_errors: str,
) -> tuple[list[str], torch.Tensor]:
    """Read binary records, a window of bytes at a time, straight into a V x D matrix;
    `maybe_text` says the first record reads as text, so check the values are not text too."""
    row_bytes = dim * _FLOAT_BYTES
    # A record is at least a one-byte word, a space and the values.
    if vocab_size * (row_bytes + 2) > len(data) - start:
        raise FormatError(
            f"{path}: the header announces {vocab_size} words of {dim} dimensions, "
            f"more than the {len(data) - start} bytes after it can hold as binary"
        )
    # One regex pass walks a window's records in C: a record is a word of bounded length (after the
    # newline that ends the previous record, if any), a space, and row_bytes arbitrary bytes. Where
    # no whole record starts, the second branch takes the rest of the window, so findall never
    # searches on from a later byte: its matches are back to back, and each failed attempt costs at
    # most a word's length, which keeps any input linear.
    record = re.compile(rb"(\n?[^ ]{0,%d} )(?s:.{%d})|(?s:.+)" % (_WORD_MAX_BYTES, row_bytes))
    longest_record = _WORD_MAX_BYTES + row_bytes + 2
    # At least twice the longest record, so a window ends inside a bad record or after at least
    # half its length; and never much more than the records still wanted, so a file that holds
    # more is not parsed far beyond them.
    window_bytes = max(_BINARY_CHUNK_BYTES, 2 * longest_record)
    matrix = np.empty((vocab_size, dim), dtype="<f4")
    matrix_bytes = matrix.view(np.uint8)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.frombuffer(data, dtype=np.uint8), row_bytes
    )
    encoded_words: list[bytes] = []
    values_are_text = maybe_text
    row = 0
    while row < vocab_size:
        window_end = start + min(window_bytes, (vocab_size - row) * longest_record)
        raw_words = record.findall(data, start, window_end)
        if raw_words and not raw_words[-1]:
            raw_words.pop()
        del raw_words[vocab_size - row :]
        if not raw_words:
            _raise_incomplete_record(path, data, start, row, vocab_size)
        # Each matched word keeps its space, so a record's values start right after it.
        lengths = np.fromiter(map(len, raw_words), dtype=np.int64, count=len(raw_words))
        value_starts = start + np.cumsum(lengths) + np.arange(len(raw_words)) * row_bytes
        # Each record's values are one contiguous run of bytes, so this gathers whole rows at once.
        values = matrix_bytes[row : row + len(raw_words)]
        values[...] = windows[value_starts]
        values_are_text = values_are_text and _is_ascii_text(values)
        encoded_words.append(_strip_record_newlines(b"".join(raw_words)))
        row += len(raw_words)
        start = int(value_starts[-1]) + row_bytes
    if _WHITESPACE_RUN.match(data, start).end() != len(data):
        raise FormatError(
            f"{path}: there is more data after the {vocab_size} records the header announces"
        )
    encoded = b"".join(encoded_words)
    newline = encoded.find(b"\n")
    # A newline inside a word is no writer's output but a text file parsed as binary.
    if newline >= 0:
        index = encoded.count(b" ", 0, newline)
        raise FormatError(f"{path}: the word in record {index + 1} contains a newline")
    words = _decode_words(path, encoded, "record", 1, unicode_errors)
    if values_are_text and matrix.nbytes >= _TEXT_SIGNAL_BYTES:
        raise FormatError(f"{path}: its records hold text where float values belong")
    return words, torch.from_numpy(matrix.astype(np.float32, copy=False))


def _strip_record_newlines(joined: bytes) -> bytes:
    """Drop the newlines that start the words in `joined` (each word followed by a space)."""
    # Writers end a record with one newline or none, which one fast replace removes; the regex,
    # slower but linear too, takes any run of them.
    joined = joined.replace(b" \n", b" ").removeprefix(b"\n")
    return _RECORD_NEWLINES.sub(b"", joined) if b"\n" in joined else joined


def _raise_incomplete_record(
    path: str | os.PathLike, data: mmap.mmap, start: int, row: int, vocab_size: int
) -> NoReturn:
    """Explain why no whole binary record starts at `start`, the record after `row` others."""
    word_start = start + data[start : start + 1].count(b"\n")
    space = data.find(b" ", word_start, word_start + _WORD_MAX_BYTES + 1)
    if space < 0 and len(data) - word_start > _WORD_MAX_BYTES:
        raise FormatError(
            f"{path}: the word in record {row + 1} is longer than {_WORD_MAX_BYTES} bytes "
            "(no space ends it)"
        )
    raise FormatError(
        f"{path}: truncated: the header announces {vocab_size} words "
        f"but only {row} complete records follow"
    )


def _is_ascii_text(values: np.ndarray) -> bool:
    """Whether the value bytes are all printable ASCII, tabs and line ends, as in a text file."""
    # The first row alone settles nearly every binary file, before the whole block is scanned.
    for block in (values[:1], values):
        printable = (block >= 0x20) & (block < 0x7F)
        if not np.all(
            printable | (block == ord("\t")) | (block == ord("\n")) | (block == ord("\r"))
        ):
            return False
    return True


def _decode_words(
    path: str | os.PathLike, encoded: bytes, unit: str, first_number: int, unicode_errors: str
) -> list[str]:
    """Decode the words of records numbered from `first_number`, each followed by a space in
    `encoded`; they must be valid UTF-8 (unless `unicode_errors` mends them), non-empty and unique."""
    # No word holds a space, so one decode of all the words splits back exactly; a UTF-8 decoder
    # never takes an ASCII byte into a broken sequence, so mending a word keeps the space after it.
    try:
        text = encoded.decode("utf-8")
    except UnicodeDecodeError as error:
        if unicode_errors == "strict":
            index = encoded.count(b" ", 0, error.start)
            raise FormatError(
                f"{path}: the word in {unit} {index + first_number} is not valid UTF-8: "
                f"{_encoded_word(encoded, index)!r}"
            ) from None
        text = encoded.decode("utf-8", unicode_errors)
    words = text.split(" ")
    words.pop()  # the empty string after the last word's space
    mending = f", once decoded with unicode_errors={unicode_errors!r} from"
    if "" in words:
        index = words.index("")
        raw = _encoded_word(encoded, index)
        raise FormatError(
            f"{path}: the word in {unit} {index + first_number} is empty"
            + (f"{mending} {raw!r}" if raw else "")
        )
    duplicate = first_duplicate(words)
    if duplicate is not None:
        word, first, second = duplicate
        raw_first, raw_second = _encoded_word(encoded, first), _encoded_word(encoded, second)
        raise FormatError(
            f"{path}: the word {word!r} appears twice, in {unit}s "
            f"{first + first_number} and {second + first_number}"
            + (f"{mending} {raw_first!r} and {raw_second!r}" if raw_first != raw_second else "")
        )
    return words


def _encoded_word(encoded: bytes, index: int) -> bytes:
    """The bytes of word `index` in the space-separated `encoded` (for error messages)."""
    return encoded.split(b" ", index + 1)[index]
