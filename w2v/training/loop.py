"""The training loop: settings, epochs over the encoded corpus, the learning-rate schedule, progress."""

from __future__ import annotations

import ctypes
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from w2v.errors import ConfigError
from w2v.fileio import sidecar_paths
from w2v.files.native import is_native, write_native
from w2v.query.vectors import KeyedVectors
from w2v.text.corpus import PieceSource, Source
from w2v.text.encode import EncodedCorpus, encode_corpus
from w2v.text.phrases import THRESHOLD as PHRASE_THRESHOLD
from w2v.text.phrases import write_phrases
from w2v.text.tokenizer import SPLITS, make_tokenizer, save_tokenizer
from w2v.text.vocab import Vocabulary
from w2v.training import checkpoint, distributed
from w2v.training import torch_kernel as sgns
from w2v.training.checkpoint import CheckpointPlan, TrainingState
from w2v.training.continued import InitialModel, load_initial
from w2v.training.cpu_kernel import (
    ParallelSpans,
    train_span,
    train_span_cbow,
    train_span_cbow_hs,
    train_span_hs,
)
from w2v.training.huffman import HuffmanTree, huffman_tree
from w2v.training.noise import NoiseSampler

BLOCK_WORDS = 1 << 18
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
# Measured on 4M words of Wikipedia: 8 starves frequent words, 32 to 128 score alike; without a cap
# a batch of thousands of centres diverges.
MAX_ROW_PAIRS = 64.0
DEVICES = ("auto", "cpu", "cuda")
KERNELS = ("auto", "numba", "torch")
MODELS = ("skipgram", "cbow")


