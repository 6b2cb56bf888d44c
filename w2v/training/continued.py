"""Continued training: a saved native model trained on with new text (`train --init MODEL`).

The model folder gives both weight matrices, the vocabulary with its counts, the tokenizer and the
settings it was trained with. The new text is tokenized with the model's tokenizer and counted; the
vocabulary becomes the old words (counts: old + new) and the new words seen at least `min_count`
times in the new text, all sorted again by the merged counts (ties alphabetically, as
`Vocabulary.from_counts` does), so ids stay in descending frequency as word2vec files expect. Both
matrices are permuted to the new ids; a new word's input vector starts as word2vec starts one,
uniform in [-0.5/dim, 0.5/dim) from a generator seeded with `seed`, its output vector at zero.
Subsampling and the noise distribution then follow the merged counts, and the learning rate falls
from alpha again.

A subword model goes on with its n-gram settings and its bucket rows as they are: the old words'
own rows move to their new ids, a new word's own row starts uniform in [-1/dim, 1/dim) as fastText
starts one, and the bucket rows follow the words' rows unchanged.

A word2vec file cannot be continued: it holds the input vectors only, not the output matrix that
negative sampling trains against.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from w2v.errors import ConfigError
from w2v.text.subwords import SubwordSpec
from w2v.text.tokenizer import make_tokenizer
from w2v.text.vocab import Vocabulary
from w2v.training.config import TrainConfig

# How to run, not what to train: taken from this run (or this machine's defaults), not the model.
RUN_SETTINGS = frozenset(
    {"threads", "device", "kernel", "sync_every", "reproducible", "thread_regions"}
)
# Fixed by the model's saved tokenizer, which the new text is read with.
TOKENIZER_SETTINGS = ("tokenizer", "lowercase")


@dataclass
class InitialModel:
    """A saved model to train on from: its vocabulary, both matrices, tokenizer and settings."""

    path: Path
    vocabulary: Vocabulary
    input_vectors: torch.Tensor  # memory-mapped from the folder
    output_vectors: torch.Tensor
    tokenizer: Tokenizer
    training: dict[str, Any] | None  # the settings it was trained with, when known
    subwords: SubwordSpec | None = None  # a subword model's n-gram settings
    subword_input: torch.Tensor | None = None  # and its whole input matrix, (V + bucket) x D

    @property
    def dim(self) -> int:
        return self.input_vectors.shape[1]

    @classmethod
    def start(
        cls,
        path: Path,
        words: list[str],
        counts: list[int] | None,
        input_vectors: torch.Tensor,
        output_vectors: torch.Tensor | None,
        tokenizer: Tokenizer | None,
        training: dict[str, Any] | None,
        subwords: SubwordSpec | None = None,
        subword_input: torch.Tensor | None = None,
    ) -> InitialModel:
        """The model read from `path` to train on from; ConfigError, in one line, for what cannot
        be continued: a model without output vectors (a word2vec file) or without counts."""
        if output_vectors is None:
            raise ConfigError(
                f"--init {path}: the model holds no output vectors (a word2vec file, or a folder "
                "converted from one), so training cannot go on from it: train with a native model folder as output "
                "(-o model/) and --init that"
            )
        if counts is None:
            raise ConfigError(
                f"--init {path}: the model's word counts are unknown, and continued training "
                "merges them with the new text's: train with -o model/ and --init that"
            )
        if tokenizer is None:
            settings = training or {}
            tokenizer = make_tokenizer(
                settings.get("tokenizer", "words"), settings.get("lowercase", True)
            )
        if (subwords is None) != (subword_input is None):
            raise ConfigError(
                f"--init {path}: the model has n-gram settings without its n-gram rows, or rows "
                "without settings"
            )
        vocabulary = Vocabulary(words, np.asarray(counts, dtype=np.int64))
        return cls(
            path,
            vocabulary,
            input_vectors,
            output_vectors,
            tokenizer,
            training,
            subwords,
            subword_input,
        )

    def config(self, given: dict[str, Any] | None = None) -> TrainConfig:
        """The model's training settings with `given` on top (threads, device and kernel are this
        run's); ConfigError for a dim or tokenizer that differs from the model's, and for saved
        settings of the wrong type or out of range, naming the model's config.json."""
        given = dict(given or {})
        names = {field.name for field in fields(TrainConfig)}
        saved = {
            name: value
            for name, value in (self.training or {}).items()
            if name in names and name not in RUN_SETTINGS
        }
        saved["dim"] = self.dim
        if self.subwords is not None:
            saved.update(
                subwords=True,
                minn=self.subwords.minn,
                maxn=self.subwords.maxn,
                bucket=self.subwords.bucket,
            )
        try:
            TrainConfig(**saved).validate()
        except ConfigError as error:
            raise ConfigError(
                f"--init {self.path}: the training settings in its config.json: {error}"
            ) from None
        config = replace(TrainConfig(**saved), **given)
        self.check(config)
        return config

    def check(self, config: TrainConfig) -> None:
        """ConfigError if `config` cannot train on from this model: another dim or tokenizer."""
        if config.dim != self.dim:
            raise ConfigError(
                f"--init {self.path}: the model has {self.dim} dimensions, this run asks for "
                f"--dim {config.dim}: leave --dim out to keep the model's"
            )
        for name in TOKENIZER_SETTINGS if self.training else ():
            if name in self.training and getattr(config, name) != self.training[name]:
                option = "--no-lowercase" if name == "lowercase" else f"--{name}"
                raise ConfigError(
                    f"--init {self.path}: the model was trained with {name} "
                    f"{self.training[name]!r}, this run asks for {getattr(config, name)!r}: "
                    f"the new text is read with the model's tokenizer, so leave {option} out"
                )
        spec = config.subword_spec()
        if self.subwords is None and spec is not None:
            raise ConfigError(
                f"--init {self.path}: the model holds no n-gram rows, this run asks for "
                "--subwords: leave --subwords out, or train a subword model afresh"
            )
        if self.subwords is not None and spec != self.subwords:
            model = self.subwords
            raise ConfigError(
                f"--init {self.path}: the model has n-grams of {model.minn} to {model.maxn} "
                f"characters in {model.bucket:,} buckets, this run asks for "
                + (
                    "words only"
                    if spec is None
                    else f"{spec.minn} to {spec.maxn} in {spec.bucket:,}"
                )
                + ": leave --subwords, --minn, --maxn and --bucket out to keep the model's"
            )

    def merge(
        self, types: list[str], counts: np.ndarray, min_count: int, max_vocab: int | None
    ) -> tuple[Vocabulary, np.ndarray]:
        """The merged vocabulary for new text with word types `types` seen `counts` times, and
        each type's id in it (-1 for a new word under `min_count`), as `Vocabulary.from_counts`.

        Old words all stay, whatever their count; new words seen at least `min_count` times join,
        the most frequent first while the vocabulary is under `max_vocab` words.
        """
        old = self.vocabulary
        old_ids = {word: index for index, word in enumerate(old.words)}
        counts = np.asarray(counts, dtype=np.int64)
        type_old = np.fromiter((old_ids.get(word, -1) for word in types), np.int64, len(types))
        known = type_old >= 0
        merged = old.counts.astype(np.int64)  # a copy
        merged[type_old[known]] += counts[known]  # types are distinct, so no index repeats
        fresh = np.flatnonzero(~known & (counts >= min_count))
        if max_vocab is not None:
            by_count = np.lexsort(
                (np.array([types[i] for i in fresh], dtype=object), -counts[fresh])
            )
            fresh = fresh[by_count[: max(max_vocab - len(old), 0)]]
        words = old.words + [types[i] for i in fresh]
        all_counts = np.concatenate([merged, counts[fresh]])
        order = np.lexsort((np.array(words, dtype=object), -all_counts))
        position = np.empty(len(words), dtype=np.int64)
        position[order] = np.arange(len(words))
        new_ids = np.full(len(types), -1, dtype=np.int64)
        new_ids[known] = position[type_old[known]]
        new_ids[fresh] = position[len(old) + np.arange(len(fresh))]
        return Vocabulary([words[i] for i in order], all_counts[order]), new_ids

    def matrices(self, vocabulary: Vocabulary, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Both matrices for `vocabulary`: old words' rows moved to their new ids, new words'
        input rows uniform in [-0.5/dim, 0.5/dim) from a generator seeded with `seed` (a subword
        model's in [-1/dim, 1/dim), its bucket rows after them as they are), output rows zero."""
        old_ids = {word: index for index, word in enumerate(self.vocabulary.words)}
        rows = torch.tensor([old_ids.get(word, -1) for word in vocabulary.words], dtype=torch.long)
        old = rows >= 0
        dim, words = self.dim, len(vocabulary)
        output_vectors = torch.zeros(words, dim)
        output_vectors[old] = self.output_vectors.index_select(0, rows[old]).float()
        generator = torch.Generator().manual_seed(seed)
        fresh = torch.rand(int((~old).sum()), dim, generator=generator)
        if self.subword_input is None:
            input_vectors = torch.zeros(words, dim)
            input_vectors[old] = self.input_vectors.index_select(0, rows[old]).float()
            input_vectors[~old] = (fresh - 0.5) / dim
            return input_vectors, output_vectors
        # The words' own rows are the first rows of the whole input matrix, not their composed
        # vectors (`input_vectors`).
        input_vectors = torch.empty(words + self.subwords.bucket, dim)
        own = input_vectors[:words]
        own[old] = self.subword_input.index_select(0, rows[old]).float()
        own[~old] = (fresh * 2 - 1) / dim
        input_vectors[words:] = self.subword_input[len(self.vocabulary) :]
        return input_vectors, output_vectors
