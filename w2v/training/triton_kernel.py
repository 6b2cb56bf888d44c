"""Training on a CUDA GPU with Triton: a block's spans trained at once, each by one program.

The design of the fast GPU word2vec systems (BlazingText, cusim): a block's kept words are cut into
thousands of spans, and one Triton program trains each span sequentially, centre after centre and
pair after pair, exactly as the CPU kernel trains a thread's part (`cpu_kernel.train_part`), while
all the programs update the one copy of the matrices without locks (Hogwild). Everything random is
drawn on the device with Philox, a counter-based generator, keyed by the run's seed and the block's
number, so no draw waits on the host and a resumed run draws what the uninterrupted run drew:

- `subsample`: a coin per token keeps word w with probability keep[w]; the kept words are packed
  to the front of buffers as long as the block, their count left on the device.
- `draw_reach`: each kept centre's window, uniform in 1..window.
- `draw_noise`: noise words from the alias tables of counts**0.75, for every (centre, context)
  pair of skip-gram as word2vec draws them, or one set per centre (CBOW, `--centre-noise`).
- `train_spans`: the updates, from explicit draws, which is also how the tests compare them with
  the CPU kernel's on the same draws.

A program holds a vector as one Triton block of BLOCK_D (the next power of two from dim) columns,
masked past dim. Rows are read with plain loads and changed with atomic additions, lock-free as
plain stores are, but a row drawn twice among one pair's noise words takes both updates, as on
the CPU, and no update of a shared row by another program is lost. The block's loss and pair
count stay on the device until the block's end. Triton's interpreter (TRITON_INTERPRET=1, set
before triton is imported) runs the same kernels on CPU tensors, one program after the other.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction

from w2v.errors import ConfigError
from w2v.training.config import TrainConfig
from w2v.training.huffman import HuffmanTree
from w2v.training.noise import NoiseSampler

# Raw words of a block per span: a block of 262,144 words becomes 4,096 spans, about as many
# programs as an H200's 132 multiprocessors hold at once. Not yet tuned on a GPU.
SPAN_WORDS = 64
DRAW_BLOCK = 1024  # entries each program of the drawing kernels fills
PATH_CHUNK = 8  # inner nodes of a Huffman path scored at a time
UNIT_24 = tl.constexpr(1.0 / (1 << 24))  # a constexpr: kernels may read no other globals


class KeptWords(NamedTuple):
    """A block's words after subsampling, on the device: the first `count` entries of `words`
    (int32 ids) and `sentences` (int64 sentence numbers; windows stop where they change)."""

    words: torch.Tensor
    sentences: torch.Tensor
    count: torch.Tensor  # one int64: how many entries are kept words


class HuffmanPaths(NamedTuple):
    """Every word's Huffman path on the device, for hierarchical softmax: the inner nodes and
    their targets (1 - bit), V x longest, and each path's length."""

    points: torch.Tensor  # int32
    labels: torch.Tensor  # float32
    lengths: torch.Tensor  # int32

    @classmethod
    def of(cls, tree: HuffmanTree, device: torch.device) -> HuffmanPaths:
        points, labels, _ = tree.to_torch(device)
        lengths = torch.from_numpy(tree.lengths).to(device=device, dtype=torch.int32)
        return cls(points.to(torch.int32).contiguous(), labels.contiguous(), lengths)


def block_seeds(seed: int, block_number: int) -> tuple[int, int, int]:
    """Philox keys of one block's draws: subsampling, windows, noise words. Below 2**63, so that
    Triton always passes them as int64."""
    state = np.random.SeedSequence([seed, block_number]).generate_state(3, np.uint64)
    return tuple(int(key >> np.uint64(1)) for key in state)


@triton.jit(do_not_specialize=["size", "seed"])
def _subsample(tokens_ptr, keep_ptr, kept_ptr, size, seed, BLOCK: tl.constexpr):
    """kept[i] = 1 with probability keep[tokens[i]], else 0."""
    at = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = at < size
    words = tl.load(tokens_ptr + at, mask=inside, other=0)
    chance = tl.load(keep_ptr + words, mask=inside, other=0.0)
    tl.store(kept_ptr + at, (tl.rand(seed, at) < chance).to(tl.int32), mask=inside)


