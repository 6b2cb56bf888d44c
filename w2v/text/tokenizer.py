"""The text-to-words rules, as a Hugging Face `tokenizers` pipeline saved beside the vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

from w2v.errors import ConfigError, FormatError
from w2v.fileio import atomic_path

UNKNOWN = "[unknown word]"  # holds a space, so no word from either split can be spelled like it
SPLITS = ("words", "whitespace")


def make_tokenizer(split: str = "words", lowercase: bool = True) -> Tokenizer:
    """A word-level tokenizer with no vocabulary yet.

    split="words" cuts text into runs of letters and digits, dropping punctuation and spaces;
    split="whitespace" cuts on spaces only, keeping punctuation attached as the word2vec C tool does.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown tokenizer {split!r}: choose one of {', '.join(SPLITS)}")
    tokenizer = Tokenizer(WordLevel({UNKNOWN: 0}, unk_token=UNKNOWN))
    # NFKC folds compatibility forms (ligatures, full-width letters) so they count as one word.
    steps = [normalizers.NFKC(), normalizers.Lowercase()] if lowercase else [normalizers.NFKC()]
    tokenizer.normalizer = normalizers.Sequence(steps)
    if split == "words":
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[^\w]+"), behavior="removed")
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tokenizer


def set_vocabulary(tokenizer: Tokenizer, words: list[str]) -> None:
    """Make `tokenizer` map each of `words` to its position and everything else to len(words)."""
    vocabulary = {word: index for index, word in enumerate(words)}
    vocabulary.setdefault(UNKNOWN, len(words))
    tokenizer.model = WordLevel(vocabulary, unk_token=UNKNOWN)


def encode(tokenizer: Tokenizer, texts: list[str]) -> list[np.ndarray]:
    """The word ids of each text, as int32 arrays (unknown words get the unknown id)."""
    encodings = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    return [np.asarray(encoding.ids, dtype=np.int32) for encoding in encodings]


def words_of(tokenizer: Tokenizer, text: str) -> list[str]:
    """The words of one text after normalisation and splitting, as training sees them."""
    normalized = tokenizer.normalizer.normalize_str(text)
    return [word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized)]


def save_tokenizer(tokenizer: Tokenizer, path: str | Path) -> None:
    """Write the tokenizer as the library's JSON file, whole or not at all."""
    with atomic_path(path) as temporary:
        tokenizer.save(str(temporary))


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Read a tokenizer JSON file written by `save_tokenizer`."""
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # the library raises a bare Exception for any malformed file
        raise FormatError(f"{path}: not a tokenizer file ({error})") from None
