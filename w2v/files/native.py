"""The native model format: a folder with the matrices as safetensors beside the vocabulary, the
tokenizer and the training settings.

    MODEL/vectors.safetensors  "vectors": the V x D float32 input vectors, row i for word i;
                               "output_vectors": the output matrix, when known
    MODEL/vocab.txt            `word count` lines, most frequent first (w2v.text.vocab's format);
                               every count is 0 when the counts are unknown
    MODEL/tokenizer.json       the tokenizers pipeline, when known
    MODEL/config.json          {"format": "w2v", "version": 1, "words": V, "dim": D,
                                "counts": known or not, "training": the TrainConfig or null}

safetensors is a JSON header and raw little-endian tensor data, so reading it runs no code (unlike
torch.load's pickle), and the tensors are memory-mapped: a model opens at once whatever its size,
and processes that open the same model share its pages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer

from w2v.errors import ConfigError, FormatError
from w2v.fileio import atomic_path, atomic_write, read_versioned_json
from w2v.files.word2vec import _check_words, _first_duplicate
from w2v.text.tokenizer import load_tokenizer, save_tokenizer
from w2v.text.vocab import Vocabulary

FORMAT = "w2v"
VERSION = 1
WORD2VEC_SUFFIXES = frozenset({".bin", ".txt", ".vec"})
TENSORS, VOCABULARY, TOKENIZER, CONFIG = (
    "vectors.safetensors",
    "vocab.txt",
    "tokenizer.json",
    "config.json",
)


@dataclass
class NativeModel:
    """The contents of a native model folder; the tensors are memory-mapped from its file."""

    words: list[str]
    vectors: torch.Tensor
    counts: list[int] | None
    output_vectors: torch.Tensor | None
    tokenizer_file: Path | None  # read by `tokenizer` only when asked: a big one is slow to parse
    training: dict[str, Any] | None

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The tokenizer read from `tokenizer_file`, if there is one."""
        return None if self.tokenizer_file is None else load_tokenizer(self.tokenizer_file)


def is_native(path: str | os.PathLike) -> bool:
    """Whether `path` names a native model folder: an existing folder, a name ending in a slash, or
    any name that does not end in .bin, .txt or .vec (the word2vec formats)."""
    return (
        Path(path).is_dir()
        or str(path).endswith(("/", os.sep))
        or Path(path).suffix.lower() not in WORD2VEC_SUFFIXES
    )


def write_native(
    path: str | os.PathLike,
    words: list[str],
    vectors: torch.Tensor,
    counts: list[int] | None = None,
    output_vectors: torch.Tensor | None = None,
    tokenizer: Tokenizer | None = None,
    training: dict[str, Any] | None = None,
) -> list[Path]:
    """Write a native model folder at `path` (made if missing); return the files written.

    Each file is written whole or not at all; config.json comes last.
    """
    folder = Path(path)
    _check_words(words)
    tensors = {"vectors": _matrix("vectors", vectors, len(words))}
    if output_vectors is not None:
        tensors["output_vectors"] = _matrix("output vectors", output_vectors, len(words))
        if tensors["output_vectors"].shape != tensors["vectors"].shape:
            raise ConfigError(
                f"output vectors of shape {tuple(output_vectors.shape)} do not match "
                f"the vectors' {tuple(vectors.shape)}"
            )
    if counts is not None and len(counts) != len(words):
        raise ConfigError(f"{len(counts)} counts for {len(words)} words")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: exists and is not a folder")
    try:
        folder.mkdir(exist_ok=True)
    except FileNotFoundError:
        raise ConfigError(f"{folder}: folder {folder.parent} does not exist") from None
    written = [folder / TENSORS, folder / VOCABULARY]
    with atomic_path(written[0]) as temporary:
        save_file(tensors, temporary)
    known = np.asarray(counts if counts is not None else np.zeros(len(words)), dtype=np.int64)
    Vocabulary(words, known).save(written[1])
    if tokenizer is not None:
        written.append(folder / TOKENIZER)
        save_tokenizer(tokenizer, written[-1])
    else:
        # A tokenizer left from an earlier model in this folder is not this model's.
        (folder / TOKENIZER).unlink(missing_ok=True)
    config = {
        "format": FORMAT,
        "version": VERSION,
        "words": len(words),
        "dim": tensors["vectors"].shape[1],
        "counts": counts is not None,
        "training": training,
    }
    written.append(folder / CONFIG)
    atomic_write(written[-1], (json.dumps(config, indent=2) + "\n").encode("utf-8"))
    return written


