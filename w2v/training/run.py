"""One training run from text to matrices: count, build the vocabulary and encode the corpus (or
take them from a checkpoint), then run the epochs, alone or as one rank of several."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import torch
from tokenizers import Tokenizer

from w2v.text.corpus import Source
from w2v.text.encode import EncodedCorpus, encode_corpus
from w2v.text.phrases import write_phrases
from w2v.text.subwords import SubwordSpec, composed_vectors, subword_rows
from w2v.text.tokenizer import make_tokenizer
from w2v.text.vocab import Vocabulary
from w2v.training import checkpoint, distributed
from w2v.training.checkpoint import CheckpointPlan, FinishedRun
from w2v.training.config import TrainConfig
from w2v.training.continued import InitialModel
from w2v.training.loop import EpochRecord, block_size, train_vectors


@dataclass
class TrainingResult:
    """What a run produces: the vocabulary, its tokenizer, both matrices and the history. For a
    subword model `input_vectors` are the words' composed vectors (the mean of each word's rows,
    fastText's word vectors) and `subword_input` the whole input matrix, bucket rows included."""

    vocabulary: Vocabulary
    tokenizer: Tokenizer
    input_vectors: torch.Tensor
    output_vectors: torch.Tensor
    config: TrainConfig
    history: list[EpochRecord]
    raw_words: int  # words in the corpus, those outside the vocabulary included
    encode_seconds: float  # counting, vocabulary and encoding
    train_seconds: float  # the epochs
    distributed: dict | None = None  # under torchrun: ranks, sync interval, each rank's blocks
    subwords: SubwordSpec | None = None
    subword_input: torch.Tensor | None = None  # (V + bucket) x D
    finished: FinishedRun | None = None  # with `resumable`: what a checkpoint of the run needs
    pruned_types: int = 0  # word types pruned while counting under --max-vocab-memory
    prune_threshold: int = 0  # the last prune dropped words seen at most this many times


