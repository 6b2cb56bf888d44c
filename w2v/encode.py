"""Encoding a corpus once into integer ids on disk, which every epoch then reads memory-mapped."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from w2v.corpus import corpus_size, read_pieces
from w2v.errors import CorpusError
from w2v.tokenizer import encode, learn_word_types, set_vocabulary
from w2v.vocab import Vocabulary

MAX_SENTENCE_WORDS = 10_000
BATCH_CHARS = 1 << 20
REMAP_BLOCK = 1 << 24


@dataclass
class EncodedCorpus:
    """The corpus as vocabulary ids, sentences laid end to end, with where each sentence ends."""

    tokens: np.ndarray  # int32, memory-mapped; words outside the vocabulary are already dropped
    sentence_ends: np.ndarray  # int64, offset one past the last token of each sentence
    raw_words: int  # words read, including those outside the vocabulary

    def __len__(self) -> int:
        return len(self.tokens)


def _piece_batches(
    files: Sequence[Path], progress: tqdm, warn: bool = True
) -> Iterator[list[tuple[str, bool]]]:
    """Group pieces of text into batches of about BATCH_CHARS characters for the tokenizer."""
    batch: list[tuple[str, bool]] = []
    size = 0
    for text, ends_line in read_pieces(files, warn=warn):
        batch.append((text, ends_line))
        size += len(text) + ends_line
        if size >= BATCH_CHARS:
            progress.update(size)
            yield batch
            batch, size = [], 0
    if batch:
        progress.update(size)
        yield batch


def _bar(description: str, total: int | None, show: bool) -> tqdm:
    return tqdm(total=total, desc=description, unit="B", unit_scale=True, disable=not show)


def encode_corpus(
    files: Sequence[Path],
    tokenizer: Tokenizer,
    work_dir: Path,
    min_count: int = 5,
    max_vocab: int | None = None,
    max_sentence_words: int = MAX_SENTENCE_WORDS,
    progress: bool = True,
) -> tuple[Vocabulary, EncodedCorpus]:
    """Count the words of `files`, build the vocabulary, and write the corpus as ids under `work_dir`.

    Three passes: the tokenizer learns every word type, the text is encoded to ids (their counts
    give the vocabulary), then the ids are renumbered by frequency with rare words dropped.
    Lines are sentences; a line longer than `max_sentence_words` words is cut into several.
    On return `tokenizer` maps words to the vocabulary's ids.
    """
    total = corpus_size(files)
    with _bar("counting", total, progress) as bar:
        texts = (text for batch in _piece_batches(files, bar) for text, _ in batch)
        types = learn_word_types(tokenizer, texts)
    set_vocabulary(tokenizer, types)

    counts = np.zeros(len(types), dtype=np.int64)
    sentence_ends: list[int] = []
    position = sentence_start = 0
    raw_path = work_dir / "types.int32"
    with _bar("encoding", total, progress) as bar, raw_path.open("wb") as raw:
        # The counting read above has already warned about any invalid UTF-8.
        for batch in _piece_batches(files, bar, warn=False):
            encoded = encode(tokenizer, [text for text, _ in batch])
            batch_ids = np.concatenate(encoded)
            raw.write(batch_ids.tobytes())
            counts += np.bincount(batch_ids, minlength=len(types))
            for ids, (_, ends_line) in zip(encoded, batch, strict=True):
                position += len(ids)
                while position - sentence_start > max_sentence_words:
                    sentence_start += max_sentence_words
                    sentence_ends.append(sentence_start)
                if ends_line and position > sentence_start:
                    sentence_ends.append(position)
                    sentence_start = position
    name = files[0] if len(files) == 1 else "corpus"
    if position == 0:
        raise CorpusError(f"{name}: no words in the corpus")

    vocabulary, new_ids = Vocabulary.from_counts(types, counts, min_count, max_vocab)
    tokens_path = work_dir / "tokens.int32"
    raw_ids = np.memmap(raw_path, dtype=np.int32, mode="r")
    old_ends = np.array(sentence_ends, dtype=np.int64)
    new_ends = np.zeros_like(old_ends)
    kept_so_far = 0
    with tokens_path.open("wb") as out:
        for start in range(0, position, REMAP_BLOCK):
            mapped = new_ids[raw_ids[start : start + REMAP_BLOCK]]
            kept = mapped >= 0
            kept_upto = np.cumsum(kept)
            # A sentence ending in this block ends, after dropping rare words, at the kept count so far.
            here = (old_ends > start) & (old_ends <= start + len(kept))
            new_ends[here] = kept_so_far + kept_upto[old_ends[here] - start - 1]
            kept_so_far += int(kept_upto[-1])
            out.write(mapped[kept].astype(np.int32).tobytes())
    del raw_ids
    raw_path.unlink()
    ends = np.unique(new_ends)
    # As many sentences as words: every sentence is one word, and training would learn nothing.
    if kept_so_far == np.count_nonzero(ends):
        raise CorpusError(
            f"{name}: no line holds two words of the vocabulary, so no word has a neighbour to "
            "learn from (context windows never cross lines)"
        )
    tokens = (
        np.memmap(tokens_path, dtype=np.int32, mode="r") if ends[-1] > 0 else np.zeros(0, np.int32)
    )
    set_vocabulary(tokenizer, vocabulary.words)
    return vocabulary, EncodedCorpus(tokens, ends[ends > 0], position)
