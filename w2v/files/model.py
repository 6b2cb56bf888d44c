"""A model as its files hold it: what every reader returns and every writer takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from w2v.text.subwords import SubwordSpec
from w2v.text.tokenizer import load_tokenizer


@dataclass
class Model:
    """Words in descending frequency with their input vectors and, where known, their counts, the
    output matrix, the tokenizer and the training settings."""

    words: list[str]
    vectors: torch.Tensor  # V x D float32, row i for words[i]; memory-mapped when read
    counts: list[int] | None = None
    output_vectors: torch.Tensor | None = None  # what negative sampling trains against
    # The tokenizer, or the file to read it from when asked: parsing a million-word tokenizer
    # takes longer than opening all the rest of a model.
    tokenizer: Tokenizer | Path | None = None
    training: dict[str, Any] | None = None  # the settings it was trained with
    # A subword model's n-gram settings and its whole input matrix as fastText keeps it: the words'
    # own rows, then the bucket rows. `vectors` then holds each word's composed vector (the mean of
    # its rows), what queries and word2vec files use.
    subwords: SubwordSpec | None = None
    subword_input: torch.Tensor | None = None  # (V + bucket) x D float32

    def loaded_tokenizer(self) -> Tokenizer | None:
        """The tokenizer, read from its file if need be (and kept)."""
        if isinstance(self.tokenizer, Path):
            self.tokenizer = load_tokenizer(self.tokenizer)
        return self.tokenizer
