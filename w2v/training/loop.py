"""The epochs: the corpus's blocks in order, each trained by the kernel, with the learning-rate
schedule, the ranks' syncs, the divergence check, checkpoints and progress, each a small piece."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import torch
from tqdm.auto import tqdm

from w2v.errors import ConfigError
from w2v.text.encode import EncodedCorpus
from w2v.text.subwords import subword_rows
from w2v.text.vocab import Vocabulary
from w2v.training import checkpoint, distributed
from w2v.training.blocks import BLOCK_WORDS, BlockTrainer, corpus_blocks
from w2v.training.checkpoint import CheckpointPlan, TrainingState
from w2v.training.config import TrainConfig
from w2v.training.huffman import HuffmanTree, huffman_tree
from w2v.training.merging import row_frequencies

# A loss a pair no training reaches: each target adds -log of its probability, about 0.69 at the
# start (a score of 0) and |score| when badly wrong, so only scores in the thousands, weights run
# away though finite, get past it.
DIVERGED_LOSS = 1e4


@dataclass
class EpochRecord:
    """How one epoch went: its mean loss per pair, its final learning rate, its speed."""

    epoch: int
    loss: float
    learning_rate: float
    words_per_second: float  # raw corpus words
    seconds: float


@dataclass
class Matrices:
    """The weights training updates: input and output vectors, and hierarchical softmax's inner
    nodes with --hs."""

    input: torch.Tensor
    output: torch.Tensor
    inner: torch.Tensor | None = None

    def all(self) -> tuple[torch.Tensor, ...]:
        return tuple(m for m in (self.input, self.output, self.inner) if m is not None)


def start_matrices(
    size: int,
    config: TrainConfig,
    generator: torch.Generator,
    tree: HuffmanTree | None,
    initial: tuple[torch.Tensor, torch.Tensor] | None,
    resumed: TrainingState | None,
) -> Matrices:
    """The weights to start from: a checkpoint's, a model's to train on (`initial`), or word2vec's
    start: input vectors uniform in [-0.5/dim, 0.5/dim), output vectors and inner nodes zero.
    A subword model's input matrix has `size` word rows then the bucket rows, all uniform in
    [-1/dim, 1/dim) as fastText starts them."""
    device, dim = config.resolved_device(), config.dim
    inner = None if tree is None else torch.zeros(tree.inner_nodes, dim, device=device)
    if resumed is not None:
        if tree is not None and resumed.inner_vectors is not None:
            inner = resumed.inner_vectors.to(device)
        return Matrices(resumed.input_vectors.to(device), resumed.output_vectors.to(device), inner)
    if initial is not None:
        inputs, outputs = (m.to(device=device, dtype=torch.float32).contiguous() for m in initial)
        return Matrices(inputs, outputs, inner)
    spec = config.subword_spec()
    if spec is not None:
        # In place: the bucket rows are most of the memory (2,000,000 x 300 is 2.4 GB).
        inputs = torch.rand(size + spec.bucket, dim, generator=generator, device=device)
        inputs.mul_(2.0).sub_(1.0).div_(dim)
        return Matrices(inputs, torch.zeros(size, dim, device=device), inner)
    inputs = (torch.rand(size, dim, generator=generator, device=device) - 0.5) / dim
    return Matrices(inputs, torch.zeros(size, dim, device=device), inner)


class Schedule:
    """The learning rate, falling with the corpus words trained so far of all epochs (and of all
    ranks), before subsampling, as word2vec's does."""

    def __init__(self, config: TrainConfig, total_words: int, words_done: int) -> None:
        self.config, self.total_words, self.words_done = config, total_words, words_done

    def advance(self, words: int) -> tuple[float, float]:
        """Count `words` more as trained; the learning rates before and after them."""
        before = self.config.learning_rate(self.words_done / self.total_words)
        self.words_done += words
        return before, self.config.learning_rate(self.words_done / self.total_words)


@dataclass
class EpochTally:
    """The loss summed over an epoch's pairs so far, and when the epoch started."""

    loss: float
    pairs: int
    started: float  # perf_counter time, moved back by the seconds earlier runs spent on it

    @classmethod
    def begin(cls, resumed: TrainingState | None) -> EpochTally:
        """A new epoch's tally, or the one a checkpoint saved part way through an epoch."""
        if resumed is None:
            return cls(0.0, 0, time.perf_counter())
        return cls(
            resumed.epoch_loss, resumed.epoch_pairs, time.perf_counter() - resumed.epoch_seconds
        )

    @property
    def mean_loss(self) -> float:
        return self.loss / max(self.pairs, 1)


