"""Batched updates with negative sampling, skip-gram and CBOW, with hand-written gradients.

word2vec trains, for every centre word and every context word within the centre's window, the
context's input vector to score the centre's output vector high and a few noise words' output
vectors low (skip-gram), or the mean of the context vectors to do so (CBOW). Here a batch of
consecutive centre words is updated at once. Each centre's noise words are shared by all of its
context words (the HogBatch arrangement), so each centre costs a few small matrix products.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch


def window_mask(reach: torch.Tensor, sentences: torch.Tensor, window: int) -> torch.Tensor:
    """Which of the 2*window+1 positions around each centre are its context words.

    `reach` is each centre's effective window (drawn from 1..window); `sentences` holds the sentence
    number of every position, centres padded by `window` on both sides, so windows stop at line ends.
    """
    centres = len(reach)
    offsets = torch.arange(-window, window + 1, device=reach.device)
    same_sentence = (
        sentences.unfold(0, 2 * window + 1, 1) == sentences[window : window + centres, None]
    )
    within_reach = offsets.abs() <= reach[:, None]
    return same_sentence & within_reach & (offsets != 0)


class InnerNodes(NamedTuple):
    """Hierarchical softmax's side of a step: the inner nodes' matrix and every word's path.

    `points`, `labels` and `mask` are V x longest code (`w2v.training.huffman.HuffmanTree.to_torch`):
    the inner nodes on each word's path, the target of each (1 - the word's bit, as in word2vec)
    and which entries are on the path rather than padding.
    """

    vectors: torch.Tensor  # (V - 1) x dim
    points: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor


class SubwordRows(NamedTuple):
    """A subword model's input side: each word's rows of the input matrix (its own, then its
    n-grams' bucket rows) as CSR arrays on the device, `starts` (V + 1) and `rows`."""

    starts: torch.Tensor
    rows: torch.Tensor

    def of(self, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows of each of `words`, one after another, and how many each word has."""
        first, counts = self.starts[words], self.starts[words + 1] - self.starts[words]
        begins = torch.cumsum(counts, 0) - counts
        within = torch.arange(int(counts.sum()), device=words.device)
        within -= torch.repeat_interleave(begins, counts)
        return self.rows[torch.repeat_interleave(first, counts) + within], counts

    def sums(
        self, input_vectors: torch.Tensor, words: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each word's sum of its input rows, with the rows and their counts (`of`)."""
        rows, counts = self.of(words)
        offsets = torch.cumsum(counts, 0) - counts
        summed = torch.nn.functional.embedding_bag(rows, input_vectors, offsets, mode="sum")
        return summed, rows, counts


def _spread(
    input_vectors: torch.Tensor,
    rows: torch.Tensor,
    counts: torch.Tensor,
    update: torch.Tensor,
    uses: torch.Tensor,
    max_uses: float,
) -> None:
    """Add each word's update whole to every one of its rows, as fastText does. The cap on a
    row's pairs in a batch counts the uses of each row, not each word: a common n-gram (a suffix)
    serves hundreds of the batch's words."""
    update = torch.repeat_interleave(update, counts, 0)
    if math.isfinite(max_uses):
        row_uses = torch.repeat_interleave(uses, counts)
        update *= _row_scale(rows, row_uses, len(input_vectors), max_uses)[:, None]
    input_vectors.index_add_(0, rows, update)


def _add_updates(
    input_vectors: torch.Tensor,
    words: torch.Tensor,
    word_update: torch.Tensor,
    uses: torch.Tensor,
    max_uses: float,
    subword_rows: tuple[torch.Tensor, torch.Tensor] | None,
    target_updates: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> None:
    """Add a step's updates in place: each of `words`' to its input row, or for a subword model
    whole to each of its rows (`subword_rows`: the rows and their counts, `SubwordRows.of`), and
    each (matrix, targets, update) of `target_updates` to the target rows. A row used more than
    `max_uses` times gets the mean of its updates times that number (`_row_scale`)."""
    if subword_rows is not None:
        _spread(input_vectors, *subword_rows, word_update, uses, max_uses)
    else:
        if math.isfinite(max_uses):
            word_update *= _row_scale(words, uses, len(input_vectors), max_uses)[:, None]
        input_vectors.index_add_(0, words, word_update)
    for matrix, targets, target_update in target_updates:
        matrix.index_add_(
            0, targets.reshape(-1), target_update.reshape(-1, target_update.shape[-1])
        )


def _output_sides(
    output_vectors: torch.Tensor,
    centre_words: torch.Tensor,
    noise: torch.Tensor,
    inner: InnerNodes | None,
    trained: torch.Tensor,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """What each centre is scored against: (matrix, rows centres x T, labels, mask centres x T).

    Negative sampling (the centre's output vector, label 1, and its noise words', label 0) when
    `noise` has columns; hierarchical softmax (the inner nodes on the centre's path) with `inner`.
    Labels broadcast against centres x T; `trained` masks out centres without context words.
    """
    sides = []
    if noise.shape[1]:
        targets = torch.cat([centre_words[:, None], noise], 1)
        # A noise word equal to the centre word would push against the true pair; word2vec skips it.
        target_mask = torch.cat(
            [trained[:, None], (noise != centre_words[:, None]) & trained[:, None]], 1
        )
        labels = torch.zeros(1, targets.shape[1], device=noise.device)
        labels[0, 0] = 1.0
        sides.append((output_vectors, targets, labels, target_mask))
    if inner is not None:
        target_mask = inner.mask[centre_words] & trained[:, None]
        sides.append(
            (inner.vectors, inner.points[centre_words], inner.labels[centre_words], target_mask)
        )
    return sides


def skipgram_step(
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    words: torch.Tensor,
    sentences: torch.Tensor,
    reach: torch.Tensor,
    noise: torch.Tensor,
    learning_rate: float,
    window: int,
    max_row_pairs: float = math.inf,
    inner: InnerNodes | None = None,
    subwords: SubwordRows | None = None,
) -> tuple[float, int]:
    """Update the matrices in place for the centres words[window:-window]; return (loss sum, pairs).

    `words` and `sentences` cover the centres plus `window` positions either side (padding has
    sentence -1); `noise` holds each centre's negative words (no columns: no negative sampling).
    Gradients of the logistic loss are written out by hand: for a score s = v . u with label y,
    both v and u move by lr * (y - sigmoid(s)) times the other vector. All reads happen before all
    writes, as in one Hogwild step. With `inner`, hierarchical softmax: every context word also
    predicts the bits of the centre's Huffman code, u an inner node's vector, y = 1 - bit.

    A row that takes part in more than `max_row_pairs` pairs of the batch gets the mean of its
    updates times `max_row_pairs` instead of their sum: sequential SGD would have stopped pushing
    once the first few updates saturated the sigmoid, while a sum of hundreds of stale updates
    overshoots and diverges. Rows used less often (nearly all of them) get the exact sum.

    With `subwords` (a subword model) a context word's vector is the mean of its input rows, and
    its update goes whole to every one of them, as in fastText.
    """
    centres, span = len(reach), 2 * window + 1
    context_mask = window_mask(reach, sentences, window)
    centre_words = words[window : window + centres]
    pairs = context_mask.sum(1)
    if subwords is None:
        word_vectors = input_vectors[words]
    else:
        summed, rows, counts = subwords.sums(input_vectors, words)
        word_vectors = summed / counts[:, None]
    context = word_vectors.unfold(0, span, 1)  # centres x dim x span, a view
    loss = 0.0
    context_update = torch.zeros(centres, span, input_vectors.shape[1], device=input_vectors.device)
    target_updates = []
    for matrix, targets, labels, target_mask in _output_sides(
        output_vectors, centre_words, noise, inner, pairs > 0
    ):
        mask = (target_mask[:, :, None] & context_mask[:, None, :]).float()
        target = matrix[targets]  # centres x targets x dim
        scores = torch.bmm(target, context)  # centres x targets x span
        labels = labels[:, :, None]
        # -log sigmoid(s) for a label of 1 and -log sigmoid(-s) for 0: logsigmoid of the signed score.
        signed = torch.where(labels.bool(), scores, -scores)
        loss -= (torch.nn.functional.logsigmoid(signed) * mask).sum(dtype=torch.float64).item()
        gradient = (labels - torch.sigmoid(scores)).mul_(mask).mul_(learning_rate)
        target_update = torch.bmm(gradient, context.transpose(1, 2))
        context_update += torch.bmm(gradient.transpose(1, 2), target)  # centres x span x dim
        if math.isfinite(max_row_pairs):
            target_pairs = target_mask * pairs[:, None]
            target_update *= _row_scale(targets, target_pairs, len(matrix), max_row_pairs)[
                ..., None
            ]
        target_updates.append((matrix, targets, target_update))

    word_update = torch.zeros(len(words), input_vectors.shape[1], device=input_vectors.device)
    context_uses = torch.zeros(len(words), device=input_vectors.device)
    for offset in range(span):  # fold each window position's update back onto its word
        word_update[offset : offset + centres] += context_update[:, offset]
        context_uses[offset : offset + centres] += context_mask[:, offset]
    subword_rows = None if subwords is None else (rows, counts)
    _add_updates(
        input_vectors, words, word_update, context_uses, max_row_pairs, subword_rows, target_updates
    )
    return loss, int(pairs.sum())


def cbow_step(
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    words: torch.Tensor,
    sentences: torch.Tensor,
    reach: torch.Tensor,
    noise: torch.Tensor,
    learning_rate: float,
    window: int,
    max_row_pairs: float = math.inf,
    mean: bool = True,
    inner: InnerNodes | None = None,
    subwords: SubwordRows | None = None,
) -> tuple[float, int]:
    """CBOW's update of the matrices for the centres words[window:-window]; return (loss, centres).

    Arguments as for `skipgram_step`. The context vectors' mean (the sum when `mean` is False)
    scores the centre word against its noise words and, with `inner`, its Huffman code's inner
    nodes; as in word2vec and gensim, with the mean every context word takes the whole error back,
    with the sum each takes its share. Rows used by more than `max_row_pairs` centres of the batch
    get the mean of their updates times that number.

    With `subwords` (a subword model, fastText's CBOW, always the mean) the context words' rows
    are taken together: their mean is the hidden vector, and every row takes the whole error.
    """
    centres, span = len(reach), 2 * window + 1
    context_mask = window_mask(reach, sentences, window).float()
    contexts = context_mask.sum(1)
    trained = contexts > 0
    share = 1.0 / contexts.clamp(min=1)
    if subwords is None:
        hidden = torch.bmm(
            input_vectors[words].unfold(0, span, 1), context_mask[:, :, None]
        ).squeeze(2)
        if mean:
            hidden *= share[:, None]
    else:
        summed, rows, counts = subwords.sums(input_vectors, words)
        hidden = torch.bmm(summed.unfold(0, span, 1), context_mask[:, :, None]).squeeze(2)
        row_counts = counts.float().unfold(0, span, 1).mul(context_mask).sum(1)
        hidden /= row_counts.clamp(min=1)[:, None]
    centre_words = words[window : window + centres]
    loss = 0.0
    error = torch.zeros_like(hidden)
    target_updates = []
    for matrix, targets, labels, target_mask in _output_sides(
        output_vectors, centre_words, noise, inner, trained
    ):
        target = matrix[targets]  # centres x targets x dim
        scores = torch.bmm(target, hidden[:, :, None]).squeeze(2)
        signed = torch.where(labels.bool(), scores, -scores)
        loss -= (
            (torch.nn.functional.logsigmoid(signed) * target_mask).sum(dtype=torch.float64).item()
        )
        gradient = (labels - torch.sigmoid(scores)).mul_(target_mask).mul_(learning_rate)
        target_update = gradient[:, :, None] * hidden[:, None, :]
        error += torch.bmm(gradient[:, None, :], target).squeeze(1)
        if math.isfinite(max_row_pairs):
            target_update *= _row_scale(targets, target_mask.float(), len(matrix), max_row_pairs)[
                ..., None
            ]
        target_updates.append((matrix, targets, target_update))

    if not mean:
        error *= share[:, None]
    word_update = torch.zeros(len(words), input_vectors.shape[1], device=input_vectors.device)
    context_uses = torch.zeros(len(words), device=input_vectors.device)
    for offset in range(span):  # every context word of a centre takes that centre's error
        word_update[offset : offset + centres] += context_mask[:, offset, None] * error
        context_uses[offset : offset + centres] += context_mask[:, offset]
    subword_rows = None if subwords is None else (rows, counts)
    _add_updates(
        input_vectors, words, word_update, context_uses, max_row_pairs, subword_rows, target_updates
    )
    return loss, int(trained.sum())


def _row_scale(rows: torch.Tensor, uses: torch.Tensor, size: int, max_uses: float) -> torch.Tensor:
    """For each entry of `rows`, min(1, max_uses / total uses of that row in the batch)."""
    totals = torch.zeros(size, device=rows.device).index_add_(
        0, rows.reshape(-1), uses.reshape(-1).float()
    )
    return (max_uses / totals[rows]).clamp_(max=1.0)


def train_block(
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    words: torch.Tensor,
    sentences: torch.Tensor,
    reach: torch.Tensor,
    noise: torch.Tensor,
    learning_rate: float,
    final_learning_rate: float,
    window: int,
    batch_words: int,
    max_row_pairs: float,
    step: Callable[..., tuple[float, int]] = skipgram_step,
) -> tuple[float, int]:
    """Train on one block of kept words in batches of `batch_words` centres; return (loss sum, pairs).

    `step` is the batched update: `skipgram_step`, or `cbow_step` with its mode.

    The learning rate falls linearly from `learning_rate` to `final_learning_rate` over the block.
    """
    count = len(words)
    words = torch.nn.functional.pad(words, (window, window))
    sentences = torch.nn.functional.pad(sentences, (window, window), value=-1)
    total_loss, total_pairs = 0.0, 0
    for first in range(0, count, batch_words):
        last = min(first + batch_words, count)
        rate = learning_rate + (final_learning_rate - learning_rate) * first / count
        loss, pairs = step(
            input_vectors,
            output_vectors,
            words[first : last + 2 * window],
            sentences[first : last + 2 * window],
            reach[first:last],
            noise[first:last],
            rate,
            window,
            max_row_pairs,
        )
        total_loss += loss
        total_pairs += pairs
    return total_loss, total_pairs
