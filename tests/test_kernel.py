"""The compiled CPU kernel: the same updates as the torch step, and a deterministic thread merge."""

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
    train_span_hs,
)
from w2v.training.huffman import huffman_tree
from w2v.training.torch_kernel import InnerNodes, cbow_step, skipgram_step


def random_block(size, vocabulary, window, negatives, seed):
    generator = torch.Generator().manual_seed(seed)
    words = torch.randint(0, vocabulary, (size,), generator=generator)
    sentences = torch.cat([torch.zeros(size // 2), torch.ones(size - size // 2)]).long()
    reach = torch.randint(1, window + 1, (size,), generator=generator)
    # Distinct noise words per centre: the kernel applies repeated ones one after the other, the
    # batched step both from the same weights, so only then are the two exactly equal.
    noise = torch.stack(
        [torch.randperm(vocabulary, generator=generator)[:negatives] for _ in range(size)]
    )
    return words, sentences, reach, noise


def one_centre_at_a_time(step, inputs, outputs, block, rate, window):
    """Run a batched torch step over the block one centre at a time; return (loss, pairs)."""
    words, sentences, reach, noise = block
    padded_words = torch.nn.functional.pad(words, (window, window))
    padded_sentences = torch.nn.functional.pad(sentences, (window, window), value=-1)
    total_loss = total_pairs = 0
    for centre in range(len(words)):
        loss, pairs = step(
            inputs,
            outputs,
            padded_words[centre : centre + 2 * window + 1],
            padded_sentences[centre : centre + 2 * window + 1],
            reach[centre : centre + 1],
            noise[centre : centre + 1],
            rate,
            window,
        )
        total_loss += loss
        total_pairs += pairs
    return total_loss, total_pairs


def test_kernel_equals_the_torch_step_taken_one_centre_at_a_time():
    vocabulary, dim, window, rate = 40, 8, 3, 0.05
    torch.manual_seed(0)
    inputs, outputs = torch.randn(vocabulary, dim), torch.randn(vocabulary, dim)
    words, sentences, reach, noise = random_block(20, vocabulary, window, 4, seed=1)

    step_inputs, step_outputs = inputs.clone(), outputs.clone()
    step_loss, step_pairs = one_centre_at_a_time(
        skipgram_step, step_inputs, step_outputs, (words, sentences, reach, noise), rate, window
    )

    kernel_inputs, kernel_outputs = inputs.numpy().copy(), outputs.numpy().copy()
    arrays = (words.numpy(), sentences.numpy(), reach.numpy(), noise.numpy())
    loss, pairs = train_span(kernel_inputs, kernel_outputs, *arrays, 0, len(words), rate, rate)
    assert pairs == step_pairs
    assert abs(loss - step_loss) < 1e-4 * step_loss
    np.testing.assert_allclose(kernel_inputs, step_inputs.numpy(), atol=1e-5)
    np.testing.assert_allclose(kernel_outputs, step_outputs.numpy(), atol=1e-5)


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_merge_to_the_sequential_result_when_they_touch_different_rows(threads):
    dim, rate, rows = 6, 0.05, 10 * threads
    torch.manual_seed(2)
    inputs, outputs = torch.randn(rows, dim), torch.randn(rows, dim)
    # Thread k's 30 centres use words 10k to 10k + 9 only and are a sentence of their own, so no
    # two threads touch the same row.
    words = torch.cat([torch.randint(10 * k, 10 * k + 10, (30,)) for k in range(threads)])
    sentences = torch.arange(threads).repeat_interleave(30)
    reach = torch.randint(1, 3, (30 * threads,))
    noise = torch.cat([torch.randint(10 * k, 10 * k + 10, (30, 2)) for k in range(threads)])
    arrays = tuple(t.numpy() for t in (words, sentences, reach, noise))

    sequential_inputs, sequential_outputs = inputs.numpy().copy(), outputs.numpy().copy()
    train_span(sequential_inputs, sequential_outputs, *arrays, 0, 30 * threads, rate, rate)

    parallel_inputs, parallel_outputs = inputs.clone(), outputs.clone()
    parallel = ParallelSpans(parallel_inputs, parallel_outputs, threads=threads)
    parallel.train_block(*arrays, rate, rate)
    parallel.close()
    np.testing.assert_allclose(parallel_inputs.numpy(), sequential_inputs, atol=1e-5)
    np.testing.assert_allclose(parallel_outputs.numpy(), sequential_outputs, atol=1e-5)
    # Every thread's rows did change.
    for k in range(threads):
        assert not torch.allclose(
            parallel_inputs[10 * k : 10 * k + 10], inputs[10 * k : 10 * k + 10]
        )


def test_two_threads_give_the_same_vectors_every_time():
    words, sentences, reach, noise = random_block(2000, 50, 5, 5, seed=3)
    arrays = tuple(t.numpy() for t in (words, sentences, reach, noise))
    results = []
    for _ in range(2):
        inputs, outputs = torch.full((50, 10), 0.01), torch.zeros(50, 10)
        parallel = ParallelSpans(inputs, outputs, threads=2)
        parallel.train_block(*arrays, 0.025, 0.02)
        parallel.close()
        results.append((inputs, outputs))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    assert not torch.equal(results[0][1], torch.zeros(50, 10))


@pytest.mark.parametrize("mean", [True, False])
def test_cbow_kernel_equals_the_torch_cbow_step_taken_one_centre_at_a_time(mean):
    vocabulary, dim, window, rate = 40, 8, 3, 0.05
    torch.manual_seed(4)
    inputs, outputs = torch.randn(vocabulary, dim), torch.randn(vocabulary, dim)
    words, sentences, reach, noise = random_block(20, vocabulary, window, 4, seed=5)

    step_inputs, step_outputs = inputs.clone(), outputs.clone()
    step_loss, step_examples = one_centre_at_a_time(
        partial(cbow_step, mean=mean),
        step_inputs,
        step_outputs,
        (words, sentences, reach, noise),
        rate,
        window,
    )

    kernel_inputs, kernel_outputs = inputs.numpy().copy(), outputs.numpy().copy()
    arrays = (words.numpy(), sentences.numpy(), reach.numpy(), noise.numpy())
    loss, examples = train_span_cbow(
        kernel_inputs, kernel_outputs, *arrays, 0, len(words), rate, rate, mean
    )
    assert examples == step_examples == len(words)
    assert abs(loss - step_loss) < 1e-4 * step_loss
    np.testing.assert_allclose(kernel_inputs, step_inputs.numpy(), atol=1e-5)
    np.testing.assert_allclose(kernel_outputs, step_outputs.numpy(), atol=1e-5)


@pytest.mark.parametrize("negatives", [0, 4])
@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_hierarchical_softmax_kernel_equals_the_torch_step_one_centre_at_a_time(model, negatives):
    vocabulary, dim, window, rate = 40, 8, 3, 0.05
    torch.manual_seed(6)
    inputs, outputs = torch.randn(vocabulary, dim), torch.randn(vocabulary, dim)
    inner_vectors = torch.randn(vocabulary - 1, dim)
    tree = huffman_tree(torch.randint(1, 1000, (vocabulary,)).sort(descending=True).values.numpy())
    words, sentences, reach, noise = random_block(20, vocabulary, window, negatives, seed=7)

    step_inputs, step_outputs, step_inner = inputs.clone(), outputs.clone(), inner_vectors.clone()
    inner = InnerNodes(step_inner, *tree.to_torch())
    step = partial(cbow_step, mean=True) if model == "cbow" else skipgram_step
    step_loss, step_pairs = one_centre_at_a_time(
        partial(step, inner=inner),
        step_inputs,
        step_outputs,
        (words, sentences, reach, noise),
        rate,
        window,
    )

    kernel = [inputs.numpy().copy(), outputs.numpy().copy(), inner_vectors.numpy().copy()]
    arrays = (words.numpy(), sentences.numpy(), reach.numpy(), noise.numpy())
    paths = (tree.codes, tree.points, tree.lengths)
    if model == "cbow":
        loss, pairs = train_span_cbow_hs(*kernel, *arrays, 0, len(words), rate, rate, True, *paths)
    else:
        loss, pairs = train_span_hs(*kernel, *arrays, 0, len(words), rate, rate, *paths)
    assert pairs == step_pairs
    assert abs(loss - step_loss) < 1e-4 * step_loss
    for mine, expected in zip(kernel, (step_inputs, step_outputs, step_inner), strict=True):
        np.testing.assert_allclose(mine, expected.numpy(), atol=1e-5)
    assert not np.allclose(kernel[2], inner_vectors.numpy())  # the inner nodes did learn
    if negatives == 0:
        np.testing.assert_array_equal(kernel[1], outputs.numpy())  # no negative sampling


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_merge_the_inner_nodes_too(threads):
    words, sentences, reach, noise = random_block(2000, 50, 5, 0, seed=8)
    arrays = tuple(t.numpy() for t in (words, sentences, reach, noise))
    tree = huffman_tree(np.arange(50, 0, -1) * 10)
    paths = (tree.codes, tree.points, tree.lengths)
    start = torch.full((50, 10), 0.01), torch.zeros(50, 10), torch.zeros(49, 10)

    # One round (the block is shorter than a round): each thread trains its share on its own copy,
    # through the round's whole learning-rate range, and the copies' changes add up.
    expected = [matrix.numpy().copy() for matrix in start]
    bounds = np.linspace(0, 2000, threads + 1).astype(np.int64)
    changes = [[] for _ in start]
    for first, last in itertools.pairwise(bounds.tolist()):
        copy = [matrix.numpy().copy() for matrix in start]
        train_span_hs(*copy, *arrays, first, last, 0.025, 0.02, *paths)
        for mine, base, kept in zip(copy, start, changes, strict=True):
            kept.append(mine - base.numpy())
    for total, kept in zip(expected, changes, strict=True):
        total += agreed_sum(kept)

    matrices = tuple(matrix.clone() for matrix in start)
    parallel = ParallelSpans(
        *matrices[:2], threads, train_span_hs, inner_vectors=matrices[2], tree=paths
    )
    parallel.train_block(*arrays, 0.025, 0.02)
    parallel.close()
    for merged, total in zip(matrices, expected, strict=True):
        np.testing.assert_allclose(merged.numpy(), total, atol=1e-6)
    assert matrices[2].abs().sum() > 0 and matrices[1].abs().sum() == 0


def agreed_sum(changes):
    """The threads' changes merged as ParallelSpans merges them when every row is saturated (no
    frequencies given): each row's sum, scaled by the changes' agreement sum |change|^2 / |sum|^2,
    at most 1."""
    total = np.sum(changes, axis=0)
    squares = sum((change.astype(np.float64) ** 2).sum(axis=1) for change in changes)
    summed = (total.astype(np.float64) ** 2).sum(axis=1)
    agreement = np.divide(squares, summed, out=np.ones_like(summed), where=summed > 0)
    return np.minimum(agreement, 1.0).astype(np.float32)[:, None] * total


def merged_by_hand(start, arrays, threads, round_centres, rate, final_rate, span=train_span):
    """What ParallelSpans should give, worked out without it: per round, each thread's span trained
    on its own copy of the matrices as they stood at the round's start, and the matrices then
    moved by the threads' changes merged (`agreed_sum`; one thread: the whole block in one span)."""
    merged = [matrix.copy() for matrix in start]
    count = len(arrays[0])
    if threads == 1:
        span(*merged, *arrays, 0, count, rate, final_rate)
        return merged
    step = round_centres * threads
    for first in range(0, count, step):
        last = min(first + step, count)
        rates = [rate + (final_rate - rate) * at / count for at in (first, last)]
        bounds = np.linspace(first, last, threads + 1).astype(np.int64)
        changes = [[] for _ in merged]
        for thread in range(threads):
            mine = [matrix.copy() for matrix in merged]
            span(*mine, *arrays, int(bounds[thread]), int(bounds[thread + 1]), *rates)
            for kept, after, before in zip(changes, mine, merged, strict=True):
                kept.append(after - before)
        for matrix, kept in zip(merged, changes, strict=True):
            matrix += agreed_sum(kept)
    return merged


@pytest.mark.parametrize("threads", [3, 4])
def test_three_or_more_threads_merge_their_agreed_changes_round_after_round(threads):
    # Rounds of 64 centres a thread over 1,500 centres: several rounds, each merging the changes
    # of every thread's copy, all from the same start, into the shared matrices.
    words, sentences, reach, noise = random_block(1500, 30, 4, 3, seed=10)
    arrays = tuple(t.numpy() for t in (words, sentences, reach, noise))
    torch.manual_seed(11)
    start = (torch.rand(30, 6) - 0.5, torch.rand(30, 6) - 0.5)
    expected = merged_by_hand([m.numpy() for m in start], arrays, threads, 64, 0.05, 0.01)

    matrices = tuple(matrix.clone() for matrix in start)
    parallel = ParallelSpans(*matrices, threads)
    parallel.round_centres = 64
    loss, pairs = parallel.train_block(*arrays, 0.05, 0.01)
    parallel.close()
    assert pairs > 1500 and loss > 0
    for merged, total, before in zip(matrices, expected, start, strict=True):
        np.testing.assert_allclose(merged.numpy(), total, atol=2e-6)
        assert not torch.allclose(merged, before, atol=1e-3)  # training did move every matrix
    # Not what one thread alone gives: the threads did train from shared starting points.
    alone = merged_by_hand([m.numpy() for m in start], arrays, 1, 64, 0.05, 0.01)
    assert not np.allclose(matrices[0].numpy(), alone[0], atol=1e-4)
