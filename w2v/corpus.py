"""Reading corpora: files, folders and globs, compressed or not, streamed as pieces of text."""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from w2v.errors import CorpusError

OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
CHUNK_CHARS = 1 << 20


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """The corpus files named by `paths`: files as given, folders walked recursively, globs expanded."""
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


def open_text(path: Path) -> TextIO:
    """Open a corpus file for reading as UTF-8 text, decompressing .gz, .bz2 and .xz on the fly."""
    opener = OPENERS.get(path.suffix.lower(), open)
    try:
        # Bad bytes become U+FFFD instead of stopping a long run over one broken file.
        return opener(path, "rt", encoding="utf-8", errors="replace", newline="")
    except OSError as error:
        raise CorpusError(f"{path}: cannot open ({error.strerror or error})") from None


def read_pieces(
    files: Sequence[Path], chunk_chars: int = CHUNK_CHARS
) -> Iterator[tuple[str, bool]]:
    """Yield (text, ends_line) pieces of the files, line by line.

    A line longer than `chunk_chars` comes in several pieces cut at whitespace, so a corpus that is
    one 100 MB line (text8) is never held whole; `ends_line` marks the last piece of each line.
    """
    for path in files:
        with open_text(path) as stream:
            pending = ""
            try:
                while chunk := stream.read(chunk_chars):
                    lines = (pending + chunk).split("\n")
                    pending = lines.pop()
                    for line in lines:
                        yield line, True
                    if len(pending) > chunk_chars:
                        cut = max(pending.rfind(" "), pending.rfind("\t"))
                        if cut > 0:
                            yield pending[:cut], False
                            pending = pending[cut + 1 :]
            except (OSError, EOFError, lzma.LZMAError) as error:
                raise CorpusError(f"{path}: cannot read ({error})") from None
            if pending:
                yield pending, True


def corpus_size(files: Sequence[Path]) -> int | None:
    """Total bytes of the files when none is compressed (a progress bar's total), else None."""
    if any(path.suffix.lower() in OPENERS for path in files):
        return None
    return sum(path.stat().st_size for path in files)
