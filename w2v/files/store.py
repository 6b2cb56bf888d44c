"""The one reader and writer of models: training, `convert`, `load` and `KeyedVectors.save` all
go through `read_model` and `write_model`, so every path keeps the same things.

A native folder (`w2v.files.native`) keeps everything. A word2vec file (.bin, .txt, .vec) holds the
words and their input vectors; the tokenizer and the counts go beside it (`NAME.tokenizer.json`,
`NAME.vocab.txt`, read back with it); the output matrix and the training settings cannot be kept,
and `write_model` says so in what it returns.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from w2v.errors import FormatError
from w2v.fileio import sidecar_paths
from w2v.files.model import Model
from w2v.files.native import is_native, read_native, write_native
from w2v.files.word2vec import read_word2vec, write_word2vec
from w2v.text.tokenizer import load_tokenizer, save_tokenizer
from w2v.text.vocab import Vocabulary


@dataclass
class Written:
    """The files a model was written to, and what of it the format could not hold."""

    paths: list[Path]
    left_out: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """`wrote` and the files, then, on a line of its own, what was left out, if anything."""
        lines = [f"wrote {', '.join(map(str, self.paths))}"]
        if self.left_out:
            lines.append(self.note())
        return "\n".join(lines)

    def note(self) -> str:
        """What the format could not hold, and where it would have been kept ('' for nothing)."""
        if not self.left_out:
            return ""
        return (
            f"left out of {self.paths[0].name}: the {' and the '.join(self.left_out)}, which a "
            "word2vec file cannot hold (a native model folder, -o model/, keeps them)"
        )


def read_model(path: str | os.PathLike, unicode_errors: str = "strict") -> Model:
    """The model at `path`: a native model folder, or a word2vec file with the tokenizer and counts
    saved beside it when they are there. `unicode_errors` is how a word2vec file's words that are
    not UTF-8 are decoded: "strict" refuses them, "replace" and "ignore" as Python's codecs."""
    if Path(path).is_dir():
        return read_native(path)
    words, vectors = read_word2vec(path, unicode_errors=unicode_errors)
    tokenizer_path, vocabulary_path = sidecar_paths(Path(path))
    counts = None
    if vocabulary_path.is_file():
        vocabulary = Vocabulary.load(vocabulary_path)
        if vocabulary.words != words:
            raise FormatError(f"{vocabulary_path}: its words are not those of {path}")
        counts = vocabulary.counts.tolist()
    # Read now, unlike a folder's: parsing it costs little beside parsing the vectors file.
    tokenizer = load_tokenizer(tokenizer_path) if tokenizer_path.is_file() else None
    return Model(words, vectors, counts, None, tokenizer, None)


def write_model(path: str | os.PathLike, model: Model) -> Written:
    """Write `model` in the format `path`'s name asks for (see `w2v.files.native.is_native`)."""
    if is_native(path):
        return Written(write_native(path, model))
    path = Path(path)
    tokenizer_path, vocabulary_path = sidecar_paths(path)
    tokenizer = model.loaded_tokenizer()  # before its file, which may be the sidecar, goes
    # Sidecars of an earlier file of this name go first: a crash part way then leaves vectors
    # without sidecars, never new vectors beside old counts.
    tokenizer_path.unlink(missing_ok=True)
    vocabulary_path.unlink(missing_ok=True)
    write_word2vec(path, model.words, model.vectors, binary=path.suffix.lower() == ".bin")
    written = Written([path])
    if tokenizer is not None:
        save_tokenizer(tokenizer, tokenizer_path)
        written.paths.append(tokenizer_path)
    if model.counts is not None:
        Vocabulary(model.words, np.asarray(model.counts, dtype=np.int64)).save(vocabulary_path)
        written.paths.append(vocabulary_path)
    if model.output_vectors is not None:
        written.left_out.append("output vectors")
    if model.training is not None:
        written.left_out.append("training settings")
    return written


def convert(source: str | os.PathLike, target: str | os.PathLike) -> Written:
    """Read the model at `source` and write it to `target`."""
    return write_model(target, read_model(source))
