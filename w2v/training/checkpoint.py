"""Saving and loading training state, so that a killed run resumes where its last checkpoint left it.

A checkpoint folder holds two parts. The corpus part is written once, when training starts: the
encoded corpus, so that resuming does not read, count and encode the text again, with the
vocabulary, the tokenizer, and in corpus.json (written last) the settings and a fingerprint of
the corpus files. The state part is one safetensors file, replaced whole at every checkpoint:

    DIR/tokens.int32         the corpus as vocabulary ids (EncodedCorpus.tokens), memory-mapped
    DIR/sentence_ends.int64  EncodedCorpus.sentence_ends
    DIR/vocab.txt            `word count` lines (w2v.text.vocab's format)
    DIR/tokenizer.json       the tokenizer, mapping words to the vocabulary's ids
    DIR/corpus.json          {"format": "w2v-checkpoint", "version": 1, "config": TrainConfig,
                              "fingerprint": [[file, size, mtime_ns], ...], "raw_words": N,
                              "block_words": words per block, "ranks": torchrun ranks}
    DIR/state.safetensors    "input_vectors" (a subword model's with its bucket rows, written from
                             the training matrix itself, no copy), "output_vectors", "generator"
                             (torch's uint8 state; of several ranks, one row each),
                             "inner_vectors" (hierarchical softmax's inner nodes) with --hs;
                             its metadata "state" is JSON: the next block (epoch, block), words_done,
                             the epoch's loss tallies and seconds so far, and the finished epochs

The matrices and the position they belong to share one file, so every file under its real name
belongs to one consistent checkpoint: a kill while checkpointing leaves the previous one in place.
A run of several ranks (torchrun) saves right after a sync, when every rank holds the same
matrices: rank 0 writes them with every rank's generator state and the ranks' summed loss tally,
and on resuming every rank reads the folder (one host's, or a file system the hosts share).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from w2v.errors import ConfigError, FormatError, WriteError
from w2v.fileio import (
    atomic_folder,
    atomic_path,
    atomic_write,
    map_array,
    read_tensors,
    read_versioned_json,
    write_tensors,
)
from w2v.text.corpus import Source
from w2v.text.encode import EncodedCorpus
from w2v.text.tokenizer import load_tokenizer, save_tokenizer
from w2v.text.vocab import Vocabulary

FORMAT = "w2v-checkpoint"
VERSION = 1
TOKENS, ENDS, VOCABULARY, TOKENIZER, CORPUS, STATE = (
    "tokens.int32",
    "sentence_ends.int64",
    "vocab.txt",
    "tokenizer.json",
    "corpus.json",
    "state.safetensors",
)
FILES = frozenset({TOKENS, ENDS, VOCABULARY, TOKENIZER, CORPUS, STATE})
# The fields of the state's position and of corpus.json, each with its type; an epoch of the
# history holds w2v.training.loop.EpochRecord's fields.
POSITION = {
    "epoch": int,
    "block": int,
    "words_done": int,
    "epoch_loss": (int, float),
    "epoch_pairs": int,
    "epoch_seconds": (int, float),
    "history": list,
}
HISTORY = ("epoch", "loss", "learning_rate", "words_per_second", "seconds")
HEADER = {"config": dict, "fingerprint": list, "raw_words": int, "block_words": int, "ranks": int}
KIND_NAMES = {dict: "an object", list: "a list", int: "a whole number of 0 or more"}
SCAN_WORDS = 1 << 24  # ids checked at a time


@dataclass
class CheckpointPlan:
    """Where and how often training saves its state, and whether it starts from the state there."""

    folder: Path
    every_seconds: float = float("inf")  # besides every epoch end
    resume: bool = False

    def check_apart_from(self, output: str | os.PathLike) -> None:
        """ConfigError if the checkpoint folder is the output or holds it, or lies inside it:
        removing the checkpoint once the vectors are written would delete the model's files."""
        folder, written = self.folder.resolve(), Path(output).resolve()
        if folder == written or folder in written.parents or written in folder.parents:
            raise ConfigError(
                f"{self.folder}: the checkpoint folder cannot be the output {output} or hold it: "
                "give --checkpoint-dir a folder of its own"
            )


@dataclass
class TrainingState:
    """Everything training needs to go on from a block boundary as if it had never stopped."""

    epoch: int  # of the next block to train, from 0
    block: int  # within that epoch, from 0
    words_done: int  # corpus words trained so far, over all epochs; sets the learning rate
    epoch_loss: float
    epoch_pairs: int
    epoch_seconds: float  # spent on this epoch before the checkpoint
    input_vectors: torch.Tensor
    output_vectors: torch.Tensor
    generator_state: torch.Tensor
    history: list[dict[str, Any]] = field(default_factory=list)  # EpochRecords as dicts
    inner_vectors: torch.Tensor | None = None  # hierarchical softmax's inner nodes, with --hs


