"""Joining frequent collocations into single words (`new york` -> `new_york`), as word2phrase does.

A pair of adjacent words a b of one line becomes the word a_b when word2phrase's score

    (count(a b) - min_count) * N / (count(a) * count(b))

exceeds the threshold, N being the number of words in the corpus and both words being seen at
least min_count times. As in word2phrase the line is read left to right and a word joined to its
left neighbour cannot also join its right one, so one pass makes pairs only; each further pass
scores the previous pass's output afresh, which turns `new_york times` into `new_york_times`.
Unlike word2phrase, pairs never span two lines and the counts are exact (word2phrase prunes rare
pairs when its hash table fills).

The corpus is tokenized once, with the tokenizer training uses (through w2v.text.counting, which finds
exactly the tokenizer's words), into a file of word ids; counting, scoring and joining then run on
those ids in blocks, with no Python loop per word, and the text is written once at the end: lower-cased words (as the tokenizer makes them) joined by `_`, one output
line per input line.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from w2v.errors import ConfigError, CorpusError
from w2v.fileio import atomic_output, map_array
from w2v.text.corpus import corpus_size, piece_batches, progress_bar
from w2v.text.counting import WordCounter
from w2v.text.tokenizer import make_tokenizer

# word2phrase's defaults.
THRESHOLD = 100.0
MIN_COUNT = 5
# Tokens per block: the pair keys and their sort stay near a few hundred MB whatever the corpus.
BLOCK_TOKENS = 1 << 22


@dataclass
class PhrasePass:
    """What one pass found: its threshold, the phrases with their pair counts and scores, most
    frequent first, how many pairs it joined, and how long it took."""

    number: int
    threshold: float
    phrases: list[tuple[str, int, float]]
    joined: int
    words: int  # words in the pass's input: the N of the score
    seconds: float

    def describe(self, top: int = 10) -> str:
        """One line: the pass, its threshold, what it found and joined, its most frequent phrases."""
        common = ", ".join(name for name, _, _ in self.phrases[:top])
        return (
            f"phrases pass {self.number} (threshold {self.threshold:g}): {len(self.phrases):,} "
            f"phrases, {self.joined:,} pairs joined in {self.words:,} words, {self.seconds:.1f} s"
            + (f"; most frequent: {common}" if common else "")
        )


@dataclass
class _Ids:
    """A corpus as word ids on disk with the offset one past the last id of each line."""

    ids: np.ndarray  # int32, memory-mapped
    line_ends: np.ndarray  # int64, one per input line, empty lines included (repeated offsets)
    types: list[str]  # the word of each id


def pass_thresholds(threshold: float, passes: int) -> list[float]:
    """The threshold of each pass: `threshold` first, then half the previous one, as word2vec's
    demo-phrases.sh runs word2phrase at 200 and then 100."""
    return [threshold / 2**number for number in range(passes)]


def write_phrases(
    files: Sequence[Path],
    output: str | Path,
    passes: int = 1,
    threshold: float = THRESHOLD,
    min_count: int = MIN_COUNT,
    split: str = "words",
    lowercase: bool = True,
    progress: bool = True,
) -> list[PhrasePass]:
    """Write the corpus `files` (as `expand_paths` gives them) to `output` with its frequent pairs
    joined by `_`, `passes` times over; return what each pass found."""
    if passes < 1:
        raise ConfigError(f"--passes must be at least 1, got {passes}")
    if not threshold > 0:
        raise ConfigError(f"--threshold must be above 0, got {threshold}")
    if min_count < 1:
        raise ConfigError(f"--min-count must be at least 1, got {min_count}")
    if not Path(output).parent.is_dir():
        raise ConfigError(f"{output}: folder {Path(output).parent} does not exist")
    tokenizer = make_tokenizer(split, lowercase)
    with tempfile.TemporaryDirectory(prefix="w2v-phrases-", dir=Path(output).parent) as work:
        corpus = _encode(files, tokenizer, Path(work), progress)
        found = []
        for number, pass_threshold in enumerate(pass_thresholds(threshold, passes), 1):
            corpus, summary = _phrase_pass(
                corpus, number, pass_threshold, min_count, Path(work), progress
            )
            found.append(summary)
        _write_text(corpus, Path(output), progress)
        del corpus  # the memory map must close before its folder is removed
    return found


def _encode(files: Sequence[Path], tokenizer: Tokenizer, work: Path, progress: bool) -> _Ids:
    """Tokenize the files into a file of ids, every word kept, noting where each line ends."""
    counter = WordCounter(tokenizer)
    ids_path, ends_path = work / "ids-0.int32", work / "ends-0.int64"
    position = 0
    with (
        progress_bar("phrases: reading", corpus_size(files), "B", progress) as bar,
        ids_path.open("wb") as ids_file,
        ends_path.open("wb") as ends_file,
    ):
        for batch in piece_batches(files, bar):
            ids, piece_tokens = counter.encode([text for text, _ in batch])
            ids_file.write(ids)
            offsets = position + piece_tokens
            position = int(offsets[-1])
            ends_file.write(offsets[[ends_line for _, ends_line in batch]].tobytes())
    types = counter.words
    if position == 0:
        raise CorpusError(f"{files[0] if len(files) == 1 else 'corpus'}: no words in the corpus")
    return _Ids(map_array(ids_path, np.int32), map_array(ends_path, np.int64), types)


def _blocks(total: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, BLOCK_TOKENS):
        yield start, min(start + BLOCK_TOKENS, total)


def _pair_keys(
    corpus: _Ids, frequent_id: np.ndarray, base: int, start: int, end: int
) -> np.ndarray:
    """For each position in [start, end), the key a * base + b of the pair it starts, or -1
    where there is none: the last word of a line, or a word seen under min_count times."""
    ids = corpus.ids
    stop = min(end, len(ids) - 1)  # the corpus's last word starts no pair
    keys = np.full(end - start, -1, dtype=np.int64)
    left = frequent_id[ids[start:stop]].astype(np.int64)
    right = frequent_id[ids[start + 1 : stop + 1]]
    valid = (left >= 0) & (right >= 0)
    lines = corpus.line_ends
    ends_here = lines[np.searchsorted(lines, start, "right") : np.searchsorted(lines, end, "right")]
    valid[ends_here[ends_here <= stop] - 1 - start] = False
    keys[: stop - start][valid] = left[valid] * base + right[valid]
    return keys


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal keys over sorted (keys, counts) parts."""
    keys = np.concatenate([keys for keys, _ in parts])
    counts = np.concatenate([counts for _, counts in parts])
    if len(parts) > 1:
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], counts[order]
    if keys.size == 0:
        return keys, counts
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts], np.add.reduceat(counts, starts)