def check_diverged(
    matrices: Matrices, block_loss: float, block_pairs: int, epoch: int, config: TrainConfig
) -> None:
    """ConfigError if training diverged: a weight infinite or NaN, or the block's loss past
    DIVERGED_LOSS a pair while every weight is still finite. A sum is NaN or infinite if any
    weight is (or so large it overflows), and reads each matrix once: 0.08 s for 1M x 300 on two
    cores, where isfinite().all() takes seconds."""
    if not all(torch.isfinite(matrix.sum()) for matrix in matrices.all()):
        raise ConfigError(
            f"training diverged in epoch {epoch + 1} (weights became infinite or NaN): "
            f"lower --alpha (now {config.alpha})"
        )
    if block_pairs and block_loss / block_pairs > DIVERGED_LOSS:
        raise ConfigError(
            f"training diverged in epoch {epoch + 1} (the loss grew to "
            f"{block_loss / block_pairs:.3g} a pair): lower --alpha (now {config.alpha})"
        )


class Checkpoints:
    """When to save the training state, at every epoch end and every `every_seconds`, and the
    saving. Of several ranks, only right after a sync (their copies differ in between), when rank
    0's clock says, and rank 0 alone writes, with every rank's generator and the summed tally."""

    def __init__(
        self, plan: CheckpointPlan, group: distributed.Group | None, device: torch.device
    ) -> None:
        self.plan, self.group, self.device = plan, group, device
        self.last_saved = time.perf_counter()

    def due(self, epoch_ends: bool, synced: bool) -> bool:
        due = epoch_ends or time.perf_counter() - self.last_saved >= self.plan.every_seconds
        if self.group is None:
            return due
        # Rank 0's clock decides for all.
        return synced and distributed.gather(self.group, due)[0]

    def save(self, state: TrainingState) -> None:
        if self.group is not None:
            generators = distributed.gather(self.group, state.generator_state)
            loss, pairs = distributed.sum_tallies(state.epoch_loss, state.epoch_pairs, self.device)
            state = replace(
                state, generator_state=torch.stack(generators), epoch_loss=loss, epoch_pairs=pairs
            )
        if self.group is None or self.group.rank == 0:
            checkpoint.save_state(self.plan.folder, state)
        self.last_saved = time.perf_counter()


def block_size(config: TrainConfig, group: distributed.Group | None) -> int:
    """Corpus words per block: BLOCK_WORDS for one process, a round's share for several ranks."""
    if group is None:
        return BLOCK_WORDS
    return distributed.block_words(config.sync_every, group.world)


def rank_share(resumed: TrainingState, group: distributed.Group) -> TrainingState:
    """This rank's part of a checkpoint of several ranks: its own generator state, and the ranks'
    summed tally carried by rank 0 alone, so that the epoch's sum over the ranks is still right."""
    carried = group.rank == 0
    return replace(
        resumed,
        generator_state=resumed.generator_state[group.rank].clone(),  # not a view: see load_state
        epoch_loss=resumed.epoch_loss if carried else 0.0,
        epoch_pairs=resumed.epoch_pairs if carried else 0,
    )


