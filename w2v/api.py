"""The library's front door: train on text to vectors you can query and save, and go on training
a saved model. It joins the layers below it: corpora by name, training, the model files and the
queries."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from corpora.sources import resolve_sources
from w2v.errors import ConfigError, WriteError
from w2v.files.store import Written, read_model
from w2v.query.vectors import KeyedVectors
from w2v.text.corpus import PieceSource
from w2v.text.subwords import SubwordSpec
from w2v.training import checkpoint
from w2v.training.checkpoint import CheckpointPlan, FinishedRun
from w2v.training.config import TrainConfig
from w2v.training.continued import InitialModel
from w2v.training.loop import EpochRecord
from w2v.training.run import run_training


@dataclass
class TrainedModel:
    """What training produces: the word vectors (with the output matrix, the tokenizer, the counts
    and the settings, all of which `save` writes), and how the run went."""

    vectors: KeyedVectors
    config: TrainConfig
    history: list[EpochRecord]
    raw_words: int  # words in the corpus, those outside the vocabulary included
    encode_seconds: float  # counting, vocabulary and encoding
    train_seconds: float  # the epochs
    distributed: dict | None = None  # under torchrun: ranks, sync interval, each rank's blocks
    finished: FinishedRun | None = None  # trained `resumable`: kept until `write_trained` is done
    pruned_types: int = 0  # word types pruned while counting under --max-vocab-memory
    prune_threshold: int = 0  # the last prune dropped words seen at most this many times

    @property
    def subwords(self) -> SubwordSpec | None:
        """A subword model's n-gram settings (its vectors are then the words' composed ones)."""
        return self.vectors.subwords

    @property
    def subword_input(self) -> torch.Tensor | None:
        """A subword model's whole input matrix: the words' rows, then the bucket rows."""
        return self.vectors.subword_input

    @property
    def output_vectors(self) -> torch.Tensor:
        """The output matrix, which negative sampling trains against."""
        return self.vectors.output_vectors

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer the corpus was read with, mapping words to their rows."""
        return self.vectors.tokenizer

    @property
    def words_per_second(self) -> float:
        """Raw corpus words trained per second, over all epochs."""
        return self.raw_words * self.config.epochs / self.train_seconds

    def log(self, corpus: Sequence[object]) -> dict[str, Any]:
        """JSON-ready settings, sizes and timings of the run on `corpus`, with a record per epoch."""
        log = {
            "corpus": [str(source) for source in corpus],
            "config": asdict(self.config),
            "vocabulary": len(self.vectors),
            "corpus_words": self.raw_words,
            "encode_seconds": self.encode_seconds,
            "train_seconds": self.train_seconds,
            "words_per_second": self.words_per_second,
            "epochs": [asdict(record) for record in self.history],
        }
        if self.pruned_types:
            log["counting"] = {
                "pruned_types": self.pruned_types,
                "prune_threshold": self.prune_threshold,
            }
        if self.distributed:
            log["distributed"] = self.distributed
        return log

    def save(self, path: str | os.PathLike) -> Written:
        """Write the model where `path`'s name says (see `w2v.files.store`): a native model folder
        keeps everything, a word2vec file the vectors with the tokenizer and counts beside it."""
        return self.vectors.save(path)


def write_trained(
    model: TrainedModel, output: str | os.PathLike, checkpoints: CheckpointPlan | None
) -> Written:
    """Write `model` to `output`, then remove the run's checkpoint, which has nothing left to
    resume. If the disk refuses the vectors (full, a file-size limit), the checkpoint, saved at
    the last epoch's end, is kept, or without one the state of a model trained `resumable` is
    saved as one (`keep_finished`), and the WriteError says how to write the vectors from it."""
    try:
        written = model.save(output)
    except WriteError as error:
        if checkpoints is None:
            raise keep_finished(model.finished, output, error) from None
        raise WriteError(
            f"{error}: the trained state is kept in {checkpoints.folder}: make room, then train "
            f"again with --resume {checkpoints.folder} to write the vectors"
        ) from None
    finally:
        if model.finished is not None:
            model.finished.close()
            model.finished = None
    if checkpoints is not None:
        checkpoint.remove(checkpoints.folder)
    return written


