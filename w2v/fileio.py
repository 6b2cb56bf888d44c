"""Writing files so that a crash or a full disk never leaves a half-written file under the real name."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from w2v.errors import FormatError


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[BinaryIO]:
    """A binary stream to a temporary file beside `path`, renamed onto `path` only if all went well."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    # Unlike mkstemp's fixed 0600, os.open applies the umask to 0666, so the file ends up with the
    # permissions any other newly written file would have.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
            stream.flush()
            # Without this a power cut soon after the rename can leave an empty file in place.
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` all at once or not at all."""
    with atomic_output(path) as stream:
        stream.write(data)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary name beside `path` for a writer that takes a file name (safetensors, tokenizers),
    renamed onto `path` only if all went well."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_versioned_json(path: Path, form: str, version: int, kind: str) -> dict[str, Any]:
    """A JSON object this toolkit wrote with its "format" and "version", or a FormatError naming
    `path`; a missing file raises FileNotFoundError, for the caller to say what is missing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"{path}: cannot read ({error})") from None
    if not isinstance(data, dict) or data.get("format") != form:
        raise FormatError(f"{path}: not a {kind}")
    if data.get("version") != version:
        raise FormatError(
            f"{path}: format version {data.get('version')!r}; this w2v reads version {version}"
        )
    return data


def map_array(path: Path, dtype: type) -> np.ndarray:
    """The file's values, memory-mapped read-only (an empty array for an empty file, which
    np.memmap refuses)."""
    return np.memmap(path, dtype=dtype, mode="r") if path.stat().st_size else np.zeros(0, dtype)


def beside(vectors_path: str | Path, suffix: str) -> Path:
    """A file next to the vectors, named as they are less their extension: `NAME.log.json`."""
    path = Path(vectors_path)
    stem = path.with_suffix("") if path.suffix else path
    return stem.with_name(stem.name + suffix)


def sidecar_paths(vectors_path: str | Path) -> tuple[Path, Path]:
    """Where the tokenizer and the counts of a word2vec vectors file live: `NAME.tokenizer.json`,
    `NAME.vocab.txt`."""
    return beside(vectors_path, ".tokenizer.json"), beside(vectors_path, ".vocab.txt")
