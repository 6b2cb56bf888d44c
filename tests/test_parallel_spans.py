"""--reproducible's threads: compact copies of the rows a round touches give exactly what private
copies of the whole matrices give, for every model, in memory that does not grow with the
vocabulary."""

import itertools
from functools import partial

import numpy as np
import pytest
import torch

from w2v.training.cpu_kernel import (
    ParallelSpans,
    train_span,
    train_span_cbow,
    train_span_cbow_hs,
    train_span_cbow_subwords,
    train_span_hs,
    train_span_subwords,
)
from w2v.training.huffman import huffman_tree
from w2v.training.merging import SATURATING_SIGHTS

VOCABULARY, BUCKETS, DIM = 200, 300, 8
NO_FRESH_NOISE = {
    "fresh_negative": 0,
    "acceptance": np.zeros(0, np.float32),
    "alias": np.zeros(0, np.int64),
    "state": np.zeros(1, np.uint64),
}
MODELS = {
    "skipgram": (train_span, 5, False, False),
    "cbow": (partial(train_span_cbow, mean=True), 5, False, False),
    "skipgram-hs": (train_span_hs, 0, True, False),
    "cbow-hs-negative": (partial(train_span_cbow_hs, mean=False), 3, True, False),
    "subwords": (partial(train_span_subwords, **NO_FRESH_NOISE), 5, False, True),
    "subwords-cbow-hs": (train_span_cbow_subwords, 0, True, True),
}


def zipf_block(size, vocabulary, window, negatives, seed):
    """Kept words, sentence numbers, windows and noise words as a block's draws give them."""
    generator = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, vocabulary + 1)
    words = generator.choice(vocabulary, size, p=weights / weights.sum())
    sentences = np.cumsum(generator.random(size) < 0.05)
    reach = generator.integers(1, window + 1, size)
    noise = generator.choice(vocabulary, (size, negatives), p=weights / weights.sum())
    return words, sentences, reach, noise


def subword_table(vocabulary, buckets, seed):
    """Each word's own row and two to four bucket rows, one word's listed twice."""
    generator = np.random.default_rng(seed)
    lists = [
        [word, *(vocabulary + generator.integers(0, buckets, generator.integers(2, 5)))]
        for word in range(vocabulary)
    ]
    lists[0].append(lists[0][-1])
    starts = np.cumsum([0] + [len(rows) for rows in lists]).astype(np.int64)
    return starts, np.concatenate(lists).astype(np.int64)


def setup(model, seed=1, size=3000):
    """(span, the ParallelSpans keywords, the span's tables, the start matrices, the block). The
    keywords' row frequencies make a third (2 threads) to a half (3 threads) of each matrix's rows
    saturated in rounds of 64 centres a thread."""
    span, negatives, hierarchical, subwords = MODELS[model]
    arrays = zipf_block(size, VOCABULARY, 5, negatives, seed)
    generator = np.random.default_rng(seed + 1)
    rows = VOCABULARY + BUCKETS if subwords else VOCABULARY
    start = [
        (generator.random((rows, DIM), np.float32) - 0.5) / DIM,
        generator.random((VOCABULARY if negatives else 0, DIM), np.float32) - 0.5,
    ]
    keywords, tables = {}, {}
    if hierarchical:
        tree = huffman_tree(np.arange(VOCABULARY, 0, -1) * 10)
        keywords["tree"] = (tree.codes, tree.points, tree.lengths)
        tables.update(codes=tree.codes, points=tree.points, lengths=tree.lengths)
        start.append(generator.random((VOCABULARY - 1, DIM), np.float32) - 0.5)
    elif subwords:
        empty = (np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.int64), np.zeros(0, np.int64))
        tables.update(zip(("codes", "points", "lengths"), empty, strict=True))
        start.append(np.zeros((0, DIM), np.float32))
    if subwords:
        keywords["subwords"] = subword_table(VOCABULARY, BUCKETS, seed + 2)
        tables.update(zip(("starts", "rows"), keywords["subwords"], strict=True))
    most = 2 * SATURATING_SIGHTS / (64 * 3)
    keywords["frequencies"] = [generator.random(len(matrix)) * most for matrix in start]
    return span, keywords, tables, start, arrays


def full_copies(start, arrays, threads, round_centres, rate, final_rate, span, tables, frequencies):
    """The design worked out by hand: per round each thread trains its share on a full copy of
    the matrices as they stood at the round's start; every row then takes the sum of the threads'
    changes, added in thread order, and a row the threads see SATURATING_SIGHTS times a round (by
    its `frequencies`) that sum scaled by their agreement sum |change|^2 / |sum|^2, at most 1."""
    merged = [matrix.copy() for matrix in start]
    count = len(arrays[0])
    step = round_centres * threads
    saturated = [rows * step >= SATURATING_SIGHTS for rows in frequencies]
    for first in range(0, count, step):
        last = min(first + step, count)
        rates = [rate + (final_rate - rate) * at / count for at in (first, last)]
        bounds = np.linspace(first, last, threads + 1).astype(np.int64)
        before = [matrix.copy() for matrix in merged]
        totals = [np.zeros_like(matrix) for matrix in merged]
        squares = [np.zeros(len(matrix)) for matrix in merged]
        for thread in range(threads):
            mine = [matrix.copy() for matrix in before]
            span(*mine, *arrays, int(bounds[thread]), int(bounds[thread + 1]), *rates, **tables)
            for total, square, after, base in zip(totals, squares, mine, before, strict=True):
                change = after - base
                total += change
                square += (change.astype(np.float64) ** 2).sum(axis=1)
        for matrix, total, square, often in zip(merged, totals, squares, saturated, strict=True):
            summed = (total.astype(np.float64) ** 2).sum(axis=1)
            agreement = np.divide(square, summed, out=np.ones_like(summed), where=summed > 0)
            scale = np.where(often, np.minimum(agreement, 1.0), 1.0).astype(np.float32)
            matrix += scale[:, None] * total
    return merged