def keep_finished(
    finished: FinishedRun | None, output: str | os.PathLike, error: WriteError
) -> WriteError:
    """The error for vectors that could not be written (`error`), once `finished` is saved as a
    checkpoint beside `output` (OUTPUT.checkpoint, the default checkpoint folder) or, if that
    fails too, in the temporary folder: naming the folder to resume from, or why none was kept."""
    if finished is None:
        return WriteError(
            f"{error}: the trained vectors are lost; with --checkpoint-dir a run keeps its "
            "trained state until the vectors are written"
        )
    beside = checkpoint.default_folder(output)
    # A name of its own: the temporary folder is shared by every run and user.
    temporary = Path(tempfile.gettempdir()) / f"{beside.name}-{uuid.uuid4().hex[:8]}"
    failures: list[str] = []
    for folder, private in ((beside, False), (temporary, True)):
        try:
            finished.save(folder, private=private)
        except WriteError as failure:
            failures.append(str(failure))
            continue
        refused = f" ({failures[0]})" if failures else ""
        return WriteError(
            f"{error}: the trained state is kept in {folder}{refused}: make room, then run the "
            f"same train command with --resume {folder} added: it writes the vectors without "
            "training again"
        )
    return WriteError(
        f"{error}: the trained vectors are lost: no checkpoint of them could be kept either "
        f"({'; '.join(failures)})"
    )


def load_initial(path: str | os.PathLike) -> InitialModel:
    """The saved model at `path`, to train on from; ConfigError, in one line, for what cannot be
    continued."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"--init {path}: no such model folder")
    model = read_model(path)
    return InitialModel.start(
        path,
        model.words,
        model.counts,
        model.vectors,
        model.output_vectors,
        model.loaded_tokenizer(),
        model.training,
        subwords=model.subwords,
        subword_input=model.subword_input,
    )


def train(
    paths: Sequence[str | Path | PieceSource],
    config: TrainConfig | None = None,
    progress: bool = True,
    checkpoints: CheckpointPlan | None = None,
    init: str | Path | InitialModel | None = None,
    resumable: bool = False,
) -> TrainedModel:
    """Train word vectors on the corpora in `paths`: files, folders, globs, `hf:NAME`, `text8`...

    See `corpora.sources.resolve_sources` for what each item may be. With `checkpoints`, the
    training state is saved in its folder at every epoch end and every `every_seconds`; with
    `checkpoints.resume`, training goes on from the state saved there instead of starting afresh.
    With `init`, a saved model (a native folder), training goes on from that model
    (w2v.training.continued): its vocabulary grows by the new text's words, and `config` defaults
    to its settings. With `resumable` and no `checkpoints`, the model keeps its encoded corpus
    (in the temporary folder) and training state until `write_trained`, which saves them as a
    checkpoint if the vectors cannot be written.
    """
    initial = load_initial(init) if isinstance(init, str | Path) else init
    if config is None:
        config = TrainConfig() if initial is None else initial.config()
    sources = resolve_sources(paths, progress=progress)
    result = run_training(sources, config, progress, checkpoints, initial, resumable)
    vectors = KeyedVectors(
        result.vocabulary.words,
        result.input_vectors,
        result.vocabulary.counts.tolist(),
        tokenizer=result.tokenizer,
        output_vectors=result.output_vectors,
        training=asdict(result.config),
        subwords=result.subwords,
        subword_input=result.subword_input,
    )
    return TrainedModel(
        vectors,
        result.config,
        result.history,
        result.raw_words,
        result.encode_seconds,
        result.train_seconds,
        result.distributed,
        result.finished,
        result.pruned_types,
        result.prune_threshold,
    )
