"""The compiled CPU kernel: one thread's sequential updates over a span of centre words.

Each centre word is handled as in the batched torch step (its context words share its noise
words), but centres are processed one after another, each seeing every earlier update, exactly as
word2vec's own loop does. numba compiles it to machine code that releases the GIL, so several
threads can each train a span of their own at the same time.

Within a centre, every (context, target) score is computed before any row changes, so the work is
three small matrix products: scores, the contexts' updates and the targets' updates. They are
written four rows at a time, so each vector read from cache serves four dot products or updates,
and the rows the next centre will need are prefetched while this one trains.

A subword model (fastText's, `--subwords`) has span loops of its own at the end of the module
(`train_span_subwords`, `train_span_cbow_subwords`), so the word loops stay as they are:
`train_part` picks them when it is given the words' subword rows, once a part, never per word.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from w2v.training.merging import saturated_rows

MIN_ROUND = 4096
MAX_ROUND = 1 << 14
# Hierarchical softmax: every centre updates the inner nodes near the root, so rounds are shorter.
MAX_ROUND_HS = 1 << 12
GROUP = 4  # rows taken together by _dot4 and _axpy4
RADIX_BITS = 11  # a radix sort's digit: 2,048 counts fit in cache
FLUSH_PRODUCT = 1e-250  # a probability product below this is turned into loss before it underflows
TINY_PROBABILITY = 1e-30  # smaller ones go to the loss directly, so a product never underflows

COMPILE = {"nogil": True, "fastmath": True, "cache": True, "error_model": "numpy"}


@intrinsic
def _prefetch(typing_context, matrix, row, column):
    """Start loading matrix[row, column]'s cache line (LLVM's prefetch, for writing)."""

    def codegen(context, builder, signature, args):
        matrix_type, row_type, column_type = signature.args
        array = context.make_array(matrix_type)(context, builder, args[0])
        indices = [
            context.cast(builder, value, kind, types.intp)
            for value, kind in ((args[1], row_type), (args[2], column_type))
        ]
        pointer = cgutils.get_item_pointer(context, builder, matrix_type, array, indices)
        byte = ir.IntType(8).as_pointer()
        number = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte, number, number, number]),
            "llvm.prefetch.p0",
        )
        # write access, highest locality, data cache
        flags = [ir.Constant(number, value) for value in (1, 3, 1)]
        builder.call(prefetch, [builder.bitcast(pointer, byte), *flags])
        return context.get_dummy_value()

    return types.void(matrix, row, column), codegen


@numba.njit(inline="always", **COMPILE)
def _prefetch_row(matrix: np.ndarray, row: int) -> None:
    for column in range(0, matrix.shape[1], 16):  # a cache line holds 16 float32s
        _prefetch(matrix, row, column)


@numba.njit(inline="always", **COMPILE)
def _prefetch_ahead(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    words: np.ndarray,
    noise: np.ndarray,
    ahead: int,
    last: int,
    widest: int,
) -> None:
    """Prefetch the rows centre `ahead` will need that are likely not in cache: its noise words'
    and its own output rows, and the input row of the word entering the window."""
    if ahead >= last:
        return
    if noise.shape[1]:
        _prefetch_row(output_vectors, words[ahead])
        for negative in range(noise.shape[1]):
            _prefetch_row(output_vectors, noise[ahead, negative])
    if ahead + widest < len(words):
        _prefetch_row(input_vectors, words[ahead + widest])


@numba.njit(inline="always", **COMPILE)
def _gather_contexts(
    words: np.ndarray,
    sentences: np.ndarray,
    reach: np.ndarray,
    centre: int,
    context_rows: np.ndarray,
) -> int:
    """Write the ids of `centre`'s context words into context_rows; return how many there are."""
    contexts = 0
    for position in range(
        max(centre - reach[centre], 0), min(centre + reach[centre] + 1, len(words))
    ):
        if position != centre and sentences[position] == sentences[centre]:
            context_rows[contexts] = words[position]
            contexts += 1
    return contexts


@numba.njit(inline="always", **COMPILE)
def _dot4(
    x: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, e: np.ndarray
) -> tuple[float, float, float, float]:
    """x's dot products with four rows, reading x once."""
    s0 = s1 = s2 = s3 = np.float32(0.0)
    for d in range(len(x)):
        value = x[d]
        s0 += value * a[d]
        s1 += value * b[d]
        s2 += value * c[d]
        s3 += value * e[d]
    return s0, s1, s2, s3


@numba.njit(inline="always", **COMPILE)
def _axpy4(
    y: np.ndarray,
    g0: float,
    a: np.ndarray,
    g1: float,
    b: np.ndarray,
    g2: float,
    c: np.ndarray,
    g3: float,
    e: np.ndarray,
) -> None:
    """y += g0 * a + g1 * b + g2 * c + g3 * e, reading and writing y once."""
    for d in range(len(y)):
        y[d] += g0 * a[d] + g1 * b[d] + g2 * c[d] + g3 * e[d]


@numba.njit(inline="always", **COMPILE)
def _row(matrix: np.ndarray, rows: np.ndarray, index: int, count: int, zero: np.ndarray):
    """matrix[rows[index]], or a zero row past `count` (the padding of a last group of four)."""
    return matrix[rows[index]] if index < count else zero


@numba.njit(inline="always", **COMPILE)
def _padded(matrix: np.ndarray, index: int, count: int, zero: np.ndarray):
    """matrix[index], or a zero row past `count`."""
    return matrix[index] if index < count else zero


@numba.njit(inline="always", **COMPILE)
def _pair_gradient(
    score: float, label: float, rate: float, loss: float, product: float
) -> tuple[float, float, float]:
    """One (source, target) pair's gradient, (label - sigmoid(score)) * rate, and the loss tallies
    with its -log of the probability of the right answer added: kept as a product of
    probabilities (one multiplication a pair, not a logarithm), turned into a sum before it
    underflows. Returns (gradient, loss, product)."""
    small = math.exp(-abs(score))
    share = 1.0 / (1.0 + small)
    probability = share if score >= 0 else small * share
    # The probability the model gives the right answer, exact even when tiny.
    right = share if (score >= 0) == (label == 1.0) else small * share
    if right < TINY_PROBABILITY:
        loss += abs(score) + math.log1p(small)
    else:
        product *= right
        if product < FLUSH_PRODUCT:
            loss -= math.log(product)
            product = 1.0
    return np.float32((label - probability) * rate), loss, product