def _count_pairs(
    corpus: _Ids, frequent_id: np.ndarray, base: int, bar: tqdm
) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct pair key of the corpus, sorted, with its count."""
    merged = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    pending: list[tuple[np.ndarray, np.ndarray]] = []
    for start, end in _blocks(len(corpus.ids)):
        keys = _pair_keys(corpus, frequent_id, base, start, end)
        pending.append(np.unique(keys[keys >= 0], return_counts=True))
        # Merging only once the pending parts outgrow the merged ones keeps the total work
        # near n log n however many blocks there are.
        if sum(len(keys) for keys, _ in pending) > len(merged[0]):
            merged = _merge([merged, *pending])
            pending = []
        bar.update(end - start)
    return _merge([merged, *pending])


def _phrase_pass(
    corpus: _Ids, number: int, threshold: float, min_count: int, work: Path, progress: bool
) -> tuple[_Ids, PhrasePass]:
    """Score every pair of `corpus`, join those over `threshold`, and write the joined ids."""
    start_time = time.perf_counter()
    total = len(corpus.ids)
    counts = np.zeros(len(corpus.types), dtype=np.int64)
    for start, end in _blocks(total):
        counts += np.bincount(corpus.ids[start:end], minlength=len(corpus.types))
    frequent_words = np.flatnonzero(counts >= min_count)
    frequent_id = np.full(len(corpus.types), -1, dtype=np.int32)
    frequent_id[frequent_words] = np.arange(len(frequent_words), dtype=np.int32)
    base = max(len(frequent_words), 1)

    with progress_bar(f"phrases: pass {number}", 2 * total, "word", progress) as bar:
        keys, pair_counts = _count_pairs(corpus, frequent_id, base, bar)
        left = counts[frequent_words[keys // base]]
        right = counts[frequent_words[keys % base]]
        scores = (pair_counts - min_count) * float(total) / (left * right)
        chosen = scores > threshold
        phrase_keys = keys[chosen]
        types, phrase_ids, phrases = _name_phrases(
            corpus.types, phrase_keys, pair_counts[chosen], scores[chosen], frequent_words
        )
        ids_path, ends_path = work / f"ids-{number}.int32", work / f"ends-{number}.int64"
        joined = _join(corpus, phrase_keys, phrase_ids, frequent_id, base, ids_path, ends_path, bar)
    seconds = time.perf_counter() - start_time
    summary = PhrasePass(number, threshold, phrases, joined, total, seconds)
    return _Ids(map_array(ids_path, np.int32), map_array(ends_path, np.int64), types), summary


def _name_phrases(
    types: list[str],
    keys: np.ndarray,
    counts: np.ndarray,
    scores: np.ndarray,
    frequent_words: np.ndarray,
) -> tuple[list[str], np.ndarray, list[tuple[str, int, float]]]:
    """Name each chosen pair a_b and give the name an id, new unless the corpus has the word
    already (the text `a_b`, or another pair spelling it), as re-reading the text would.

    Returns the extended types, each pair's id, and the phrases most frequent first."""
    index = {word: row for row, word in enumerate(types)}
    frequent = max(len(frequent_words), 1)
    lefts = frequent_words[keys // frequent].tolist()
    rights = frequent_words[keys % frequent].tolist()
    names = [f"{types[a]}_{types[b]}" for a, b in zip(lefts, rights, strict=True)]
    ids = np.array([index.setdefault(name, len(index)) for name in names], dtype=np.int32)
    order = np.lexsort((np.array(names, dtype=object), -counts)).tolist() if names else []
    phrases = [(names[i], int(counts[i]), float(scores[i])) for i in order]
    return list(index), ids, phrases


def _join(
    corpus: _Ids,
    phrase_keys: np.ndarray,
    phrase_ids: np.ndarray,
    frequent_id: np.ndarray,
    base: int,
    ids_path: Path,
    ends_path: Path,
    bar: tqdm,
) -> int:
    """Write the corpus with each chosen pair replaced by its phrase id; return the pairs joined.

    Left to right, a word joined to its left neighbour cannot join its right one, so in a run of
    consecutive chosen pairs the first, third, fifth... are joined.
    """
    # A sentinel above every key gives each position a slot to compare, chosen pairs or none.
    phrase_keys = np.append(phrase_keys, np.iinfo(np.int64).max)
    phrase_ids = np.append(phrase_ids, 0).astype(np.int32)
    lines = corpus.line_ends
    new_ends = np.array(lines, dtype=np.int64)
    run = 0  # chosen pairs in a row that end the previous block
    joined_before = consumed_before = 0
    with ids_path.open("wb") as out:
        for start, end in _blocks(len(corpus.ids)):
            keys = _pair_keys(corpus, frequent_id, base, start, end)
            slots = np.searchsorted(phrase_keys, keys)
            chosen = (keys >= 0) & (phrase_keys[slots] == keys)
            positions = np.arange(end - start)
            # The last unchosen position at or before each one; a run begins right after it.
            last_gap = np.maximum.accumulate(np.where(chosen, -1, positions))
            offset = positions - last_gap - 1 + np.where(last_gap < 0, run, 0)
            join = chosen & (offset % 2 == 0)
            consumed = np.concatenate([[joined_before], join[:-1]]).astype(bool)
            ids = np.where(join, phrase_ids[slots], corpus.ids[start:end])
            out.write(ids[~consumed].astype(np.int32).tobytes())
            # A line ending in this block ends earlier by the words consumed before its end.
            here = slice(
                np.searchsorted(lines, start, "right"), np.searchsorted(lines, end, "right")
            )
            consumed_upto = np.cumsum(consumed)
            new_ends[here] -= consumed_before + consumed_upto[lines[here] - 1 - start]
            consumed_before += int(consumed_upto[-1])
            run = end - start - 1 - int(last_gap[-1]) + (run if last_gap[-1] < 0 else 0)
            joined_before = bool(join[-1])
            bar.update(end - start)
    new_ends.tofile(ends_path)
    return consumed_before


def _write_text(corpus: _Ids, output: Path, progress: bool) -> None:
    """Write the words of `corpus`, a space between words and a newline at each line end."""
    words = np.array(corpus.types, dtype=object)
    lines = corpus.line_ends
    with (
        atomic_output(output) as stream,
        progress_bar("phrases: writing", len(corpus.ids), "word", progress) as bar,
    ):
        # Empty lines before the first word.
        stream.write(b"\n" * int(np.searchsorted(lines, 0, "right")))
        for start, end in _blocks(len(corpus.ids)):
            ends_here = lines[
                np.searchsorted(lines, start, "right") : np.searchsorted(lines, end, "right")
            ]
            newlines = np.bincount(ends_here - 1 - start, minlength=end - start)
            separators = np.full(end - start, " ", dtype=object)
            separators[newlines == 1] = "\n"
            for position in np.flatnonzero(newlines > 1).tolist():
                separators[position] = "\n" * int(newlines[position])
            text = np.empty(2 * (end - start), dtype=object)
            text[0::2] = words[corpus.ids[start:end]]
            text[1::2] = separators
            stream.write("".join(text.tolist()).encode("utf-8"))
            bar.update(end - start)
