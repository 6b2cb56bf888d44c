"""The native model format: a folder with the matrices as safetensors beside the vocabulary, the
tokenizer and the training settings.

    MODEL/vectors.safetensors  "vectors": the V x D float32 input vectors, row i for word i;
                               "output_vectors": the output matrix, when known;
                               "subword_input": a subword model's (V + bucket) x D input matrix,
                               the words' own rows then the n-gram rows (its "vectors" are then
                               the words' composed vectors)
    MODEL/vocab.txt            `word count` lines, most frequent first (w2v.text.vocab's format);
                               every count is 0 when the counts are unknown
    MODEL/tokenizer.json       the tokenizers pipeline, when known
    MODEL/config.json          {"format": "w2v", "version": 1, "words": V, "dim": D,
                                "counts": known or not, "training": the TrainConfig or null,
                                "subwords": {"minn", "maxn", "bucket"} or null}

safetensors is a JSON header and raw little-endian tensor data, so reading it runs no code (unlike
torch.load's pickle), and the tensors are memory-mapped: a model opens at once whatever its size,
and processes that open the same model share its pages. A folder is written beside its name and
swapped in whole (`w2v.fileio.atomic_folder`), so it never mixes files of two models.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from w2v.errors import ConfigError, FormatError
from w2v.fileio import atomic_folder, read_tensors, read_versioned_json, write_tensors
from w2v.files.model import Model
from w2v.files.words import check_words, first_duplicate
from w2v.text.subwords import SubwordSpec
from w2v.text.tokenizer import save_tokenizer
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
FILES = frozenset({TENSORS, VOCABULARY, TOKENIZER, CONFIG})


def is_native(path: str | os.PathLike) -> bool:
    """Whether `path` names a native model folder: an existing folder, a name ending in a slash, or
    any name that does not end in .bin, .txt or .vec (the word2vec formats)."""
    return (
        Path(path).is_dir()
        or str(path).endswith(("/", os.sep))
        or Path(path).suffix.lower() not in WORD2VEC_SUFFIXES
    )


def write_native(path: str | os.PathLike, model: Model) -> list[Path]:
    """Write `model` as a native model folder at `path`, replacing a model folder there as a whole;
    return the files written. A folder holding anything but a w2v model is refused, untouched."""
    folder = Path(path)
    words = model.words
    check_words(words)
    tensors = {"vectors": _matrix("vectors", model.vectors, len(words))}
    if model.output_vectors is not None:
        tensors["output_vectors"] = _matrix("output vectors", model.output_vectors, len(words))
        if tensors["output_vectors"].shape != tensors["vectors"].shape:
            raise ConfigError(
                f"output vectors of shape {tuple(model.output_vectors.shape)} do not match "
                f"the vectors' {tuple(model.vectors.shape)}"
            )
    if model.counts is not None and len(model.counts) != len(words):
        raise ConfigError(f"{len(model.counts)} counts for {len(words)} words")
    if (model.subwords is None) != (model.subword_input is None):
        raise ConfigError("a subword model needs both its n-gram settings and its input matrix")
    if model.subwords is not None:
        rows = len(words) + model.subwords.bucket
        tensors["subword_input"] = _matrix("the subword input matrix", model.subword_input, rows)
        if tensors["subword_input"].shape[1] != tensors["vectors"].shape[1]:
            raise ConfigError(
                f"the subword input matrix of shape {tuple(model.subword_input.shape)} does not "
                f"match the vectors' {tuple(model.vectors.shape)}"
            )
    _check_replaceable(folder)
    known = model.counts is not None
    counts = np.asarray(model.counts if known else np.zeros(len(words)), dtype=np.int64)
    config = {
        "format": FORMAT,
        "version": VERSION,
        "words": len(words),
        "dim": tensors["vectors"].shape[1],
        "counts": known,
        "training": model.training,
        "subwords": None if model.subwords is None else asdict(model.subwords),
    }
    names = [TENSORS, VOCABULARY] + ([TOKENIZER] if model.tokenizer is not None else []) + [CONFIG]
    with atomic_folder(folder) as temporary:
        write_tensors(temporary / TENSORS, tensors)
        Vocabulary(words, counts).save(temporary / VOCABULARY)
        if isinstance(model.tokenizer, Path):
            shutil.copyfile(model.tokenizer, temporary / TOKENIZER)  # no parse and re-serialise
        elif isinstance(model.tokenizer, Tokenizer):
            save_tokenizer(model.tokenizer, temporary / TOKENIZER)
        (temporary / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return [folder / name for name in names]


def read_native(path: str | os.PathLike) -> Model:
    """Open the native model folder at `path`, its tensors memory-mapped, its tokenizer read on
    first use."""
    folder = Path(path)
    config = _read_config(folder / CONFIG)
    tensors, _ = read_tensors(folder / TENSORS)
    vocabulary = _read_vocabulary(folder / VOCABULARY, config["words"])
    vectors = tensors.get("vectors")
    if vectors is None:
        raise FormatError(f"{folder / TENSORS}: holds no 'vectors' tensor")
    subwords = _subwords(folder / CONFIG, config.get("subwords"))
    if (subwords is None) != ("subword_input" not in tensors):
        raise FormatError(
            f"{folder / TENSORS}: the subword input matrix is "
            f"{'missing' if subwords else 'there'}, but {CONFIG} says the model has "
            f"{'' if subwords else 'no '}subwords"
        )
    for name, tensor in tensors.items():
        expected = (config["words"], config["dim"])
        if name == "subword_input" and subwords is not None:
            expected = (config["words"] + subwords.bucket, config["dim"])
        if tuple(tensor.shape) != expected or tensor.dtype != torch.float32:
            raise FormatError(
                f"{folder / TENSORS}: '{name}' is {tensor.dtype} of shape {tuple(tensor.shape)}, "
                f"not float32 of shape {expected} as {CONFIG} says"
            )
    tokenizer_path = folder / TOKENIZER
    return Model(
        vocabulary.words,
        vectors,
        vocabulary.counts.tolist() if config["counts"] else None,
        tensors.get("output_vectors"),
        tokenizer_path if tokenizer_path.is_file() else None,
        config["training"],
        subwords,
        tensors.get("subword_input"),
    )


def _check_replaceable(folder: Path) -> None:
    """ConfigError unless `folder` is free to write a model to: missing, empty, or a w2v model."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: exists and is not a folder")
    if not folder.parent.is_dir():
        raise ConfigError(f"{folder}: folder {folder.parent} does not exist")
    if not folder.exists():
        return
    held = sorted(entry.name for entry in folder.iterdir())
    if not held:
        return
    foreign = [name for name in held if name not in FILES]
    if foreign or CONFIG not in held:
        raise ConfigError(
            f"{folder}: holds {', '.join(foreign or held)}, not a w2v model: a model replaces the "
            "whole folder, so give an empty or new folder"
        )
    _read_config(folder / CONFIG)


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


