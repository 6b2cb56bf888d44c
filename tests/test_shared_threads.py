"""Lock-free threads on shared matrices: each thread's own draws, and the training they drive."""

import itertools

import numpy as np
import pytest
import torch

from w2v.training.blocks import corpus_blocks, part_bounds, sentence_blocks, thread_parts
from w2v.training.cpu_kernel import (
    SharedThreads,
    _train_pair,
    _train_targets,
    draw_noise,
    draw_part,
    part_state,
    train_part,
    train_span,
    train_span_cbow,
    train_span_fresh_noise,
)
from w2v.training.huffman import huffman_tree
from w2v.training.noise import NoiseSampler

GROUPS, GROUP_WORDS, SENTENCE = 10, 8, 10


def grouped_corpus(sentences, seed):
    """Sentences of SENTENCE words, each drawn from one of GROUPS groups of GROUP_WORDS words
    (word ids g * GROUP_WORDS ...): (tokens int32, sentence ends int64, counts)."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, GROUPS, sentences)
    members = rng.integers(0, GROUP_WORDS, (sentences, SENTENCE))
    tokens = (groups[:, None] * GROUP_WORDS + members).reshape(-1).astype(np.int32)
    ends = np.arange(SENTENCE, len(tokens) + 1, SENTENCE, dtype=np.int64)
    counts = np.bincount(tokens, minlength=GROUPS * GROUP_WORDS)
    return tokens, ends, counts


def trainer(threads, counts, dim=16, seed=1, hs=False, **options):
    """SharedThreads on fresh matrices (word2vec's start), with the matrices."""
    size = len(counts)
    generator = torch.Generator().manual_seed(0)
    inputs = (torch.rand(size, dim, generator=generator) - 0.5) / dim
    outputs = torch.zeros(size, dim)
    inner = torch.zeros(size - 1, dim) if hs else None
    noise = NoiseSampler(counts)
    options.setdefault("keep", np.ones(size, np.float32))
    parallel = SharedThreads(
        inputs,
        outputs,
        threads,
        acceptance=noise.acceptance,
        alias=noise.alias,
        tree=huffman_tree(counts) if hs else None,
        inner_vectors=inner,
        seed=seed,
        **options,
    )
    return parallel, (inputs, outputs) + (() if inner is None else (inner,))


def train_blocks(parallel, tokens, ends, block_tokens, epochs=1, rate=0.025, final_rate=None):
    """Train the corpus in blocks of block_tokens (a multiple of SENTENCE); each block's mean loss."""
    final_rate = rate if final_rate is None else final_rate
    losses = []
    starts = range(0, len(tokens), block_tokens)
    steps = epochs * len(starts)
    for epoch in range(epochs):
        for index, start in enumerate(starts):
            number = epoch * len(starts) + index
            block = tokens[start : start + block_tokens]
            block_ends = ends[(ends > start) & (ends <= start + len(block))] - start
            done = number / steps
            loss, pairs = parallel.train_block(
                thread_parts(block, block_ends, parallel.threads),
                number,
                rate + (final_rate - rate) * done,
                rate + (final_rate - rate) * (number + 1) / steps,
            )
            losses.append(loss / max(pairs, 1))
    return losses


def test_one_thread_gives_the_same_vectors_every_run_and_another_seed_others():
    tokens, ends, counts = grouped_corpus(2000, seed=0)
    keep = np.linspace(0.3, 1.0, len(counts)).astype(np.float32)
    results = []
    for seed in (5, 5, 6):
        parallel, matrices = trainer(1, counts, seed=seed, keep=keep)
        losses = train_blocks(parallel, tokens, ends, 5000)
        parallel.close()
        results.append((losses, matrices))
    (losses, first), (again_losses, again), (_, other) = results
    assert losses == again_losses
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0]) and not torch.equal(first[1], other[1])


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_one_thread_with_noise_per_centre_equals_train_span_on_the_same_draws(model):
    tokens, ends, counts = grouped_corpus(500, seed=1)
    keep = np.linspace(0.2, 1.0, len(counts)).astype(np.float32)
    noise = NoiseSampler(counts)
    tables = noise.acceptance.numpy(), noise.alias.numpy()
    parallel, matrices = trainer(
        1, counts, seed=9, keep=keep, model=model, fresh_noise=False, window=4, negative=3
    )
    expected = [matrix.numpy().copy() for matrix in matrices]
    loss, pairs = parallel.train_block([(tokens, ends)], 7, 0.05, 0.01)
    parallel.close()

    draws = draw_part(tokens, ends, 0, len(tokens), keep, 4, 3, *tables, part_state(9, 7, 0))
    assert len(draws[0]) < len(tokens)  # subsampling did drop words
    if model == "cbow":
        span_loss, span_pairs = train_span_cbow(
            *expected, *draws, 0, len(draws[0]), 0.05, 0.01, True
        )
    else:
        span_loss, span_pairs = train_span(*expected, *draws, 0, len(draws[0]), 0.05, 0.01)
    assert (loss, pairs) == (span_loss, span_pairs)
    for trained, by_span in zip(matrices, expected, strict=True):
        np.testing.assert_array_equal(trained.numpy(), by_span)
    assert not np.array_equal(expected[1], np.zeros_like(expected[1]))