@triton.jit(do_not_specialize=["size", "seed"])
def _draw_reach(reach_ptr, count_ptr, size, seed, WINDOW: tl.constexpr, BLOCK: tl.constexpr):
    """reach[c] uniform in 1..WINDOW for every kept centre c."""
    at = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = (at < size) & (at < tl.load(count_ptr))
    bits = tl.randint(seed, at).to(tl.uint64)
    reach = 1 + ((bits * WINDOW) >> 32)
    tl.store(reach_ptr + at, reach.to(tl.int32), mask=inside)


@triton.jit(do_not_specialize=["vocabulary", "size", "seed"])
def _draw_noise(
    noise_ptr,
    reach_ptr,
    count_ptr,
    acceptance_ptr,
    alias_ptr,
    vocabulary,
    size,
    seed,
    WINDOW: tl.constexpr,
    NEGATIVE: tl.constexpr,
    SLOTS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """noise[c, slot, k], noise words from the alias tables: a slot from one draw's 32 bits, kept
    if a coin from another's top 24 bits falls under its acceptance, else the slot's alias. With
    SLOTS = 2 * WINDOW (a set per pair) only the slots within the centre's reach are drawn."""
    at = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    centre = at // (SLOTS * NEGATIVE)
    needed = (at < size.to(tl.int64) * SLOTS * NEGATIVE) & (centre < tl.load(count_ptr))
    if SLOTS > 1:
        slot = (at // NEGATIVE) % SLOTS
        distance = tl.where(slot < WINDOW, WINDOW - slot, slot - WINDOW + 1)
        needed &= distance <= tl.load(reach_ptr + centre, mask=needed, other=0)
    slot_bits, coin_bits, _, _ = tl.randint4x(seed, at)
    slots = ((slot_bits.to(tl.uint64) * vocabulary.to(tl.uint64)) >> 32).to(tl.int64)
    coin = (coin_bits >> 8).to(tl.float32) * UNIT_24
    accept = tl.load(acceptance_ptr + slots, mask=needed, other=1.0)
    alias = tl.load(alias_ptr + slots, mask=needed, other=0)
    tl.store(noise_ptr + at, tl.where(coin < accept, slots, alias).to(tl.int32), mask=needed)


@triton.jit
def _logistic(scores, labels, mask, rate):
    """Each (source, target) pair's gradient, (label - sigmoid(score)) * rate, and the sum of the
    pairs' losses, -log of the probability of the right answer; nothing where `mask` is off."""
    signed = tl.where(labels > 0.5, scores, -scores)
    loss = tl.maximum(-signed, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(signed)))
    gradient = (labels - tl.sigmoid(scores)) * rate
    return tl.where(mask, gradient, 0.0), tl.sum(tl.where(mask, loss, 0.0))


@triton.jit
def _train_source(source, matrix_ptr, targets, labels, mask, rate, dim, columns, column_mask):
    """One source vector scored against the rows `targets` of a matrix: every score and the
    source's update from the rows as they are, then the rows' updates added in place. Returns
    (the source's update, loss)."""
    pointers = matrix_ptr + targets.to(tl.int64)[:, None] * dim + columns[None, :]
    tile = mask[:, None] & column_mask[None, :]
    rows = tl.load(pointers, mask=tile, other=0.0)
    scores = tl.sum(rows * source[None, :], axis=1)
    gradient, loss = _logistic(scores, labels, mask, rate)
    tl.atomic_add(pointers, gradient[:, None] * source[None, :], mask=tile, sem="relaxed")
    return tl.sum(gradient[:, None] * rows, axis=0), loss


@triton.jit
def _train_sources(
    sources,
    valid,
    matrix_ptr,
    targets,
    labels,
    mask,
    rate,
    dim,
    columns,
    column_mask,
    TARGETS: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    """`_train_source` for every valid row of `sources` at once (the CPU kernel's
    `_train_targets`): target by target, every score from the rows as they are, the targets'
    changes kept in a tile and added once all are scored, so a row drawn twice takes both.
    One target at a time keeps the tiles two-dimensional, in registers. Returns (the sources'
    updates, loss)."""
    slots = tl.arange(0, TARGETS)
    updates = tl.zeros_like(sources)
    changes = tl.zeros([TARGETS, BLOCK_D], tl.float32)
    loss = 0.0
    for slot in range(TARGETS):
        picked = slots == slot
        target = tl.sum(tl.where(picked, targets, 0)).to(tl.int64)
        label = tl.sum(tl.where(picked, labels, 0.0))
        used = tl.sum(tl.where(picked & mask, 1, 0)) > 0
        # An unused slot's target is row 0, a real row: read, never changed.
        row = tl.load(matrix_ptr + target * dim + columns, mask=column_mask, other=0.0)
        scores = tl.sum(sources * row[None, :], axis=1)
        gradient, part = _logistic(scores, label, valid & used, rate)
        updates += gradient[:, None] * row[None, :]
        change = tl.sum(gradient[:, None] * sources, axis=0)
        changes = tl.where(picked[:, None], change[None, :], changes)
        loss += part
    pointers = matrix_ptr + targets.to(tl.int64)[:, None] * dim + columns[None, :]
    tl.atomic_add(pointers, changes, mask=mask[:, None] & column_mask[None, :], sem="relaxed")
    return updates, loss


@triton.jit
def _path(points_ptr, labels_ptr, lengths_ptr, word, longest, start, CHUNK: tl.constexpr):
    """CHUNK inner nodes of `word`'s Huffman path from `start`: (nodes, targets, on the path)."""
    nodes = start + tl.arange(0, CHUNK)
    on_path = nodes < tl.load(lengths_ptr + word)
    at = word.to(tl.int64) * longest + nodes
    points = tl.load(points_ptr + at, mask=on_path, other=0)
    labels = tl.load(labels_ptr + at, mask=on_path, other=0.0)
    return points, labels, on_path


@triton.jit
def _train_path(
    source,
    inner_ptr,
    points_ptr,
    labels_ptr,
    lengths_ptr,
    word,
    longest,
    rate,
    dim,
    columns,
    column_mask,
    CHUNK: tl.constexpr,
):
    """One source vector predicts `word`'s code through the inner nodes on its path (their rows
    are distinct, so chunk by chunk is the same as all at once). Returns (update, loss)."""
    update = tl.zeros_like(source)
    loss = 0.0
    for start in range(0, tl.load(lengths_ptr + word), CHUNK):
        points, labels, on_path = _path(
            points_ptr, labels_ptr, lengths_ptr, word, longest, start, CHUNK
        )
        change, part = _train_source(
            source, inner_ptr, points, labels, on_path, rate, dim, columns, column_mask
        )
        update += change
        loss += part
    return update, loss


@triton.jit
def _noise_targets(noise_ptr, row, word, NEGATIVE: tl.constexpr, TARGETS: tl.constexpr):
    """The centre word (label 1) and the noise words of noise row `row` (label 0), a noise word
    equal to the centre left out: it would push against the true pair."""
    t = tl.arange(0, TARGETS)
    is_noise = (t >= 1) & (t <= NEGATIVE)
    noise = tl.load(noise_ptr + row * NEGATIVE + t - 1, mask=is_noise, other=0)
    targets = tl.where(t == 0, word, noise)
    labels = tl.where(t == 0, 1.0, 0.0)
    return targets, labels, (t == 0) | (is_noise & (noise != word))


@triton.jit
def _span(count_ptr, spans):
    """This program's share of the kept words, [first, last), and the share's length as a float."""
    span = tl.program_id(0).to(tl.int64)
    count = tl.load(count_ptr)
    first = count * span // spans
    last = count * (span + 1) // spans
    return count, first, last, tl.maximum(last - first, 1).to(tl.float32)


@triton.jit
def _window(
    words_ptr, sentences_ptr, reach_ptr, centre, count, WINDOW: tl.constexpr, WIDE: tl.constexpr
):
    """The centre's context words as WIDE slots, positions centre - WINDOW onwards: (word ids,
    which slots are context words: within its reach, inside the block and its sentence)."""
    offsets = tl.arange(0, WIDE) - WINDOW
    positions = centre + offsets
    inside = (offsets != 0) & (tl.abs(offsets) <= tl.load(reach_ptr + centre))
    inside &= (positions >= 0) & (positions < count)
    sentences = tl.load(sentences_ptr + positions, mask=inside, other=-1)
    valid = inside & (sentences == tl.load(sentences_ptr + centre))
    return tl.load(words_ptr + positions, mask=valid, other=0), valid


@triton.jit(do_not_specialize=["longest", "spans"])
def _skipgram_pairs(
    input_ptr,
    output_ptr,
    inner_ptr,
    words_ptr,
    sentences_ptr,
    reach_ptr,
    noise_ptr,
    count_ptr,
    points_ptr,
    labels_ptr,
    lengths_ptr,
    longest,
    losses_ptr,
    pairs_ptr,
    rate,
    final_rate,
    spans,
    dim,
    WINDOW: tl.constexpr,
    NEGATIVE: tl.constexpr,
    HS: tl.constexpr,
    TARGETS: tl.constexpr,
    CHUNK: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    """Skip-gram, pair by pair, as word2vec trains it (`cpu_kernel.train_span_fresh_noise`): each
    context word's input row predicts the centre through its Huffman path and against the pair's
    own noise words (noise row centre * 2 * WINDOW + slot), and takes its update before the next
    pair."""
    count, first, last, length = _span(count_ptr, spans)
    columns = tl.arange(0, BLOCK_D)
    column_mask = columns < dim
    loss = 0.0
    pairs = 0
    for centre in range(first, last):
        step = rate + (final_rate - rate) * ((centre - first).to(tl.float32) / length)
        word = tl.load(words_ptr + centre)
        sentence = tl.load(sentences_ptr + centre)
        reach = tl.load(reach_ptr + centre).to(tl.int64)
        for position in range(tl.maximum(centre - reach, 0), tl.minimum(centre + reach + 1, count)):
            if (position != centre) & (tl.load(sentences_ptr + position) == sentence):
                pointers = input_ptr + tl.load(words_ptr + position).to(tl.int64) * dim + columns
                source = tl.load(pointers, mask=column_mask, other=0.0)
                update = tl.zeros([BLOCK_D], tl.float32)
                if HS:
                    change, part = _train_path(
                        source,
                        inner_ptr,
                        points_ptr,
                        labels_ptr,
                        lengths_ptr,
                        word,
                        longest,
                        step,
                        dim,
                        columns,
                        column_mask,
                        CHUNK,
                    )
                    update += change
                    loss += part
                if NEGATIVE > 0:
                    slot = position - centre + WINDOW - tl.where(position > centre, 1, 0)
                    targets, labels, mask = _noise_targets(
                        noise_ptr, centre * 2 * WINDOW + slot, word, NEGATIVE, TARGETS
                    )
                    change, part = _train_source(
                        source, output_ptr, targets, labels, mask, step, dim, columns, column_mask
                    )
                    update += change
                    loss += part
                tl.atomic_add(pointers, update, mask=column_mask, sem="relaxed")
                pairs += 1
                # The program's threads share rows between pairs: the next pair reads them.
                tl.debug_barrier()
    tl.store(losses_ptr + tl.program_id(0), loss)
    tl.store(pairs_ptr + tl.program_id(0), pairs)


@triton.jit(do_not_specialize=["longest", "spans"])
def _skipgram_centres(
    input_ptr,
    output_ptr,
    inner_ptr,
    words_ptr,
    sentences_ptr,
    reach_ptr,
    noise_ptr,
    count_ptr,
    points_ptr,
    labels_ptr,
    lengths_ptr,
    longest,
    losses_ptr,
    pairs_ptr,
    rate,
    final_rate,
    spans,
    dim,
    WINDOW: tl.constexpr,
    NEGATIVE: tl.constexpr,
    HS: tl.constexpr,
    TARGETS: tl.constexpr,
    CHUNK: tl.constexpr,
    BLOCK_D: tl.constexpr,
    WIDE: tl.constexpr,
):
    """Skip-gram with one set of noise words per centre (`cpu_kernel.train_span_hs`): all of a
    centre's context rows predict it at once, every score from the rows as they are."""
    count, first, last, length = _span(count_ptr, spans)
    columns = tl.arange(0, BLOCK_D)
    column_mask = columns < dim
    loss = 0.0
    pairs = 0
    for centre in range(first, last):
        step = rate + (final_rate - rate) * ((centre - first).to(tl.float32) / length)
        word = tl.load(words_ptr + centre)
        contexts, valid = _window(words_ptr, sentences_ptr, reach_ptr, centre, count, WINDOW, WIDE)
        found = tl.sum(valid.to(tl.int32))
        if found > 0:
            pointers = input_ptr + contexts.to(tl.int64)[:, None] * dim + columns[None, :]
            tile = valid[:, None] & column_mask[None, :]
            sources = tl.load(pointers, mask=tile, other=0.0)
            updates = tl.zeros([WIDE, BLOCK_D], tl.float32)
            if HS:
                for start in range(0, tl.load(lengths_ptr + word), CHUNK):
                    points, labels, on_path = _path(
                        points_ptr, labels_ptr, lengths_ptr, word, longest, start, CHUNK
                    )
                    change, part = _train_sources(
                        sources,
                        valid,
                        inner_ptr,
                        points,
                        labels,
                        on_path,
                        step,
                        dim,
                        columns,
                        column_mask,
                        CHUNK,
                        BLOCK_D,
                    )
                    updates += change
                    loss += part
            if NEGATIVE > 0:
                targets, labels, mask = _noise_targets(noise_ptr, centre, word, NEGATIVE, TARGETS)
                change, part = _train_sources(
                    sources,
                    valid,
                    output_ptr,
                    targets,
                    labels,
                    mask,
                    step,
                    dim,
                    columns,
                    column_mask,
                    TARGETS,
                    BLOCK_D,
                )
                updates += change
                loss += part
            tl.atomic_add(pointers, updates, mask=tile, sem="relaxed")
            pairs += found
            tl.debug_barrier()
    tl.store(losses_ptr + tl.program_id(0), loss)
    tl.store(pairs_ptr + tl.program_id(0), pairs)


@triton.jit(do_not_specialize=["longest", "spans"])
def _cbow(
    input_ptr,
    output_ptr,
    inner_ptr,
    words_ptr,
    sentences_ptr,
    reach_ptr,
    noise_ptr,
    count_ptr,
    points_ptr,
    labels_ptr,
    lengths_ptr,
    longest,
    losses_ptr,
    pairs_ptr,
    rate,
    final_rate,
    spans,
    dim,
    WINDOW: tl.constexpr,
    NEGATIVE: tl.constexpr,
    HS: tl.constexpr,
    TARGETS: tl.constexpr,
    CHUNK: tl.constexpr,
    BLOCK_D: tl.constexpr,
    WIDE: tl.constexpr,
    MEAN: tl.constexpr,
):
    """CBOW (`cpu_kernel.train_span_cbow_hs`): the context rows' mean (or sum) predicts the
    centre; with the mean every context row takes the whole error back, with the sum its share."""
    count, first, last, length = _span(count_ptr, spans)
    columns = tl.arange(0, BLOCK_D)
    column_mask = columns < dim
    loss = 0.0
    examples = 0
    for centre in range(first, last):
        step = rate + (final_rate - rate) * ((centre - first).to(tl.float32) / length)
        word = tl.load(words_ptr + centre)
        contexts, valid = _window(words_ptr, sentences_ptr, reach_ptr, centre, count, WINDOW, WIDE)
        found = tl.sum(valid.to(tl.int32))
        if found > 0:
            pointers = input_ptr + contexts.to(tl.int64)[:, None] * dim + columns[None, :]
            tile = valid[:, None] & column_mask[None, :]
            hidden = tl.sum(tl.load(pointers, mask=tile, other=0.0), axis=0)
            share = 1.0 / found.to(tl.float32)
            if MEAN:
                hidden = hidden * share
            error = tl.zeros([BLOCK_D], tl.float32)
            if HS:
                change, part = _train_path(
                    hidden,
                    inner_ptr,
                    points_ptr,
                    labels_ptr,
                    lengths_ptr,
                    word,
                    longest,
                    step,
                    dim,
                    columns,
                    column_mask,
                    CHUNK,
                )
                error += change
                loss += part
            if NEGATIVE > 0:
                targets, labels, mask = _noise_targets(noise_ptr, centre, word, NEGATIVE, TARGETS)
                change, part = _train_source(
                    hidden, output_ptr, targets, labels, mask, step, dim, columns, column_mask
                )
                error += change
                loss += part
            if not MEAN:
                error = error * share
            back = tl.zeros([WIDE, BLOCK_D], tl.float32) + error[None, :]
            tl.atomic_add(pointers, back, mask=tile, sem="relaxed")
            examples += 1
            tl.debug_barrier()
    tl.store(losses_ptr + tl.program_id(0), loss)
    tl.store(pairs_ptr + tl.program_id(0), examples)


def subsample(
    tokens: torch.Tensor, sentences: torch.Tensor, keep: torch.Tensor, seed: int
) -> KeptWords:
    """The tokens (int32 ids on the device) that subsampling keeps, with their sentence numbers,
    packed to the front in order; the count stays on the device."""
    size = len(tokens)
    kept = torch.empty(size, dtype=torch.int32, device=tokens.device)
    _subsample[(triton.cdiv(size, DRAW_BLOCK),)](tokens, keep, kept, size, seed, BLOCK=DRAW_BLOCK)
    places = torch.cumsum(kept, 0)
    # Dropped tokens all go to one spare entry past the end.
    places = torch.where(kept.bool(), places - 1, size)
    words = torch.zeros(size + 1, dtype=torch.int32, device=tokens.device)
    packed_sentences = torch.zeros(size + 1, dtype=torch.int64, device=tokens.device)
    words.scatter_(0, places, tokens)
    packed_sentences.scatter_(0, places, sentences)
    return KeptWords(words[:size], packed_sentences[:size], kept.sum(dtype=torch.int64).reshape(1))


def draw_reach(kept: KeptWords, window: int, seed: int) -> torch.Tensor:
    """Each kept centre's window (int32, uniform in 1..window); entries past the count unset."""
    size = len(kept.words)
    reach = torch.zeros(size, dtype=torch.int32, device=kept.words.device)
    _draw_reach[(max(triton.cdiv(size, DRAW_BLOCK), 1),)](
        reach, kept.count, size, seed, WINDOW=window, BLOCK=DRAW_BLOCK
    )
    return reach


def noise_slots(config: TrainConfig) -> int:
    """Sets of noise words per centre: one per context slot (2 * window) for skip-gram with a set
    per pair, else one."""
    return 2 * config.window if config.pair_noise and config.model == "skipgram" else 1


def draw_noise(
    kept: KeptWords, reach: torch.Tensor, config: TrainConfig, noise: NoiseSampler, seed: int
) -> torch.Tensor:
    """Noise words (int32) of shape kept words x `noise_slots` x negative, drawn from `noise`'s
    alias tables; a slot c * 2 * window + s, s in 0..2 * window - 1, is the pair of centre c and
    the context at offset s - window (s < window) or s - window + 1, drawn only within reach."""
    size, slots = len(kept.words), noise_slots(config)
    drawn = torch.zeros(size, slots, config.negative, dtype=torch.int32, device=reach.device)
    entries = drawn.numel()
    if entries:
        _draw_noise[(triton.cdiv(entries, DRAW_BLOCK),)](
            drawn,
            reach,
            kept.count,
            noise.acceptance,
            noise.alias,
            len(noise.alias),
            size,
            seed,
            WINDOW=config.window,
            NEGATIVE=config.negative,
            SLOTS=slots,
            BLOCK=DRAW_BLOCK,
        )
    return drawn


def train_spans(
    config: TrainConfig,
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    kept: KeptWords,
    reach: torch.Tensor,
    noise: torch.Tensor,
    rate: float,
    final_rate: float,
    spans: int,
    inner_vectors: torch.Tensor | None = None,
    paths: HuffmanPaths | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train the kept words cut into `spans` equal spans, one Triton program each, every span's
    learning rate falling from `rate` to `final_rate` across its centres. `noise` is laid out as
    `draw_noise` draws it; hierarchical softmax with `paths` trains `inner_vectors`. Returns each
    span's (loss sum, pairs or CBOW examples), on the device."""
    device = input_vectors.device
    dim = input_vectors.shape[1]
    losses = torch.zeros(spans, dtype=torch.float32, device=device)
    pairs = torch.zeros(spans, dtype=torch.int32, device=device)
    if paths is None:
        empty = torch.zeros(1, dtype=torch.int32, device=device)
        paths = HuffmanPaths(empty, empty.float(), empty)
    block_d = triton.next_power_of_2(dim)
    wide = triton.next_power_of_2(2 * config.window + 1)
    settings = {
        "WINDOW": config.window,
        "NEGATIVE": config.negative,
        "HS": config.hs,
        "TARGETS": triton.next_power_of_2(config.negative + 1),
        "CHUNK": PATH_CHUNK,
        "BLOCK_D": block_d,
    }
    # Warps grow with the tiles a program holds, which then fit in registers (checked in the
    # compiled kernels for sm_90: no spills at dim 100 or 300 with window 5); speed not yet
    # measured on a GPU.
    window_tiles = {"WIDE": wide, "num_warps": min(max(wide * block_d // 512, 1), 8)}
    if config.model == "cbow":
        kernel = _cbow
        settings |= window_tiles | {"MEAN": config.cbow_mean}
    elif config.pair_noise:
        kernel = _skipgram_pairs
        settings |= {"num_warps": min(max(block_d // 128, 1), 4)}
    else:
        kernel = _skipgram_centres
        settings |= window_tiles
    kernel[(spans,)](
        input_vectors,
        output_vectors,
        output_vectors if inner_vectors is None else inner_vectors,
        kept.words,
        kept.sentences,
        reach,
        noise if noise.numel() else reach,
        kept.count,
        *paths,
        paths.points.shape[1] if paths.points.dim() == 2 else 0,
        losses,
        pairs,
        float(rate),
        float(final_rate),
        spans,
        dim,
        **settings,
    )
    return losses, pairs


def check_runs_here(device: torch.device) -> None:
    """ConfigError unless the kernels can run on `device`: CUDA, or the CPU when triton was
    imported under TRITON_INTERPRET=1."""
    if device.type == "cpu" and not isinstance(_skipgram_pairs, InterpretedFunction):
        raise ConfigError(
            "--kernel triton on the CPU needs TRITON_INTERPRET=1 set before triton is imported"
        )


class SpanTrainer:
    """Trains each block on the device: subsampling, windows and noise words drawn there with
    Philox keyed by (seed, block number), then spans of SPAN_WORDS raw words' worth of kept words
    trained at once, one Triton program each."""

    def __init__(
        self,
        config: TrainConfig,
        input_vectors: torch.Tensor,
        output_vectors: torch.Tensor,
        inner_vectors: torch.Tensor | None,
        tree: HuffmanTree | None,
        keep: torch.Tensor,
        noise: NoiseSampler,
        sentence_ends: torch.Tensor,
        seed: int,
    ) -> None:
        """`keep` (each word's chance to survive subsampling), `noise` and `sentence_ends` (the
        corpus's, int64) on the matrices' device; `seed` keys the draws (the run's, or a rank's)."""
        self.device = input_vectors.device
        check_runs_here(self.device)
        self.config, self.seed = config, seed
        self.matrices = (input_vectors, output_vectors)
        self.inner_vectors = inner_vectors
        self.paths = None if tree is None else HuffmanPaths.of(tree, self.device)
        self.keep, self.noise, self.sentence_ends = keep, noise, sentence_ends

    def train_block(
        self, tokens: np.ndarray, start: int, block_number: int, rate: float, final_rate: float
    ) -> tuple[float, int]:
        """Train the corpus tokens (int32 ids) that begin at corpus position `start`, with the
        learning rate falling from `rate` to `final_rate`; `block_number` (counted across
        epochs) keys the draws. Returns (loss sum, pairs or CBOW examples)."""
        host = torch.from_numpy(np.ascontiguousarray(tokens, np.int32))
        if self.device.type == "cuda":
            # From pinned memory the copy runs behind the GPU's work instead of waiting for it.
            host = host.pin_memory()
        block = host.to(self.device, non_blocking=True)
        positions = torch.arange(start, start + len(tokens), device=self.device)
        sentences = torch.searchsorted(self.sentence_ends, positions, right=True)
        keep_seed, reach_seed, noise_seed = block_seeds(self.seed, block_number)
        kept = subsample(block, sentences, self.keep, keep_seed)
        reach = draw_reach(kept, self.config.window, reach_seed)
        noise = draw_noise(kept, reach, self.config, self.noise, noise_seed)
        losses, pairs = train_spans(
            self.config,
            *self.matrices,
            kept,
            reach,
            noise,
            rate,
            final_rate,
            max(triton.cdiv(len(tokens), SPAN_WORDS), 1),
            self.inner_vectors,
            self.paths,
        )
        loss, count = torch.stack([losses.sum(dtype=torch.float64), pairs.sum().double()]).tolist()
        return loss, int(count)
