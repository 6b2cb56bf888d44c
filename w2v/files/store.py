"""The one reader and writer of models: training, `convert`, `load` and `KeyedVectors.save` all
go through `read_model` and `write_model`, so every path keeps the same things.

A native folder (`w2v.files.native`) keeps everything. A word2vec file (.bin, .txt, .vec) holds the
words and their input vectors; the tokenizer and the counts go beside it (`NAME.tokenizer.json`,
`NAME.vocab.txt`, read back with it); the output matrix, the training settings and a subword model's
n-gram rows cannot be kept, and `write_model` says so in what it returns. A subword model written to
a .bin name goes out in Facebook fastText's format (`w2v.files.fasttext`), which holds its n-grams,
counts, output matrix and settings, with the tokenizer beside it; `word2vec=True` asks for a
word2vec file of its composed word vectors instead. Reading tells the two .bin formats apart by
content: a fastText file starts with fastText's magic number, a word2vec file with its header line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from w2v.errors import FormatError
from w2v.fileio import sidecar_paths
from w2v.files.fasttext import MAGIC, is_fasttext, read_fasttext, write_fasttext
from w2v.files.model import Model
from w2v.files.native import is_native, read_native, write_native
from w2v.files.word2vec import read_word2vec, starts_with_header, write_word2vec
from w2v.text.tokenizer import load_tokenizer, save_tokenizer
from w2v.text.vocab import Vocabulary


@dataclass
class Written:
    """The files a model was written to, and what of it the format could not hold."""

    paths: list[Path]
    left_out: list[str] = field(default_factory=list)
    form: str = "a word2vec file"  # what could not hold what was left out

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
            f"left out of {self.paths[0].name}: the {' and the '.join(self.left_out)}, which "
            f"{self.form} cannot hold (a native model folder, -o model/, keeps them)"
        )


def read_model(
    path: str | os.PathLike, unicode_errors: str = "strict", no_header: bool | None = None
) -> Model:
    """The model at `path`: a native model folder, a fastText .bin model (`w2v.files.fasttext`),
    or a word2vec file, each with the tokenizer (and a word2vec file with the counts) saved beside
    it when they are there. `unicode_errors` is how words that are not UTF-8 are decoded: "strict"
    refuses them, "replace" and "ignore" as Python's codecs. `no_header` as
    `w2v.files.word2vec.read_word2vec`'s: None finds out whether a text file starts with the
    "count dim" line or, as GloVe's files, with the first word."""
    path = Path(path)
    if path.is_dir():
        return read_native(path)
    tokenizer_path, vocabulary_path = sidecar_paths(path)
    if is_fasttext(path):
        model = read_fasttext(path, unicode_errors=unicode_errors)
        if tokenizer_path.is_file():
            model.tokenizer = load_tokenizer(tokenizer_path)
        return model
    if (
        path.suffix.lower() == ".bin"
        and path.is_file()
        and path.stat().st_size > 0  # which the word2vec reader calls empty
        and not starts_with_header(path)
    ):
        raise FormatError(
            f"{path}: neither a fastText model (which starts with the magic number {MAGIC}) nor "
            "a word2vec file (whose first line is two positive integers, the number of words and "
            "the dimension)"
        )
    words, vectors = read_word2vec(path, unicode_errors=unicode_errors, no_header=no_header)
    counts = None
    if vocabulary_path.is_file():
        vocabulary = Vocabulary.load(vocabulary_path)
        if vocabulary.words != words:
            raise FormatError(f"{vocabulary_path}: its words are not those of {path}")
        counts = vocabulary.counts.tolist()
    # Read now, unlike a folder's: parsing it costs little beside parsing the vectors file.
    tokenizer = load_tokenizer(tokenizer_path) if tokenizer_path.is_file() else None
    return Model(words, vectors, counts, None, tokenizer, None)


def write_model(path: str | os.PathLike, model: Model, word2vec: bool = False) -> Written:
    """Write `model` in the format `path`'s name asks for (see `w2v.files.native.is_native`): a
    subword model to a .bin name in fastText's format unless `word2vec`, which asks for a word2vec
    file of its composed word vectors."""
    if is_native(path):
        return Written(write_native(path, model))
    path = Path(path)
    fasttext = path.suffix.lower() == ".bin" and model.subwords is not None and not word2vec
    tokenizer_path, vocabulary_path = sidecar_paths(path)
    tokenizer = model.loaded_tokenizer()  # before its file, which may be the sidecar, goes
    # Sidecars of an earlier file of this name go first: a crash part way then leaves vectors
    # without sidecars, never new vectors beside old counts.
    tokenizer_path.unlink(missing_ok=True)
    vocabulary_path.unlink(missing_ok=True)
    if fasttext:
        write_fasttext(path, model)
        written = Written([path], form="a fastText file")
    else:
        write_word2vec(path, model.words, model.vectors, binary=path.suffix.lower() == ".bin")
        written = Written([path])
    if tokenizer is not None:
        save_tokenizer(tokenizer, tokenizer_path)
        written.paths.append(tokenizer_path)
    if fasttext:
        return written  # the counts, output vectors and settings are in the file
    if model.counts is not None:
        Vocabulary(model.words, np.asarray(model.counts, dtype=np.int64)).save(vocabulary_path)
        written.paths.append(vocabulary_path)
    if model.output_vectors is not None:
        written.left_out.append("output vectors")
    if model.subwords is not None:
        written.left_out.append("n-gram vectors")
    if model.training is not None:
        written.left_out.append("training settings")
    return written


def convert(
    source: str | os.PathLike,
    target: str | os.PathLike,
    word2vec: bool = False,
    no_header: bool | None = None,
) -> Written:
    """Read the model at `source` and write it to `target` (`word2vec` and `no_header` as
    `write_model`'s and `read_model`'s)."""
    return write_model(target, read_model(source, no_header=no_header), word2vec=word2vec)
