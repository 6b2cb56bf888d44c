"""Reading corpora: files, folders and globs, compressed or not, streamed as pieces of text."""

from __future__ import annotations

import bz2
import codecs
import glob
import gzip
import lzma
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from tqdm.auto import tqdm

from w2v.errors import CorpusError

OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
CHUNK_CHARS = 1 << 20
STANDARD_INPUT = "-"
COUNT_REPLACED = "w2v-count-replaced"


class _ReplacedBytes(threading.local):
    """Bytes of invalid UTF-8 the error handler has replaced so far in this thread."""

    count = 0


_replaced = _ReplacedBytes()


def _count_and_replace(error: UnicodeDecodeError) -> tuple[str, int]:
    """Replace invalid UTF-8 with U+FFFD as errors="replace" does, counting the bytes replaced."""
    _replaced.count += error.end - error.start
    return "\ufffd", error.end


# The handler is looked up by name on every decode, so it is registered once, on import.
codecs.register_error(COUNT_REPLACED, _count_and_replace)


class PieceSource(Protocol):
    """A corpus that is not a local text file (a Hugging Face dataset, a JSON lines file...)."""

    def pieces(self, chunk_chars: int) -> Iterator[tuple[str, bool]]:
        """Yield (text, ends_line) pieces as `read_pieces` does for a file."""
        ...


Source = Path | PieceSource


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """The corpus files named by `paths`: files as given, folders walked recursively, globs
    expanded; `-`, /dev/stdin and named pipes as streams read once."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not found:
                raise CorpusError(f"{path}: folder holds no files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif str(given) == STANDARD_INPUT or path.is_fifo() or path.is_char_device():
            # A pipe is read once, as training reads its corpus: counting and encoding together.
            files.append(Path("/dev/stdin") if str(given) == STANDARD_INPUT else path)
        elif glob.has_magic(str(given)):
            matches = sorted(Path(p) for p in glob.glob(str(given), recursive=True))
            matched_files = [p for p in matches if p.is_file()]
            if not matched_files:
                raise CorpusError(f"{given}: pattern matches no files")
            files.extend(matched_files)
        else:
            raise CorpusError(f"{path}: no such file or folder")
    if not files:
        raise CorpusError("no corpus files given")
    return files


def open_bytes(path: Path) -> BinaryIO:
    """Open a corpus file for reading its bytes, decompressing .gz, .bz2 and .xz on the fly."""
    opener = OPENERS.get(path.suffix.lower(), open)
    try:
        return opener(path, "rb")
    except OSError as error:
        raise CorpusError(f"{path}: cannot open ({error.strerror or error})") from None


def decode_file(path: Path, chunk_bytes: int = CHUNK_CHARS, warn: bool = True) -> Iterator[str]:
    """The text of a corpus file in chunks, decoded as UTF-8.

    Invalid UTF-8 becomes U+FFFD instead of stopping a long run over one broken file, with a
    warning on stderr counting the bytes replaced (if `warn`); a NUL byte, which text never holds,
    stops reading with a CorpusError rather than training on a binary file.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors=COUNT_REPLACED)
    offset = replaced = 0
    with open_bytes(path) as stream:
        try:
            while chunk := stream.read(chunk_bytes):
                nul = chunk.find(b"\0")
                if nul >= 0:
                    raise CorpusError(
                        f"{path}: looks like a binary file (NUL byte at offset {offset + nul}), "
                        "not text"
                    )
                offset += len(chunk)
                before = _replaced.count
                text = decoder.decode(chunk)
                replaced += _replaced.count - before
                yield text
            before = _replaced.count
            yield decoder.decode(b"", final=True)
            replaced += _replaced.count - before
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as error:
            raise CorpusError(f"{path}: cannot read ({error})") from None
    if replaced and warn:
        print(f"warning: {path}: {replaced} bytes of invalid UTF-8 replaced", file=sys.stderr)


def split_lines(
    chunks: Iterable[str], chunk_chars: int = CHUNK_CHARS
) -> Iterator[tuple[str, bool]]:
    """Cut a stream of text chunks into (text, ends_line) pieces, line by line.

    A line longer than `chunk_chars` comes in several pieces cut at whitespace, so a corpus that is
    one 100 MB line (text8) is never held whole; `ends_line` marks the last piece of each line.
    A stretch of more than `chunk_chars` characters without a space or tab is cut every
    `chunk_chars` characters, as word2vec cuts a word at its longest: the line is read in linear
    time and bounded memory whatever it holds.
    """
    pending = ""
    for chunk in chunks:
        lines = (pending + chunk).split("\n")
        pending = lines.pop()
        for line in lines:
            yield line, True
        while len(pending) > chunk_chars:
            cut = max(pending.rfind(" ", 0, chunk_chars), pending.rfind("\t", 0, chunk_chars))
            if cut > 0:
                yield pending[:cut], False
                pending = pending[cut + 1 :]
            else:
                yield pending[:chunk_chars], False
                pending = pending[chunk_chars:]
    if pending:
        yield pending, True


def read_pieces(
    sources: Sequence[Source], chunk_chars: int = CHUNK_CHARS, warn: bool = True
) -> Iterator[tuple[str, bool]]:
    """Yield (text, ends_line) pieces of the files and other sources, line by line (see split_lines).

    `warn`: say on stderr how many bytes of a file were invalid UTF-8 (off for a second reading).
    """
    for source in sources:
        if not isinstance(source, Path):
            yield from source.pieces(chunk_chars)
            continue
        yield from split_lines(decode_file(source, chunk_chars, warn), chunk_chars)


def corpus_size(sources: Sequence[Source]) -> int | None:
    """Total bytes of the files when all are uncompressed files (a progress bar's total), else None."""
    if any(
        not isinstance(path, Path) or path.suffix.lower() in OPENERS or not path.is_file()
        for path in sources
    ):
        return None
    return sum(path.stat().st_size for path in sources)


BATCH_CHARS = 1 << 20


def piece_batches(files: Sequence[Source], progress: tqdm) -> Iterator[list[tuple[str, bool]]]:
    """The pieces of `read_pieces` in batches of about BATCH_CHARS characters, for the tokenizer;
    `progress` advances by the characters each batch holds."""
    batch: list[tuple[str, bool]] = []
    size = 0
    for text, ends_line in read_pieces(files):
        batch.append((text, ends_line))
        size += len(text) + ends_line
        if size >= BATCH_CHARS:
            progress.update(size)
            yield batch
            batch, size = [], 0
    if batch:
        progress.update(size)
        yield batch


def progress_bar(description: str, total: int | None, unit: str, show: bool) -> tqdm:
    """A tqdm bar of `unit`s (scaled: kB, MB...), silent when `show` is False."""
    return tqdm(total=total, desc=description, unit=unit, unit_scale=True, disable=not show)
