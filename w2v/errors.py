"""Exception types the toolkit raises for bad input; each message is one line a user can act on."""


class W2VError(Exception):
    """Base of every error caused by the user's input rather than a bug; the CLI prints it on one line."""


class ConfigError(W2VError, ValueError):
    """A parameter is out of range or inconsistent (say, --dim 0)."""


class CorpusError(W2VError):
    """A corpus path is missing, unreadable, empty or not text."""


class VocabularyError(W2VError):
    """The vocabulary cannot be built as asked (say, every word falls under --min-count)."""


class FormatError(W2VError):
    """A vectors, vocabulary or evaluation file is malformed; the message names the file and the problem."""


class WriteError(W2VError):
    """A file cannot be written: a full disk, a file-size limit, a folder that refuses it."""


class OutOfVocabularyError(W2VError, KeyError):
    """Query words are not in the vocabulary; the message names them."""

    def __str__(self) -> str:
        # KeyError quotes its message; a user-facing error should read as plain text.
        return str(self.args[0]) if self.args else ""