def default_folder(output: str | os.PathLike) -> Path:
    """The checkpoint folder of a run writing `output`: `OUTPUT.checkpoint` beside it."""
    path = Path(output)
    return path.with_name(path.name + ".checkpoint")


def fingerprint(sources: list[Source]) -> list[list[Any]]:
    """A cheap identity of the corpus: each file's absolute path, size and modification time."""
    found: list[list[Any]] = []
    for source in sources:
        if isinstance(source, Path):
            status = source.stat()
            found.append([str(source.resolve()), status.st_size, status.st_mtime_ns])
        else:
            found.append([str(source)])
    return found


def save_corpus(
    folder: Path,
    config: dict[str, Any],
    corpus_fingerprint: list[list[Any]],
    vocabulary: Vocabulary,
    tokenizer: Tokenizer,
    corpus: EncodedCorpus,
    block_words: int,
    ranks: int = 1,
) -> None:
    """Start a checkpoint folder: the encoded corpus, vocabulary and tokenizer, corpus.json last.
    A folder holding files that are not a checkpoint's (a model, the user's) is refused untouched:
    they would be overwritten now and deleted with the checkpoint."""
    foreign = sorted(
        entry.name
        for entry in (folder.iterdir() if folder.is_dir() else ())
        if entry.name not in FILES and not entry.name.startswith(".")
    )
    if foreign or ((folder / VOCABULARY).exists() and not (folder / CORPUS).exists()):
        raise ConfigError(
            f"{folder}: holds {', '.join(foreign or [VOCABULARY])}, not a w2v checkpoint: give "
            "--checkpoint-dir an empty or new folder"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{folder}: cannot make the checkpoint folder ({error})") from None
    # An earlier run's state must not pass for this run's while the corpus part is replaced.
    (folder / STATE).unlink(missing_ok=True)
    (folder / CORPUS).unlink(missing_ok=True)
    with atomic_path(folder / TOKENS) as temporary:
        if isinstance(corpus.tokens, np.memmap):
            link_or_copy(Path(corpus.tokens.filename), temporary)
        else:
            corpus.tokens.astype(np.int32).tofile(temporary)
    atomic_write(folder / ENDS, corpus.sentence_ends.astype(np.int64).tobytes())
    vocabulary.save(folder / VOCABULARY)
    save_tokenizer(tokenizer, folder / TOKENIZER)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "config": config,
        "fingerprint": corpus_fingerprint,
        "raw_words": corpus.raw_words,
        "block_words": block_words,
        "ranks": ranks,
    }
    atomic_write(folder / CORPUS, (json.dumps(header, indent=2) + "\n").encode("utf-8"))


def link_or_copy(source: Path, target: Path) -> None:
    """Make `target` a hard link to `source` (nothing is written: on a full disk too), or a copy
    of it, streamed, where the two lie on different file systems. Nothing writes to an encoded
    corpus once made, so a link shares no change."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


@dataclass
class FinishedRun:
    """What the checkpoint of a run past its last epoch holds, kept until its vectors are written,
    so that if they cannot be it is saved and --resume writes them without training again."""

    settings: dict[str, Any]
    fingerprint: list[list[Any]]
    vocabulary: Vocabulary
    tokenizer: Tokenizer
    corpus: EncodedCorpus
    block_words: int
    state: TrainingState
    work_dir: tempfile.TemporaryDirectory | None = None  # holds the corpus's file, if mapped

    @classmethod
    def keep(
        cls,
        settings: dict[str, Any],
        corpus_fingerprint: list[list[Any]],
        vocabulary: Vocabulary,
        tokenizer: Tokenizer,
        corpus: EncodedCorpus,
        block_words: int,
        state: TrainingState,
    ) -> FinishedRun:
        """The finished run, its memory-mapped corpus file moved (renamed, not copied: both lie
        in the temporary folder) out of the run's work folder, which is about to be removed."""
        run = cls(settings, corpus_fingerprint, vocabulary, tokenizer, corpus, block_words, state)
        if isinstance(corpus.tokens, np.memmap):
            run.work_dir = tempfile.TemporaryDirectory(prefix="w2v-", ignore_cleanup_errors=True)
            kept = Path(run.work_dir.name) / TOKENS
            os.replace(corpus.tokens.filename, kept)
            run.corpus = EncodedCorpus(
                map_array(kept, np.int32), corpus.sentence_ends, corpus.raw_words
            )
        return run

    def save(self, folder: Path, private: bool = False) -> None:
        """Save the run as a checkpoint in the new folder `folder`, whole or not at all (a folder
        already there is left alone); readable by its owner only if `private`."""
        if folder.exists():
            raise WriteError(f"{folder}: already exists, left alone")
        with atomic_folder(folder) as temporary:
            if private:
                temporary.chmod(0o700)  # in the shared temporary folder, as the run's work folder
            save_corpus(
                temporary,
                self.settings,
                self.fingerprint,
                self.vocabulary,
                self.tokenizer,
                self.corpus,
                self.block_words,
            )
            save_state(temporary, self.state)

    def close(self) -> None:
        """Remove the kept corpus file: the vectors are written, or the checkpoint holds it."""
        if self.work_dir is not None:
            self.work_dir.cleanup()