def test_train_part_is_its_draws_then_the_span():
    tokens, ends, counts = grouped_corpus(300, seed=2)
    keep = np.full(len(counts), 0.7, np.float32)
    noise = NoiseSampler(counts)
    tables = noise.acceptance.numpy(), noise.alias.numpy()
    _, matrices = trainer(1, counts)
    mine = [matrix.numpy().copy() for matrix in matrices]
    theirs = [matrix.numpy().copy() for matrix in matrices]
    # The part is sentences 10 to 200: its windows stay inside it.
    first, last = 10 * SENTENCE, 200 * SENTENCE
    no_tree = np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.int64), np.zeros(0, np.int64)
    no_subwords = np.zeros(0, np.int64), np.zeros(0, np.int64)
    state = np.array([12345], np.uint64)
    result = train_part(
        *mine,
        mine[1][:0],
        tokens,
        ends,
        first,
        last,
        keep,
        5,
        4,
        False,
        False,
        True,
        *tables,
        *no_tree,
        0.04,
        0.02,
        state.copy(),
        *no_subwords,
    )
    words, sentences, reach, drawn = draw_part(
        tokens, ends, first, last, keep, 5, 4, *tables, state.copy()
    )
    # The kept words keep their sentence numbers, which are the part's own sentences.
    assert sentences.min() == 10 and sentences.max() == 199
    assert result == train_span(*theirs, words, sentences, reach, drawn, 0, len(words), 0.04, 0.02)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "target_rows",
    [
        [4, 17, 3, 17, 25, 9],  # row 17 twice in the first group of four: one pass for both
        [4, 17, 3, 9, 25, 17],  # in the first group and the pair after it: the phased loop
        [4, 17, 3, 9, 25, 11, 6],  # distinct: groups of four, two and one
    ],
)
def test_one_pair_update_is_train_targets_with_one_source(target_rows):
    rng = np.random.default_rng(8)
    dim, rows, rate = 13, 30, 0.1
    matrix = rng.standard_normal((rows, dim)).astype(np.float32)
    source = rng.standard_normal(dim).astype(np.float32)
    # Repeated target rows see the row as it was, and both updates land.
    target_rows = np.array(target_rows, np.int64)
    targets = len(target_rows)
    labels = np.array([1] + [0] * (targets - 1), np.float32)
    mine, update = matrix.copy(), np.zeros(dim, np.float32)
    loss = _train_pair(
        source, mine, target_rows, labels, targets, rate, np.zeros(8, np.float32), update, False
    )
    theirs, updates = matrix.copy(), np.zeros((1, dim), np.float32)
    gradients, zero = np.zeros((8, 4), np.float32), np.zeros(dim, np.float32)
    expected = _train_targets(
        source[None], 1, theirs, target_rows, labels, targets, rate, gradients, updates, zero
    )
    assert loss == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(update, updates[0], atol=1e-6)
    np.testing.assert_allclose(mine, theirs, atol=1e-6)
    assert not np.allclose(mine, matrix)


