"""A block of the corpus, the unit training steps through: which spans of the corpus a block
holds (with --thread-regions, one from each thread's own distant region), a block's random draws,
and the kernel that trains one."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import torch

from w2v.text.encode import EncodedCorpus
from w2v.text.vocab import Vocabulary
from w2v.training import torch_kernel
from w2v.training.config import TrainConfig
from w2v.training.cpu_kernel import (
    ParallelSpans,
    SharedThreads,
    train_span,
    train_span_cbow,
    train_span_cbow_hs,
    train_span_cbow_subwords,
    train_span_hs,
    train_span_subwords,
)
from w2v.training.huffman import HuffmanTree
from w2v.training.merging import row_frequencies
from w2v.training.noise import NoiseSampler

if TYPE_CHECKING:
    from w2v.training.triton_kernel import SpanTrainer

BLOCK_WORDS = 1 << 18
# Measured on 4M words of Wikipedia: 8 starves frequent words, 32 to 128 score alike; without a cap
# a batch of thousands of centres diverges.
MAX_ROW_PAIRS = 64.0


def sentence_blocks(
    sentence_ends: np.ndarray, block_words: int, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int]]:
    """Cut corpus tokens [start, end) (the whole corpus by default) into spans of about
    `block_words` tokens that end at sentence ends; `end` should be one."""
    end = int(sentence_ends[-1]) if end is None else end
    while start < end:
        last = np.searchsorted(sentence_ends, start + block_words, side="right") - 1
        stop = (
            int(sentence_ends[last])
            if last >= 0 and sentence_ends[last] > start
            else start + block_words
        )
        yield start, min(stop, end)
        start = min(stop, end)


def part_bounds(length: int, sentence_ends: np.ndarray, parts: int) -> np.ndarray:
    """Where to cut `length` tokens into `parts` contiguous parts: at the sentence end (relative to
    the tokens) nearest each even cut, so no sentence is split. parts + 1 int64 bounds from 0 to
    length, in order; a part is empty where sentences are longer than parts."""
    ends = np.asarray(sentence_ends, np.int64)
    cuts = np.concatenate(([0], ends[(ends > 0) & (ends < length)], [length]))
    even = np.arange(1, parts, dtype=np.int64) * length // parts
    after = np.searchsorted(cuts, even)  # cuts[after - 1] < even <= cuts[after]
    before = np.maximum(after - 1, 0)
    nearest = np.where(even - cuts[before] < cuts[after] - even, cuts[before], cuts[after])
    return np.maximum.accumulate(np.concatenate(([0], nearest, [length])))


def thread_parts(
    tokens: np.ndarray, sentence_ends: np.ndarray, threads: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A block's tokens, whose sentences end at `sentence_ends` (relative to the block), cut by
    `part_bounds` into one contiguous part a thread, each with its own sentence ends."""
    bounds = part_bounds(len(tokens), sentence_ends, threads)
    return [
        (
            tokens[first:last],
            sentence_ends[(sentence_ends > first) & (sentence_ends <= last)] - first,
        )
        for first, last in itertools.pairwise(bounds)
    ]


