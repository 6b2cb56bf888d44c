"""The vocabulary: words with their corpus counts, ids in descending frequency."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from w2v.errors import ConfigError, FormatError, VocabularyError
from w2v.fileio import atomic_write


@dataclass
class Vocabulary:
    """Words kept for training, most frequent first, with how often each occurs in the corpus."""

    words: list[str]
    counts: np.ndarray  # int64, descending, aligned with words

    def __len__(self) -> int:
        return len(self.words)

    @property
    def total(self) -> int:
        """Occurrences of all kept words: the corpus length training sees before subsampling."""
        return int(self.counts.sum())

    @classmethod
    def from_counts(
        cls, words: list[str], counts: np.ndarray, min_count: int = 5, max_vocab: int | None = None
    ) -> tuple[Vocabulary, np.ndarray]:
        """Keep words seen at least `min_count` times (the `max_vocab` most frequent if given).

        Returns the vocabulary and, for each input word, its new id or -1 if it was dropped.
        Ties in count are broken alphabetically so the ids never depend on reading order.
        """
        if min_count < 1:
            raise ConfigError(f"--min-count must be at least 1, got {min_count}")
        if max_vocab is not None and max_vocab < 1:
            raise ConfigError(f"--max-vocab must be at least 1, got {max_vocab}")
        counts = np.asarray(counts, dtype=np.int64)
        # Alphabetically, then stably by descending count: only the words that can be kept.
        frequent = sorted(np.flatnonzero(counts >= min_count).tolist(), key=words.__getitem__)
        kept = np.array(frequent, dtype=np.int64)
        kept = kept[np.argsort(-counts[kept], kind="stable")]
        if max_vocab is not None:
            kept = kept[:max_vocab]
        if kept.size == 0:
            most = int(counts.max()) if counts.size else 0
            raise VocabularyError(
                f"no word occurs {min_count} times or more (the most frequent occurs {most} times): "
                f"use --min-count {max(most, 1)} or lower, or a larger corpus"
            )
        new_ids = np.full(len(words), -1, dtype=np.int64)
        new_ids[kept] = np.arange(kept.size)
        return cls([words[i] for i in kept], counts[kept]), new_ids

    def keep_probabilities(self, sample: float) -> torch.Tensor:
        """word2vec's chance of keeping each occurrence of a word when subsampling frequent words.

        With threshold t = sample * total, a word seen c times is kept with probability
        (sqrt(c / t) + 1) * t / c, capped at 1; sample=0 keeps everything.
        """
        counts = torch.from_numpy(self.counts).double()
        if sample <= 0:
            return torch.ones(len(self), dtype=torch.float32)
        threshold = sample * self.total
        keep = ((counts / threshold).sqrt() + 1) * threshold / counts
        return keep.clamp(max=1.0).float()

    def save(self, path: str | Path) -> None:
        """Write `word count` lines, the word2vec tool's -save-vocab format."""
        lines = "".join(
            f"{word} {count}\n"
            for word, count in zip(self.words, self.counts.tolist(), strict=True)
        )
        atomic_write(path, lines.encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a `word count` file written by `save` or by the word2vec tool."""
        words, counts = [], []
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise FormatError(f"{path}: cannot read vocabulary ({error})") from None
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        # Lines end at "\n" alone: a word may hold U+2028 or U+001C, which splitlines() breaks at.
        for number, line in enumerate(lines, 1):
            word, _, count = line.removesuffix("\r").rpartition(" ")
            # More than 18 digits would not fit the int64 counts.
            if not word or not count.isdigit() or len(count) > 18:
                raise FormatError(f"{path}: line {number} is not 'word count'")
            words.append(word)
            counts.append(int(count))
        return cls(words, np.array(counts, dtype=np.int64))