@dataclass
class TrainConfig:
    """Training settings; the defaults are word2vec's skip-gram defaults."""

    dim: int = 100
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 0.0001
    epochs: int = 5
    min_count: int = 5
    max_vocab: int | None = None
    seed: int = 1
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    device: str = "auto"
    # "skipgram", or "cbow": the context words' vectors together predict the centre word.
    model: str = "skipgram"
    cbow_mean: bool = True  # CBOW averages the context vectors; False sums them (--cbow-sum)
    batch_words: int = 4096  # centre words per batched update of the torch kernel
    kernel: str = "auto"  # numba: compiled CPU loop; torch: batched tensor updates (CPU or CUDA)
    tokenizer: str = "words"
    lowercase: bool = True
    phrases: int = 0  # passes of phrase joining (w2v.text.phrases) before training; 0 for none
    phrase_threshold: float = PHRASE_THRESHOLD  # of the first pass; each later pass halves it
    hs: bool = False  # hierarchical softmax over a Huffman tree, besides --negative (0 for none)
    sync_every: int = distributed.SYNC_EVERY  # under torchrun: words of all ranks between syncs

    def validate(self) -> None:
        """Raise ConfigError naming the first setting that is out of range."""
        positive = {
            "dim": self.dim,
            "window": self.window,
            "epochs": self.epochs,
            "threads": self.threads,
        }
        positive |= {"min-count": self.min_count, "batch-words": self.batch_words}
        positive["sync-every"] = self.sync_every
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"--{name} must be at least 1, got {value}")
        if self.negative < 0:
            raise ConfigError(f"--negative must be at least 0, got {self.negative}")
        if self.negative == 0 and not self.hs:
            raise ConfigError(
                "--negative 0 leaves nothing to train: use --negative 1 or more, or --hs"
            )
        if not 0 <= self.sample < 1:
            raise ConfigError(f"--sample must be in [0, 1), got {self.sample}")
        if not self.alpha > 0:
            raise ConfigError(f"--alpha must be above 0, got {self.alpha}")
        if not 0 <= self.min_alpha <= self.alpha:
            raise ConfigError(
                f"--min-alpha must be in [0, --alpha] = [0, {self.alpha}], got {self.min_alpha}"
            )
        if self.max_vocab is not None and self.max_vocab < 1:
            raise ConfigError(f"--max-vocab must be at least 1, got {self.max_vocab}")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}: choose one of {', '.join(DEVICES)}")
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}: choose one of {', '.join(MODELS)}")
        if self.kernel not in KERNELS:
            raise ConfigError(f"unknown kernel {self.kernel!r}: choose one of {', '.join(KERNELS)}")
        if self.kernel == "numba" and self.resolved_device().type != "cpu":
            raise ConfigError(
                "--kernel numba runs on the CPU only: use --kernel torch with --device cuda"
            )
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device cuda asked for, but torch sees no CUDA GPU here")
        if self.phrases < 0:
            raise ConfigError(f"--phrases must be at least 0, got {self.phrases}")
        if not self.phrase_threshold > 0:
            raise ConfigError(f"--phrase-threshold must be above 0, got {self.phrase_threshold}")
        if self.tokenizer not in SPLITS:
            raise ConfigError(
                f"unknown tokenizer {self.tokenizer!r}: choose one of {', '.join(SPLITS)}"
            )

    def resolved_kernel(self) -> str:
        """The update code training runs: `auto` takes the compiled CPU kernel on CPU, torch on CUDA."""
        if self.kernel == "auto":
            return "numba" if self.resolved_device().type == "cpu" else "torch"
        return self.kernel

    def learning_rate(self, share_done: float) -> float:
        """word2vec's schedule: alpha falling linearly to min_alpha as training goes from 0 to 1."""
        return max(self.min_alpha, self.alpha - (self.alpha - self.min_alpha) * share_done)

    def resolved_device(self) -> torch.device:
        """The device training runs on: `auto` takes a GPU when torch sees one."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


@dataclass
class EpochRecord:
    """How one epoch went: its mean loss per pair, its final learning rate, its speed."""

    epoch: int
    loss: float
    learning_rate: float
    words_per_second: float  # raw corpus words
    seconds: float


@dataclass
class TrainedModel:
    """What training produces: the word vectors, the output matrix, the tokenizer, the history."""

    vectors: KeyedVectors
    output_vectors: torch.Tensor
    tokenizer: Tokenizer
    config: TrainConfig
    history: list[EpochRecord]
    raw_words: int  # words in the corpus, those outside the vocabulary included
    encode_seconds: float  # counting, vocabulary and encoding
    train_seconds: float  # the epochs
    distributed: dict | None = None  # under torchrun: ranks, sync interval, each rank's blocks

    @property
    def words_per_second(self) -> float:
        """Raw corpus words trained per second, over all epochs."""
        return self.raw_words * self.config.epochs / self.train_seconds

    def save(self, path: str | Path) -> list[Path]:
        """Write the model as `w2v.files.native.is_native` says: a native model folder (both matrices,
        counts, tokenizer, settings), or a word2vec file (.bin, .txt, .vec) with the tokenizer and
        counts beside it; return the paths."""
        if is_native(path):
            vectors = self.vectors
            return write_native(
                path,
                vectors.words,
                vectors.vectors,
                vectors.counts,
                self.output_vectors,
                self.tokenizer,
                asdict(self.config),
            )
        path = Path(path)
        tokenizer_path, vocabulary_path = sidecar_paths(path)
        self.vectors.save(path)
        save_tokenizer(self.tokenizer, tokenizer_path)
        counts = np.asarray(self.vectors.counts, dtype=np.int64)
        Vocabulary(self.vectors.words, counts).save(vocabulary_path)
        return [path, tokenizer_path, vocabulary_path]


def check_writable(path: str | Path) -> None:
    """Fail before training, not after, if the vectors cannot be written to `path`."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise ConfigError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"{path}: folder {folder} is not writable")


