"""Counting and encoding words in one compiled pass, exactly as the `tokenizers` pipeline would.

Text that is pure ASCII (most of any English corpus) is cut into words by a numba loop that applies
the tokenizer's rules for ASCII directly: NFKC changes nothing, lowercasing maps A-Z to a-z,
split="words" keeps maximal runs of [A-Za-z0-9_] (what the pre-tokenizer's \\w matches in ASCII),
and split="whitespace" keeps maximal runs of anything but tab, line feed, vertical tab, form feed,
carriage return and space (what WhitespaceSplit treats as whitespace in ASCII). Where a character
outside ASCII occurs, the text from the space before it to the space after it goes through the
tokenizer's own normaliser and pre-tokenizer instead, so the words are exact for any text.

Either way each word's UTF-8 bytes are looked up in an open-addressing hash table held in numpy
arrays (the words' bytes kept in an arena and compared on every probe, so two words never share an
id), a new word getting the next id; the ids are written out and counted as they are found.
Given a memory limit, the tables stop growing at it and the rarest words are pruned instead, as
word2vec's ReduceVocab does: the survivors get new dense ids and each prune reports its old->new map.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

import numba
import numpy as np
from tokenizers import Tokenizer

from w2v.errors import ConfigError
from w2v.text.tokenizer import words_of

# Piece modes: ASCII text split into runs of word characters, ASCII text split on whitespace, and
# words already found by the tokenizer, UTF-8 encoded and separated by line feeds.
WORDS, WHITESPACE, PRESPLIT = 0, 1, 2
FNV_OFFSET = np.uint64(14695981039346656037)
FNV_PRIME = np.uint64(1099511628211)
MIX = np.uint64(0x9E3779B97F4A7C15)
FIRST_CAPACITY = 1 << 16
# Table bytes per word of capacity: two int32 slots (the table is at most half full), the uint64
# hash and prefix, the int64 arena start, the int32 length and the int64 count.
TABLE_BYTES_PER_WORD = 2 * 4 + 8 + 8 + 8 + 4 + 8
# The least memory limit: the first tables and an arena of twice their arena's size.
MIN_VOCAB_MEMORY = 4 << 20
NOT_ASCII = re.compile(r"[^\x00-\x7f]")
NOT_SPACE = re.compile(r"[^ ]")


def _tables(lowercase: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per mode, which bytes belong to words, and what each byte becomes in a word."""
    in_word = np.zeros((3, 256), dtype=np.bool_)
    ascii_word = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
    in_word[WORDS, list(ascii_word)] = True
    in_word[WHITESPACE, :128] = True
    in_word[WHITESPACE, list(b"\t\n\v\f\r ")] = False
    in_word[PRESPLIT, :] = True
    in_word[PRESPLIT, ord("\n")] = False
    fold = np.tile(np.arange(256, dtype=np.uint8), (3, 1))
    if lowercase:
        for mode in (WORDS, WHITESPACE):
            fold[mode, ord("A") : ord("Z") + 1] += ord("a") - ord("A")
    return in_word, fold


def ascii_rules(tokenizer: Tokenizer) -> tuple[int, bool] | None:
    """(mode, lowercase) when `tokenizer` applies one of make_tokenizer's rule sets, else None."""
    if tokenizer.normalizer is None or tokenizer.pre_tokenizer is None:
        return None
    # Only these two parts: the whole tokenizer's JSON would hold its whole vocabulary.
    normalizer = json.loads(tokenizer.normalizer.__getstate__())
    pre_tokenizer = json.loads(tokenizer.pre_tokenizer.__getstate__())
    if normalizer.get("type") != "Sequence":
        return None
    steps = [step.get("type") for step in normalizer["normalizers"]]
    if steps not in (["NFKC"], ["NFKC", "Lowercase"]):
        return None
    lowercase = steps == ["NFKC", "Lowercase"]
    if pre_tokenizer == {"type": "WhitespaceSplit"}:
        return WHITESPACE, lowercase
    words_split = {
        "type": "Split",
        "pattern": {"Regex": "[^\\w]+"},
        "behavior": "Removed",
        "invert": False,
    }
    if pre_tokenizer == words_split:
        return WORDS, lowercase
    return None