def _subwords(path: Path, settings: Any) -> SubwordSpec | None:
    """The n-gram settings config.json holds (absent in folders of word models)."""
    if settings is None:
        return None
    keys = {"minn", "maxn", "bucket"}
    if (
        not isinstance(settings, dict)
        or set(settings) != keys
        or not all(type(value) is int and value >= 0 for value in settings.values())
    ):
        raise FormatError(f"{path}: 'subwords' is not minn, maxn and bucket, integers from 0 up")
    return SubwordSpec(**settings)


def _read_vocabulary(path: Path, size: int) -> Vocabulary:
    """The `word count` lines of `path`, which must be `size`."""
    try:
        # Split as bytes: bytes.split() cuts at ASCII whitespace only, which words never hold,
        # where str.split() also cuts at U+00A0, U+2028 or U+001F, which words may hold.
        fields = path.read_bytes().split()
    except OSError as error:
        raise FormatError(f"{path}: cannot read ({error})") from None
    try:
        # Words hold no newline, so one decode of the joined words splits back exactly.
        words = b"\n".join(fields[0::2]).decode("utf-8").split("\n") if fields else []
    except UnicodeDecodeError as error:
        raise FormatError(f"{path}: cannot read ({error})") from None
    # A split gives words and counts in turn: five times faster than reading line by line, which
    # a million words notice.
    try:
        counts = np.array(fields[1::2], dtype=np.int64)
    except (ValueError, OverflowError):
        counts = np.array([-1])
    if len(fields) % 2 or (counts < 0).any():
        Vocabulary.load(path)  # names the first bad line
        raise FormatError(f"{path}: not 'word count' lines")
    if len(counts) != size:
        raise FormatError(f"{path}: {len(counts)} words, not {size} as {CONFIG} says")
    duplicate = first_duplicate(words)
    if duplicate is not None:
        word, first, second = duplicate
        raise FormatError(
            f"{path}: the word {word!r} appears twice, in lines {first + 1} and {second + 1}"
        )
    return Vocabulary(words, counts)