def compact_copies(start, arrays, threads, round_centres, rate, final_rate, span, keywords):
    matrices = [torch.from_numpy(matrix.copy()) for matrix in start]
    inner = matrices[2] if len(matrices) == 3 else None
    parallel = ParallelSpans(*matrices[:2], threads, span, inner_vectors=inner, **keywords)
    parallel.round_centres = round_centres
    loss, pairs = parallel.train_block(*arrays, rate, final_rate)
    parallel.close()
    return [matrix.numpy() for matrix in matrices], loss, pairs


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("model", list(MODELS))
def test_compact_copies_give_the_full_copies_bytes(model, threads):
    # Rounds of 64 centres a thread over 3,000 centres: dozens of merges, each of which must take
    # every row a thread changed and leave every row it did not.
    span, keywords, tables, start, arrays = setup(model)
    frequencies = keywords["frequencies"]
    expected = full_copies(start, arrays, threads, 64, 0.05, 0.01, span, tables, frequencies)
    merged, loss, pairs = compact_copies(start, arrays, threads, 64, 0.05, 0.01, span, keywords)
    assert pairs >= 2000 and loss > 0
    for mine, theirs, before in zip(merged, expected, start, strict=True):
        # The agreement's sums of squares add up in another order here: a last bit apart.
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
        assert len(before) == 0 or not np.allclose(mine, before, atol=1e-4)
    # Not the plain sum, nor the agreement for every row: each row is merged by its frequency.
    for rule in (np.zeros, np.ones):
        other = [rule(len(rows)) for rows in frequencies]
        wrong = full_copies(start, arrays, threads, 64, 0.05, 0.01, span, tables, other)
        assert not np.allclose(merged[0], wrong[0], rtol=1e-4, atol=1e-5)
    # Not what one thread alone gives: the threads did train from shared starting points.
    alone = full_copies(start, arrays, 1, 3000, 0.05, 0.01, span, tables, frequencies)
    assert not np.allclose(merged[0], alone[0], atol=1e-5)


def test_changes_to_the_shared_matrices_between_blocks_are_taken_up():
    # As a distributed sync changes them: every row differently, in place, with no call to tell.
    span, keywords, tables, start, arrays = setup("skipgram", seed=3, size=600)
    matrices = [torch.from_numpy(matrix.copy()) for matrix in start]
    parallel = ParallelSpans(*matrices, 3, span, frequencies=keywords["frequencies"])
    parallel.round_centres = 100
    parallel.train_block(*arrays, 0.05, 0.01)
    generator = np.random.default_rng(4)
    for matrix in matrices:
        matrix += torch.from_numpy(generator.standard_normal(matrix.shape, np.float32))
    changed = [matrix.numpy().copy() for matrix in matrices]
    parallel.train_block(*arrays, 0.05, 0.01)
    parallel.close()
    expected = full_copies(
        changed, arrays, 3, 100, 0.05, 0.01, span, tables, keywords["frequencies"]
    )
    for mine, theirs in zip(matrices, expected, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs, rtol=1e-4, atol=1e-5)


def test_a_threads_copies_hold_only_the_rows_its_share_touches():
    # 100,000 words, 400 centres a thread: each span gets the input rows of the words within reach
    # of its centres and the output rows of those and their noise words, not the vocabulary.
    vocabulary, threads, window, negatives = 100_000, 4, 5, 5
    arrays = zipf_block(1600, vocabulary, window, negatives, seed=5)
    words, _, _, noise = arrays
    seen = []

    def recording_span(inputs, outputs, *rest):
        seen.append((len(inputs), len(outputs)))
        return train_span(inputs, outputs, *rest)

    inputs, outputs = torch.rand(vocabulary, 16), torch.zeros(vocabulary, 16)
    parallel = ParallelSpans(inputs, outputs, threads, recording_span)
    parallel.train_block(*arrays, 0.025, 0.02)
    parallel.close()
    expected = []
    for first, last in itertools.pairwise(np.linspace(0, 1600, threads + 1).astype(int)):
        near = np.unique(words[max(first - window, 0) : last + window])
        expected.append((len(near), len(np.union1d(near, noise[first:last]))))
    assert sorted(seen) == sorted(expected)
    assert max(rows for _, rows in seen) <= 400 + 2 * window + 400 * negatives
    assert not torch.equal(outputs, torch.zeros(vocabulary, 16))
