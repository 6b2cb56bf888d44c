"""Word vectors and the similarity and analogy queries run on them, with gensim's semantics."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from w2v.errors import ConfigError, OutOfVocabularyError
from w2v.files.model import Model
from w2v.files.store import Written, read_model, write_model
from w2v.query.embedding import TextEncoder, embedding_layer
from w2v.text.tokenizer import load_tokenizer

# Levy and Goldberg's epsilon, as in gensim, keeps 3CosMul finite when a negative word is
# diametrically opposite a candidate.
COSMUL_EPSILON = 1e-6
# Queries scored per matrix product: 256 queries x 80,000 words of float32 scores is 82 MB.
_BATCH_QUERIES = 256
# Spelling suggestions come from the most frequent words only, which keeps a miss fast in a large
# vocabulary (difflib compares the word with every candidate).
SUGGESTION_CANDIDATES = 50_000


class KeyedVectors:
    """Word vectors with their vocabulary, in descending frequency order, and the queries people
    run on them.

    Queries use unit vectors cached from `vectors`; assigning to `vectors` refreshes them, so after
    editing the tensor in place assign it back (`kv.vectors = kv.vectors`).
    `tokenizer` holds the text rules that `encode` applies (the default tokenizer's when None).
    `output_vectors` and `training`, when known, are kept so that `save` writes the whole model.
    """

    def __init__(
        self,
        words: list[str],
        vectors: torch.Tensor,
        counts: list[int] | None = None,
        tokenizer: Tokenizer | Path | None = None,
        output_vectors: torch.Tensor | None = None,
        training: dict[str, Any] | None = None,
    ) -> None:
        """Take row i of `vectors` as the vector of `words[i]`; `counts` are their frequencies,
        `tokenizer` the text rules they were trained with (or the file to read them from when
        first needed), `output_vectors` the output matrix and `training` the settings."""
        self.words = list(words)
        self.key_to_index = {word: index for index, word in enumerate(self.words)}
        if len(self.key_to_index) != len(self.words):
            # key_to_index keeps the last row of a repeated word, so its first row does not match.
            repeated = next(
                word for row, word in enumerate(self.words) if self.key_to_index[word] != row
            )
            raise ConfigError(f"the word {repeated!r} appears more than once in the vocabulary")
        if counts is not None and len(counts) != len(self.words):
            raise ConfigError(f"{len(counts)} counts for {len(self.words)} words")
        self.counts = None if counts is None else list(counts)
        self.vectors = vectors
        self.output_vectors = output_vectors
        self.training = training
        self.tokenizer = tokenizer

    @classmethod
    def from_model(cls, model: Model) -> KeyedVectors:
        """The vectors of `model`, keeping all else it holds."""
        return cls(
            model.words,
            model.vectors,
            model.counts,
            model.tokenizer,
            model.output_vectors,
            model.training,
        )

    def to_model(self) -> Model:
        """Everything these vectors carry, as the model files hold it."""
        return Model(
            self.words,
            self._vectors,
            self.counts,
            self.output_vectors,
            self._tokenizer,
            self.training,
        )

    @property
    def vectors(self) -> torch.Tensor:
        """The V x D float32 matrix, row i for `words[i]`."""
        return self._vectors

    @vectors.setter
    def vectors(self, vectors: torch.Tensor) -> None:
        vectors = torch.as_tensor(vectors).detach().to(device="cpu", dtype=torch.float32)
        if vectors.dim() != 2 or vectors.shape[0] != len(self.words):
            raise ConfigError(
                f"vectors of shape {tuple(vectors.shape)} do not fit {len(self.words)} words"
            )
        self._vectors = vectors
        self._unit_vectors: torch.Tensor | None = None

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The tokenizer the vectors were trained with, whose normalisation `encode` applies."""
        if isinstance(self._tokenizer, Path):
            # Read on first use: parsing a million-word tokenizer takes longer than opening all
            # the rest of a model folder.
            self._tokenizer = load_tokenizer(self._tokenizer)
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, tokenizer: Tokenizer | Path | None) -> None:
        self._tokenizer = tokenizer
        self._text_encoder: TextEncoder | None = None

    @property
    def dim(self) -> int:
        """The number of dimensions of each vector."""
        return self._vectors.shape[1]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __getitem__(self, word: str) -> torch.Tensor:
        return self._vectors[self.index_of(word)]

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, {self.dim} dimensions)"

    def index_of(self, word: str) -> int:
        """The row of `word`; raises OutOfVocabularyError if it has none."""
        try:
            return self.key_to_index[word]
        except KeyError:
            raise self._not_in_vocabulary([word]) from None

    def unit_vectors(self) -> torch.Tensor:
        """The vectors scaled to unit length (zero vectors stay zero), computed once and cached."""
        if self._unit_vectors is None:
            norms = torch.linalg.vector_norm(self._vectors, dim=1, keepdim=True)
            self._unit_vectors = self._vectors / torch.where(norms > 0, norms, 1.0)
        return self._unit_vectors

    def most_similar(
        self,
        positive: str | Sequence[str] | torch.Tensor = (),
        negative: str | Sequence[str] = (),
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """The `topn` words with the highest cosine to the normalised mean of the positive unit
        vectors and the negated negative ones, best first, leaving out the query words."""
        positive_units, negative_units, query_rows = self._query_units(positive, negative)
        if len(positive_units) + len(negative_units) == 0:
            raise ConfigError("most_similar needs at least one positive or negative word")
        query = _unit(torch.cat([positive_units, -negative_units]).mean(dim=0))
        candidates = self.unit_vectors()[: self.search_limit(restrict_vocab)]
        return self._best(candidates @ query, query_rows, topn)

    def most_similar_batch(
        self, words: Sequence[str], topn: int = 10, restrict_vocab: int | None = None
    ) -> list[list[tuple[str, float]]]:
        """`most_similar(word)` for each of many words, in a few matrix products instead of one
        pass over the whole matrix per word (one pass is as slow as reading the matrix)."""
        if topn < 1:
            raise ConfigError(f"topn must be at least 1, not {topn}")
        rows = self._rows_of(list(words))
        units = self.unit_vectors()
        candidates = units[: self.search_limit(restrict_vocab)]
        answers: list[list[tuple[str, float]]] = []
        for start in range(0, len(rows), _BATCH_QUERIES):
            batch = torch.tensor(rows[start : start + _BATCH_QUERIES])
            scores = units[batch] @ candidates.T
            # A word is never its own answer.
            inside = batch < len(candidates)
            scores[inside.nonzero().squeeze(1), batch[inside]] = float("-inf")
            values, best = torch.topk(scores, min(topn, len(candidates)), dim=1)
            answers += [
                [
                    (self.words[row], value)
                    for row, value in zip(found, found_values, strict=True)
                    if value > float("-inf")
                ]
                for found, found_values in zip(best.tolist(), values.tolist(), strict=True)
            ]
        return answers

    def most_similar_cosmul(
        self,
        positive: str | Sequence[str] | torch.Tensor = (),
        negative: str | Sequence[str] = (),
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """The `topn` words ranked by Levy and Goldberg's multiplicative objective (3CosMul),
        best first, leaving out the query words."""
        positive_units, negative_units, query_rows = self._query_units(positive, negative)
        if len(positive_units) == 0:
            raise ConfigError("most_similar_cosmul needs at least one positive word")
        candidates = self.unit_vectors()[: self.search_limit(restrict_vocab)]
        # Cosines are shifted from [-1, 1] into [0, 1] so that products and quotients of them
        # rank candidates sensibly (Levy and Goldberg 2014, footnote 7).
        shifted = (candidates @ torch.cat([positive_units, negative_units]).T + 1) / 2
        numerator = shifted[:, : len(positive_units)].prod(dim=1)
        denominator = shifted[:, len(positive_units) :].prod(dim=1) + COSMUL_EPSILON
        return self._best(numerator / denominator, query_rows, topn)

    def similarity(self, a: str, b: str) -> float:
        """The cosine similarity of the vectors of words `a` and `b`."""
        row_a, row_b = self._rows_of([a, b])
        unit_vectors = self.unit_vectors()
        return float(unit_vectors[row_a] @ unit_vectors[row_b])

    def analogy(
        self,
        a: str,
        b: str,
        c: str,
        topn: int = 10,
        method: str = "3cosadd",
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Words x closest to a - b + c (king - man + woman: queen), by 3CosAdd or 3CosMul."""
        if method == "3cosadd":
            return self.most_similar([a, c], [b], topn=topn, restrict_vocab=restrict_vocab)
        if method == "3cosmul":
            return self.most_similar_cosmul([a, c], [b], topn=topn, restrict_vocab=restrict_vocab)
        raise ConfigError(f"unknown analogy method {method!r}: use '3cosadd' or '3cosmul'")

    def to_embedding(self, freeze: bool = True, padding: bool = True) -> torch.nn.Embedding:
        """A torch embedding layer initialised from the vectors, frozen or trainable; with `padding`,
        row 0 is padding and row 1 the unknown word, both zero (layout in `w2v.query.embedding`)."""
        return embedding_layer(self._vectors, freeze=freeze, padding=padding)

    def encode(
        self, texts: str | list[str], max_length: int | None = None, padding: bool = True
    ) -> torch.Tensor:
        """The batch x length LongTensor of ids that `to_embedding(padding=padding)` reads for
        `texts`, normalised and split by `tokenizer` as in training."""
        if self._text_encoder is None:
            self._text_encoder = TextEncoder(self.key_to_index, self.tokenizer)
        return self._text_encoder.encode(texts, max_length=max_length, padding=padding)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word of `words` furthest from the mean of their unit vectors (gensim's doesnt_match)."""
        words = _word_list(words)
        if not words:
            raise ConfigError("doesnt_match needs at least one word")
        units = self.unit_vectors()[self._rows_of(words)]
        cosines = units @ _unit(units.mean(dim=0))
        # gensim sorts (cosine, word) pairs, so a tie goes to the word first in sort order.
        return min(zip(cosines.tolist(), words, strict=True))[1]

    def similar_by_vector(
        self, vector: torch.Tensor, topn: int = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]]:
        """The `topn` words with the highest cosine to `vector` (a tensor or array), best first."""
        return self.most_similar(torch.as_tensor(vector), topn=topn, restrict_vocab=restrict_vocab)

    def save(self, path: str | os.PathLike) -> Written:
        """Write everything these vectors carry to `path`, in the format its name asks for: word2vec
        text for .txt or .vec, binary for .bin (counts and tokenizer beside them), else a native
        model folder (see `w2v.files.store`)."""
        return write_model(path, self.to_model())

    def _rows_of(self, words: list[str]) -> list[int]:
        """The rows of `words`; raises OutOfVocabularyError naming every missing word at once."""
        missing = [word for word in dict.fromkeys(words) if word not in self.key_to_index]
        if missing:
            raise self._not_in_vocabulary(missing)
        return [self.key_to_index[word] for word in words]

    def _not_in_vocabulary(self, missing: list[str]) -> OutOfVocabularyError:
        """An error naming the `missing` words, each with the closest spelling in the vocabulary."""
        return OutOfVocabularyError("not in the vocabulary: " + name_missing(missing, self.words))

    def _query_units(
        self, positive: str | Sequence[str] | torch.Tensor, negative: str | Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """The unit vectors of the positive and of the negative terms, and the rows of the query
        words, which the results leave out; a tensor `positive` is a query vector, not a word."""
        negative_words = _word_list(negative)
        if isinstance(positive, torch.Tensor):
            query_rows = self._rows_of(negative_words)
            positive_units = _unit(self._as_query_vector(positive)).unsqueeze(0)
        else:
            positive_words = _word_list(positive)
            query_rows = self._rows_of(positive_words + negative_words)
            positive_units = self.unit_vectors()[query_rows[: len(positive_words)]]
        negative_units = self.unit_vectors()[query_rows[len(query_rows) - len(negative_words) :]]
        return positive_units, negative_units, query_rows

    def _as_query_vector(self, vector: torch.Tensor) -> torch.Tensor:
        vector = vector.detach().to(device="cpu", dtype=torch.float32)
        if vector.shape != (self.dim,):
            raise ConfigError(
                f"a query vector must have shape ({self.dim},), not {tuple(vector.shape)}"
            )
        return vector

    def search_limit(self, restrict_vocab: int | None) -> int:
        """How many of the most frequent rows a query searches: all, or the first `restrict_vocab`."""
        if restrict_vocab is None:
            return len(self.words)
        if restrict_vocab < 1:
            raise ConfigError(f"restrict_vocab must be at least 1, not {restrict_vocab}")
        return min(restrict_vocab, len(self.words))

    def _best(
        self, scores: torch.Tensor, query_rows: list[int], topn: int
    ) -> list[tuple[str, float]]:
        """The `topn` highest-scoring words other than the query words, best first."""
        if topn < 1:
            raise ConfigError(f"topn must be at least 1, not {topn}")
        excluded = {row for row in query_rows if row < len(scores)}
        # Sinking the query words to the bottom means the top topn holds every word to return.
        scores[list(excluded)] = float("-inf")
        values, rows = torch.topk(scores, min(topn, len(scores)))
        return [
            (self.words[row], value)
            for value, row in zip(values.tolist(), rows.tolist(), strict=True)
            if row not in excluded
        ]


def name_missing(missing: Sequence[str], vocabulary: Sequence[str]) -> str:
    """The `missing` words quoted, each with the closest spelling among the most frequent words."""
    candidates = vocabulary[:SUGGESTION_CANDIDATES]
    named = []
    for word in missing:
        close = difflib.get_close_matches(word, candidates, n=1)
        named.append(f"{word!r} (did you mean {close[0]!r}?)" if close else repr(word))
    return ", ".join(named)


def load(path: str | os.PathLike, unicode_errors: str = "strict") -> KeyedVectors:
    """Load word vectors from a native model folder (memory-mapped, with everything it holds), or
    from a word2vec binary or text file (the format is detected) with the tokenizer and counts
    saved beside it when they are there; `unicode_errors` as `w2v.files.store.read_model`."""
    return KeyedVectors.from_model(read_model(path, unicode_errors=unicode_errors))


def _word_list(words: str | Sequence[str]) -> list[str]:
    return [words] if isinstance(words, str) else list(words)


def _unit(vector: torch.Tensor) -> torch.Tensor:
    norm = torch.linalg.vector_norm(vector)
    return vector / norm if norm > 0 else vector
