"""Word vectors and the similarity and analogy queries run on them, with gensim's semantics.

A subword model (fastText's, read from its .bin files or trained with --subwords) also answers for
words outside its vocabulary: such a word's vector is the mean of its character n-grams' rows, as
fastText's get_word_vector gives it (zero for a word with no n-gram of --minn to --maxn characters).
"""

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
from w2v.text.subwords import SubwordSpec, composed_vectors, subword_rows
from w2v.text.tokenizer import load_tokenizer

# Levy and Goldberg's epsilon, as in gensim, keeps 3CosMul finite when a negative word is
# diametrically opposite a candidate.
COSMUL_EPSILON = 1e-6
# Queries scored per matrix product: 256 queries x 80,000 words of float32 scores is 82 MB.
_BATCH_QUERIES = 256
# A query of a matrix with more values than this scans half-precision unit vectors (half the
# bytes to read: a 1,000,000 x 300 scan takes 55 to 80 ms instead of 140 to 160 here), then scores
# its best HALF_SCAN_SLACK more candidates than asked for again in single precision, so the
# answers and their cosines are the exact ones unless half precision's rounding (about 1e-3 of a
# cosine) moves a word past that many others.
HALF_SCAN_VALUES = 50_000_000
HALF_SCAN_SLACK = 64
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
    `subwords` and `subword_input`, a subword model's n-gram settings and (V + bucket) x D input
    matrix, give words outside the vocabulary vectors too (`vector_for`); every query takes them.
    """

    def __init__(
        self,
        words: list[str],
        vectors: torch.Tensor,
        counts: list[int] | None = None,
        tokenizer: Tokenizer | Path | None = None,
        output_vectors: torch.Tensor | None = None,
        training: dict[str, Any] | None = None,
        subwords: SubwordSpec | None = None,
        subword_input: torch.Tensor | None = None,
    ) -> None:
        """Take row i of `vectors` as the vector of `words[i]`; `counts` are their frequencies,
        `tokenizer` the text rules they were trained with (or the file to read them from when
        first needed), `output_vectors` the output matrix, `training` the settings, and
        `subwords` with `subword_input` a subword model's n-gram settings and input matrix."""
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
        if (subwords is None) != (subword_input is None):
            raise ConfigError("a subword model needs both its n-gram settings and its input matrix")
        if subword_input is not None and tuple(subword_input.shape) != (
            len(self.words) + subwords.bucket,
            self.dim,
        ):
            raise ConfigError(
                f"a subword input matrix of shape {tuple(subword_input.shape)} does not fit "
                f"{len(self.words)} words + {subwords.bucket} buckets of {self.dim} dimensions"
            )
        self.subwords = subwords
        self.subword_input = subword_input

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
            model.subwords,
            model.subword_input,
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
            self.subwords,
            self.subword_input,
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
        self._half_units: torch.Tensor | None = None

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
        return self.vector_for(word)

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, {self.dim} dimensions)"

    def index_of(self, word: str) -> int:
        """The row of `word`; raises OutOfVocabularyError if it has none (a word outside the
        vocabulary has none, even when the model has subwords to build its vector)."""
        try:
            return self.key_to_index[word]
        except KeyError:
            raise OutOfVocabularyError(
                "not in the vocabulary: " + name_missing([word], self.words)
            ) from None

    def vector_for(self, word: str) -> torch.Tensor:
        """The vector of `word`: its row, or for a word outside the vocabulary the mean of its
        n-grams' rows (zero if it has none), when the model has subwords; OutOfVocabularyError
        otherwise."""
        row = self.key_to_index.get(word)
        return self._vectors[row] if row is not None else self.vectors_for([word])[0]

    def vectors_for(self, words: Sequence[str]) -> torch.Tensor:
        """The vectors of `words`, one row each, as `vector_for` gives them, in one pass over the
        n-grams of those outside the vocabulary; OutOfVocabularyError naming every word that has
        none (every word outside the vocabulary, when the model has no subwords)."""
        words = list(words)
        rows = torch.tensor([self.key_to_index.get(word, -1) for word in words], dtype=torch.long)
        outside = (rows < 0).nonzero().squeeze(1).tolist()
        if outside and self.subwords is None:
            raise self._not_in_vocabulary(list(dict.fromkeys(words[i] for i in outside)))
        vectors = self._vectors[rows.clamp(min=0)]
        if outside:
            vectors[outside] = self._ngram_vectors([words[i] for i in outside])
        return vectors

    def _ngram_vectors(self, words: list[str]) -> torch.Tensor:
        """Words outside the vocabulary as fastText composes them: the mean of their n-grams' rows."""
        starts, rows = subword_rows(words, self.subwords, len(self.words), own_rows=False)
        return torch.from_numpy(composed_vectors(self.subword_input.numpy(), starts, rows))

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
        limit = self.search_limit(restrict_vocab)
        return self._best(self._cosines(query, limit, topn + len(query_rows)), query_rows, topn)

    def _cosines(self, query: torch.Tensor, limit: int, wanted: int) -> torch.Tensor:
        """The cosines of the first `limit` words to the unit vector `query`: all of them
        exact, or for a large matrix the best `wanted` (and HALF_SCAN_SLACK more) exact and the
        rest -inf, found by a half-precision scan."""
        candidates = self.unit_vectors()[:limit]
        if candidates.numel() <= HALF_SCAN_VALUES or wanted + HALF_SCAN_SLACK >= limit:
            return candidates @ query
        if self._half_units is None:
            self._half_units = self.unit_vectors().half()
        rough = (self._half_units[:limit] @ query.half()).float()
        rows = torch.topk(rough, wanted + HALF_SCAN_SLACK).indices
        scores = torch.full((limit,), float("-inf"))
        scores[rows] = candidates[rows] @ query
        return scores

    def most_similar_batch(
        self, words: Sequence[str], topn: int = 10, restrict_vocab: int | None = None
    ) -> list[list[tuple[str, float]]]:
        """`most_similar(word)` for each of many words, in a few matrix products instead of one
        pass over the whole matrix per word (one pass is as slow as reading the matrix)."""
        if topn < 1:
            raise ConfigError(f"topn must be at least 1, not {topn}")
        words = list(words)
        query_units, rows = self._units_of(words)
        candidates = self.unit_vectors()[: self.search_limit(restrict_vocab)]
        answers: list[list[tuple[str, float]]] = []
        for start in range(0, len(rows), _BATCH_QUERIES):
            # A word outside the vocabulary has row -1, inside no candidate rows.
            batch = torch.tensor(rows[start : start + _BATCH_QUERIES], dtype=torch.long)
            scores = query_units[start : start + _BATCH_QUERIES] @ candidates.T
            # A word is never its own answer.
            inside = (batch >= 0) & (batch < len(candidates))
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
        units, _ = self._units_of([a, b])
        return float(units[0] @ units[1])

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
        units, _ = self._units_of(words)
        cosines = units @ _unit(units.mean(dim=0))
        # gensim sorts (cosine, word) pairs, so a tie goes to the word first in sort order.
        return min(zip(cosines.tolist(), words, strict=True))[1]

    def similar_by_vector(
        self, vector: torch.Tensor, topn: int = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]]:
        """The `topn` words with the highest cosine to `vector` (a tensor or array), best first."""
        return self.most_similar(torch.as_tensor(vector), topn=topn, restrict_vocab=restrict_vocab)

    def covering(self, texts: str | list[str]) -> KeyedVectors:
        """These vectors with every word of `texts` outside the vocabulary added after the others
        (so every id stays), its vector from its n-grams: `encode(texts)` and `to_embedding()` of
        the result give each word a vector of its own. The result is for encoding and embedding:
        it keeps the tokenizer and the counts (0 for the words added), not the output vectors,
        the settings or the n-gram rows. OutOfVocabularyError when the model has no subwords."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if self._text_encoder is None:
            self._text_encoder = TextEncoder(self.key_to_index, self.tokenizer)
        added = self._text_encoder.unknown_words(texts)
        vectors = torch.cat([self._vectors, self.vectors_for(added)]) if added else self._vectors
        counts = None if self.counts is None else self.counts + [0] * len(added)
        return KeyedVectors(self.words + added, vectors, counts, self._tokenizer)

    def save(self, path: str | os.PathLike, word2vec: bool = False) -> Written:
        """Write everything these vectors carry to `path`, in the format its name asks for: word2vec
        text for .txt or .vec, binary for .bin (counts and tokenizer beside them), but fastText's
        format for a subword model to a .bin name unless `word2vec`, else a native model folder
        (see `w2v.files.store`)."""
        return write_model(path, self.to_model(), word2vec=word2vec)

    def _not_in_vocabulary(self, missing: list[str]) -> OutOfVocabularyError:
        """An error naming the `missing` words, each with the closest spelling in the vocabulary."""
        # Only a model without subwords refuses a word outside its vocabulary.
        return OutOfVocabularyError(
            f"not in the vocabulary: {name_missing(missing, self.words)} (the model has no "
            "subwords to build one from)"
        )

    def _units_of(self, words: list[str]) -> tuple[torch.Tensor, list[int]]:
        """The unit vectors of `words` and each one's row (-1 for a word outside the vocabulary,
        whose vector comes from its n-grams); OutOfVocabularyError as `vectors_for`."""
        rows = [self.key_to_index.get(word, -1) for word in words]
        if -1 not in rows:
            return self.unit_vectors()[rows], rows
        vectors = self.vectors_for(words)
        norms = torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
        return vectors / torch.where(norms > 0, norms, 1.0), rows

    def _query_units(
        self, positive: str | Sequence[str] | torch.Tensor, negative: str | Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """The unit vectors of the positive and of the negative terms, and the rows of the query
        words, which the results leave out; a tensor `positive` is a query vector, not a word."""
        negative_words = _word_list(negative)
        if isinstance(positive, torch.Tensor):
            negative_units, rows = self._units_of(negative_words)
            positive_units = _unit(self._as_query_vector(positive)).unsqueeze(0)
        else:
            positive_words = _word_list(positive)
            units, rows = self._units_of(positive_words + negative_words)
            positive_units, negative_units = (
                units[: len(positive_words)],
                units[len(positive_words) :],
            )
        return positive_units, negative_units, [row for row in rows if row >= 0]

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


def load(
    path: str | os.PathLike, unicode_errors: str = "strict", no_header: bool | None = None
) -> KeyedVectors:
    """Load word vectors from a native model folder (memory-mapped, with everything it holds), a
    fastText .bin model (its matrices memory-mapped, its n-grams giving vectors to words outside
    the vocabulary), or a word2vec binary or text file (the format is detected, and a GloVe text
    file without a header line too) with the tokenizer and counts saved beside it when they are
    there; `unicode_errors` and `no_header` as `w2v.files.store.read_model`'s."""
    return KeyedVectors.from_model(
        read_model(path, unicode_errors=unicode_errors, no_header=no_header)
    )


def _word_list(words: str | Sequence[str]) -> list[str]:
    return [words] if isinstance(words, str) else list(words)


def _unit(vector: torch.Tensor) -> torch.Tensor:
    norm = torch.linalg.vector_norm(vector)
    return vector / norm if norm > 0 else vector