def load_corpus(
    folder: Path,
    config: dict[str, Any],
    corpus_fingerprint: list[list[Any]],
    block_words: int,
    ranks: int = 1,
) -> tuple[Vocabulary, Tokenizer, EncodedCorpus]:
    """The vocabulary, tokenizer and encoded corpus of a checkpoint made with these very settings,
    corpus and number of ranks; ConfigError naming the first difference otherwise, FormatError
    naming the file for anything a kernel could not train on safely (an id past the vocabulary, a
    bad count)."""
    header = _read_header(folder)
    if header["ranks"] != ranks:
        raise ConfigError(
            f"{folder}: checkpoint made by {header['ranks']} rank(s), this run has {ranks}: "
            "resume with as many (torchrun --nproc_per_node and --nnodes)"
        )
    for key, value in config.items():
        if header["config"].get(key) != value:
            raise ConfigError(
                f"{folder}: checkpoint made with {key.replace('_', '-')} "
                f"{header['config'].get(key)!r}, this run has {value!r}: resume with the same settings"
            )
    if header["fingerprint"] != corpus_fingerprint:
        raise ConfigError(
            f"{folder}: checkpoint made on another corpus, or its files changed since: "
            "resume with the same corpus"
        )
    if header["block_words"] != block_words:
        raise ConfigError(
            f"{folder}: checkpoint made with blocks of {header['block_words']} words, "
            f"this w2v uses {block_words}"
        )
    vocabulary = Vocabulary.load(folder / VOCABULARY)
    if len(vocabulary) == 0 or (vocabulary.counts < 1).any():
        raise FormatError(f"{folder / VOCABULARY}: empty, or a word counted under once")
    tokenizer = load_tokenizer(folder / TOKENIZER)
    if tokenizer.get_vocab_size() != len(vocabulary) + 1:  # the words and the unknown word
        raise FormatError(
            f"{folder / TOKENIZER}: maps {tokenizer.get_vocab_size() - 1} words, "
            f"not the {len(vocabulary)} of {VOCABULARY}"
        )
    try:
        ends = np.fromfile(folder / ENDS, dtype=np.int64)
        tokens = map_array(folder / TOKENS, np.int32)
    except (OSError, ValueError) as error:
        raise FormatError(f"{folder}: cannot read the encoded corpus ({error})") from None
    if len(ends) == 0 or ends[-1] != len(tokens) or ends[0] < 1 or (np.diff(ends) < 1).any():
        raise FormatError(f"{folder}: {TOKENS} and {ENDS} do not match")
    corpus = EncodedCorpus(tokens, ends, header["raw_words"])
    # Read in blocks, as training reads it, rather than all of the memory map at once.
    for start in range(0, len(corpus), SCAN_WORDS):
        ids = corpus.read(start, min(start + SCAN_WORDS, len(corpus)))
        if ids.min() < 0 or ids.max() >= len(vocabulary):
            raise FormatError(
                f"{folder / TOKENS}: holds ids outside the vocabulary's 0..{len(vocabulary) - 1}"
            )
    return vocabulary, tokenizer, corpus


def save_state(folder: Path, state: TrainingState) -> None:
    """Replace the checkpoint's state file with `state`, whole or not at all."""
    tensors = {
        "input_vectors": state.input_vectors,
        "output_vectors": state.output_vectors,
        "generator": state.generator_state,
    }
    if state.inner_vectors is not None:
        tensors["inner_vectors"] = state.inner_vectors
    position = {
        "epoch": state.epoch,
        "block": state.block,
        "words_done": state.words_done,
        "epoch_loss": state.epoch_loss,
        "epoch_pairs": state.epoch_pairs,
        "epoch_seconds": state.epoch_seconds,
        "history": state.history,
    }
    write_tensors(folder / STATE, tensors, metadata={"state": json.dumps(position)})