def fresh_noise_by_hand(inputs, outputs, words, sentences, reach, negative, tables, state, rate):
    """Skip-gram as word2vec trains it, in numpy: every (context, centre) pair, in order, against
    the next `negative` words of one noise stream; return (loss, pairs)."""
    windows = [
        [
            at
            for at in range(max(centre - reach[centre], 0), centre + reach[centre] + 1)
            if at != centre and at < len(words) and sentences[at] == sentences[centre]
        ]
        for centre in range(len(words))
    ]
    pairs = sum(len(window) for window in windows)
    stream = np.empty(pairs * negative, np.int64)
    draw_noise(state, *tables, stream)
    loss, taken = 0.0, 0
    for centre, window in enumerate(windows):
        word = words[centre]
        for at in window:
            noise = stream[taken : taken + negative]
            taken += negative
            targets = np.array([word, *(n for n in noise if n != word)])
            labels = (targets == word).astype(np.float64)
            labels[1:] = 0
            source = inputs[words[at]].astype(np.float64)
            rows = outputs[targets].astype(np.float64)
            scores = rows @ source
            probabilities = 1 / (1 + np.exp(-scores))
            loss -= np.log(np.where(labels == 1, probabilities, 1 - probabilities)).sum()
            gradients = (labels - probabilities) * rate
            np.add.at(outputs, targets, (gradients[:, None] * source).astype(np.float32))
            inputs[words[at]] += (gradients @ rows).astype(np.float32)
    return loss, pairs


def test_fresh_noise_trains_every_pair_against_noise_words_of_its_own():
    tokens, ends, counts = grouped_corpus(60, seed=9)
    noise = NoiseSampler(counts)
    tables = noise.acceptance.numpy(), noise.alias.numpy()
    keep = np.full(len(counts), 0.8, np.float32)
    words, sentences, reach, _ = draw_part(
        tokens, ends, 0, len(tokens), keep, 4, 0, *tables, part_state(4, 0, 0)
    )
    rng = np.random.default_rng(10)
    start = [rng.standard_normal((len(counts), 6)).astype(np.float32) * 0.3 for _ in range(2)]
    mine = [matrix.copy() for matrix in start]
    no_tree = np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.int64), np.zeros(0, np.int64)
    loss, pairs = train_span_fresh_noise(
        *mine,
        mine[1][:0],
        words,
        sentences,
        reach,
        3,
        *tables,
        part_state(4, 0, 1),
        0.05,
        0.05,
        *no_tree,
    )
    theirs = [matrix.copy() for matrix in start]
    expected = fresh_noise_by_hand(
        *theirs, words, sentences, reach, 3, tables, part_state(4, 0, 1), 0.05
    )
    assert pairs == expected[1] > 1000
    assert loss == pytest.approx(expected[0], rel=1e-4)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert not np.allclose(mine[0], start[0], atol=1e-2)