def read_native(path: str | os.PathLike) -> NativeModel:
    """Open the native model folder at `path`, its tensors memory-mapped."""
    folder = Path(path)
    config = _read_config(folder / CONFIG)
    tensors = _read_tensors(folder / TENSORS)
    vocabulary = _read_vocabulary(folder / VOCABULARY, config["words"])
    vectors = tensors.get("vectors")
    if vectors is None:
        raise FormatError(f"{folder / TENSORS}: holds no 'vectors' tensor")
    expected = (config["words"], config["dim"])
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != expected or tensor.dtype != torch.float32:
            raise FormatError(
                f"{folder / TENSORS}: '{name}' is {tensor.dtype} of shape {tuple(tensor.shape)}, "
                f"not float32 of shape {expected} as {CONFIG} says"
            )
    tokenizer_path = folder / TOKENIZER
    return NativeModel(
        vocabulary.words,
        vectors,
        vocabulary.counts.tolist() if config["counts"] else None,
        tensors.get("output_vectors"),
        tokenizer_path if tokenizer_path.is_file() else None,
        config["training"],
    )


def _matrix(name: str, tensor: torch.Tensor, rows: int) -> torch.Tensor:
    matrix = torch.as_tensor(tensor).detach().to(device="cpu", dtype=torch.float32).contiguous()
    if matrix.dim() != 2 or matrix.shape[0] != rows or matrix.shape[1] == 0:
        raise ConfigError(f"{name} of shape {tuple(matrix.shape)} do not fit {rows} words")
    return matrix


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = read_versioned_json(path, FORMAT, VERSION, "w2v model configuration")
    except FileNotFoundError:
        raise FormatError(f"{path.parent}: not a w2v model folder (no {CONFIG})") from None
    for key, kind in {"words": int, "dim": int, "counts": bool}.items():
        if type(config.get(key)) is not kind:
            raise FormatError(f"{path}: '{key}' is missing or not of type {kind.__name__}")
    if not isinstance(config.get("training", ()), dict | None):
        raise FormatError(f"{path}: 'training' is missing, or neither settings nor null")
    return config


def _read_vocabulary(path: Path, size: int) -> Vocabulary:
    """The `word count` lines of `path`, which must be `size`."""
    try:
        fields = path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(f"{path}: cannot read ({error})") from None
    # Words hold no whitespace (write_native checks), so a split gives words and counts in turn:
    # five times faster than reading line by line, which a million words notice.
    try:
        counts = np.array(fields[1::2], dtype=np.int64)
    except (ValueError, OverflowError):
        counts = np.array([-1])
    if len(fields) % 2 or (counts < 0).any():
        Vocabulary.load(path)  # names the first bad line
        raise FormatError(f"{path}: not 'word count' lines")
    if len(counts) != size:
        raise FormatError(f"{path}: {len(counts)} words, not {size} as {CONFIG} says")
    words = fields[0::2]
    duplicate = _first_duplicate(words)
    if duplicate is not None:
        word, first, second = duplicate
        raise FormatError(
            f"{path}: the word {word!r} appears twice, in lines {first + 1} and {second + 1}"
        )
    return Vocabulary(words, counts)


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, memory-mapped (the file holds no code to run)."""
    try:
        with safe_open(path, framework="pt", device="cpu") as file:
            return {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118 (not iterable)
    except FileNotFoundError:
        raise FormatError(f"{path}: missing") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise FormatError(f"{path}: not a safetensors file ({error})") from None