def train_vectors(
    corpus: EncodedCorpus,
    vocabulary: Vocabulary,
    config: TrainConfig,
    progress: bool = True,
    checkpoints: CheckpointPlan | None = None,
    resumed: TrainingState | None = None,
    group: distributed.Group | None = None,
    initial: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[EpochRecord], TrainingState]:
    """Run the epochs; return both matrices, each epoch's record, and the state after the last
    epoch, as its checkpoint would hold it.

    From `resumed`, training goes on at the saved block with the saved random generator state, so
    it draws what the uninterrupted run would have drawn. From `initial` (input, output), training
    starts from those matrices (continued training). With `group` (several ranks), each rank
    trains the blocks it owns on its own copy with its own random stream, and the ranks merge their
    changes after every round of blocks, and checkpoints are saved right after a merge (a resumed
    state holds each rank's generator). For a subword model (`config.subword_spec()`) the input
    matrix returned is the whole of it, the words' rows then the bucket rows.
    """
    device = config.resolved_device()
    generator = torch.Generator(device=device).manual_seed(config.seed)
    tree = huffman_tree(vocabulary.counts) if config.hs else None
    matrices = start_matrices(len(vocabulary), config, generator, tree, initial, resumed)
    if resumed is not None and group is not None:
        resumed = rank_share(resumed, group)
    if resumed is not None:
        generator.set_state(resumed.generator_state)
    spec = config.subword_spec()
    subwords = None if spec is None else subword_rows(vocabulary.words, spec, len(vocabulary))
    size_of_blocks = block_size(config, group)
    sync, stream = None, config.seed
    if group is not None:
        # Same start on every rank (Sync broadcasts rank 0's), then a random stream per rank.
        frequencies = row_frequencies(
            vocabulary.counts, tree, subwords, matrices.input.shape[0], len(corpus)
        )
        sync = distributed.Sync(matrices.all(), frequencies, size_of_blocks * group.world)
        stream = (config.seed << 16) + group.rank + 1
        if resumed is None:
            generator.manual_seed(stream)
    trainer = BlockTrainer(
        config,
        corpus,
        vocabulary,
        matrices.input,
        matrices.output,
        matrices.inner,
        tree,
        generator,
        stream,
        subwords=subwords,
    )
    blocks = corpus_blocks(corpus.sentence_ends, size_of_blocks, trainer.streams)
    total_words = config.epochs * len(corpus)
    schedule = Schedule(config, total_words, 0 if resumed is None else resumed.words_done)
    history = [] if resumed is None else [EpochRecord(**record) for record in resumed.history]
    saver = None if checkpoints is None else Checkpoints(checkpoints, group, device)
    bar = tqdm(
        total=total_words,
        initial=schedule.words_done,
        desc="training",
        unit="word",
        unit_scale=True,
        disable=not progress,
    )
    first_epoch = 0 if resumed is None else resumed.epoch
    for epoch in range(first_epoch, config.epochs):
        part_done = resumed is not None and epoch == resumed.epoch and resumed.block > 0
        first_block = resumed.block if part_done else 0
        tally = EpochTally.begin(resumed if part_done else None)
        for index in range(first_block, len(blocks)):
            spans = blocks[index]
            block_words = sum(end - start for start, end in spans)
            rate, final_rate = schedule.advance(block_words)
            # Another rank's block counts towards the learning rate all the same.
            if group is None or group.owns(index):
                if group is not None and epoch == 0:
                    group.trained.extend(span for span in spans if span[0] < span[1])
                block_number = epoch * len(blocks) + index
                loss, pairs = trainer.train(spans, block_number, rate, final_rate)
                tally.loss += loss
                tally.pairs += pairs
            else:
                loss, pairs = 0.0, 0
            synced = sync is not None and group.round_ends(index, len(blocks))
            if synced:
                sync()
            check_diverged(matrices, loss, pairs, epoch, config)  # every block, before any save
            bar.update(block_words)
            bar.set_postfix(lr=f"{final_rate:.5f}", loss=f"{tally.mean_loss:.4f}", refresh=False)
            epoch_ends = index + 1 == len(blocks)
            if epoch_ends:
                if group is not None:
                    tally.loss, tally.pairs = distributed.sum_tallies(
                        tally.loss, tally.pairs, device
                    )
                seconds = time.perf_counter() - tally.started
                history.append(
                    EpochRecord(
                        epoch + 1, tally.mean_loss, final_rate, corpus.raw_words / seconds, seconds
                    )
                )
                if progress:
                    bar.write(
                        f"epoch {epoch + 1}/{config.epochs}: mean loss {tally.mean_loss:.4f} "
                        f"over {tally.pairs:,} pairs"
                    )
            if saver is not None and saver.due(epoch_ends, synced):
                # After an epoch's end its tally is spent: the next epoch starts a new one.
                next_epoch, next_block = (epoch + 1, 0) if epoch_ends else (epoch, index + 1)
                saver.save(
                    TrainingState(
                        next_epoch,
                        next_block,
                        schedule.words_done,
                        0.0 if epoch_ends else tally.loss,
                        0 if epoch_ends else tally.pairs,
                        time.perf_counter() - tally.started,
                        matrices.input,
                        matrices.output,
                        generator.get_state(),
                        [asdict(record) for record in history],
                        inner_vectors=matrices.inner,
                    )
                )
    trainer.close()
    bar.close()
    # Past the last epoch a resume trains nothing, so no epoch's tally is carried on.
    finished = TrainingState(
        config.epochs,
        0,
        schedule.words_done,
        0.0,
        0,
        0.0,
        matrices.input,
        matrices.output,
        generator.get_state(),
        [asdict(record) for record in history],
        inner_vectors=matrices.inner,
    )
    return matrices.input, matrices.output, history, finished