@numba.njit(inline="always", **COMPILE)
def _train_targets(
    sources: np.ndarray,
    count: int,
    matrix: np.ndarray,
    target_rows: np.ndarray,
    labels: np.ndarray,
    targets: int,
    rate: float,
    gradients: np.ndarray,
    updates: np.ndarray,
    zero: np.ndarray,
) -> float:
    """Score each of sources[:count] against each target row of `matrix` (a word's output row, or
    an inner node's), with label 1 or 0; update the target rows at once and add the sources'
    updates to updates[:count]. Returns the loss, the sum of -log sigmoid(+-score).

    The loss is kept as a product of probabilities (one multiplication a pair, not a logarithm),
    turned into a sum before it underflows.
    """
    loss = 0.0
    product = 1.0
    # Every pair's score, loss and gradient, from the rows as they are, and the sources' updates
    # from the targets' rows before they change.
    for group in range(0, targets, GROUP):
        a = _row(matrix, target_rows, group, targets, zero)
        b = _row(matrix, target_rows, group + 1, targets, zero)
        c = _row(matrix, target_rows, group + 2, targets, zero)
        e = _row(matrix, target_rows, group + 3, targets, zero)
        for source in range(count):
            scores = _dot4(sources[source], a, b, c, e)
            for member in range(GROUP):
                target = group + member
                if target >= targets:
                    gradients[target, source] = 0.0
                    continue
                gradient, loss, product = _pair_gradient(
                    scores[member], labels[target], rate, loss, product
                )
                gradients[target, source] = gradient
            row = gradients[:, source]
            _axpy4(
                updates[source],
                row[group],
                a,
                row[group + 1],
                b,
                row[group + 2],
                c,
                row[group + 3],
                e,
            )
    # The targets' updates; the padding sources past `count` get zero gradients.
    for source in range(count, -(-count // GROUP) * GROUP):
        for target in range(targets):
            gradients[target, source] = 0.0
    for group in range(0, count, GROUP):
        a = _padded(sources, group, count, zero)
        b = _padded(sources, group + 1, count, zero)
        c = _padded(sources, group + 2, count, zero)
        e = _padded(sources, group + 3, count, zero)
        for target in range(targets):
            row = gradients[target]
            _axpy4(
                matrix[target_rows[target]],
                row[group],
                a,
                row[group + 1],
                b,
                row[group + 2],
                c,
                row[group + 3],
                e,
            )
    return loss - math.log(product)


@numba.njit(inline="always", **COMPILE)
def _path_targets(
    word: int,
    codes: np.ndarray,
    points: np.ndarray,
    lengths: np.ndarray,
    target_rows: np.ndarray,
    labels: np.ndarray,
) -> int:
    """Write `word`'s Huffman path (inner nodes, with target 1 - bit as in word2vec) as targets."""
    for node in range(lengths[word]):
        target_rows[node] = points[word, node]
        labels[node] = 1.0 - codes[word, node]
    return lengths[word]


@numba.njit(inline="always", **COMPILE)
def _noise_targets(
    word: int, noise: np.ndarray, target_rows: np.ndarray, labels: np.ndarray
) -> int:
    """Write `word` (label 1) and its noise words (label 0) as targets. A noise word equal to the
    centre is left out: it would push against the true pair."""
    target_rows[0] = word
    labels[0] = 1.0
    targets = 1
    for negative in noise:
        if negative != word:
            target_rows[targets] = negative
            labels[targets] = 0.0
            targets += 1
    return targets


@numba.njit(inline="always", **COMPILE)
def _workspace(reach: np.ndarray, noise: np.ndarray, lengths: np.ndarray, dim: int):
    """Buffers for a span: context ids, source rows and their updates, targets and gradients."""
    most = 2 * int(reach.max()) if len(reach) else 0
    targets = max(noise.shape[1] + 1, int(lengths.max()) if len(lengths) else 0)
    context_rows = np.empty(most, np.int64)
    sources = np.empty((max(most, 1), dim), np.float32)
    updates = np.empty((max(most, 1), dim), np.float32)
    target_rows = np.empty(targets, np.int64)
    labels = np.empty(targets, np.float32)
    padded = -(-targets // GROUP) * GROUP, -(-max(most, 1) // GROUP) * GROUP
    gradients = np.zeros(padded, np.float32)
    return context_rows, sources, updates, target_rows, labels, gradients, np.zeros(dim, np.float32)


@numba.njit(cache=True)
def _no_tree() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (codes, points, lengths) of no Huffman tree: no hierarchical softmax."""
    return np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.int64), np.zeros(0, np.int64)


@numba.njit(inline="always", **COMPILE)
def _train_centre(
    word: int,
    centre_noise: np.ndarray,
    sources: np.ndarray,
    count: int,
    output_vectors: np.ndarray,
    inner_vectors: np.ndarray,
    codes: np.ndarray,
    points: np.ndarray,
    lengths: np.ndarray,
    rate: float,
    workspace: tuple,
) -> float:
    """Train sources[:count] to predict `word`: its Huffman path when there is a tree, and against
    its noise words when there are any. Returns the loss; the sources' updates are in
    workspace's `updates`."""
    _, _, updates, target_rows, labels, gradients, zero = workspace
    loss = 0.0
    if len(lengths):
        targets = _path_targets(word, codes, points, lengths, target_rows, labels)
        loss += _train_targets(
            sources,
            count,
            inner_vectors,
            target_rows,
            labels,
            targets,
            rate,
            gradients,
            updates,
            zero,
        )
    if len(centre_noise):
        targets = _noise_targets(word, centre_noise, target_rows, labels)
        loss += _train_targets(
            sources,
            count,
            output_vectors,
            target_rows,
            labels,
            targets,
            rate,
            gradients,
            updates,
            zero,
        )
    return loss


# numpy's error model: weights gone to infinity give NaN, which the training loop reports, not a
# ZeroDivisionError from deep inside a thread.
@numba.njit(**COMPILE)
def train_span_hs(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    inner_vectors: np.ndarray,
    words: np.ndarray,
    sentences: np.ndarray,
    reach: np.ndarray,
    noise: np.ndarray,
    first: int,
    last: int,
    learning_rate: float,
    final_learning_rate: float,
    codes: np.ndarray,
    points: np.ndarray,
    lengths: np.ndarray,
) -> tuple[float, int]:
    """Skip-gram's updates for the centres words[first:last]; return (loss sum, pairs).

    Hierarchical softmax when `lengths` is not empty: every context word predicts the centre's
    Huffman code (`codes`, `points`, `lengths` from `w2v.training.huffman`), one inner node of
    `inner_vectors` per bit. Negative sampling with `output_vectors` when `noise` has columns;
    with both, the two losses add up.
    """
    dim = input_vectors.shape[1]
    span = max(last - first, 1)
    widest = int(reach.max()) if len(reach) else 0
    workspace = _workspace(reach, noise, lengths, dim)
    context_rows, sources, updates = workspace[0], workspace[1], workspace[2]
    loss = 0.0
    pairs = 0
    for centre in range(first, last):
        _prefetch_ahead(input_vectors, output_vectors, words, noise, centre + 1, last, widest)
        rate = learning_rate + (final_learning_rate - learning_rate) * (centre - first) / span
        contexts = _gather_contexts(words, sentences, reach, centre, context_rows)
        if contexts == 0:
            continue
        pairs += contexts
        for context in range(contexts):
            row, source, update = (
                input_vectors[context_rows[context]],
                sources[context],
                updates[context],
            )
            for d in range(dim):
                source[d] = row[d]
                update[d] = 0.0
        loss += _train_centre(
            words[centre],
            noise[centre],
            sources,
            contexts,
            output_vectors,
            inner_vectors,
            codes,
            points,
            lengths,
            rate,
            workspace,
        )
        for context in range(contexts):
            row, update = input_vectors[context_rows[context]], updates[context]
            for d in range(dim):
                row[d] += update[d]
    return loss, pairs


@numba.njit(**COMPILE)
def train_span(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    words: np.ndarray,
    sentences: np.ndarray,
    reach: np.ndarray,
    noise: np.ndarray,
    first: int,
    last: int,
    learning_rate: float,
    final_learning_rate: float,
) -> tuple[float, int]:
    """Update both matrices in place for the centres words[first:last]; return (loss sum, pairs).

    Skip-gram with negative sampling only. Context words may lie outside [first, last) but never
    outside their centre's sentence. The learning rate falls linearly from `learning_rate` to
    `final_learning_rate` across the span.
    """
    span = words, sentences, reach, noise, first, last, learning_rate, final_learning_rate
    no_inner = output_vectors[:0]
    return train_span_hs(input_vectors, output_vectors, no_inner, *span, *_no_tree())


@numba.njit(**COMPILE)
def train_span_cbow_hs(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    inner_vectors: np.ndarray,
    words: np.ndarray,
    sentences: np.ndarray,
    reach: np.ndarray,
    noise: np.ndarray,
    first: int,
    last: int,
    learning_rate: float,
    final_learning_rate: float,
    mean: bool,
    codes: np.ndarray,
    points: np.ndarray,
    lengths: np.ndarray,
) -> tuple[float, int]:
    """CBOW's updates for the centres words[first:last]; return (loss sum, centres trained).

    The context vectors' mean (or sum, when `mean` is False) predicts the centre word: its Huffman
    code through `inner_vectors` when `lengths` is not empty (hierarchical softmax), and against
    its noise words through `output_vectors` when `noise` has columns. As in word2vec and gensim,
    with the mean every context word takes the whole error back, and with the sum each takes its
    share.
    """
    dim = input_vectors.shape[1]
    span = max(last - first, 1)
    widest = int(reach.max()) if len(reach) else 0
    workspace = _workspace(reach, noise, lengths, dim)
    context_rows, hidden, error = workspace[0], workspace[1][0], workspace[2][0]
    target_rows, labels = workspace[3], workspace[4]
    gradients = np.zeros(len(workspace[5]), np.float32)
    tree, pair = (codes, points, lengths), (target_rows, labels, gradients, error)
    loss = 0.0
    examples = 0
    for centre in range(first, last):
        _prefetch_ahead(input_vectors, output_vectors, words, noise, centre + 1, last, widest)
        rate = learning_rate + (final_learning_rate - learning_rate) * (centre - first) / span
        contexts = _gather_contexts(words, sentences, reach, centre, context_rows)
        if contexts == 0:
            continue
        examples += 1
        for d in range(dim):
            hidden[d] = 0.0
            error[d] = 0.0
        for context in range(contexts):
            row = input_vectors[context_rows[context]]
            for d in range(dim):
                hidden[d] += row[d]
        if mean:
            scale = np.float32(1.0 / contexts)
            for d in range(dim):
                hidden[d] *= scale
        # One source: the pair loop, which does not pad it to four.
        loss += _train_hidden(
            hidden, words[centre], noise[centre], output_vectors, inner_vectors, tree, rate, pair
        )
        share = np.float32(1.0 if mean else 1.0 / contexts)
        for context in range(contexts):
            row = input_vectors[context_rows[context]]
            for d in range(dim):
                row[d] += share * error[d]
    return loss, examples


@numba.njit(**COMPILE)
def train_span_cbow(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    words: np.ndarray,
    sentences: np.ndarray,
    reach: np.ndarray,
    noise: np.ndarray,
    first: int,
    last: int,
    learning_rate: float,
    final_learning_rate: float,
    mean: bool,
) -> tuple[float, int]:
    """CBOW with negative sampling only: `train_span_cbow_hs` without a tree."""
    span = words, sentences, reach, noise, first, last, learning_rate, final_learning_rate
    no_inner = output_vectors[:0]
    return train_span_cbow_hs(input_vectors, output_vectors, no_inner, *span, mean, *_no_tree())


# A thread's share of a round trains on compact copies: the rows its span can touch, gathered
# from the shared matrices, with the span's arrays renumbered to them. Within a matrix's rows,
# `runs` bounds the stretches sorted by global row, which is how the merge finds its part.


@numba.njit(nogil=True, cache=True)
def _sorted_order(keys: np.ndarray) -> np.ndarray:
    """The stable order that sorts `keys` (integers from 0): a radix sort, linear in their count,
    where np.argsort's quicksort took most of a round's bookkeeping."""
    order = np.arange(len(keys))
    spare = np.empty_like(order)
    counts = np.empty((1 << RADIX_BITS) + 1, np.int64)
    largest = keys.max() if len(keys) else 0
    mask = (1 << RADIX_BITS) - 1
    shift = 0
    while shift == 0 or largest >> shift:
        counts[:] = 0
        for index in order:
            counts[((keys[index] >> shift) & mask) + 1] += 1
        for digit in range(1, len(counts)):
            counts[digit] += counts[digit - 1]
        for index in order:
            digit = (keys[index] >> shift) & mask
            spare[counts[digit]] = index
            counts[digit] += 1
        order, spare = spare, order
        shift += RADIX_BITS
    return order


@numba.njit(nogil=True, cache=True)
def _renumber(keys: np.ndarray, inside: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Local ids for `keys`: the distinct values among keys[:inside] get 0, 1, ... in increasing
    order, then the other distinct values. Returns (the values by local id, each key's local id,
    how many values are among keys[:inside])."""
    order = _sorted_order(keys)
    ids = np.empty(len(keys), np.int64)
    values = np.empty(len(keys), np.int64)
    near = far = 0
    start = 0
    while start < len(keys):
        value = keys[order[start]]
        stop = start + 1
        while stop < len(keys) and keys[order[stop]] == value:
            stop += 1
        # The sort is stable: a value found among keys[:inside] comes first among its equals.
        if order[start] < inside:
            number = near
            values[near] = value
            near += 1
        else:
            number = -1 - far
            values[len(keys) - 1 - far] = value
            far += 1
        for at in range(start, stop):
            ids[order[at]] = number
        start = stop
    for at in range(len(keys)):
        if ids[at] < 0:
            ids[at] = near - 1 - ids[at]
    values[near : near + far] = values[len(keys) - far :][::-1].copy()
    return values[: near + far].copy(), ids, near


@numba.njit(nogil=True, cache=True)
def _local_words(
    words: np.ndarray, noise: np.ndarray, first: int, last: int, widest: int, outputs: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Renumber the words a span over words[first:last] can use: the words within reach of its
    centres get local ids 0, 1, ... in sorted order, then its other noise words. Returns (those
    near words, the output rows by local id or none without `outputs`, the near words' local ids
    and the noise words' local ids, both from position first - widest on)."""
    low = max(first - widest, 0)
    high = min(last + widest, len(words))
    negatives = noise.shape[1]
    keys = np.empty(high - low + (last - first) * negatives, np.int64)
    keys[: high - low] = words[low:high]
    keys[high - low :] = noise[first:last].copy().reshape(-1)
    rows, ids, near = _renumber(keys, high - low)
    local_noise = np.zeros((high - low, negatives), np.int64)
    local_noise[first - low : last - low] = ids[high - low :].reshape(last - first, negatives)
    return rows[:near].copy(), rows if outputs else rows[:0], ids[: high - low].copy(), local_noise


@numba.njit(nogil=True, cache=True)
def _local_subwords(
    near: np.ndarray, starts: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The input rows (own and n-grams') of the `near` words, sorted, and the near words' CSR
    table (starts, rows) over them."""
    local_starts = np.zeros(len(near) + 1, np.int64)
    for index in range(len(near)):
        word = near[index]
        local_starts[index + 1] = local_starts[index] + starts[word + 1] - starts[word]
    listed = np.empty(local_starts[-1], np.int64)
    for index in range(len(near)):
        word = near[index]
        listed[local_starts[index] : local_starts[index + 1]] = rows[
            starts[word] : starts[word + 1]
        ]
    input_rows, local_rows, _ = _renumber(listed, len(listed))
    return input_rows, local_starts, local_rows


@numba.njit(nogil=True, cache=True)
def _local_tree(
    near: np.ndarray, codes: np.ndarray, points: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The inner nodes on the `near` words' Huffman paths, sorted, and the near words' codes,
    points (as local inner nodes) and lengths."""
    total = 0
    for word in near:
        total += lengths[word]
    listed = np.empty(total, np.int64)
    total = 0
    for word in near:
        listed[total : total + lengths[word]] = points[word, : lengths[word]]
        total += lengths[word]
    inner_rows, ids, _ = _renumber(listed, len(listed))
    local_points = np.zeros((len(near), points.shape[1]), np.int64)
    total = 0
    for index in range(len(near)):
        length = lengths[near[index]]
        local_points[index, :length] = ids[total : total + length]
        total += length
    return inner_rows, codes[near], local_points, lengths[near]


@numba.njit(nogil=True, cache=True)
def _gather_rows(matrix: np.ndarray, rows: np.ndarray, local: np.ndarray) -> None:
    """local[:] = matrix[rows], without holding the GIL (a loop: numba's row copy is slower)."""
    for index in range(len(rows)):
        mine, theirs = local[index], matrix[rows[index]]
        for d in range(len(mine)):
            mine[d] = theirs[d]


# No fastmath in the deltas and the merge: the sum's order is part of what makes a thread count's
# result reproducible.
@numba.njit(nogil=True, cache=True)
def _subtract_rows(local: np.ndarray, matrix: np.ndarray, rows: np.ndarray) -> None:
    """local[index] -= matrix[rows[index]]: a trained compact copy becomes its change."""
    for index in range(len(rows)):
        mine, base = local[index], matrix[rows[index]]
        for d in range(len(mine)):
            mine[d] -= base[d]


@numba.njit(nogil=True, cache=True)
def _merge_changes(
    matrix: np.ndarray,
    rows_of: numba.typed.List,
    runs_of: numba.typed.List,
    changes_of: numba.typed.List,
    low: int,
    high: int,
    saturated: np.ndarray,
) -> None:
    """Add the threads' changes (thread t's rows_of[t], each stretch rows[runs[k]:runs[k + 1]]
    sorted, with changes_of[t]) to the rows of `matrix` in [low, high). A row takes the sum of its
    changes, added in thread order; a `saturated` row that sum scaled by how far they agree, as
    w2v.training.merging.agreed_change does: sum |change|^2 / |sum|^2, 1 for changes at right
    angles (independent steps, which add) down to 1 / threads for equal ones (steps towards the
    same point, which a sum overshoots)."""
    heads = 0
    for runs in runs_of:
        heads += len(runs) - 1
    at = np.empty(heads, np.int64)
    stop = np.empty(heads, np.int64)
    owner = np.empty(heads, np.int64)
    head = 0
    for thread in range(len(rows_of)):
        rows, runs = rows_of[thread], runs_of[thread]
        for run in range(len(runs) - 1):
            stretch = rows[runs[run] : runs[run + 1]]
            at[head] = runs[run] + np.searchsorted(stretch, low)
            stop[head] = runs[run] + np.searchsorted(stretch, high)
            owner[head] = thread
            head += 1
    total = np.empty(matrix.shape[1], np.float32)
    while True:
        row = high
        for head in range(heads):
            if at[head] < stop[head]:
                row = min(row, rows_of[owner[head]][at[head]])
        if row == high:
            return
        total[:] = 0.0
        squares = 0.0
        # The heads are in thread order: the sum's order is fixed.
        for head in range(heads):
            if at[head] < stop[head] and rows_of[owner[head]][at[head]] == row:
                change = changes_of[owner[head]][at[head]]
                for d in range(len(total)):
                    total[d] += change[d]
                    squares += change[d] * change[d]
                at[head] += 1
        scale = np.float32(1.0)
        if saturated[row]:
            summed = 0.0
            for d in range(len(total)):
                summed += total[d] * total[d]
            scale = np.float32(min(1.0, squares / summed) if summed > 0 else 1.0)
        target = matrix[row]
        for d in range(len(total)):
            target[d] += scale * total[d]


@numba.njit(nogil=True, cache=True)
def _cut_points(rows: np.ndarray, parts: int, size: int) -> np.ndarray:
    """Bounds that cut [0, size) into `parts` ranges holding about as many of `rows` each."""
    ordered = rows[_sorted_order(rows)]
    cuts = np.full(parts + 1, size, np.int64)
    cuts[0] = 0
    if len(ordered):
        for part in range(1, parts):
            cuts[part] = ordered[part * len(ordered) // parts]
    return cuts


class ParallelSpans:
    """Trains each block with one `train_span` per thread, then merges the threads' work.

    The block is cut into rounds. In a round each thread trains its share on compact copies of
    only the rows that share can touch (the input and output rows of the words within reach of
    its centres and of their noise words, the inner nodes on those words' paths, a subword
    model's n-gram rows), gathered from the shared matrices, with its words renumbered to them:
    it sees exactly what a private copy of the whole matrices would hold. Then each shared row
    takes the sum of every thread's change to it, added in thread order (the rows split among
    the threads), scaled for the rows the threads see often by how far the changes agree
    (`_merge_changes`, as w2v.training.merging says).
    Threads never write the same memory, so a given thread count always gives the same vectors,
    and the copies take (rows a round touches) x dim a thread, whatever the vocabulary. Every
    round gathers afresh, so changes made to the shared matrices between blocks are taken up.

    A round is short so that a frequent word's changes, computed by each thread without seeing the
    others', do not pile up: on wiki17m at 2 threads, rounds of 16,384 centres a thread gave
    SimLex-999 0.268 and 0.266 (two seeds) where rounds of 262,144 gave 0.257 to 0.264, for about
    a third less speed (the merge reads and writes every touched row of every copy). With
    hierarchical softmax every centre updates the nodes near the root of the tree: rounds of
    16,384 gave SimLex 0.228 where one thread gave 0.235, and rounds of 4,096 gave 0.238.
    """

    def __init__(
        self,
        input_vectors: torch.Tensor,
        output_vectors: torch.Tensor,
        threads: int,
        span: Callable[..., tuple[float, int]] = train_span,
        inner_vectors: torch.Tensor | None = None,
        tree: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        subwords: tuple[np.ndarray, np.ndarray] | None = None,
        frequencies: Sequence[np.ndarray] | None = None,
    ):
        """`frequencies`, each matrix's rows' share of the corpus's tokens (input, output, inner
        nodes: w2v.training.merging.row_frequencies), says which rows the threads see often in a
        round; without it every row is taken as seen often.

        `span` is the loop to run: `train_span` (skip-gram) or `train_span_cbow` with its mode,
        or for hierarchical softmax `train_span_hs` or `train_span_cbow_hs`, which also take
        `inner_vectors` (the inner nodes' matrix) after the output vectors and the tree's
        (codes, points, lengths) as `tree`. A subword model's loop (`train_span_subwords`,
        `train_span_cbow_subwords`) comes with `subwords`, each word's input rows as CSR
        (starts, rows), and an inner nodes' matrix, empty without a tree. `span` gets the tree
        and the subword table as keywords (codes, points, lengths, starts, rows)."""
        self.span = span
        self.shared = (input_vectors, output_vectors) + (
            () if inner_vectors is None else (inner_vectors,)
        )
        self.threads = threads
        self.tree = tree or _no_tree()
        self.subwords = subwords
        # The spans of hierarchical softmax and of a subword model take the tree's tables.
        self.takes_tree = tree is not None or subwords is not None
        # What the span is called with besides the matrices and the block's arrays.
        self.tables = self._keywords(self.tree, subwords)
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
        self.buffers = [
            [np.empty((0, matrix.shape[1]), np.float32) for matrix in self.shared]
            for _ in range(threads if threads > 1 else 0)
        ]
        # A merge costs about what training touches in 16 * vocabulary centres, which bounds
        # rounds below for small vocabularies.
        longest = MAX_ROUND if tree is None else MAX_ROUND_HS
        self.round_centres = min(max(16 * len(input_vectors), MIN_ROUND), longest)
        self.frequencies = [
            np.ones(len(matrix)) if frequencies is None else frequencies[index]
            for index, matrix in enumerate(self.shared)
        ]

    def _keywords(
        self, tree: tuple[np.ndarray, ...], subwords: tuple[np.ndarray, ...] | None
    ) -> dict[str, np.ndarray]:
        """The span's keyword tables: the tree's (codes, points, lengths) for a span that takes
        them, and a subword model's CSR table (starts, rows)."""
        keywords = {}
        if self.takes_tree:
            keywords.update(zip(("codes", "points", "lengths"), tree, strict=True))
        if subwords is not None:
            keywords.update(zip(("starts", "rows"), subwords, strict=True))
        return keywords

    def train_block(
        self,
        words: np.ndarray,
        sentences: np.ndarray,
        reach: np.ndarray,
        noise: np.ndarray,
        learning_rate: float,
        final_learning_rate: float,
    ) -> tuple[float, int]:
        """Train on one block of kept words; return (loss sum, pairs)."""
        arrays = (words, sentences, reach, noise)
        count = len(words)
        if self.pool is None:
            matrices = tuple(matrix.numpy() for matrix in self.shared)
            return self.span(
                *matrices, *arrays, 0, count, learning_rate, final_learning_rate, **self.tables
            )
        loss, pairs = 0.0, 0
        widest = int(reach.max()) if count else 0
        step = self.round_centres * self.threads
        # The rows whose changes the merges agree rather than add: the same every round.
        saturated = [saturated_rows(rows, step) for rows in self.frequencies]
        for start in range(0, count, step):
            end = min(start + step, count)
            rates = [
                learning_rate + (final_learning_rate - learning_rate) * at / count
                for at in (start, end)
            ]
            round_loss, round_pairs = self._round(arrays, widest, start, end, *rates, saturated)
            loss += round_loss
            pairs += round_pairs
        return loss, pairs

    def _round(
        self,
        arrays: tuple,
        widest: int,
        start: int,
        end: int,
        rate: float,
        final_rate: float,
        saturated: list[np.ndarray],
    ) -> tuple[float, int]:
        bounds = np.linspace(start, end, self.threads + 1).astype(np.int64)
        # Every thread runs through the round's whole learning-rate range at the same time.
        futures = [
            self.pool.submit(
                self._train_share,
                arrays,
                widest,
                int(bounds[thread]),
                int(bounds[thread + 1]),
                rate,
                final_rate,
                thread,
            )
            for thread in range(self.threads)
        ]
        shares = [future.result() for future in futures]
        cuts = shares[0][3]
        # Each matrix's changes of all threads, in thread order, as the compiled merge takes them.
        changes = []
        for index in range(len(self.shared)):
            lists = numba.typed.List(), numba.typed.List(), numba.typed.List()
            for share in shares:
                for held, array in zip(lists, share[2][index], strict=True):
                    held.append(array)
            changes.append(lists)
        merges = [
            self.pool.submit(self._merge, changes, cuts, part, saturated)
            for part in range(self.threads)
        ]
        for merge in merges:
            merge.result()
        return sum(share[0] for share in shares), sum(share[1] for share in shares)

    def _train_share(
        self,
        arrays: tuple,
        widest: int,
        first: int,
        last: int,
        rate: float,
        final_rate: float,
        thread: int,
    ) -> tuple[float, int, list[tuple[np.ndarray, np.ndarray, np.ndarray]], list[np.ndarray]]:
        """Train words[first:last] on `thread`'s compact copies; return (loss, pairs, each
        matrix's (rows, runs, change of those rows), and for thread 0 the bounds that split each
        matrix's merge among the threads)."""
        words, sentences, reach, noise = arrays
        matrices = [matrix.numpy() for matrix in self.shared]
        near, output_rows, local_words, local_noise = _local_words(
            words, noise, first, last, widest, len(matrices[1]) > 0
        )
        low = max(first - widest, 0)
        ends = np.array([0, len(near), len(output_rows)])
        rows = [(near, ends[:2]), (output_rows, ends if len(output_rows) else ends[:1])]
        subwords = None
        if self.subwords is not None:
            input_rows, *subwords = _local_subwords(near, *self.subwords)
            rows[0] = (input_rows, np.array([0, len(input_rows)]))
        inner_rows, tree = near[:0], self.tree
        if len(self.tree[2]):
            inner_rows, *tree = _local_tree(near, *self.tree)
        if len(matrices) == 3:
            rows.append((inner_rows, np.array([0, len(inner_rows)])))
        local = self._copies(thread, [len(part) for part, _ in rows])
        for matrix, (part, _), copy in zip(matrices, rows, local, strict=True):
            _gather_rows(matrix, part, copy)
        high = low + len(local_words)
        loss, pairs = self.span(
            *local,
            local_words,
            sentences[low:high],
            reach[low:high],
            local_noise,
            first - low,
            last - low,
            rate,
            final_rate,
            **self._keywords(tree, subwords),
        )
        for change, matrix, (part, _) in zip(local, matrices, rows, strict=True):
            _subtract_rows(change, matrix, part)
        changes = [(part, runs, change) for (part, runs), change in zip(rows, local, strict=True)]
        cuts = [
            _cut_points(part, self.threads, len(matrix)) if thread == 0 else np.zeros(0, np.int64)
            for matrix, (part, _) in zip(matrices, rows, strict=True)
        ]
        return loss, pairs, changes, cuts

    def _copies(self, thread: int, sizes: list[int]) -> list[np.ndarray]:
        """`thread`'s compact copies, `sizes` rows a matrix: kept from round to round, since a
        fresh allocation's page faults cost about what the gather does; grown when short."""
        held = self.buffers[thread]
        for index, size in enumerate(sizes):
            if len(held[index]) < size:
                held[index] = np.empty((size + size // 4, held[index].shape[1]), np.float32)
        return [buffer[:size] for buffer, size in zip(held, sizes, strict=True)]

    def _merge(
        self,
        changes: list[tuple],
        cuts: list[np.ndarray],
        part: int,
        saturated: list[np.ndarray],
    ) -> None:
        """Merge every thread's changes (per matrix: the rows, runs and changes of each thread)
        into the shared rows in cuts' `part`-th range, agreeing those of each matrix's
        `saturated` rows."""
        for index, matrix in enumerate(self.shared):
            low, high = int(cuts[index][part]), int(cuts[index][part + 1])
            _merge_changes(matrix.numpy(), *changes[index], low, high, saturated[index])

    def close(self) -> None:
        """Stop the worker threads."""
        if self.pool is not None:
            self.pool.shutdown()


# Lock-free threads on shared matrices (word2vec's, gensim's and fastText's design): every thread
# trains its own part of a block (with --thread-regions, a span of its own region of the corpus)
# straight into the one copy of the matrices, and draws its own random numbers (subsampling,
# windows, noise words) as it goes.

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_UNIT_53 = 1.0 / (1 << 53)
_UNIT_32 = 1.0 / (1 << 32)
_LOW_32 = np.uint64(0xFFFFFFFF)
NOISE_CHUNK = 1 << 12  # fresh noise words drawn ahead at a time, so their rows can be prefetched
NOISE_AHEAD = 2  # pairs ahead whose noise rows are prefetched


@numba.njit(inline="always", **COMPILE)
def _next_random(state: np.ndarray) -> np.uint64:
    """The next 64 random bits of splitmix64, whose state is the one uint64 in `state`."""
    z = state[0] + _GOLDEN_GAMMA
    state[0] = z
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always", **COMPILE)
def _uniform(state: np.ndarray) -> float:
    """A float64 uniform in [0, 1), from the top 53 bits of a draw."""
    return np.float64(_next_random(state) >> np.uint64(11)) * _UNIT_53


@numba.njit(inline="always", **COMPILE)
def _below(bits: np.uint64, size: int) -> int:
    """An integer in [0, size) from the top 32 of 64 random bits (size below 2**32)."""
    return np.int64(((bits >> np.uint64(32)) * np.uint64(size)) >> np.uint64(32))


@numba.njit(inline="always", **COMPILE)
def _noise_word(state: np.ndarray, acceptance: np.ndarray, alias: np.ndarray) -> int:
    """One noise word from the alias tables: a slot from the draw's top 32 bits, kept if the coin
    from its low 32 bits falls under the slot's acceptance, else the slot's alias."""
    bits = _next_random(state)
    slot = _below(bits, len(alias))
    coin = np.float64(bits & _LOW_32) * _UNIT_32
    return slot if coin < acceptance[slot] else alias[slot]


@numba.njit(**COMPILE)
def draw_noise(
    state: np.ndarray, acceptance: np.ndarray, alias: np.ndarray, out: np.ndarray
) -> None:
    """Fill `out` (int64, any shape) with noise words drawn from the alias tables."""
    flat = out.reshape(-1)
    for index in range(len(flat)):
        flat[index] = _noise_word(state, acceptance, alias)


@numba.njit(**COMPILE)
def draw_part(
    tokens: np.ndarray,
    sentence_ends: np.ndarray,
    first: int,
    last: int,
    keep: np.ndarray,
    window: int,
    negative: int,
    acceptance: np.ndarray,
    alias: np.ndarray,
    state: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One thread's draws for tokens[first:last]: (words, sentences, reach, noise), the arrays
    `train_span` and its kin take.

    Token by token: a coin keeps word w with probability keep[w]; a kept word then gets its window
    reach, uniform in 1..window, and `negative` noise words from the alias tables (none when
    negative is 0). `sentences` numbers each kept word's sentence by the sentence ends (relative
    to the tokens, as `tokens` is) before or at it. `state` (one uint64) is the random generator,
    advanced in place.
    """
    size = max(last - first, 0)
    words = np.empty(size, np.int64)
    sentences = np.empty(size, np.int64)
    reach = np.empty(size, np.int64)
    noise = np.empty((size, negative), np.int64)
    sentence = np.searchsorted(sentence_ends, first, side="right")
    kept = 0
    for position in range(first, last):
        while sentence < len(sentence_ends) and sentence_ends[sentence] <= position:
            sentence += 1
        word = tokens[position]
        if _uniform(state) >= keep[word]:
            continue
        words[kept] = word
        sentences[kept] = sentence
        reach[kept] = 1 + _below(_next_random(state), window)
        for column in range(negative):
            noise[kept, column] = _noise_word(state, acceptance, alias)
        kept += 1
    return words[:kept], sentences[:kept], reach[:kept], noise[:kept]


@numba.njit(inline="always", **COMPILE)
def _step4(
    source: np.ndarray,
    update: np.ndarray,
    g0: float,
    a: np.ndarray,
    g1: float,
    b: np.ndarray,
    g2: float,
    c: np.ndarray,
    g3: float,
    e: np.ndarray,
) -> None:
    """update += g0 * a + ... + g3 * e from the rows as they are, then each row += its g * source:
    one pass over the four rows for both updates."""
    for d in range(len(source)):
        value = source[d]
        update[d] += g0 * a[d] + g1 * b[d] + g2 * c[d] + g3 * e[d]
        a[d] += g0 * value
        b[d] += g1 * value
        c[d] += g2 * value
        e[d] += g3 * value


@numba.njit(inline="always", **COMPILE)
def _repeats_across_groups(target_rows: np.ndarray, targets: int) -> bool:
    """Whether a target row comes again in a later group of `_train_pair` (four at a time, then
    two, then one), where the groups' one-pass updates would let it see an earlier use's update."""
    start = 0
    while start < targets:
        size = GROUP if targets - start >= GROUP else (2 if targets - start >= 2 else 1)
        for later in range(start + size, targets):
            for earlier in range(start, start + size):
                if target_rows[later] == target_rows[earlier]:
                    return True
        start += size
    return False


@numba.njit(inline="always", **COMPILE)
def _train_pair_in_phases(
    source: np.ndarray,
    matrix: np.ndarray,
    target_rows: np.ndarray,
    labels: np.ndarray,
    targets: int,
    rate: float,
    gradients: np.ndarray,
    update: np.ndarray,
) -> float:
    """`_train_pair` one target at a time: every score and the source's update, then the rows'."""
    loss = 0.0
    product = 1.0
    for target in range(targets):
        row = matrix[target_rows[target]]
        score = np.float32(0.0)
        for d in range(len(source)):
            score += source[d] * row[d]
        gradient, loss, product = _pair_gradient(score, labels[target], rate, loss, product)
        gradients[target] = gradient
        for d in range(len(source)):
            update[d] += gradient * row[d]
    for target in range(targets):
        row, gradient = matrix[target_rows[target]], gradients[target]
        for d in range(len(source)):
            row[d] += gradient * source[d]
    return loss - math.log(product)


@numba.njit(inline="always", **COMPILE)
def _train_pair(
    source: np.ndarray,
    matrix: np.ndarray,
    target_rows: np.ndarray,
    labels: np.ndarray,
    targets: int,
    rate: float,
    gradients: np.ndarray,
    update: np.ndarray,
    distinct: bool,
) -> float:
    """`_train_targets` for one source row: the same scores, loss and updates (every score and
    the source's update from the target rows as they are, then the targets' updates), without
    its padding to four sources, which would quadruple the work on the targets' rows. Returns the
    loss, the sum of -log sigmoid(+-score).

    Targets go four at a time, then a last two together and a last one alone, each group in two
    passes: its scores, then one pass over its rows for both updates. That is the same as
    scoring all first as long as no row comes again in a later group, which `distinct` (a
    Huffman path's nodes) promises or a check makes sure of; a noise word drawn twice across
    groups, rare, takes `_train_pair_in_phases`."""
    if not distinct and _repeats_across_groups(target_rows, targets):
        return _train_pair_in_phases(
            source, matrix, target_rows, labels, targets, rate, gradients, update
        )
    loss = 0.0
    product = 1.0
    whole = targets - targets % GROUP
    for group in range(0, whole, GROUP):
        a = matrix[target_rows[group]]
        b = matrix[target_rows[group + 1]]
        c = matrix[target_rows[group + 2]]
        e = matrix[target_rows[group + 3]]
        scores = _dot4(source, a, b, c, e)
        for member in range(GROUP):
            gradients[member], loss, product = _pair_gradient(
                scores[member], labels[group + member], rate, loss, product
            )
        _step4(source, update, gradients[0], a, gradients[1], b, gradients[2], c, gradients[3], e)
    if targets - whole >= 2:
        a = matrix[target_rows[whole]]
        b = matrix[target_rows[whole + 1]]
        s0 = s1 = np.float32(0.0)
        for d in range(len(source)):
            s0 += source[d] * a[d]
            s1 += source[d] * b[d]
        g0, loss, product = _pair_gradient(s0, labels[whole], rate, loss, product)
        g1, loss, product = _pair_gradient(s1, labels[whole + 1], rate, loss, product)
        for d in range(len(source)):
            value = source[d]
            update[d] += g0 * a[d] + g1 * b[d]
            a[d] += g0 * value
            b[d] += g1 * value
        whole += 2
    if whole < targets:
        row = matrix[target_rows[whole]]
        score = np.float32(0.0)
        for d in range(len(source)):
            score += source[d] * row[d]
        gradient, loss, product = _pair_gradient(score, labels[whole], rate, loss, product)
        for d in range(len(source)):
            update[d] += gradient * row[d]
            row[d] += gradient * source[d]
    return loss - math.log(product)


@numba.njit(inline="always", **COMPILE)
def _train_hidden(
    hidden: np.ndarray,
    word: int,
    centre_noise: np.ndarray,
    output_vectors: np.ndarray,
    inner_vectors: np.ndarray,
    tree: tuple,
    rate: float,
    pair: tuple,
) -> float:
    """CBOW's step: `hidden`, the context words' mean or sum, predicts `word` through its Huffman
    path when there is a tree and against `centre_noise` when it has words; the error to hand
    back to the context rows is added to pair's `error`. `tree` is (codes, points, lengths),
    `pair` the buffers (target_rows, labels, gradients, error). Returns the loss."""
    codes, points, lengths = tree
    target_rows, labels, gradients, error = pair
    loss = 0.0
    if len(lengths):
        targets = _path_targets(word, codes, points, lengths, target_rows, labels)
        loss += _train_pair(
            hidden,
            inner_vectors,
            target_rows,
            labels,
            targets,
            rate,
            gradients,
            error,
            distinct=True,
        )
    if len(centre_noise):
        targets = _noise_targets(word, centre_noise, target_rows, labels)
        loss += _train_pair(
            hidden,
            output_vectors,
            target_rows,
            labels,
            targets,
            rate,
            gradients,
            error,
            distinct=False,
        )
    return loss


@numba.njit(**COMPILE)
def train_span_fresh_noise(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    inner_vectors: np.ndarray,
    words: np.ndarray,
    sentences: np.ndarray,
    reach: np.ndarray,
    negative: int,
    acceptance: np.ndarray,
    alias: np.ndarray,
    state: np.ndarray,
    learning_rate: float,
    final_learning_rate: float,
    codes: np.ndarray,
    points: np.ndarray,
    lengths: np.ndarray,
) -> tuple[float, int]:
    """Skip-gram over all of `words` as word2vec trains it; return (loss sum, pairs).

    Pair by pair: each context word's input row predicts the centre, through the centre's Huffman
    path when `lengths` is not empty and against `negative` noise words of its own, freshly drawn
    from the alias tables with `state`, and takes its update before the next pair is trained.
    """
    dim = input_vectors.shape[1]
    count = len(words)
    span = max(count, 1)
    workspace = _workspace(reach, np.empty((0, negative), np.int64), lengths, dim)
    context_rows, updates, target_rows, labels = (
        workspace[0],
        workspace[2],
        workspace[3],
        workspace[4],
    )
    update, pair_gradients = updates[0], np.zeros(len(workspace[5]), np.float32)
    # Noise words come from one stream, drawn a chunk ahead, so the rows of the pairs to come can
    # be prefetched; the stream is the same whatever the chunk, so is the result.
    stream = np.empty(max(NOISE_CHUNK * negative, 1), np.int64)
    taken = len(stream)
    loss = 0.0
    pairs = 0
    for centre in range(count):
        rate = learning_rate + (final_learning_rate - learning_rate) * centre / span
        # The rows the next centre will need that are likely not in cache: its own output row
        # and the input row of the word entering its window.
        if centre + 1 < count:
            if negative:
                _prefetch_row(output_vectors, words[centre + 1])
            if centre + 1 + reach[centre + 1] < count:
                _prefetch_row(input_vectors, words[centre + 1 + reach[centre + 1]])
        contexts = _gather_contexts(words, sentences, reach, centre, context_rows)
        pairs += contexts
        word = words[centre]
        for context in range(contexts):
            row = context_rows[context]
            source = input_vectors[row]
            for d in range(dim):
                update[d] = 0.0
            if len(lengths):
                targets = _path_targets(word, codes, points, lengths, target_rows, labels)
                loss += _train_pair(
                    source,
                    inner_vectors,
                    target_rows,
                    labels,
                    targets,
                    rate,
                    pair_gradients,
                    update,
                    distinct=True,
                )
            if negative:
                if taken + negative > len(stream):
                    draw_noise(state, acceptance, alias, stream)
                    taken = 0
                ahead = taken + NOISE_AHEAD * negative
                if ahead + negative <= len(stream):
                    for index in range(ahead, ahead + negative):
                        _prefetch_row(output_vectors, stream[index])
                targets = _noise_targets(
                    word, stream[taken : taken + negative], target_rows, labels
                )
                taken += negative
                loss += _train_pair(
                    source,
                    output_vectors,
                    target_rows,
                    labels,
                    targets,
                    rate,
                    pair_gradients,
                    update,
                    distinct=False,
                )
            for d in range(dim):
                source[d] += update[d]
    return loss, pairs


@numba.njit(**COMPILE)
def train_part(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    inner_vectors: np.ndarray,
    tokens: np.ndarray,
    sentence_ends: np.ndarray,
    first: int,
    last: int,
    keep: np.ndarray,
    window: int,
    negative: int,
    fresh_noise: bool,
    cbow: bool,
    cbow_mean: bool,
    acceptance: np.ndarray,
    alias: np.ndarray,
    codes: np.ndarray,
    points: np.ndarray,
    lengths: np.ndarray,
    learning_rate: float,
    final_learning_rate: float,
    state: np.ndarray,
    starts: np.ndarray,
    rows: np.ndarray,
) -> tuple[float, int]:
    """One thread's whole work on tokens[first:last] of a block: its draws (`draw_part`) and its
    updates, straight into the matrices other threads train too; return (loss sum, pairs, or CBOW
    examples).

    `first` and `last` should be sentence ends: a window never reaches outside the part. Skip-gram
    with `fresh_noise` and noise words draws them for every pair (`train_span_fresh_noise`);
    otherwise, and always for CBOW, one set per centre serves its whole window (`train_span_hs`,
    `train_span_cbow_hs`). Hierarchical softmax when `lengths` is not empty, negative sampling
    when `negative` is above 0. The learning rate falls linearly across the part's kept words.

    A subword model gives each word's input rows as CSR (`starts`, `rows`; both empty for a word
    model): the same choices among `train_span_subwords` and `train_span_cbow_subwords`, whose
    CBOW always takes the mean, as fastText's does.
    """
    per_centre = 0 if fresh_noise and not cbow else negative
    words, sentences, reach, noise = draw_part(
        tokens, sentence_ends, first, last, keep, window, per_centre, acceptance, alias, state
    )
    matrices = input_vectors, output_vectors, inner_vectors
    # All the kept words as one span, with the rates across it.
    span = words, sentences, reach, noise, 0, len(words), learning_rate, final_learning_rate
    tree = codes, points, lengths
    # Skip-gram's noise words drawn pair by pair (none when they come a set per centre).
    fresh = negative - per_centre, acceptance, alias, state
    if len(starts):
        if cbow:
            return train_span_cbow_subwords(*matrices, *span, starts, rows, *tree)
        return train_span_subwords(*matrices, *span, starts, rows, *tree, *fresh)
    if cbow:
        return train_span_cbow_hs(*matrices, *span, cbow_mean, *tree)
    # Hierarchical softmax alone has no noise words to draw afresh: its centre's window trains
    # against the path at once, which reads each node once a window, not once a pair (wiki17m, 5
    # epochs, 2 threads, medians of 3 seeds, window / pair: 150.7 / 221.0 s, Google .353 / .357,
    # MSR .309 / .289, WS-353 .599 / .590, SimLex .234 / .239).
    if fresh_noise and negative:
        return train_span_fresh_noise(
            *matrices, words, sentences, reach, *fresh, learning_rate, final_learning_rate, *tree
        )
    return train_span_hs(*matrices, *span, *tree)


def _numpy(array: np.ndarray | torch.Tensor, dtype: type) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.cpu().numpy()
    return np.ascontiguousarray(array, dtype=dtype)


def part_state(seed: int, block_number: int, thread: int) -> np.ndarray:
    """The random generator state (one uint64) of one thread's part of one block."""
    return np.random.SeedSequence([seed, block_number, thread]).generate_state(1, np.uint64)


class SharedThreads:
    """Trains each block with all threads updating the one copy of the matrices, without locks.

    A block is one part a thread (w2v.training.blocks cuts them: `thread_parts`, or with
    --thread-regions `corpus_blocks`); each thread subsamples, draws windows and noise words for
    its part with its own generator, seeded by (seed, block number, thread), and trains it
    (`train_part`) while the others do theirs. Memory is the matrices and each thread's draws for
    its part. One thread gives the same vectors every run; with more, the order in which threads
    write a row varies, as in word2vec.
    """

    def __init__(
        self,
        input_vectors: torch.Tensor,
        output_vectors: torch.Tensor,
        threads: int,
        *,
        model: str = "skipgram",
        cbow_mean: bool = True,
        window: int = 5,
        negative: int = 5,
        fresh_noise: bool = True,
        keep: np.ndarray | torch.Tensor,
        acceptance: np.ndarray | torch.Tensor,
        alias: np.ndarray | torch.Tensor,
        tree: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        inner_vectors: torch.Tensor | None = None,
        seed: int = 1,
        subwords: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        """`tree` is the Huffman tree's (codes, points, lengths) (or a `HuffmanTree`) for
        hierarchical softmax, which then trains `inner_vectors`; `keep` is each word's chance to
        survive subsampling, `acceptance` and `alias` the noise words' alias tables
        (`NoiseSampler`'s). With `subwords`, each word's input rows as CSR (starts, rows), a
        subword model: the input matrix holds the bucket rows too."""
        if model not in ("skipgram", "cbow"):
            raise ValueError(f"unknown model {model!r}: skipgram or cbow")
        if tree is not None and inner_vectors is None:
            raise ValueError("hierarchical softmax (a tree) needs inner_vectors")
        self.shared = (input_vectors, output_vectors) + (
            () if inner_vectors is None else (inner_vectors,)
        )
        self.threads = threads
        self.cbow = model == "cbow"
        self.cbow_mean, self.window, self.negative = cbow_mean, window, negative
        self.fresh_noise, self.seed = fresh_noise, seed
        self.keep = _numpy(keep, np.float32)
        self.noise_tables = _numpy(acceptance, np.float32), _numpy(alias, np.int64)
        if tree is not None and hasattr(tree, "codes"):
            tree = (tree.codes, tree.points, tree.lengths)
        self.paths = (
            _no_tree()
            if tree is None
            else (_numpy(tree[0], np.uint8), _numpy(tree[1], np.int64), _numpy(tree[2], np.int64))
        )
        # A word model's CSR table (starts, rows) is empty, which tells `train_part` so.
        self.subwords = (
            (np.zeros(0, np.int64),) * 2
            if subwords is None
            else tuple(_numpy(table, np.int64) for table in subwords)
        )
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def train_block(
        self,
        parts: Sequence[tuple[np.ndarray, np.ndarray]],
        block_number: int,
        learning_rate: float,
        final_learning_rate: float,
    ) -> tuple[float, int]:
        """Train one block: `parts`, one a thread, each raw tokens (int32 ids) and where its
        sentences end (relative to the part); return (loss sum, pairs or CBOW examples).
        `block_number`, with the seed, picks the block's random draws: give each block of the run
        its own (count on across epochs)."""
        if len(parts) != self.threads:
            raise ValueError(f"{len(parts)} parts for {self.threads} threads: give one a thread")
        parts = [
            (np.ascontiguousarray(tokens, np.int32), np.ascontiguousarray(ends, np.int64))
            for tokens, ends in parts
        ]
        input_vectors, output_vectors = (matrix.numpy() for matrix in self.shared[:2])
        inner_vectors = self.shared[2].numpy() if len(self.shared) > 2 else output_vectors[:0]
        settings = (self.keep, self.window, self.negative, self.fresh_noise, self.cbow)
        tables = (self.cbow_mean, *self.noise_tables, *self.paths)

        def part(thread: int) -> tuple[float, int]:
            tokens, sentence_ends = parts[thread]
            return train_part(
                input_vectors,
                output_vectors,
                inner_vectors,
                tokens,
                sentence_ends,
                0,
                len(tokens),
                *settings,
                *tables,
                learning_rate,
                final_learning_rate,
                part_state(self.seed, block_number, thread),
                *self.subwords,
            )

        if self.pool is None:
            return part(0)
        results = list(self.pool.map(part, range(self.threads)))
        return sum(loss for loss, _ in results), sum(pairs for _, pairs in results)

    def close(self) -> None:
        """Stop the worker threads."""
        if self.pool is not None:
            self.pool.shutdown()


# Subword models (fastText's): a word's input vector is the mean of its rows of the input matrix,
# its own row and its character n-grams' bucket rows, listed for every word in CSR arrays
# (`starts`, `rows`, from w2v.text.subwords.subword_rows). Every update goes to all of them with
# full weight, as fastText's Model::update does for unsupervised models. These loops are apart
# from the word loops above, which stay as they are.


@numba.njit(inline="always", **COMPILE)
def _prefetch_word_rows(
    input_vectors: np.ndarray, starts: np.ndarray, rows: np.ndarray, word: int
) -> None:
    """Start loading all of `word`'s input rows: its n-grams' rows are scattered over the buckets."""
    for at in range(starts[word], starts[word + 1]):
        _prefetch_row(input_vectors, rows[at])


@numba.njit(inline="always", **COMPILE)
def _add_word_rows(
    input_vectors: np.ndarray, starts: np.ndarray, rows: np.ndarray, word: int, hidden: np.ndarray
) -> int:
    """hidden += the sum of `word`'s input rows; return how many rows it has."""
    for at in range(starts[word], starts[word + 1]):
        row = input_vectors[rows[at]]
        for d in range(len(hidden)):
            hidden[d] += row[d]
    return starts[word + 1] - starts[word]


@numba.njit(inline="always", **COMPILE)
def _spread_to_word_rows(
    input_vectors: np.ndarray, starts: np.ndarray, rows: np.ndarray, word: int, update: np.ndarray
) -> None:
    """Add `update` whole to every input row of `word` (a row listed twice takes it twice)."""
    for at in range(starts[word], starts[word + 1]):
        row = input_vectors[rows[at]]
        for d in range(len(update)):
            row[d] += update[d]


@numba.njit(**COMPILE)
def train_span_subwords(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    inner_vectors: np.ndarray,
    words: np.ndarray,
    sentences: np.ndarray,
    reach: np.ndarray,
    noise: np.ndarray,
    first: int,
    last: int,
    learning_rate: float,
    final_learning_rate: float,
    starts: np.ndarray,
    rows: np.ndarray,
    codes: np.ndarray,
    points: np.ndarray,
    lengths: np.ndarray,
    fresh_negative: int,
    acceptance: np.ndarray,
    alias: np.ndarray,
    state: np.ndarray,
) -> tuple[float, int]:
    """fastText's skip-gram for the centres words[first:last]; return (loss sum, pairs).

    For each (centre, context) pair the centre's vector, the mean of its rows, predicts the
    context word: its Huffman path through `inner_vectors` when `lengths` is not empty, and
    against noise words through `output_vectors`: the centre's row of `noise` when it has
    columns, else `fresh_negative` words drawn for the pair from the alias tables with `state`.

    fastText adds each pair's input gradient to every row of the centre, which moves their mean
    by exactly that gradient; here the mean moves by it after each pair and the rows take the
    window's summed gradient once, after the last pair. That is fastText's update when a word's
    rows are distinct, and reads and writes each row once a centre instead of once a pair.
    """
    dim = input_vectors.shape[1]
    span = max(last - first, 1)
    most = max(max(noise.shape[1], fresh_negative) + 1, int(lengths.max()) if len(lengths) else 0)
    target_rows = np.empty(most, np.int64)
    labels = np.empty(most, np.float32)
    gradients = np.zeros(-(-most // GROUP) * GROUP, np.float32)
    hidden = np.empty(dim, np.float32)
    pair_update = np.empty(dim, np.float32)
    total = np.empty(dim, np.float32)
    drawn = np.empty(fresh_negative, np.int64)
    scale = np.float32(1.0)
    loss = 0.0
    pairs = 0
    for centre in range(first, last):
        if centre + 1 < last:
            _prefetch_word_rows(input_vectors, starts, rows, words[centre + 1])
        rate = learning_rate + (final_learning_rate - learning_rate) * (centre - first) / span
        word = words[centre]
        composed = False
        for position in range(
            max(centre - reach[centre], 0), min(centre + reach[centre] + 1, len(words))
        ):
            if position == centre or sentences[position] != sentences[centre]:
                continue
            if not composed:
                for d in range(dim):
                    hidden[d] = 0.0
                    total[d] = 0.0
                scale = np.float32(1.0 / _add_word_rows(input_vectors, starts, rows, word, hidden))
                for d in range(dim):
                    hidden[d] *= scale
                composed = True
            pairs += 1
            context = words[position]
            for d in range(dim):
                pair_update[d] = 0.0
            if len(lengths):
                targets = _path_targets(context, codes, points, lengths, target_rows, labels)
                loss += _train_pair(
                    hidden,
                    inner_vectors,
                    target_rows,
                    labels,
                    targets,
                    rate,
                    gradients,
                    pair_update,
                    distinct=True,
                )
            if fresh_negative:
                for negative in range(fresh_negative):
                    drawn[negative] = _noise_word(state, acceptance, alias)
                targets = _noise_targets(context, drawn, target_rows, labels)
            elif noise.shape[1]:
                targets = _noise_targets(context, noise[centre], target_rows, labels)
            else:
                targets = 0
            if targets:
                loss += _train_pair(
                    hidden,
                    output_vectors,
                    target_rows,
                    labels,
                    targets,
                    rate,
                    gradients,
                    pair_update,
                    distinct=False,
                )
            for d in range(dim):
                hidden[d] += pair_update[d]
                total[d] += pair_update[d]
        if composed:
            _spread_to_word_rows(input_vectors, starts, rows, word, total)
    return loss, pairs


@numba.njit(**COMPILE)
def train_span_cbow_subwords(
    input_vectors: np.ndarray,
    output_vectors: np.ndarray,
    inner_vectors: np.ndarray,
    words: np.ndarray,
    sentences: np.ndarray,
    reach: np.ndarray,
    noise: np.ndarray,
    first: int,
    last: int,
    learning_rate: float,
    final_learning_rate: float,
    starts: np.ndarray,
    rows: np.ndarray,
    codes: np.ndarray,
    points: np.ndarray,
    lengths: np.ndarray,
) -> tuple[float, int]:
    """fastText's CBOW for the centres words[first:last]; return (loss sum, centres trained).

    The context words' rows are taken together, as fastText joins their lists: their mean
    predicts the centre word (its Huffman path when `lengths` is not empty, against its row of
    `noise` when that has columns), and every one of the rows takes the whole error.
    """
    dim = input_vectors.shape[1]
    span = max(last - first, 1)
    most = max(noise.shape[1] + 1, int(lengths.max()) if len(lengths) else 0)
    target_rows = np.empty(most, np.int64)
    labels = np.empty(most, np.float32)
    gradients = np.zeros(-(-most // GROUP) * GROUP, np.float32)
    hidden = np.empty(dim, np.float32)
    error = np.empty(dim, np.float32)
    tree, pair = (codes, points, lengths), (target_rows, labels, gradients, error)
    loss = 0.0
    examples = 0
    for centre in range(first, last):
        ahead = centre + 1 + (reach[centre + 1] if centre + 1 < last else 0)
        if centre + 1 < last and ahead < len(words):
            _prefetch_word_rows(input_vectors, starts, rows, words[ahead])
        rate = learning_rate + (final_learning_rate - learning_rate) * (centre - first) / span
        low = max(centre - reach[centre], 0)
        high = min(centre + reach[centre] + 1, len(words))
        for d in range(dim):
            hidden[d] = 0.0
            error[d] = 0.0
        count = 0
        for position in range(low, high):
            if position != centre and sentences[position] == sentences[centre]:
                count += _add_word_rows(input_vectors, starts, rows, words[position], hidden)
        if count == 0:
            continue
        examples += 1
        scale = np.float32(1.0 / count)
        for d in range(dim):
            hidden[d] *= scale
        loss += _train_hidden(
            hidden, words[centre], noise[centre], output_vectors, inner_vectors, tree, rate, pair
        )
        for position in range(low, high):
            if position != centre and sentences[position] == sentences[centre]:
                _spread_to_word_rows(input_vectors, starts, rows, words[position], error)
    return loss, examples
