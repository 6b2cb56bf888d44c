"""Merging what several workers changed, each training its own part of the text from the same
weights: torchrun ranks between syncs, and the threads of a --reproducible run between rounds.

A row that each worker saw only a few times takes the sum of their changes, as one worker
training all their text would have moved it. A row that each worker saw often (the rows of "the",
"of", the inner nodes near the root of the tree) was moved most of the way to where that text
pulls it by every worker alone, so their changes are estimates of one step, and their sum would
overshoot by the number of workers: it takes the sum scaled by how far the changes agree.
"""

from __future__ import annotations

import numpy as np
import torch

from w2v.training.huffman import HuffmanTree

# How many sights of a row by all the workers together between merges make their changes to it
# estimates of one step rather than parts of it: the more workers, the fewer sights each. Measured
# with 4 torchrun ranks (200,000 words between syncs) on wiki17m, one epoch, agreeing the N most
# frequent rows and adding the rest: N = 100 (148 sights a sync and more) ran away; 300 (60) and
# 1,000 (20) scored within 0.01 of one process; 3,000 (6) lost 0.02 Google analogies. At 40, 8
# --reproducible threads (rounds of 131,072 centres) score as one thread does.
SATURATING_SIGHTS = 40


def row_frequencies(
    counts: np.ndarray,
    tree: HuffmanTree | None,
    subwords: tuple[np.ndarray, np.ndarray] | None,
    input_rows: int,
    tokens: int,
) -> tuple[np.ndarray, ...]:
    """Which share of the corpus's `tokens` updates each row of each matrix: input, output, and
    with `tree` the inner nodes. A word row, the word's count; a bucket row, the counts of the
    words holding its n-gram (`subwords` as subword_rows' CSR arrays); an inner node, the counts
    of the words below it."""
    counts = np.asarray(counts, dtype=np.float64) / max(tokens, 1)
    inputs = counts
    if subwords is not None:
        starts, rows = subwords
        inputs = np.bincount(rows, np.repeat(counts, np.diff(starts)), minlength=input_rows)
    found = [inputs, counts]
    if tree is not None:
        mask = tree.mask()
        below = np.broadcast_to(counts[:, None], mask.shape)[mask]
        found.append(np.bincount(tree.points[mask], below, minlength=tree.inner_nodes))
    return tuple(found)


def saturated_rows(frequencies: np.ndarray, words_between_merges: float) -> np.ndarray:
    """Which rows the workers see at least SATURATING_SIGHTS times in the `words_between_merges`
    corpus words they train together between merges, given each row's `frequencies`
    (row_frequencies')."""
    return frequencies * words_between_merges >= SATURATING_SIGHTS


def agreed_change(summed: torch.Tensor, squares: torch.Tensor) -> torch.Tensor:
    """The merged change of saturated rows from the sum of the workers' changes and the sum of
    their squared norms: the sum scaled by sum |change|^2 / |sum of changes|^2. That is
    1 / workers for equal changes (their mean) and 1 for changes at right angles (independent
    steps, which add), and never more than the sum."""
    # Rows no worker changed have 0 / 0: any scale of a zero change is zero.
    scale = (squares / summed.square().sum(dim=1).clamp(min=1e-30)).clamp_(max=1.0)
    return summed * scale.unsqueeze(1)