def train(
    paths: Sequence[str | Path | PieceSource],
    config: TrainConfig | None = None,
    progress: bool = True,
    checkpoints: CheckpointPlan | None = None,
    init: str | Path | InitialModel | None = None,
) -> TrainedModel:
    """Train word vectors on the corpora in `paths`: files, folders, globs, `hf:NAME`, `text8`...

    See `corpora.sources.resolve_sources` for what each item may be. With `checkpoints`, the
    training state is saved in its folder at every epoch end and every `every_seconds`; with
    `checkpoints.resume`, training goes on from the state saved there instead of starting afresh.
    With `init`, a native model folder, training goes on from that model (w2v.training.continued): its
    vocabulary grows by the new text's words, and `config` defaults to its settings.
    """
    # Imported here: corpora's modules import w2v's, so importing them with this module is circular.
    from corpora.sources import resolve_sources

    initial = load_initial(init) if isinstance(init, str | Path) else init
    if initial is not None:
        config = initial.config() if config is None else config
        initial.check(config)
    config = config or TrainConfig()
    config.validate()
    _map_large_allocations()
    if checkpoints is not None and distributed.world_size() > 1:
        raise ConfigError("checkpoints are not supported with several ranks (torchrun) yet")
    group = distributed.setup(config.resolved_device())
    progress = progress and (group is None or group.rank == 0)
    files = resolve_sources(paths, progress=progress)
    torch.set_num_threads(config.threads)
    # The tokenizers library sizes its thread pool from this variable when it first runs.
    os.environ.setdefault("RAYON_NUM_THREADS", str(config.threads))
    start = time.perf_counter()
    settings, corpus_fingerprint = asdict(config), checkpoint.fingerprint(files)
    resumed = None
    with tempfile.TemporaryDirectory(prefix="w2v-") as work_dir:
        if checkpoints is not None and checkpoints.resume:
            vocabulary, tokenizer, corpus = checkpoint.load_corpus(
                checkpoints.folder, settings, corpus_fingerprint, BLOCK_WORDS
            )
            resumed = checkpoint.load_state(checkpoints.folder)
        else:
            vocabulary, tokenizer, corpus = _encode(
                files, config, Path(work_dir), progress, initial
            )
            if group is not None:
                distributed.check_same(
                    group, (vocabulary.words, corpus.raw_words, len(corpus)), "the corpus"
                )
            if checkpoints is not None:
                checkpoint.save_corpus(
                    checkpoints.folder,
                    settings,
                    corpus_fingerprint,
                    vocabulary,
                    tokenizer,
                    corpus,
                    BLOCK_WORDS,
                )
        encoded = time.perf_counter()
        start_from = (
            initial.matrices(vocabulary, config.seed)
            if initial is not None and resumed is None
            else None
        )
        input_vectors, output_vectors, history = train_vectors(
            corpus, vocabulary, config, progress, checkpoints, resumed, group, initial=start_from
        )
        trained = time.perf_counter()
        raw_words = corpus.raw_words
        del corpus  # the memory map must close before its folder is removed
    vectors = KeyedVectors(
        vocabulary.words, input_vectors.cpu(), vocabulary.counts.tolist(), tokenizer=tokenizer
    )
    model = TrainedModel(
        vectors,
        output_vectors.cpu(),
        tokenizer,
        config,
        history,
        raw_words,
        encode_seconds=encoded - start,
        train_seconds=trained - encoded,
    )
    if group is not None:
        model.distributed = {
            "world_size": group.world,
            "sync_every": config.sync_every,
            "block_words": distributed.block_words(config.sync_every, group.world),
            # Each rank's own account of the blocks (token spans) it trained in the first epoch.
            "blocks_by_rank": distributed.gather(group, group.trained),
        }
        distributed.close(group)
    if progress:
        total = raw_words * config.epochs
        print(
            f"trained on {total:,} words in {model.train_seconds:.1f} s: "
            f"{model.words_per_second:,.0f} words/s (vocabulary and encoding {model.encode_seconds:.1f} s)"
        )
    return model