@numba.njit(nogil=True, cache=True)
def _encode(
    text: np.ndarray,
    piece_ends: np.ndarray,
    piece_modes: np.ndarray,
    in_word: np.ndarray,
    fold: np.ndarray,
    slots: np.ndarray,
    hashes: np.ndarray,
    prefixes: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    counts: np.ndarray,
    arena: np.ndarray,
    state: np.ndarray,
    ids: np.ndarray,
    piece_tokens: np.ndarray,
) -> bool:
    """Find the words of each piece text[previous end:end], write their ids to `ids` and count them.

    state holds (words in the table, arena bytes used, piece, text position, ids written, whether
    `slots` is a new empty table for the words to be placed in again first); each
    new word's bytes go to the arena followed by a line feed, and piece_tokens gets the number of
    ids written up to the end of each piece. Returns False, with state saying where to go on, when
    the table is half full or the arena is full: the caller grows them and calls again.
    """
    mask = np.uint64(len(slots) - 1)
    most_words = min(len(slots) // 2, len(hashes))
    words, used, piece, position, written = state[0], state[1], state[2], state[3], state[4]
    if state[5]:  # the table has grown: place the words in it again
        for old in range(words):
            slot = hashes[old] & mask
            while slots[slot] >= 0:
                slot = (slot + np.uint64(1)) & mask
            slots[slot] = old
        state[5] = 0
    while piece < len(piece_ends):
        end = piece_ends[piece]
        member = in_word[piece_modes[piece]]
        change = fold[piece_modes[piece]]
        while position < end:
            if not member[text[position]]:
                position += 1
                continue
            first = position
            prefix = np.uint64(0)
            rest = FNV_OFFSET
            while position < end and member[text[position]]:
                byte = np.uint64(change[text[position]])
                if position - first < 8:
                    prefix |= byte << np.uint64(8 * (position - first))
                else:
                    rest = (rest ^ byte) * FNV_PRIME
                position += 1
            length = position - first
            hashed = (prefix ^ rest ^ np.uint64(length)) * MIX
            hashed ^= hashed >> np.uint64(29)
            slot = hashed & mask
            while True:
                word = slots[slot]
                if word < 0:
                    if words >= most_words or used + length + 1 > len(arena):
                        state[0], state[1], state[2], state[3], state[4] = (
                            words,
                            used,
                            piece,
                            first,
                            written,
                        )
                        return False
                    word = words
                    words += 1
                    slots[slot] = word
                    hashes[word] = hashed
                    prefixes[word] = prefix
                    starts[word] = used
                    lengths[word] = length
                    for offset in range(length):
                        arena[used + offset] = change[text[first + offset]]
                    used += length
                    arena[used] = 10
                    used += 1
                    break
                if hashes[word] == hashed and prefixes[word] == prefix and lengths[word] == length:
                    # The first 8 bytes are in the prefix.
                    start = starts[word]
                    same = True
                    for offset in range(8, length):
                        if arena[start + offset] != change[text[first + offset]]:
                            same = False
                            break
                    if same:
                        break
                slot = (slot + np.uint64(1)) & mask
            counts[word] += 1
            ids[written] = word
            written += 1
        piece_tokens[piece] = written
        piece += 1
    state[0], state[1], state[2], state[3], state[4] = words, used, piece, position, written
    return True


@numba.njit(nogil=True, cache=True)
def _drop_rare(
    threshold: int,
    words: int,
    hashes: np.ndarray,
    prefixes: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    counts: np.ndarray,
    arena: np.ndarray,
    remap: np.ndarray,
) -> tuple[int, int]:
    """Drop the words seen at most `threshold` times, moving the others down in order of id (their
    bytes down the arena); remap gets each old id's new one, -1 if dropped. Returns (words kept,
    arena bytes used)."""
    kept = 0
    used = 0
    for old in range(words):
        if counts[old] <= threshold:
            remap[old] = -1
            continue
        remap[old] = kept
        start, length = starts[old], lengths[old]
        # used <= start, so a forward copy never overwrites bytes still to be moved.
        for offset in range(length + 1):
            arena[used + offset] = arena[start + offset]
        hashes[kept], prefixes[kept], lengths[kept] = hashes[old], prefixes[old], length
        starts[kept], counts[kept] = used, counts[old]
        used += length + 1
        kept += 1
    # New words start counting from the zeros here.
    counts[kept:words] = 0
    return kept, used


def sentence_ends(
    piece_ends: np.ndarray, ends_line: np.ndarray, sentence_start: int, max_words: int
) -> tuple[np.ndarray, int]:
    """The sentence ends among pieces ending at `piece_ends` (absolute token positions), given
    whether each piece ends its line, and the start of the sentence left open after them.

    A sentence ends at each line's end (if it holds a word) and every max_words words of a line:
    a line from s to e ends sentences at s + max_words, s + 2 * max_words... below e, then at e."""
    line_ends = piece_ends[ends_line]
    # Each stretch of text from a sentence start: the lines, then what is left open of the last one.
    starts = np.concatenate(([sentence_start], line_ends))
    stops = np.concatenate((line_ends, piece_ends[-1:]))
    cuts = np.where(stops > starts, (stops - starts - 1) // max_words, 0)
    first_cut = np.repeat(starts, cuts)
    within = np.arange(len(first_cut)) - np.repeat(np.cumsum(cuts) - cuts, cuts)
    all_cuts = first_cut + max_words * (within + 1)
    ends = np.sort(np.concatenate((all_cuts, line_ends[line_ends > starts[:-1]])))
    return ends, int(starts[-1] + cuts[-1] * max_words)


class Prepared(NamedTuple):
    """Texts made ready for the compiled loop: their bytes, where each part ends and how to read it,
    and which part ends each text (None when the parts are the texts)."""

    data: bytes
    piece_ends: np.ndarray
    modes: np.ndarray
    last_parts: list[int] | None


class WordCounter:
    """Every distinct word seen so far with its count, each with an id in order of first sight.

    With `max_bytes`, the tables (`nbytes`) stay within it: when they would grow past it, the words
    seen at most a threshold of times are pruned, the threshold rising with every prune, and the
    survivors renumbered densely in their order (a pruned word seen again gets a new id). Each prune
    appends (tokens counted before it, old->new ids with -1 for pruned) to `prunes`; the survivors'
    counts are then lower bounds. Without pruning the counts are exact."""

    def __init__(self, tokenizer: Tokenizer, max_bytes: int | None = None):
        self.tokenizer = tokenizer
        self.max_bytes = max_bytes
        rules = ascii_rules(tokenizer)
        self.ascii_mode = None if rules is None else rules[0]
        self.in_word, self.fold = _tables(rules is not None and rules[1])
        self.slots = np.full(2 * FIRST_CAPACITY, -1, dtype=np.int32)
        self.hashes = np.zeros(FIRST_CAPACITY, dtype=np.uint64)
        self.prefixes = np.zeros(FIRST_CAPACITY, dtype=np.uint64)
        self.starts = np.zeros(FIRST_CAPACITY, dtype=np.int64)
        self.lengths = np.zeros(FIRST_CAPACITY, dtype=np.int32)
        self.word_counts = np.zeros(FIRST_CAPACITY, dtype=np.int64)
        self.arena = np.zeros(FIRST_CAPACITY * 8, dtype=np.uint8)
        self.state = np.zeros(6, dtype=np.int64)
        self.tokens = 0  # ids written by the runs before this one
        self.threshold = 0  # words seen at most this many times were pruned last
        self.pruned = 0  # word types pruned, all prunes together
        self.prunes: list[tuple[int, np.ndarray]] = []

    def __len__(self) -> int:
        return int(self.state[0])

    @property
    def nbytes(self) -> int:
        """The bytes the tables and the arena take."""
        tables = (self.slots, self.hashes, self.prefixes, self.starts, self.lengths)
        return sum(array.nbytes for array in tables) + self.word_counts.nbytes + self.arena.nbytes

    def _grow(self, text_bytes: int) -> None:
        """Double the table if it is half full, else the arena, enough for any word of the text;
        under `max_bytes`, only as far as it allows, pruning when neither can grow."""
        words, used = int(self.state[0]), int(self.state[1])
        capacity = len(self.hashes)
        if words >= min(len(self.slots) // 2, capacity):
            if self.max_bytes is not None and (
                2 * capacity * TABLE_BYTES_PER_WORD + len(self.arena) > self.max_bytes
            ):
                self._prune(capacity // 2, (self.max_bytes - capacity * TABLE_BYTES_PER_WORD) // 2)
                return
            capacity *= 2
            for name in ("hashes", "prefixes", "starts", "lengths", "word_counts"):
                old = getattr(self, name)
                grown = np.zeros(capacity, dtype=old.dtype)
                grown[:words] = old[:words]
                setattr(self, name, grown)
            self.slots = np.full(2 * capacity, -1, dtype=np.int32)
            self.state[5] = 1
            return
        size = max(2 * len(self.arena), used + text_bytes + 1)
        if self.max_bytes is not None:
            room = self.max_bytes - capacity * TABLE_BYTES_PER_WORD
            if len(self.arena) >= room:
                if words == 0:
                    raise ConfigError(
                        f"--max-vocab-memory {self.max_bytes:,}: a word of more than {room:,} "
                        "bytes does not fit beside the tables; give it more"
                    )
                self._prune(capacity // 2, room // 2)
                return
            size = min(size, room)
        grown = np.zeros(size, dtype=np.uint8)
        grown[:used] = self.arena[:used]
        self.arena = grown

    def _prune(self, most_words: int, most_bytes: int) -> None:
        """Prune the words seen at most a threshold of times, the least above the last one that
        leaves at most `most_words` words in at most `most_bytes` arena bytes, and note the ids'
        map in `prunes`; the table is filled again from the survivors at the next run."""
        words = int(self.state[0])
        counts = self.word_counts[:words]
        # Most frequent first: the longest run of them within both bounds survives.
        order = np.argsort(-counts, kind="stable")
        fit = np.cumsum(self.lengths[order] + 1) <= most_bytes
        fit[most_words:] = False
        keep = int(np.argmin(fit)) if not fit.all() else words
        threshold = self.threshold + 1
        if keep < words:
            threshold = max(threshold, int(counts[order[keep]]))
        remap = np.empty(words, dtype=np.int32)
        kept, used = _drop_rare(
            threshold,
            words,
            self.hashes,
            self.prefixes,
            self.starts,
            self.lengths,
            self.word_counts,
            self.arena,
            remap,
        )
        self.prunes.append((self.tokens + int(self.state[4]), remap))
        self.threshold = threshold
        self.pruned += words - kept
        self.state[0], self.state[1] = kept, used
        self.slots.fill(-1)
        self.state[5] = 1

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the words of `texts` laid end to end (int32), and how many ids there are up
        to the end of each text (int64); the words are counted."""
        return self.run(self.prepare(texts))

    def prepare(self, texts: list[str]) -> Prepared:
        """The texts as bytes for `run`, with each part's end and how to read it: the Python half
        of `encode`, which another thread can do for the next texts while `run` counts these."""
        joined = "".join(texts)
        if self.ascii_mode is not None and joined.isascii():
            data = joined.encode("ascii")
            piece_ends = np.cumsum([len(text) for text in texts], dtype=np.int64)
            modes = np.full(len(texts), self.ascii_mode, dtype=np.int8)
            last_parts = None
        else:
            parts: list[bytes] = []
            modes_list: list[int] = []
            last_parts = []
            for text in texts:
                self._split(text, parts, modes_list)
                last_parts.append(len(parts) - 1)
            data = b"".join(parts)
            piece_ends = np.cumsum([len(part) for part in parts], dtype=np.int64)
            modes = np.array(modes_list, dtype=np.int8)
        del joined
        return Prepared(data, piece_ends, modes, last_parts)

    def run(self, prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
        """Count the words of prepared texts: the compiled half of `encode`, without the GIL."""
        data, piece_ends, modes, last_parts = prepared
        ids = np.empty(len(data), dtype=np.int32)
        piece_tokens = np.empty(len(piece_ends), dtype=np.int64)
        self.state[2:5] = 0
        while not _encode(
            np.frombuffer(data, dtype=np.uint8),
            piece_ends,
            modes,
            self.in_word,
            self.fold,
            self.slots,
            self.hashes,
            self.prefixes,
            self.starts,
            self.lengths,
            self.word_counts,
            self.arena,
            self.state,
            ids,
            piece_tokens,
        ):
            self._grow(len(data))
        self.tokens += int(self.state[4])
        if last_parts is not None:
            piece_tokens = piece_tokens[last_parts]
        return ids[: self.state[4]], piece_tokens

    def _split(self, text: str, parts: list[bytes], modes: list[int]) -> None:
        """Append one or more parts making up `text` to `parts`, with how to read each: its ASCII
        stretches as ASCII text, and the runs of non-spaces holding anything else as the words
        the tokenizer itself finds in them.

        Cutting at a space never changes the words: NFKC composes nothing with a space, lowercasing
        goes character by character, and either split ends a word at a space."""
        if self.ascii_mode is None or text.isascii():
            if self.ascii_mode is None:
                parts.append("\n".join(words_of(self.tokenizer, text)).encode("utf-8"))
                modes.append(PRESPLIT)
            else:
                parts.append(text.encode("ascii"))
                modes.append(self.ascii_mode)
            return
        done = 0
        found = NOT_ASCII.search(text)
        while found:
            # From the space before the character outside ASCII to the space after it, and on over
            # the following runs of non-spaces as long as they hold such a character too.
            start = text.rfind(" ", done, found.start()) + 1 or done
            while True:
                end = text.find(" ", found.end())
                if end < 0:
                    end, found = len(text), None
                    break
                found = NOT_ASCII.search(text, end)
                if found is None:
                    break
                run_start = text.rfind(" ", end, found.start()) + 1
                if NOT_SPACE.search(text, end, run_start):
                    break
            if start > done:
                parts.append(text[done:start].encode("ascii"))
                modes.append(self.ascii_mode)
            parts.append("\n".join(words_of(self.tokenizer, text[start:end])).encode("utf-8"))
            modes.append(PRESPLIT)
            done = end
        if done < len(text) or done == 0:
            parts.append(text[done:].encode("ascii"))
            modes.append(self.ascii_mode)

    @property
    def counts(self) -> np.ndarray:
        """How often each word has been seen, by id (int64)."""
        return self.word_counts[: len(self)].copy()

    @property
    def words(self) -> list[str]:
        """Every word seen, by id."""
        if len(self) == 0:
            return []
        text = self.arena[: int(self.state[1]) - 1].tobytes().decode("utf-8")
        return text.split("\n")
