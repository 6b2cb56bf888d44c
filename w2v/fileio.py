"""Writing files so that a crash or a full disk never leaves a half-written file under the real name."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from w2v.errors import ConfigError, FormatError, WriteError

# What a writer of another library raises when the disk refuses it: an OSError, safetensors' own
# error, or (`_is_write_failure`) the bare Exception the tokenizers library raises for any failure
# ("File too large (os error 27)").
WRITER_ERRORS = (OSError, SafetensorError)


def write_failure(path: str | Path, error: BaseException) -> WriteError:
    """The one-line error for `path` that could not be written because of `error`."""
    reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
    return WriteError(f"{path}: cannot write ({reason})")


def _is_write_failure(error: BaseException) -> bool:
    return isinstance(error, WRITER_ERRORS) or type(error) is Exception


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[BinaryIO]:
    """A binary stream to a temporary file beside `path`, renamed onto `path` only if all went well;
    WriteError naming `path` when the disk refuses it (full, a file-size limit, read-only)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        # Unlike mkstemp's fixed 0600, os.open applies the umask to 0666, so the file ends up with
        # the permissions any other newly written file would have.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        descriptor = os.open(temporary, flags, 0o666)
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
            stream.flush()
            # Without this a power cut soon after the rename can leave an empty file in place.
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_failure(path, error) from None
        raise


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` all at once or not at all."""
    with atomic_output(path) as stream:
        stream.write(data)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary name beside `path` for a writer that takes a file name (safetensors, tokenizers),
    renamed onto `path` only if all went well; WriteError naming `path` when the disk refuses it.

    The file gets the permissions the umask gives a new file, as `atomic_output`'s do, whatever
    mode the writer creates it with (safetensors' is 0600)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        # Created first, by os.open as atomic_output does, to learn the mode the umask gives.
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        mode = stat.S_IMODE(temporary.stat().st_mode)
        yield temporary
        os.chmod(temporary, mode)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if _is_write_failure(error):
            raise write_failure(path, error) from None
        raise


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A new empty folder beside `path` to write into, then swapped in for `path` as a whole;
    WriteError naming the file the disk refused.

    The old folder is renamed aside before the new one takes its name and is removed after, so at
    no moment does `path` hold some files of the old folder and some of the new; a crash between
    the two renames leaves no `path` but the old folder whole, as `.NAME.*.old` beside it.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.mkdir()
    except OSError as error:
        raise write_failure(path, error) from None
    try:
        yield temporary
        for written in temporary.iterdir():
            with open(written, "rb") as stream:
                os.fsync(stream.fileno())
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(error, WriteError):
            # Named by the file under its real name, not the temporary folder's.
            raise WriteError(str(error).replace(str(temporary), str(path))) from None
        if isinstance(error, OSError):
            raise write_failure(path, error) from None
        raise
    try:
        if not path.exists():
            os.replace(temporary, path)
            return
        old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
        os.replace(path, old)
        os.replace(temporary, path)
        shutil.rmtree(old)
    except OSError as error:
        raise write_failure(path, error) from None


def write_tensors(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Write `tensors` (moved to the CPU, made contiguous) as one safetensors file, whole or not at all."""
    ready = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    with atomic_path(path) as temporary:
        save_file(ready, temporary, metadata=metadata)


def read_tensors(path: Path, copy: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the metadata of a safetensors file (which holds no code to run): memory-mapped,
    or copies to train into with `copy` (a mapped file is read-only); FormatError naming `path`."""
    try:
        with safe_open(path, framework="pt", device="cpu") as file:
            names = list(file.keys())
            tensors = {name: file.get_tensor(name) for name in names}
            metadata = file.metadata() or {}
    except FileNotFoundError:
        raise FormatError(f"{path}: missing") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise FormatError(f"{path}: not a safetensors file ({error})") from None
    if copy:
        tensors = {name: tensor.clone() for name, tensor in tensors.items()}
    return tensors, metadata


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


def check_writable(path: str | Path) -> None:
    """Fail before a long job, not after it, if nothing can be written at `path`."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise ConfigError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"{path}: folder {folder} is not writable")


def check_not_an_input(output: str | Path, inputs: list[Any]) -> None:
    """ConfigError if writing `output` (a file with the files beside it, or a folder) would
    overwrite one of the `inputs` (paths; other sources are left alone)."""
    output = Path(output).resolve()
    written = {output, *map(Path.resolve, sidecar_paths(output))}
    written |= {beside(output, ".log.json").resolve(), beside(output, ".loss.png").resolve()}
    for source in inputs:
        if not isinstance(source, Path):
            continue
        path = source.resolve()
        if path in written or output in path.parents:
            raise ConfigError(
                f"{output}: would overwrite the input {source}: write the output elsewhere"
            )