def load_state(
    folder: Path, config: Any, words: int, corpus_words: int, ranks: int = 1
) -> TrainingState:
    """The training state saved in `folder`, checked against the run's settings (`config`, a
    TrainConfig), its vocabulary of `words` words, its corpus of `corpus_words` words and its
    `ranks`, so that no kernel ever sees a matrix of the wrong shape or dtype: FormatError naming
    the file otherwise. Of several ranks, the generator state has a row for each."""
    path = folder / STATE
    if not path.is_file():
        raise ConfigError(
            f"{folder}: holds no training state: the run stopped before its first checkpoint"
        )
    # Copies: training writes into the matrices, and a memory-mapped file is read-only.
    tensors, metadata = read_tensors(path, copy=True)
    if set(metadata) != {"state"}:
        raise FormatError(f"{path}: metadata {sorted(metadata)}, not a w2v training state's")
    names = {"input_vectors", "output_vectors", "generator"} | (
        {"inner_vectors"} if config.hs else set()
    )
    if set(tensors) != names:
        raise FormatError(f"{path}: holds the tensors {sorted(tensors)}, not {sorted(names)}")
    # A subword model's input matrix holds the n-gram buckets' rows after the words'.
    spec = config.subword_spec()
    inputs = words + (spec.bucket if spec is not None else 0)
    shapes = {"input_vectors": (inputs, config.dim), "output_vectors": (words, config.dim)}
    if config.hs:
        shapes["inner_vectors"] = (max(words - 1, 0), config.dim)
    for name, shape in shapes.items():
        tensor = tensors[name]
        if tensor.dtype != torch.float32 or tuple(tensor.shape) != shape:
            raise FormatError(
                f"{path}: '{name}' is {tensor.dtype} of shape {tuple(tensor.shape)}, not "
                f"float32 of shape {shape} as the vocabulary and --dim say"
            )
    generator = tensors["generator"]
    try:
        if generator.dtype != torch.uint8:
            raise ValueError(f"{generator.dtype}, not uint8")
        if ranks > 1 and (generator.dim() != 2 or len(generator) != ranks):
            raise ValueError(f"shape {tuple(generator.shape)}, not a row for each of {ranks} ranks")
        # A row of its own: set_state reads a view's storage from its start, past its end.
        for state in generator if ranks > 1 else [generator]:
            torch.Generator(device=config.resolved_device()).set_state(state.clone())
    except (RuntimeError, ValueError, TypeError) as error:
        raise FormatError(
            f"{path}: not a random generator state of this device ({error})"
        ) from None
    try:
        position = json.loads(metadata["state"])
    except ValueError as error:
        raise FormatError(f"{path}: not a w2v training state ({error})") from None
    _check_position(path, position, config.epochs, corpus_words)
    return TrainingState(
        input_vectors=tensors["input_vectors"],
        output_vectors=tensors["output_vectors"],
        generator_state=generator,
        inner_vectors=tensors.get("inner_vectors"),
        **position,
    )


def _check_position(path: Path, position: Any, epochs: int, corpus_words: int) -> None:
    """FormatError unless `position` holds exactly the fields save_state writes, each of its type
    and within the run: an epoch up to `epochs`, words up to all epochs', a history of finished
    epochs. (A block past the epoch's last trains nothing of that epoch: no harm.)"""
    if not isinstance(position, dict) or set(position) != set(POSITION):
        keys = sorted(position) if isinstance(position, dict) else type(position).__name__
        raise FormatError(f"{path}: position {keys}, not {sorted(POSITION)}")
    for name, kind in POSITION.items():
        value = position[name]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise FormatError(f"{path}: '{name}' is {value!r}, not a number or list as saved")
        if kind is not list and not 0 <= value < float("inf"):
            raise FormatError(f"{path}: '{name}' is {value!r}, not a finite number of 0 or more")
    limits = {
        "epoch": epochs,
        "words_done": epochs * corpus_words,
        "history": position["epoch"],
    }
    for name, most in limits.items():
        value = position[name]
        if (len(value) if isinstance(value, list) else value) > most:
            raise FormatError(f"{path}: '{name}' is past the run's {most}")
    for record in position["history"]:
        if (
            not isinstance(record, dict)
            or set(record) != set(HISTORY)
            or not all(type(value) in (int, float) for value in record.values())
        ):
            raise FormatError(f"{path}: an epoch of the history is not {list(HISTORY)}")


def remove(folder: Path) -> None:
    """Delete the checkpoint's files, and the folder if nothing else is left in it."""
    for name in (STATE, CORPUS, TOKENS, ENDS, VOCABULARY, TOKENIZER):
        (folder / name).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _read_header(folder: Path) -> dict[str, Any]:
    try:
        header = read_versioned_json(folder / CORPUS, FORMAT, VERSION, "w2v checkpoint")
    except FileNotFoundError:
        raise ConfigError(f"{folder}: not a w2v checkpoint folder (no {CORPUS})") from None
    # Checkpoints from before ranks could save one were all made by one process.
    header.setdefault("ranks", 1)
    for name, kind in HEADER.items():
        value = header.get(name)
        if isinstance(value, bool) or not isinstance(value, kind) or (kind is int and value < 0):
            raise FormatError(f"{folder / CORPUS}: '{name}' is missing, or not {KIND_NAMES[kind]}")
    return header
