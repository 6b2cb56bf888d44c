"""The compiled CPU kernel: one thread's sequential skip-gram updates over a span of centre words.

Each centre word is handled as in the batched torch step (its context words share its noise
words), but centres are processed one after another, each seeing every earlier update, exactly as
word2vec's own loop does. numba compiles it to machine code that releases the GIL, so several
threads can each train a span of their own at the same time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

MIN_ROUND = 4096
MAX_ROUND = 1 << 18


@numba.njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
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


@numba.njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def _logistic(score: float, true_pair: bool) -> tuple[float, float]:
    """sigmoid(score), and the loss -log sigmoid(score) of a true pair or -log sigmoid(-score) of noise.

    One exponential gives both, stably for scores of any size.
    """
    small = math.exp(-abs(score))
    probability = 1.0 / (1.0 + small) if score >= 0 else small / (1.0 + small)
    signed = score if true_pair else -score
    return probability, math.log1p(small) + max(-signed, 0.0)


@numba.njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def _skipgram_target(
    input_vectors: np.ndarray,
    output_row: np.ndarray,
    context_rows: np.ndarray,
    contexts: int,
    label: float,
    rate: float,
    context_update: np.ndarray,
    target_update: np.ndarray,
) -> float:
    """Score one output row (a word's, or an inner node's) against each context word of a centre.

    The contexts' updates add up in context_update, applied after the centre's last target; the
    row's own update is applied at once. Returns the loss.
    """
    dim = len(output_row)
    loss = 0.0
    target_update[:] = 0.0
    for context in range(contexts):
        input_row = input_vectors[context_rows[context]]
        score = np.float32(0.0)
        for d in range(dim):
            score += input_row[d] * output_row[d]
        probability, pair_loss = _logistic(score, label == 1.0)
        loss += pair_loss
        gradient = np.float32((label - probability) * rate)
        update_row = context_update[context]
        for d in range(dim):
            update_row[d] += gradient * output_row[d]
            target_update[d] += gradient * input_row[d]
    for d in range(dim):
        output_row[d] += target_update[d]
    return loss


@numba.njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def _cbow_target(
    hidden: np.ndarray, output_row: np.ndarray, label: float, rate: float, error: np.ndarray
) -> float:
    """Score one output row against CBOW's hidden vector; add the hidden vector's update to
    `error`, apply the row's own at once; return the loss."""
    dim = len(output_row)
    score = np.float32(0.0)
    for d in range(dim):
        score += hidden[d] * output_row[d]
    probability, loss = _logistic(score, label == 1.0)
    gradient = np.float32((label - probability) * rate)
    for d in range(dim):
        error[d] += gradient * output_row[d]
        output_row[d] += gradient * hidden[d]
    return loss


