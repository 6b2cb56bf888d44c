"""The rule every model file shares for its words: non-empty, unique, free of ASCII whitespace."""

from __future__ import annotations

import re

from w2v.errors import ConfigError

# Fields of every format are separated by ASCII whitespace, so a word must not contain any. Other
# spaces (U+00A0, U+2028, U+001F, ...) are letters to the readers, which split on ASCII alone.
WHITESPACE = re.compile(r"[ \t\n\r\v\f]")


def check_words(words: list[str]) -> None:
    """Refuse words that would make a file the readers cannot split back into the same words."""
    try:
        joined = "".join(words)
    except TypeError:
        raise ConfigError("words must be strings") from None
    if "" in words:
        raise ConfigError(f"cannot write the empty word (row {words.index('') + 1})")
    if WHITESPACE.search(joined):
        word = next(word for word in words if WHITESPACE.search(word))
        raise ConfigError(f"cannot write the word {word!r}: words cannot contain whitespace")
    duplicate = first_duplicate(words)
    if duplicate is not None:
        raise ConfigError(f"cannot write the word {duplicate[0]!r} twice")


def first_duplicate(words: list[str]) -> tuple[str, int, int] | None:
    """The first word that occurs twice and the indices of both occurrences, or None."""
    if len(set(words)) == len(words):
        return None
    first_indices: dict[str, int] = {}
    for index, word in enumerate(words):
        if word in first_indices:
            return word, first_indices[word], index
        first_indices[word] = index
    return None