def _encode(
    files: list[Source],
    config: TrainConfig,
    work_dir: Path,
    progress: bool,
    initial: InitialModel | None = None,
) -> tuple[Vocabulary, Tokenizer, EncodedCorpus]:
    """Join phrases if asked, then count, build the vocabulary and encode the corpus under `work_dir`.

    From `initial`, the text is read with its tokenizer and its vocabulary is merged in.
    """
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
            files,
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
        files = [phrased]
    vocabulary, corpus = encode_corpus(
        files,
        tokenizer,
        work_dir,
        config.min_count,
        config.max_vocab,
        progress=progress,
        vocabulary_from=merge,
    )
    return vocabulary, tokenizer, corpus


def sentence_blocks(sentence_ends: np.ndarray, block_words: int) -> Iterator[tuple[int, int]]:
    """Cut the corpus into spans of about `block_words` tokens that end at sentence ends."""
    start = 0
    total = int(sentence_ends[-1])
    while start < total:
        last = np.searchsorted(sentence_ends, start + block_words, side="right") - 1
        end = (
            int(sentence_ends[last])
            if last >= 0 and sentence_ends[last] > start
            else min(start + block_words, total)
        )
        yield start, end
        start = end


def _map_large_allocations() -> None:
    """Have glibc serve every allocation of 1 MB or more by mmap, and give it back when freed.

    A block's random draws are tensors of tens of MB, allocated and freed block after block. By
    default glibc raises its mmap threshold once such a tensor is freed, then serves the next
    ones from a heap that fragments: resident memory climbed by 250 MB over one epoch of wiki17m.
    A fixed threshold keeps it flat. Other C libraries (no `mallopt`) are left as they are.
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, 1 << 20)


def train_vectors(
    corpus: EncodedCorpus,
    vocabulary: Vocabulary,
    config: TrainConfig,
    progress: bool = True,
    checkpoints: CheckpointPlan | None = None,
    resumed: TrainingState | None = None,
    group: distributed.Group | None = None,
    initial: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[EpochRecord]]:
    """Run the epochs of skip-gram with negative sampling; return both matrices and each epoch's record.

    The learning rate falls linearly from alpha to min_alpha over all epochs, by the share of corpus
    words processed (before subsampling), as word2vec does. With `checkpoints`, the state is saved
    after a block's updates (and the threads' merge) at every epoch end and every `every_seconds`;
    from `resumed`, training goes on at the saved block with the saved random generator state, so
    it draws what the uninterrupted run would have drawn. From `initial` (input, output), training
    starts from those matrices instead of fresh ones (continued training).

    With `group` (several ranks), each rank trains the blocks it owns on its own copy with its own
    random stream, the ranks sum their changes after every round of blocks, and the learning rate
    follows the words of all ranks.
    """
    device = config.resolved_device()
    generator = torch.Generator(device=device).manual_seed(config.seed)
    size, dim = len(vocabulary), config.dim
    if resumed is None:
        if initial is None:
            # word2vec's start: input vectors uniform in [-0.5/dim, 0.5/dim), output vectors zero.
            input_vectors = (torch.rand(size, dim, generator=generator, device=device) - 0.5) / dim
            output_vectors = torch.zeros(size, dim, device=device)
        else:
            input_vectors, output_vectors = (
                matrix.to(device=device, dtype=torch.float32).contiguous() for matrix in initial
            )
        # The start as a state: nothing trained yet (its generator state is never read).
        resumed = TrainingState(0, 0, 0, 0.0, 0, 0.0, input_vectors, output_vectors, torch.empty(0))
    else:
        input_vectors = resumed.input_vectors.to(device)
        output_vectors = resumed.output_vectors.to(device)
        generator.set_state(resumed.generator_state)
    # Hierarchical softmax: the inner nodes of the vocabulary's Huffman tree, zero at the start.
    tree = huffman_tree(vocabulary.counts) if config.hs else None
    inner_vectors = None
    if tree is not None:
        inner_vectors = (
            torch.zeros(tree.inner_nodes, dim, device=device)
            if resumed.inner_vectors is None
            else resumed.inner_vectors.to(device)
        )
    matrices = tuple(m for m in (input_vectors, output_vectors, inner_vectors) if m is not None)
    sync = None
    if group is not None:
        # Same start on every rank (Sync broadcasts rank 0's), then a random stream per rank.
        sync = distributed.Sync(matrices)
        generator.manual_seed((config.seed << 16) + group.rank + 1)
    keep = vocabulary.keep_probabilities(config.sample).to(device)
    noise = NoiseSampler(vocabulary.counts, device)
    sentence_ends = torch.from_numpy(corpus.sentence_ends).to(device)

    train_block, parallel = _block_trainer(
        config, input_vectors, output_vectors, inner_vectors, tree
    )

    total_words = config.epochs * len(corpus)
    words_done = resumed.words_done
    history = [EpochRecord(**record) for record in resumed.history]
    size_of_blocks = (
        BLOCK_WORDS if group is None else distributed.block_words(config.sync_every, group.world)
    )
    blocks = list(sentence_blocks(corpus.sentence_ends, size_of_blocks))
    bar = tqdm(
        total=total_words,
        initial=words_done,
        desc="training",
        unit="word",
        unit_scale=True,
        disable=not progress,
    )
    last_saved = time.perf_counter()
    for epoch in range(resumed.epoch, config.epochs):
        first_block = resumed.block if epoch == resumed.epoch else 0
        epoch_loss, epoch_pairs = (
            (resumed.epoch_loss, resumed.epoch_pairs) if first_block else (0.0, 0)
        )
        # Time since epoch_start counts this run's share; earlier runs' share comes on top.
        epoch_start = time.perf_counter() - (resumed.epoch_seconds if first_block else 0.0)
        for index in range(first_block, len(blocks)):
            block_start, block_end = blocks[index]
            if group is not None and not group.owns(index):
                # Another rank's block: it counts towards the learning rate all the same.
                words_done += block_end - block_start
                final_learning_rate = config.learning_rate(words_done / total_words)
                loss, pairs = 0.0, 0
            else:
                if group is not None and epoch == 0:
                    group.trained.append((block_start, block_end))
                draws = _draw_block(
                    corpus,
                    block_start,
                    block_end,
                    sentence_ends,
                    keep,
                    noise,
                    config,
                    generator,
                )
                if parallel is not None:
                    draws = tuple(t.numpy() for t in draws)
                learning_rate = config.learning_rate(words_done / total_words)
                words_done += block_end - block_start
                final_learning_rate = config.learning_rate(words_done / total_words)
                loss, pairs = train_block(*draws, learning_rate, final_learning_rate)
            epoch_loss += loss
            epoch_pairs += pairs
            if sync is not None and group.round_ends(index, len(blocks)):
                sync()
                if parallel is not None:
                    parallel.refresh()
            # Every block, before anything is saved. A sum is NaN or infinite if any weight is (or
            # so large it overflows, which is divergence too), and reads each matrix once: 0.08 s
            # for 1M x 300 on two cores, where isfinite().all() takes seconds.
            if not all(torch.isfinite(matrix.sum()) for matrix in matrices):
                raise ConfigError(
                    f"training diverged in epoch {epoch + 1} (weights became infinite or NaN): "
                    f"lower --alpha (now {config.alpha})"
                )
            bar.update(block_end - block_start)
            bar.set_postfix(
                lr=f"{final_learning_rate:.5f}",
                loss=f"{epoch_loss / max(epoch_pairs, 1):.4f}",
                refresh=False,
            )
            epoch_ends = index + 1 == len(blocks)
            if epoch_ends:
                if group is not None:
                    epoch_loss, epoch_pairs = distributed.sum_tallies(
                        epoch_loss, epoch_pairs, device
                    )
                seconds = time.perf_counter() - epoch_start
                mean_loss = epoch_loss / max(epoch_pairs, 1)
                history.append(
                    EpochRecord(
                        epoch + 1,
                        mean_loss,
                        final_learning_rate,
                        corpus.raw_words / seconds,
                        seconds,
                    )
                )
                if progress:
                    bar.write(
                        f"epoch {epoch + 1}/{config.epochs}: mean loss {mean_loss:.4f} "
                        f"over {epoch_pairs:,} pairs"
                    )
            if checkpoints is not None and (
                epoch_ends or time.perf_counter() - last_saved >= checkpoints.every_seconds
            ):
                next_epoch, next_block = (epoch + 1, 0) if epoch_ends else (epoch, index + 1)
                state = TrainingState(
                    next_epoch,
                    next_block,
                    words_done,
                    epoch_loss,
                    epoch_pairs,
                    time.perf_counter() - epoch_start,
                    input_vectors,
                    output_vectors,
                    generator.get_state(),
                    [asdict(record) for record in history],
                    inner_vectors=inner_vectors,
                )
                checkpoint.save_state(checkpoints.folder, state)
                last_saved = time.perf_counter()
    if parallel is not None:
        parallel.close()
    bar.close()
    return input_vectors, output_vectors, history


def _block_trainer(
    config: TrainConfig,
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    inner_vectors: torch.Tensor | None,
    tree: HuffmanTree | None,
) -> tuple[Callable[..., tuple[float, int]], ParallelSpans | None]:
    """The function that trains one block's draws, for the settings' kernel and model, and the
    thread pool behind it (None for the torch kernel)."""
    cbow = config.model == "cbow"
    if config.resolved_kernel() == "numba":
        span = partial(train_span_cbow, mean=config.cbow_mean) if cbow else train_span
        if tree is not None:
            paths = {"codes": tree.codes, "points": tree.points, "lengths": tree.lengths}
            span = (
                partial(train_span_cbow_hs, mean=config.cbow_mean, **paths)
                if cbow
                else partial(train_span_hs, **paths)
            )
        parallel = ParallelSpans(
            input_vectors,
            # Hierarchical softmax alone never touches the output vectors: no copies of them.
            output_vectors if config.negative else output_vectors[:0],
            config.threads,
            span,
            inner_vectors=inner_vectors,
            paths=None if tree is None else (tree.points, tree.lengths),
        )
        return parallel.train_block, parallel
    inner = None
    if tree is not None:
        inner = sgns.InnerNodes(inner_vectors, *tree.to_torch(input_vectors.device))
    step = (
        partial(sgns.cbow_step, mean=config.cbow_mean, inner=inner)
        if cbow
        else partial(sgns.skipgram_step, inner=inner)
    )
    block_trainer = partial(
        sgns.train_block,
        input_vectors,
        output_vectors,
        window=config.window,
        batch_words=config.batch_words,
        max_row_pairs=MAX_ROW_PAIRS,
        step=step,
    )
    return block_trainer, None


def _draw_block(
    corpus: EncodedCorpus,
    block_start: int,
    block_end: int,
    sentence_ends: torch.Tensor,
    keep: torch.Tensor,
    noise: NoiseSampler,
    config: TrainConfig,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A block's random choices, in a fixed order so a seed always gives the same ones: the words
    subsampling keeps, their sentence numbers, each centre's window and its noise words."""
    device = keep.device
    block = torch.from_numpy(corpus.read(block_start, block_end).astype(np.int64)).to(device)
    positions = torch.arange(block_start, block_end, device=device)
    sentences = torch.searchsorted(sentence_ends, positions, right=True)
    kept = torch.rand(len(block), generator=generator, device=device) < keep[block]
    words, sentences = block[kept], sentences[kept]
    reach = torch.randint(1, config.window + 1, (len(words),), generator=generator, device=device)
    return words, sentences, reach, noise.sample((len(words), config.negative), generator)