# numpy's error model: weights gone to infinity give NaN, which the training loop reports, not a
# ZeroDivisionError from deep inside a thread.
@numba.njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
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
    Huffman code (`codes`, `points`, `lengths` from `w2v.huffman`), one inner node of
    `inner_vectors` per bit, with target 1 - bit as in word2vec. Negative sampling with
    `output_vectors` when `noise` has columns; with both, the two losses add up.
    """
    dim = input_vectors.shape[1]
    span = max(last - first, 1)
    most = 2 * int(reach.max()) if len(reach) else 0
    context_rows = np.empty(most, np.int64)
    context_update = np.empty((most, dim), np.float32)
    target_update = np.empty(dim, np.float32)
    hierarchical = len(lengths) > 0
    loss = 0.0
    pairs = 0
    for centre in range(first, last):
        rate = learning_rate + (final_learning_rate - learning_rate) * (centre - first) / span
        contexts = _gather_contexts(words, sentences, reach, centre, context_rows)
        if contexts == 0:
            continue
        pairs += contexts
        context_update[:contexts] = 0.0
        centre_word = words[centre]
        if hierarchical:
            for node in range(lengths[centre_word]):
                loss += _skipgram_target(
                    input_vectors,
                    inner_vectors[points[centre_word, node]],
                    context_rows,
                    contexts,
                    1.0 - codes[centre_word, node],
                    rate,
                    context_update,
                    target_update,
                )
        for target_index in range(noise.shape[1] + 1 if noise.shape[1] else 0):
            target = centre_word if target_index == 0 else noise[centre, target_index - 1]
            if target_index > 0 and target == centre_word:
                continue  # a noise word equal to the centre would push against the true pair
            loss += _skipgram_target(
                input_vectors,
                output_vectors[target],
                context_rows,
                contexts,
                1.0 if target_index == 0 else 0.0,
                rate,
                context_update,
                target_update,
            )
        for context in range(contexts):
            input_row = input_vectors[context_rows[context]]
            update_row = context_update[context]
            for d in range(dim):
                input_row[d] += update_row[d]
    return loss, pairs


@numba.njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
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
    return train_span_hs(
        input_vectors,
        output_vectors,
        output_vectors[:0],
        words,
        sentences,
        reach,
        noise,
        first,
        last,
        learning_rate,
        final_learning_rate,
        np.zeros((0, 0), np.uint8),
        np.zeros((0, 0), np.int64),
        np.zeros(0, np.int64),
    )


@numba.njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
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
    context_rows = np.empty(2 * int(reach.max()) if len(reach) else 0, np.int64)
    hidden = np.empty(dim, np.float32)
    error = np.empty(dim, np.float32)
    hierarchical = len(lengths) > 0
    loss = 0.0
    examples = 0
    for centre in range(first, last):
        rate = learning_rate + (final_learning_rate - learning_rate) * (centre - first) / span
        contexts = _gather_contexts(words, sentences, reach, centre, context_rows)
        if contexts == 0:
            continue
        examples += 1
        hidden[:] = 0.0
        for context in range(contexts):
            input_row = input_vectors[context_rows[context]]
            for d in range(dim):
                hidden[d] += input_row[d]
        if mean:
            hidden *= np.float32(1.0 / contexts)
        error[:] = 0.0
        centre_word = words[centre]
        if hierarchical:
            for node in range(lengths[centre_word]):
                loss += _cbow_target(
                    hidden,
                    inner_vectors[points[centre_word, node]],
                    1.0 - codes[centre_word, node],
                    rate,
                    error,
                )
        for target_index in range(noise.shape[1] + 1 if noise.shape[1] else 0):
            target = centre_word if target_index == 0 else noise[centre, target_index - 1]
            if target_index > 0 and target == centre_word:
                continue
            loss += _cbow_target(
                hidden, output_vectors[target], 1.0 if target_index == 0 else 0.0, rate, error
            )
        if not mean:
            error *= np.float32(1.0 / contexts)
        for context in range(contexts):
            input_row = input_vectors[context_rows[context]]
            for d in range(dim):
                input_row[d] += error[d]
    return loss, examples


@numba.njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
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
    return train_span_cbow_hs(
        input_vectors,
        output_vectors,
        output_vectors[:0],
        words,
        sentences,
        reach,
        noise,
        first,
        last,
        learning_rate,
        final_learning_rate,
        mean,
        np.zeros((0, 0), np.uint8),
        np.zeros((0, 0), np.int64),
        np.zeros(0, np.int64),
    )


class ParallelSpans:
    """Trains each block with one `train_span` per thread, then merges the threads' work.

    The block is cut into rounds. In a round each thread trains its share on a private copy of both
    matrices; then the changes of all copies are added to the shared matrices in a fixed order and
    the copies reset. Threads never write the same memory, so a given thread count always gives the
    same vectors. A round is short enough that a frequent word's changes, computed by each thread
    without seeing the others', do not pile up (a merge per epoch made the loss climb), and long
    enough that merging, which touches every row, costs little next to training.
    """

    def __init__(
        self,
        input_vectors: torch.Tensor,
        output_vectors: torch.Tensor,
        threads: int,
        span: Callable[..., tuple[float, int]] = train_span,
        inner_vectors: torch.Tensor | None = None,
    ):
        """`span` is the loop to run: `train_span` (skip-gram) or `train_span_cbow` with its mode,
        or for hierarchical softmax `train_span_hs` or `train_span_cbow_hs` with the tree, which
        also take `inner_vectors` (the inner nodes' matrix) after the output vectors."""
        self.span = span
        self.shared = (input_vectors, output_vectors) + (
            () if inner_vectors is None else (inner_vectors,)
        )
        self.threads = threads
        self.copies = (
            [tuple(matrix.clone() for matrix in self.shared) for _ in range(threads)]
            if threads > 1
            else []
        )
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
        # A merge costs about what training touches in 16 * vocabulary centres.
        self.round_centres = min(max(16 * len(input_vectors), MIN_ROUND), MAX_ROUND)

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
            return self.span(*matrices, *arrays, 0, count, learning_rate, final_learning_rate)
        loss, pairs = 0.0, 0
        step = self.round_centres * self.threads
        for start in range(0, count, step):
            end = min(start + step, count)
            rates = [
                learning_rate + (final_learning_rate - learning_rate) * at / count
                for at in (start, end)
            ]
            round_loss, round_pairs = self._round(arrays, start, end, *rates)
            loss += round_loss
            pairs += round_pairs
        return loss, pairs

    def _round(
        self, arrays: tuple, start: int, end: int, rate: float, final_rate: float
    ) -> tuple[float, int]:
        bounds = np.linspace(start, end, self.threads + 1).astype(np.int64)
        # Every thread runs through the round's whole learning-rate range at the same time.
        futures = [
            self.pool.submit(
                self.span,
                *(matrix.numpy() for matrix in matrices),
                *arrays,
                int(bounds[k]),
                int(bounds[k + 1]),
                rate,
                final_rate,
            )
            for k, matrices in enumerate(self.copies)
        ]
        results = [future.result() for future in futures]
        for which, shared in enumerate(self.shared):
            copies = [copy[which] for copy in self.copies]
            # shared + sum(copy - shared) = sum(copies) - (threads - 1) * shared
            shared.mul_(1 - self.threads)
            for copy in copies:
                shared.add_(copy)
            for copy in copies:
                copy.copy_(shared)
        return sum(loss for loss, _ in results), sum(pairs for _, pairs in results)

    def refresh(self) -> None:
        """Reset the threads' copies to the shared matrices after something else changed them."""
        for copy in self.copies:
            for mine, shared in zip(copy, self.shared, strict=True):
                mine.copy_(shared)

    def close(self) -> None:
        """Stop the worker threads."""
        if self.pool is not None:
            self.pool.shutdown()