def run_training(
    sources: list[Source],
    config: TrainConfig,
    progress: bool = True,
    checkpoints: CheckpointPlan | None = None,
    initial: InitialModel | None = None,
    resumable: bool = False,
) -> TrainingResult:
    """Train on `sources` with `config`. With `checkpoints`, the state is saved in its folder at
    every epoch end and every `every_seconds`, and with `checkpoints.resume` training goes on from
    the state saved there. From `initial`, training goes on from that model: its vocabulary grows
    by the new text's words (w2v.training.continued). With `resumable`, a run of one process
    without `checkpoints` keeps its encoded corpus and final state (`finished`), to be saved as a
    checkpoint if its vectors cannot be written."""
    config.validate()
    config = config.resolved()
    if initial is not None:
        initial.check(config)
    group = distributed.setup(config.resolved_device())
    ranks = 1 if group is None else group.world
    size_of_blocks = block_size(config, group)
    progress = progress and (group is None or group.rank == 0)
    start = time.perf_counter()
    settings, corpus_fingerprint = asdict(config), checkpoint.fingerprint(sources)
    resumed = None
    with tempfile.TemporaryDirectory(prefix="w2v-") as work_dir:
        if checkpoints is not None and checkpoints.resume:
            vocabulary, tokenizer, corpus = checkpoint.load_corpus(
                checkpoints.folder, settings, corpus_fingerprint, size_of_blocks, ranks
            )
            resumed = checkpoint.load_state(
                checkpoints.folder, config, len(vocabulary), len(corpus), ranks
            )
        else:
            vocabulary, tokenizer, corpus = encode_text(
                sources, config, Path(work_dir), progress, initial
            )
            if group is not None:
                distributed.check_same(
                    group, (vocabulary.words, corpus.raw_words, len(corpus)), "the corpus"
                )
            if checkpoints is not None and distributed.is_writer():
                checkpoint.save_corpus(
                    checkpoints.folder,
                    settings,
                    corpus_fingerprint,
                    vocabulary,
                    tokenizer,
                    corpus,
                    size_of_blocks,
                    ranks,
                )
        encoded = time.perf_counter()
        start_from = (
            initial.matrices(vocabulary, config.seed)
            if initial is not None and resumed is None
            else None
        )
        # A checkpoint saved past the last epoch (its vectors could not be written) leaves only
        # the writing to do: its matrices are the trained ones, its history the epochs'.
        all_done = resumed is not None and resumed.epoch >= config.epochs
        if all_done:
            state, history = resumed, [EpochRecord(**record) for record in resumed.history]
            input_vectors, output_vectors = resumed.input_vectors, resumed.output_vectors
        else:
            input_vectors, output_vectors, history, state = train_vectors(
                corpus,
                vocabulary,
                config,
                progress,
                checkpoints,
                resumed,
                group,
                initial=start_from,
            )
        trained = time.perf_counter()
        raw_words = corpus.raw_words
        pruned = {"pruned_types": corpus.pruned_types, "prune_threshold": corpus.prune_threshold}
        input_vectors, output_vectors = input_vectors.cpu(), output_vectors.cpu()
        finished = None
        if resumable and checkpoints is None and group is None:
            inner = None if state.inner_vectors is None else state.inner_vectors.cpu()
            finished = FinishedRun.keep(
                settings,
                corpus_fingerprint,
                vocabulary,
                tokenizer,
                corpus,
                size_of_blocks,
                replace(
                    state,
                    input_vectors=input_vectors,
                    output_vectors=output_vectors,
                    inner_vectors=inner,
                ),
            )
        del corpus  # the memory map must close before its folder is removed
    spec, subword_input = config.subword_spec(), None
    if spec is not None:
        subword_input = input_vectors
        starts, rows = subword_rows(vocabulary.words, spec, len(vocabulary))
        input_vectors = torch.from_numpy(composed_vectors(subword_input.numpy(), starts, rows))
    result = TrainingResult(
        vocabulary,
        tokenizer,
        input_vectors,
        output_vectors,
        config,
        history,
        raw_words,
        encode_seconds=encoded - start,
        # Of the run that trained the epochs, when this one only resumed to write them.
        train_seconds=sum(record.seconds for record in history) if all_done else trained - encoded,
        subwords=spec,
        subword_input=subword_input,
        finished=finished,
        **pruned,
    )
    if group is not None:
        result.distributed = {
            "world_size": group.world,
            "sync_every": config.sync_every,
            "block_words": size_of_blocks,
            # Each rank's own account of the blocks (token spans) it trained in the first epoch
            # (resumed within it, those since the checkpoint; past it, none).
            "blocks_by_rank": distributed.gather(group, group.trained),
        }
        distributed.close(group)
    if progress and all_done:
        print(f"all {config.epochs} epochs were trained before the checkpoint: nothing to train")
    elif progress:
        total = raw_words * config.epochs
        print(
            f"trained on {total:,} words in {result.train_seconds:.1f} s: "
            f"{total / result.train_seconds:,.0f} words/s "
            f"(vocabulary and encoding {result.encode_seconds:.1f} s)"
        )
    return result


def encode_text(
    sources: list[Source],
    config: TrainConfig,
    work_dir: Path,
    progress: bool,
    initial: InitialModel | None = None,
) -> tuple[Vocabulary, Tokenizer, EncodedCorpus]:
    """Join phrases if asked, then count, build the vocabulary and encode the corpus under
    `work_dir`. From `initial`, the text is read with its tokenizer and its vocabulary merged in."""
    tokenizer = (
        make_tokenizer(config.tokenizer, config.lowercase) if initial is None else initial.tokenizer
    )
    merge = (
        None
        if initial is None
        else partial(initial.merge, min_count=config.min_count, max_vocab=config.max_vocab)
    )
    if config.phrases:
        phrased = work_dir / "phrased.txt"
        found = write_phrases(
            sources,
            phrased,
            config.phrases,
            config.phrase_threshold,
            config.min_count,
            config.tokenizer,
            config.lowercase,
            progress,
        )
        if progress:
            print("\n".join(summary.describe() for summary in found))
        sources = [phrased]
    vocabulary, corpus = encode_corpus(
        sources,
        tokenizer,
        work_dir,
        config.min_count,
        config.max_vocab,
        progress=progress,
        vocabulary_from=merge,
        max_vocab_memory=config.vocab_memory_bytes(),
    )
    return vocabulary, tokenizer, corpus
