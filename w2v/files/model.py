"""Converting a model between word2vec binary, word2vec text and the native folder format."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from w2v.errors import FormatError
from w2v.fileio import sidecar_paths
from w2v.files.native import NativeModel, is_native, read_native, write_native
from w2v.files.word2vec import read_word2vec, write_word2vec
from w2v.text.tokenizer import save_tokenizer
from w2v.text.vocab import Vocabulary


def read_model(path: str | os.PathLike) -> NativeModel:
    """A native model folder, or a word2vec file with the tokenizer and counts saved beside it
    (`NAME.tokenizer.json`, `NAME.vocab.txt`) when they are there."""
    if Path(path).is_dir():
        return read_native(path)
    words, vectors = read_word2vec(path)
    tokenizer_path, vocabulary_path = sidecar_paths(Path(path))
    counts = None
    if vocabulary_path.is_file():
        vocabulary = Vocabulary.load(vocabulary_path)
        if vocabulary.words != words:
            raise FormatError(f"{vocabulary_path}: its words are not those of {path}")
        counts = vocabulary.counts.tolist()
    tokenizer = tokenizer_path if tokenizer_path.is_file() else None
    return NativeModel(words, vectors, counts, None, tokenizer, None)


def write_model(path: str | os.PathLike, model: NativeModel) -> list[Path]:
    """Write `model` in the format `path`'s name asks for (see `w2v.files.native.is_native`); return the
    files written. A word2vec file gets the tokenizer and counts beside it; it cannot hold the
    output vectors or the training settings."""
    tokenizer = model.tokenizer
    if is_native(path):
        return write_native(
            path,
            model.words,
            model.vectors,
            model.counts,
            model.output_vectors,
            tokenizer,
            model.training,
        )
    path = Path(path)
    write_word2vec(path, model.words, model.vectors, binary=path.suffix.lower() == ".bin")
    written = [path]
    tokenizer_path, vocabulary_path = sidecar_paths(path)
    # Sidecars left from an earlier file of this name are not this model's.
    if tokenizer is None:
        tokenizer_path.unlink(missing_ok=True)
    else:
        save_tokenizer(tokenizer, tokenizer_path)
        written.append(tokenizer_path)
    if model.counts is None:
        vocabulary_path.unlink(missing_ok=True)
    else:
        Vocabulary(model.words, np.asarray(model.counts, dtype=np.int64)).save(vocabulary_path)
        written.append(vocabulary_path)
    return written


def convert(source: str | os.PathLike, target: str | os.PathLike) -> list[Path]:
    """Read the model at `source` and write it to `target`; return the files written."""
    return write_model(target, read_model(source))
