"""A block of the corpus, the unit training steps through: where blocks end, a block's random
draws, and the kernel that trains one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import numpy as np
import torch

from w2v.text.encode import EncodedCorpus
from w2v.training import torch_kernel
from w2v.training.config import TrainConfig
from w2v.training.cpu_kernel import (
    ParallelSpans,
    train_span,
    train_span_cbow,
    train_span_cbow_hs,
    train_span_hs,
)
from w2v.training.huffman import HuffmanTree
from w2v.training.noise import NoiseSampler

BLOCK_WORDS = 1 << 18
# Measured on 4M words of Wikipedia: 8 starves frequent words, 32 to 128 score alike; without a cap
# a batch of thousands of centres diverges.
MAX_ROW_PAIRS = 64.0


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


def block_trainer(
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
        inner = torch_kernel.InnerNodes(inner_vectors, *tree.to_torch(input_vectors.device))
    step = (
        partial(torch_kernel.cbow_step, mean=config.cbow_mean, inner=inner)
        if cbow
        else partial(torch_kernel.skipgram_step, inner=inner)
    )
    block_trainer = partial(
        torch_kernel.train_block,
        input_vectors,
        output_vectors,
        window=config.window,
        batch_words=config.batch_words,
        max_row_pairs=MAX_ROW_PAIRS,
        step=step,
    )
    return block_trainer, None


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
