"""Word vectors as a torch embedding layer, and raw text turned into the id tensors that layer reads.

Id layout with padding (the default): id 0 is padding (a zero row, the layer's `padding_idx`), id 1
is any word outside the vocabulary, and the vocabulary's row i is id i + 2. (A subword model gives
the words of given texts outside its vocabulary rows of their own instead: `KeyedVectors.covering`.) The unknown row starts at
zero rather than at the mean vector: a word the vectors never saw says nothing, so it adds nothing
to a sum or mean of embeddings; fine-tuning can still learn it, while padding stays zero. Without
padding the ids are the vocabulary's rows exactly, so a text must hold only known words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel

from w2v.errors import ConfigError, OutOfVocabularyError
from w2v.text.tokenizer import UNKNOWN, encode, make_tokenizer, words_of

PADDING_ID = 0
UNKNOWN_ID = 1
FIRST_WORD_ID = 2  # the id of the vocabulary's first word in the padded layout


def embedding_layer(
    vectors: torch.Tensor, freeze: bool = True, padding: bool = True
) -> torch.nn.Embedding:
    """An `nn.Embedding` holding a copy of `vectors`, with the padding and unknown rows in front if `padding`."""
    if padding:
        special_rows = torch.zeros(FIRST_WORD_ID, vectors.shape[1], dtype=vectors.dtype)
        weight = torch.cat([special_rows, vectors])
    else:
        # from_pretrained wraps the tensor it is given, so fine-tuning would edit the vectors.
        weight = vectors.clone()
    return torch.nn.Embedding.from_pretrained(
        weight, freeze=freeze, padding_idx=PADDING_ID if padding else None
    )


class TextEncoder:
    """Turns texts into padded id tensors for `embedding_layer`, with the tokenizer's normalisation."""

    def __init__(self, key_to_index: Mapping[str, int], tokenizer: Tokenizer | None = None) -> None:
        """Map words to ids by `key_to_index` after `tokenizer`'s rules (the default tokenizer's if None)."""
        self.key_to_index = key_to_index
        # A copy of the tokenizer keeps only its normaliser and pre-tokenizer, and gets a model that
        # looks words up in the padded layout natively, many texts at a time. Its added tokens go: a
        # saved tokenizer still holds "[UNK]" with its id from before the vocabulary was set.
        settings = json.loads((tokenizer or make_tokenizer()).to_str())
        settings.update(added_tokens=[], truncation=None, padding=None, post_processor=None)
        self._tokenizer = Tokenizer.from_str(json.dumps(settings))
        unknown = UNKNOWN
        while unknown in key_to_index:  # the unknown token must not be a real word
            unknown += "_"
        ids = {word: row + FIRST_WORD_ID for word, row in key_to_index.items()}
        self._tokenizer.model = WordLevel({**ids, unknown: UNKNOWN_ID}, unk_token=unknown)

    def encode(
        self, texts: str | list[str], max_length: int | None = None, padding: bool = True
    ) -> torch.Tensor:
        """The ids of `texts` as a batch x length LongTensor (one row for a single text).

        Rows are as long as the longest text, or exactly `max_length` (longer texts are cut) if
        given; shorter rows end in the padding id. With `padding=False` the ids are vocabulary rows,
        and every text must have the same length and only known words.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if max_length is not None and max_length < 1:
            raise ConfigError(f"max_length must be at least 1, not {max_length}")
        rows = [row[:max_length] for row in encode(self._tokenizer, texts)]
        lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)
        width = max_length if max_length is not None else max(lengths.tolist(), default=0)
        if not padding and (lengths != width).any():
            short = int(lengths[lengths != width][0])
            raise ConfigError(
                f"without padding every text must have {width} words, but one has {short}: "
                "use padding=True, with a layer from to_embedding(padding=True)"
            )
        ids = torch.full((len(rows), width), PADDING_ID, dtype=torch.long)
        flat = np.concatenate([np.zeros(0, dtype=np.int32), *rows])
        ids[torch.arange(width) < lengths.unsqueeze(1)] = torch.from_numpy(flat).long()
        if padding:
            return ids
        if (ids == UNKNOWN_ID).any():
            raise OutOfVocabularyError(
                "not in the vocabulary (use padding=True to map them to the unknown id, or, for a "
                "model with subwords, encode with KeyedVectors.covering(texts) to give them "
                "vectors from their n-grams): "
                + ", ".join(repr(word) for word in self.unknown_words(texts, max_length))
            )
        return ids - FIRST_WORD_ID

    def unknown_words(self, texts: list[str], max_length: int | None = None) -> list[str]:
        """The distinct words of `texts` outside the vocabulary, in order of appearance."""
        words = (word for text in texts for word in words_of(self._tokenizer, text)[:max_length])
        return list(dict.fromkeys(word for word in words if word not in self.key_to_index))