def corpus_blocks(
    sentence_ends: np.ndarray, block_words: int, streams: int
) -> list[tuple[tuple[int, int], ...]]:
    """The order training reads the corpus in: blocks of about `block_words` tokens, each a tuple
    of `streams` spans (start, end), span t taken in turn from the t-th of `streams` equal regions
    of the corpus, cut at sentence ends. A region that runs out early gives empty spans.

    With one stream the blocks are contiguous and in corpus order, and the threads split each
    (`thread_parts`). With one a thread (--thread-regions), the threads train distant parts of the
    corpus at the same time, as word2vec C's, gensim's and fastText's threads do (each reads on
    from its own offset in the file). Measured on wiki17m with --subwords, 5 epochs, 2 threads,
    medians of seeds 1 to 5, split blocks against regions: WordSim-353 relatedness .516 / .526,
    MTurk-771 .512 / .525 (fastText .525, .523), the syntactic analogies .681 / .677, WordSim-353
    .572 / .566, SimLex-999 .267 / .262 (fastText .681, .566, .265); seeds 6 and 7 put the regions
    ahead on nine sets of ten (the README has the tables). So regions are the default with
    subwords; the word model keeps split blocks, where regions cost Google analogies and SimLex.
    """
    total = int(sentence_ends[-1])
    regions = part_bounds(total, sentence_ends, streams)
    spans = [
        list(sentence_blocks(sentence_ends, max(1, block_words // streams), int(start), int(end)))
        for start, end in itertools.pairwise(regions)
    ]
    return [
        tuple(
            region[index] if index < len(region) else (int(end), int(end))
            for region, end in zip(spans, regions[1:], strict=True)
        )
        for index in range(max(len(region) for region in spans))
    ]


class BlockTrainer:
    """Trains one block of the corpus with the kernel the settings ask for, random draws included.

    - numba (the CPU default): `SharedThreads`, every thread updating the one copy of the
      matrices without locks (Hogwild, as word2vec C, gensim and fastText do), on its own part of
      the block (with --thread-regions, a span of its own region of the corpus: `corpus_blocks`),
      with its own draws from a generator seeded by the run's seed, the block and the thread.
      Memory is the matrices and small buffers whatever the thread count.
    - numba with `reproducible` and several threads: `ParallelSpans`, each thread training
      compact copies of the rows its share of a round touches, merged in a fixed order, so a seed
      and thread count always give the same bytes. One thread is reproducible either way.
    - torch (CUDA, or on request on CPU): batched updates; the draws come from `generator`.
    - triton (CUDA): `triton_kernel.SpanTrainer`, thousands of spans of the block trained at once,
      each as the numba kernel trains a thread's part, with every draw made on the GPU.
    """

    def __init__(
        self,
        config: TrainConfig,
        corpus: EncodedCorpus,
        vocabulary: Vocabulary,
        input_vectors: torch.Tensor,
        output_vectors: torch.Tensor,
        inner_vectors: torch.Tensor | None,
        tree: HuffmanTree | None,
        generator: torch.Generator,
        stream: int,
        subwords: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """`stream` seeds the shared threads' draws (the run's seed, or one per rank); `subwords`
        is a subword model's table of each word's input rows, CSR (starts, rows) from
        `w2v.text.subwords.subword_rows`."""
        device = config.resolved_device()
        self.config, self.corpus, self.generator = config, corpus, generator
        self.keep = vocabulary.keep_probabilities(config.sample).to(device)
        self.noise = NoiseSampler(vocabulary.counts, device, config.noise_power)
        self.sentence_ends = torch.from_numpy(corpus.sentence_ends).to(device)
        self.shared: SharedThreads | None = None
        self.parallel: ParallelSpans | None = None
        self.spans: SpanTrainer | None = None
        if config.resolved_kernel() == "triton":
            # triton is the optional extra `gpu`: imported only when --kernel triton asks for it.
            from w2v.training.triton_kernel import SpanTrainer

            self.spans = SpanTrainer(
                config,
                input_vectors,
                output_vectors,
                inner_vectors,
                tree,
                self.keep,
                self.noise,
                self.sentence_ends,
                stream,
            )
        elif config.resolved_kernel() == "torch":
            self.train_draws = _torch_trainer(
                config, input_vectors, output_vectors, inner_vectors, tree, subwords
            )
        elif config.reproducible and config.threads > 1:
            frequencies = row_frequencies(
                vocabulary.counts, tree, subwords, len(input_vectors), len(corpus)
            )
            self.parallel = _parallel_spans(
                config, input_vectors, output_vectors, inner_vectors, tree, subwords, frequencies
            )
            self.train_draws = self.parallel.train_block
        else:
            self.shared = SharedThreads(
                input_vectors,
                output_vectors,
                config.threads,
                model=config.model,
                cbow_mean=config.cbow_mean,
                window=config.window,
                negative=config.negative,
                fresh_noise=config.pair_noise,
                keep=self.keep,
                acceptance=self.noise.acceptance,
                alias=self.noise.alias,
                tree=tree,
                inner_vectors=inner_vectors,
                seed=stream,
                subwords=subwords,
            )
        # With --thread-regions the shared threads take a span each from distant regions.
        regions = self.shared is not None and config.thread_regions
        self.streams = config.threads if regions else 1

    def train(
        self,
        spans: tuple[tuple[int, int], ...],
        block_number: int,
        rate: float,
        final_rate: float,
    ) -> tuple[float, int]:
        """Train a block of `corpus_blocks` (`streams` spans of corpus tokens, (start, end) each)
        with the learning rate falling from `rate` to `final_rate`; `block_number` counts the
        run's blocks over all epochs. Returns (loss sum, pairs or CBOW examples)."""
        if self.shared is not None:
            parts = [self.corpus.read_part(start, end) for start, end in spans]
            if self.streams == 1:  # one contiguous block, which the threads split
                parts = thread_parts(*parts[0], self.config.threads)
            return self.shared.train_block(parts, block_number, rate, final_rate)
        ((start, end),) = spans
        if self.spans is not None:
            tokens = self.corpus.read(start, end)
            return self.spans.train_block(tokens, start, block_number, rate, final_rate)
        draws = draw_block(
            self.corpus,
            start,
            end,
            self.sentence_ends,
            self.keep,
            self.noise,
            self.config,
            self.generator,
        )
        if self.parallel is not None:
            draws = tuple(t.numpy() for t in draws)
        return self.train_draws(*draws, rate, final_rate)

    def close(self) -> None:
        """Stop the worker threads."""
        for pool in (self.shared, self.parallel):
            if pool is not None:
                pool.close()


def _parallel_spans(
    config: TrainConfig,
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    inner_vectors: torch.Tensor | None,
    tree: HuffmanTree | None,
    subwords: tuple[np.ndarray, np.ndarray] | None,
    frequencies: tuple[np.ndarray, ...],
) -> ParallelSpans:
    """`ParallelSpans` with the loop the settings ask for; `frequencies` as row_frequencies gives
    them (input, output, and with a tree the inner nodes)."""
    # Hierarchical softmax alone never touches the output vectors: no copies of them.
    if not config.negative:
        output_vectors, frequencies = (
            output_vectors[:0],
            (frequencies[0], frequencies[1][:0], *frequencies[2:]),
        )
    if subwords is not None:
        return _parallel_subword_spans(
            config, input_vectors, output_vectors, inner_vectors, tree, subwords, frequencies
        )
    cbow = config.model == "cbow"
    span = partial(train_span_cbow, mean=config.cbow_mean) if cbow else train_span
    if tree is not None:
        span = partial(train_span_cbow_hs, mean=config.cbow_mean) if cbow else train_span_hs
    return ParallelSpans(
        input_vectors,
        output_vectors,
        config.threads,
        span,
        inner_vectors=inner_vectors,
        tree=None if tree is None else (tree.codes, tree.points, tree.lengths),
        frequencies=frequencies,
    )


def _parallel_subword_spans(
    config: TrainConfig,
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    inner_vectors: torch.Tensor | None,
    tree: HuffmanTree | None,
    subwords: tuple[np.ndarray, np.ndarray],
    frequencies: tuple[np.ndarray, ...],
) -> ParallelSpans:
    """`ParallelSpans` for a subword model: the block's noise words serve each centre's window."""
    starts, rows = (np.ascontiguousarray(table, np.int64) for table in subwords)
    if config.model == "cbow":
        span = train_span_cbow_subwords
    else:
        no_fresh_noise = {
            "fresh_negative": 0,
            "acceptance": np.zeros(0, np.float32),
            "alias": np.zeros(0, np.int64),
            "state": np.zeros(1, np.uint64),
        }
        span = partial(train_span_subwords, **no_fresh_noise)
    if inner_vectors is None:
        # The subword loops always take an inner nodes' matrix: an empty one without --hs.
        inner_vectors, frequencies = torch.zeros(0, config.dim), (*frequencies, np.zeros(0))
    return ParallelSpans(
        input_vectors,
        output_vectors,
        config.threads,
        span,
        inner_vectors=inner_vectors,
        tree=None if tree is None else (tree.codes, tree.points, tree.lengths),
        subwords=(starts, rows),
        frequencies=frequencies,
    )


def _torch_trainer(
    config: TrainConfig,
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    inner_vectors: torch.Tensor | None,
    tree: HuffmanTree | None,
    subwords: tuple[np.ndarray, np.ndarray] | None,
) -> Callable[..., tuple[float, int]]:
    inner = None
    if tree is not None:
        inner = torch_kernel.InnerNodes(inner_vectors, *tree.to_torch(input_vectors.device))
    rows = None
    if subwords is not None:
        rows = torch_kernel.SubwordRows(
            *(
                torch.as_tensor(table, dtype=torch.long).to(input_vectors.device)
                for table in subwords
            )
        )
    step = (
        partial(torch_kernel.cbow_step, mean=config.cbow_mean, inner=inner, subwords=rows)
        if config.model == "cbow"
        else partial(torch_kernel.skipgram_step, inner=inner, subwords=rows)
    )
    return partial(
        torch_kernel.train_block,
        input_vectors,
        output_vectors,
        window=config.window,
        batch_words=config.batch_words,
        max_row_pairs=MAX_ROW_PAIRS,
        step=step,
    )


def draw_block(
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
