"""Encoding a corpus once into integer ids on disk, which every epoch then reads memory-mapped."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from w2v.errors import CorpusError
from w2v.fileio import map_array
from w2v.text.corpus import corpus_size, piece_batches, progress_bar
from w2v.text.counting import Prepared, WordCounter, sentence_ends
from w2v.text.tokenizer import set_vocabulary
from w2v.text.vocab import Vocabulary

MAX_SENTENCE_WORDS = 10_000
REMAP_BLOCK = 1 << 22


@dataclass
class EncodedCorpus:
    """The corpus as vocabulary ids, sentences laid end to end, with where each sentence ends."""

    tokens: np.ndarray  # int32, memory-mapped; words outside the vocabulary are already dropped
    sentence_ends: np.ndarray  # int64, offset one past the last token of each sentence
    raw_words: int  # words read, including those outside the vocabulary
    pruned_types: int = 0  # word types pruned while counting under max_vocab_memory
    prune_threshold: int = 0  # the last prune dropped words seen at most this many times

    def __len__(self) -> int:
        return len(self.tokens)

    def read(self, start: int, end: int) -> np.ndarray:
        """tokens[start:end] as an array of its own. A memory-mapped corpus is read from its file
        instead, so that the pages of the whole corpus do not pile up in resident memory."""
        if isinstance(self.tokens, np.memmap):
            offset = self.tokens.offset + start * self.tokens.itemsize
            return np.fromfile(
                self.tokens.filename, self.tokens.dtype, count=end - start, offset=offset
            )
        return np.array(self.tokens[start:end])

    def read_part(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """tokens[start:end] (as `read` gives them) and where their sentences end, relative to
        `start`; a part may end inside a sentence longer than it, and its last end is then its
        length."""
        ends = self.sentence_ends
        inside = ends[np.searchsorted(ends, start, side="right") : np.searchsorted(ends, end)]
        return self.read(start, end), np.append(inside - start, end - start)


def _prepared_batches(
    files: Sequence[Path], progress: tqdm, counter: WordCounter
) -> Iterator[tuple[list[tuple[str, bool]], Prepared]]:
    """The batches with their texts prepared for `counter.run`, the next batch being read and
    prepared in another thread while the caller counts this one (the count releases the GIL)."""
    batches = piece_batches(files, progress)

    def step() -> tuple[list[tuple[str, bool]], Prepared] | None:
        batch = next(batches, None)
        return None if batch is None else (batch, counter.prepare([text for text, _ in batch]))

    with ThreadPoolExecutor(1) as pool:
        coming = pool.submit(step)
        # numba's first call in a process loads its compiled code (half a second): done on an
        # empty text while the first batch is read.
        counter.run(counter.prepare([""]))
        while (item := coming.result()) is not None:
            coming = pool.submit(step)
            yield item


def _compose_prunes(
    new_ids: np.ndarray, work_dir: Path, prunes: int
) -> Callable[[int], np.ndarray]:
    """Given the vocabulary id (or -1) of each id left after the last of `prunes` prunes, whose
    old->new maps are in work_dir, the function giving each generation's map to vocabulary ids:
    generation g holds the ids numbered between prune g - 1 and prune g. The maps are composed
    from the last back and kept on disk, so one at a time is in memory."""
    later = new_ids
    for number in reversed(range(prunes)):
        path = work_dir / f"prune{number}.int32"
        # A trailing -1 for the pruned ids' -1 to index.
        later = np.append(later, np.int32(-1))[np.fromfile(path, dtype=np.int32)]
        later.tofile(path)

    def maps(generation: int) -> np.ndarray:
        if generation == prunes:
            return new_ids
        path = work_dir / f"prune{generation}.int32"
        composed = np.fromfile(path, dtype=np.int32)
        path.unlink()
        return composed

    return maps


def encode_corpus(
    files: Sequence[Path],
    tokenizer: Tokenizer,
    work_dir: Path,
    min_count: int = 5,
    max_vocab: int | None = None,
    max_sentence_words: int = MAX_SENTENCE_WORDS,
    progress: bool = True,
    vocabulary_from: Callable[[list[str], np.ndarray], tuple[Vocabulary, np.ndarray]] | None = None,
    max_vocab_memory: int | None = None,
) -> tuple[Vocabulary, EncodedCorpus]:
    """Count the words of `files`, build the vocabulary, and write the corpus as ids under `work_dir`.

    Two passes: one reading of the text finds and counts the words, writing ids in order of first
    sight (see w2v.text.counting), then the ids are renumbered by frequency with rare words dropped.
    Lines are sentences; a line longer than `max_sentence_words` words is cut into several.
    On return `tokenizer` maps words to the vocabulary's ids.
    `vocabulary_from(types, counts)`, when given, builds the vocabulary from the word types and
    their counts instead of `Vocabulary.from_counts` (continued training merges an old one in).
    `max_vocab_memory` bounds the counter's tables in bytes: past it the rarest words are pruned
    (see WordCounter), and the counts of the words left are lower bounds; a warning on stderr
    says so. The ids written before each prune are renumbered through its map at the end.
    """
    counter = WordCounter(tokenizer, max_vocab_memory)
    end_parts: list[np.ndarray] = []
    position = sentence_start = 0
    # Where each prune's renumbering starts in the raw ids; its map waits on disk.
    prune_starts: list[int] = []
    raw_path = work_dir / "types.int32"
    with (
        progress_bar("encoding", corpus_size(files), "B", progress) as bar,
        raw_path.open("wb") as raw,
    ):
        for batch, prepared in _prepared_batches(files, bar, counter):
            ids, piece_tokens = counter.run(prepared)
            raw.write(ids)
            for start, remap in counter.prunes:
                remap.tofile(work_dir / f"prune{len(prune_starts)}.int32")
                prune_starts.append(start)
            counter.prunes.clear()
            ends_line = np.fromiter((flag for _, flag in batch), dtype=np.bool_, count=len(batch))
            batch_ends, sentence_start = sentence_ends(
                position + piece_tokens, ends_line, sentence_start, max_sentence_words
            )
            end_parts.append(batch_ends)
            position += len(ids)
    types, counts = counter.words, counter.counts
    pruned_types, prune_threshold = counter.pruned, counter.threshold
    del counter
    name = files[0] if len(files) == 1 else "corpus"
    if position == 0:
        raise CorpusError(f"{name}: no words in the corpus")
    if pruned_types:
        print(
            f"warning: {name}: counting stayed within --max-vocab-memory {max_vocab_memory:,} bytes "
            f"by pruning {pruned_types:,} word types (the last prune dropped words seen at most "
            f"{prune_threshold:,} times so far): the counts left are lower bounds",
            file=sys.stderr,
        )

    if vocabulary_from is None:
        vocabulary, new_ids = Vocabulary.from_counts(types, counts, min_count, max_vocab)
    else:
        vocabulary, new_ids = vocabulary_from(types, counts)
    tokens_path = work_dir / "tokens.int32"
    old_ends = np.concatenate(end_parts) if end_parts else np.zeros(0, np.int64)
    new_ends = np.zeros_like(old_ends)
    kept_so_far = 0
    new_ids = new_ids.astype(np.int32)
    maps = _compose_prunes(new_ids, work_dir, len(prune_starts))
    # Generation g of raw ids runs from bounds[g] to bounds[g + 1] and goes through maps(g).
    bounds = [0, *prune_starts, position]
    generation, to_vocabulary = 0, maps(0)
    raw_ids = np.empty(min(position, REMAP_BLOCK), dtype=np.int32)
    mapped = np.empty(min(position, REMAP_BLOCK), dtype=np.int32)
    # Read in blocks rather than memory-mapped, so the raw ids never count as the process's memory.
    with raw_path.open("rb") as raw, tokens_path.open("wb") as out:
        for start in range(0, position, REMAP_BLOCK):
            size = min(REMAP_BLOCK, position - start)
            raw.readinto(raw_ids[:size].view(np.uint8))
            done = start
            while done < start + size:
                while bounds[generation + 1] <= done:
                    generation += 1
                    to_vocabulary = maps(generation)
                stop = min(start + size, bounds[generation + 1])
                mapped[done - start : stop - start] = to_vocabulary[
                    raw_ids[done - start : stop - start]
                ]
                done = stop
            kept = mapped[:size] >= 0
            out.write(mapped[:size][kept])
            # A sentence ending in this block moves back by the words dropped before its end.
            first, last = np.searchsorted(old_ends, [start + 1, start + size + 1])
            dropped = np.flatnonzero(~kept) + start
            new_ends[first:last] = (
                old_ends[first:last]
                - (start - kept_so_far)
                - np.searchsorted(dropped, old_ends[first:last])
            )
            kept_so_far += size - len(dropped)
    del raw_ids
    raw_path.unlink()
    # The ends, in order already, without the repeats left by sentences of rare words only.
    ends = new_ends[np.diff(new_ends, prepend=-1) != 0]
    # As many sentences as words: every sentence is one word, and training would learn nothing.
    if kept_so_far == np.count_nonzero(ends):
        raise CorpusError(
            f"{name}: no line holds two words of the vocabulary, so no word has a neighbour to "
            "learn from (context windows never cross lines)"
        )
    tokens = map_array(tokens_path, np.int32)
    set_vocabulary(tokenizer, vocabulary.words)
    return vocabulary, EncodedCorpus(
        tokens, ends[ends > 0], position, pruned_types, prune_threshold
    )