def test_subsampling_keeps_each_word_at_its_probability_and_numbers_its_sentence():
    size, length = 20, 400_000
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, size, length).astype(np.int32)
    ends = np.cumsum(rng.integers(1, 30, length // 10))
    ends = np.append(ends[ends < length], length).astype(np.int64)
    keep = np.linspace(0.02, 1.0, size).astype(np.float32)
    tables = np.ones(size, np.float32), np.arange(size, dtype=np.int64)
    words, _, _, noise = draw_part(
        tokens, ends, 0, length, keep, 5, 0, *tables, part_state(1, 0, 0)
    )
    assert noise.shape == (len(words), 0)
    seen = np.bincount(tokens, minlength=size)
    kept = np.bincount(words, minlength=size)
    expected = seen * keep.astype(np.float64)
    error = np.sqrt(seen * keep * (1 - keep)) + 1e-9
    assert np.all(np.abs(kept - expected) <= 4.5 * error), (kept - expected) / error
    assert kept[-1] == seen[-1]  # keep 1: every occurrence
    # With everything kept, the words are the tokens and the sentence numbers are searchsorted's.
    everything = np.ones(size, np.float32)
    words, sentences, _, _ = draw_part(
        tokens, ends, 1000, 9000, everything, 5, 0, *tables, part_state(1, 0, 0)
    )
    np.testing.assert_array_equal(words, tokens[1000:9000])
    np.testing.assert_array_equal(sentences, np.searchsorted(ends, np.arange(1000, 9000), "right"))


def chi_square(observed, probabilities):
    expected = probabilities * observed.sum()
    return float(((observed - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("window", [1, 5, 8])
def test_reach_is_uniform_on_one_to_window(window):
    length = 200_000
    tokens = np.zeros(length, np.int32)
    tables = np.ones(1, np.float32), np.zeros(1, np.int64)
    ends = np.array([length], np.int64)
    _, _, reach, _ = draw_part(
        tokens, ends, 0, length, np.ones(1, np.float32), window, 0, *tables, part_state(2, 3, 4)
    )
    assert reach.min() == 1 and reach.max() == window
    observed = np.bincount(reach, minlength=window + 1)[1:]
    df = window - 1
    # Far beyond the 99.99th percentile of chi-square with df degrees of freedom.
    assert chi_square(observed, np.full(window, 1 / window)) < df + 8 * np.sqrt(2 * df) + 1


def test_noise_words_follow_counts_to_the_three_quarters():
    rng = np.random.default_rng(4)
    counts = np.sort(rng.integers(1, 10_000, 60))[::-1]
    noise = NoiseSampler(counts)
    tables = noise.acceptance.numpy(), noise.alias.numpy()
    probabilities = counts**0.75 / (counts**0.75).sum()
    drawn = np.empty(300_000, np.int64)
    draw_noise(part_state(3, 0, 0), *tables, drawn)
    df = len(counts) - 1
    assert chi_square(np.bincount(drawn, minlength=len(counts)), probabilities) < df + 8 * np.sqrt(
        2 * df
    )
    # draw_part's noise columns come from the same tables.
    tokens = np.zeros(60_000, np.int32)
    _, _, _, columns = draw_part(
        tokens,
        np.array([60_000]),
        0,
        60_000,
        np.ones(1, np.float32),
        5,
        5,
        *tables,
        part_state(3, 1, 0),
    )
    assert columns.shape == (60_000, 5)
    observed = np.bincount(columns.reshape(-1), minlength=len(counts))
    assert chi_square(observed, probabilities) < df + 8 * np.sqrt(2 * df)
    # Not the other tables' distribution: the counts themselves.
    assert chi_square(observed, counts / counts.sum()) > 10 * df


def test_parts_end_at_sentence_ends_near_even_cuts():
    ends = np.array([3, 10, 11, 25, 40, 52, 60, 100], np.int64)
    bounds = part_bounds(100, ends, 4)
    assert bounds[0] == 0 and bounds[-1] == 100 and len(bounds) == 5
    assert set(bounds[1:-1]) <= set(ends.tolist())
    np.testing.assert_array_equal(bounds, [0, 25, 52, 60, 100])
    # One long sentence: no cut inside it, so one part takes it all.
    assert sorted(np.diff(part_bounds(50, np.array([50]), 3)).tolist()) == [0, 0, 50]
    assert np.all(np.diff(part_bounds(1000, np.arange(7, 1001, 7), 16)) >= 0)


def test_each_thread_reads_its_own_region_of_the_corpus_block_by_block():
    ends = np.arange(10, 201, 10, dtype=np.int64)  # 20 sentences of 10 words
    # Two regions, [0, 100) and [100, 200), read 30 words (three sentences) a block each.
    assert corpus_blocks(ends, 60, 2) == [
        ((0, 30), (100, 130)),
        ((30, 60), (130, 160)),
        ((60, 90), (160, 190)),
        ((90, 100), (190, 200)),
    ]
    # Three regions cut at the sentence ends nearest 66 and 133: the middle one, 60 words, runs
    # out first.
    assert corpus_blocks(ends, 90, 3) == [
        ((0, 30), (70, 100), (130, 160)),
        ((30, 60), (100, 130), (160, 190)),
        ((60, 70), (130, 130), (190, 200)),
    ]
    # One stream: the corpus's blocks in order, each a span.
    assert corpus_blocks(ends, 45, 1) == [(span,) for span in sentence_blocks(ends, 45)]
    assert list(sentence_blocks(ends, 45)) == [(0, 40), (40, 80), (80, 120), (120, 160), (160, 200)]
    # A sentence longer than a block is cut at the block's size.
    assert list(sentence_blocks(np.array([25, 30]), 10)) == [(0, 10), (10, 20), (20, 30)]
    uneven = np.cumsum(np.random.default_rng(0).integers(1, 40, 400))
    for streams in (1, 2, 3, 16):
        blocks = corpus_blocks(uneven, 500, streams)
        assert all(len(block) == streams for block in blocks)
        spans = sorted(span for block in blocks for span in block if span[0] < span[1])
        # Every token once: each span starts where the one before ended.
        assert spans[0][0] == 0 and spans[-1][1] == uneven[-1]
        assert all(before[1] == after[0] for before, after in itertools.pairwise(spans))
        # Each thread keeps to its region, in corpus order.
        for thread in range(streams):
            own = [block[thread] for block in blocks]
            assert all(before[1] == after[0] for before, after in itertools.pairwise(own))


def test_sixteen_threads_learn_the_planted_groups_in_place():
    tokens, ends, counts = grouped_corpus(20_000, seed=5)
    parallel, (inputs, outputs) = trainer(16, counts, dim=24, negative=5, window=5)
    pointer = inputs.data_ptr()
    losses = train_blocks(parallel, tokens, ends, 50_000, epochs=3, rate=0.025, final_rate=0.001)
    parallel.close()
    assert inputs.data_ptr() == pointer  # trained in place: there is no other copy
    assert torch.isfinite(inputs).all() and torch.isfinite(outputs).all()
    assert losses[-1] < 0.9 * losses[0]
    vectors = torch.nn.functional.normalize(inputs, dim=1)
    similarity = vectors @ vectors.T
    similarity.fill_diagonal_(-2)
    group = torch.arange(len(counts)) // GROUP_WORDS
    # Each word's GROUP_WORDS - 1 nearest neighbours are its group's other words.
    nearest = similarity.topk(GROUP_WORDS - 1, dim=1).indices
    share = (group[nearest] == group[:, None]).float().mean()
    assert share > 0.95


@pytest.mark.parametrize(
    ("model", "hs", "fresh_noise", "cbow_mean"),
    [
        ("skipgram", False, True, True),
        ("skipgram", False, False, True),
        ("skipgram", True, True, True),
        ("skipgram", True, False, True),
        ("cbow", False, True, True),
        ("cbow", False, True, False),
        ("cbow", True, True, True),
        ("cbow", True, True, False),
    ],
)
def test_every_model_learns(model, hs, fresh_noise, cbow_mean):
    tokens, ends, counts = grouped_corpus(6000, seed=6)
    held_out, held_out_ends, _ = grouped_corpus(1000, seed=7)
    parallel, matrices = trainer(
        2,
        counts,
        hs=hs,
        model=model,
        cbow_mean=cbow_mean,
        fresh_noise=fresh_noise,
        negative=0 if hs else 5,
        window=4,
    )

    def held_out_loss():
        # A learning rate of zero scores the pairs without changing anything.
        loss, pairs = parallel.train_block(
            thread_parts(held_out, held_out_ends, parallel.threads), 10**6, 0.0, 0.0
        )
        return loss / pairs

    before = held_out_loss()
    start = trainer(1, counts, hs=hs)[1]
    assert all(torch.equal(a, b) for a, b in zip(matrices, start, strict=True))  # none moved
    train_blocks(parallel, tokens, ends, 10_000, epochs=2, rate=0.05)
    after = held_out_loss()
    parallel.close()
    assert after < 0.7 * before, (before, after)
    assert all(torch.isfinite(matrix).all() for matrix in matrices)
    trained = matrices[2] if hs else matrices[1]
    assert trained.abs().sum() > 0
    if hs:
        assert matrices[1].abs().sum() == 0  # no negative sampling: the output rows never move
