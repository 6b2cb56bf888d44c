"""Facebook fastText's model files (.bin): reading the models fastText trains and publishes
(cc.en.300.bin, wiki.en.bin), and writing a subword model that fastText's own `load_model` reads.

The layout, from fastText's sources (FastText::saveModel, Args::save, Dictionary::save,
DenseMatrix::save), all little-endian and packed:

    int32 magic 793712314, int32 version (12; 11 is read too, the same for word-vector models)
    arguments: int32 dim, ws, epoch, minCount, neg, wordNgrams, loss (1 hs, 2 ns, 3 softmax,
               4 one-vs-all), model (1 cbow, 2 skipgram, 3 supervised), bucket, minn, maxn,
               lrUpdateRate; float64 t
    dictionary: int32 size, nwords, nlabels; int64 ntokens, pruneidx_size (-1 unless pruned by
               quantization); `size` entries, each the word's bytes, a NUL, int64 count, int8 type
               (0 word, 1 label); `pruneidx_size` pairs of int32
    bool quantized input; the input matrix: int64 rows (nwords + bucket: the words' own rows,
               then the n-gram rows), int64 columns (dim), rows x columns float32
    bool quantized output; the output matrix: int64 rows (nwords), int64 columns, float32 values

The reader maps the file and hands out its two matrices as views of the mapping (copy-on-write, so
nothing ever writes to the file), so a 7 GB model is never read into memory whole; only the words'
composed vectors (each the mean of its rows, what fastText's get_word_vector gives) are computed.
It refuses, in one line naming the file, what it cannot read whole: supervised models (classifiers),
quantized ones (.ftz), a wrong magic number, another format version, and files cut short or with
sizes that do not add up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch

from w2v.errors import ConfigError, FormatError
from w2v.fileio import atomic_output
from w2v.files.model import Model
from w2v.files.words import check_words, first_duplicate
from w2v.text.subwords import SubwordSpec, composed_vectors, subword_rows
from w2v.text.tokenizer import make_tokenizer

MAGIC = 793712314
VERSION = 12
READABLE_VERSIONS = (11, 12)
LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "one-vs-all"}
MODELS = {1: "cbow", 2: "skipgram", 3: "supervised"}
LOSS_HS, LOSS_NS = 1, 2
MODEL_CBOW, MODEL_SKIPGRAM, MODEL_SUPERVISED = 1, 2, 3
# fastText's defaults, for settings a model written here does not know (fastText's Args()).
LR_UPDATE_RATE = 100
DEFAULTS = {"window": 5, "epochs": 5, "min_count": 5, "negative": 5, "sample": 1e-4}
SIGNATURE = np.dtype([("magic", "<i4"), ("version", "<i4")])
ARGUMENTS = np.dtype(
    [
        ("dim", "<i4"),
        ("ws", "<i4"),
        ("epoch", "<i4"),
        ("minCount", "<i4"),
        ("neg", "<i4"),
        ("wordNgrams", "<i4"),
        ("loss", "<i4"),
        ("model", "<i4"),
        ("bucket", "<i4"),
        ("minn", "<i4"),
        ("maxn", "<i4"),
        ("lrUpdateRate", "<i4"),
        ("t", "<f8"),
    ]
)
DICTIONARY = np.dtype(
    [
        ("size", "<i4"),
        ("nwords", "<i4"),
        ("nlabels", "<i4"),
        ("ntokens", "<i8"),
        ("pruneidx_size", "<i8"),
    ]
)
MATRIX = np.dtype([("rows", "<i8"), ("columns", "<i8")])
# Each dictionary entry is at least a NUL, the int64 count and the int8 type.
ENTRY_TAIL_BYTES = 9
# Words whose n-grams are listed at once when the words' vectors are composed: bounds the row
# table (about 27 rows of 8 bytes a word) to some 30 MB whatever the vocabulary.
COMPOSE_CHUNK_WORDS = 1 << 17
_WRITE_CHUNK_ROWS = 1 << 16


def is_fasttext(path: str | os.PathLike) -> bool:
    """Whether the file at `path` starts with fastText's magic number (and is not a folder)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as file:
            start = file.read(SIGNATURE.itemsize)
    except OSError:
        return False
    return len(start) == SIGNATURE.itemsize and int(np.frombuffer(start, "<i4")[0]) == MAGIC


def read_fasttext(path: str | os.PathLike, unicode_errors: str = "strict") -> Model:
    """The word-vector model (skipgram or cbow) in fastText's .bin file at `path`: its words,
    counts and settings, its input matrix with the n-gram rows (memory-mapped), its output matrix
    (memory-mapped, for negative sampling only) and each word's composed vector; FormatError in
    one line naming `path` for anything else. `unicode_errors` as `w2v.files.store.read_model`."""
    data = _map(path)
    arguments, version = _read_arguments(path, data)
    at = SIGNATURE.itemsize + ARGUMENTS.itemsize
    header = _record(path, data, at, DICTIONARY, "the dictionary's header")
    at += DICTIONARY.itemsize
    size, nwords = int(header["size"]), int(header["nwords"])
    nlabels, pruned = int(header["nlabels"]), int(header["pruneidx_size"])
    if nlabels > 0:
        raise FormatError(
            f"{path}: a supervised fastText model (a classifier with {nlabels} labels), not word "
            "vectors: w2v reads skipgram and cbow models"
        )
    if size < 1 or nwords != size or nlabels != 0:
        raise FormatError(
            f"{path}: corrupt: the dictionary announces {size} entries of which {nwords} words "
            f"and {nlabels} labels"
        )
    if size * (ENTRY_TAIL_BYTES + 1) > len(data) - at:
        raise FormatError(
            f"{path}: truncated in the dictionary: its {size} entries take at least "
            f"{size * (ENTRY_TAIL_BYTES + 1)} bytes, and {len(data) - at} follow"
        )
    if pruned != -1:
        raise FormatError(
            f"{path}: a pruned dictionary ({pruned} n-gram rows kept by quantization), which "
            "fastText writes for quantized models only: w2v reads unquantized models"
        )
    words, counts, at = _read_entries(path, data, at, size, unicode_errors)
    dim, bucket = int(arguments["dim"]), int(arguments["bucket"])
    if _flag(path, data, at, "the input matrix's quantization flag"):
        raise FormatError(
            f"{path}: a quantized fastText model (.ftz, made by fastText's quantize): w2v reads "
            "unquantized models, whose matrices hold float32 values"
        )
    input_matrix, at = _read_matrix(path, data, at + 1, (nwords + bucket, dim), "input")
    if _flag(path, data, at, "the output matrix's quantization flag"):
        raise FormatError(f"{path}: the output matrix is quantized: w2v reads unquantized models")
    output_matrix, at = _read_matrix(path, data, at + 1, (nwords, dim), "output")
    if at != len(data):
        raise FormatError(
            f"{path}: corrupt: {len(data) - at} bytes follow the output matrix, where the file "
            "should end"
        )
    spec = SubwordSpec(int(arguments["minn"]), int(arguments["maxn"]), bucket)
    if spec.enabled:
        vectors = torch.from_numpy(_composed(words, spec, input_matrix))
        subwords, subword_input = spec, torch.from_numpy(input_matrix)
    else:
        # A model without n-grams: a word's vector is its own row, read from the mapping as is.
        vectors = torch.from_numpy(input_matrix[:nwords])
        subwords, subword_input = None, None
    loss = int(arguments["loss"])
    return Model(
        words,
        vectors,
        counts,
        torch.from_numpy(output_matrix) if loss == LOSS_NS else None,
        make_tokenizer("whitespace", lowercase=False),
        _training(arguments, spec, version),
        subwords,
        subword_input,
    )


def write_fasttext(path: str | os.PathLike, model: Model) -> None:
    """Write the subword `model` as a fastText .bin file that fastText's load_model reads, whole
    or not at all: its arguments from the model's training settings (fastText's defaults for
    those unknown), its counts (0 when unknown), its input matrix with the n-gram rows, and its
    output matrix (zeros when it has none)."""
    words = model.words
    check_words(words)
    if model.subwords is None or model.subword_input is None:
        raise ConfigError(
            f"{path}: a fastText file holds a subword model, and this model has no n-gram rows"
        )
    if any("\0" in word for word in words):
        raise ConfigError(f"{path}: fastText's dictionary cannot hold a word with a NUL character")
    spec = model.subwords
    input_matrix = _float32("the input matrix", model.subword_input)
    dim = input_matrix.shape[1]
    if input_matrix.shape[0] != len(words) + spec.bucket:
        raise ConfigError(
            f"the input matrix has {input_matrix.shape[0]} rows, not {len(words)} words + "
            f"{spec.bucket} buckets"
        )
    if model.output_vectors is None:
        output_matrix = np.zeros((len(words), dim), dtype="<f4")
    else:
        output_matrix = _float32("the output vectors", model.output_vectors)
        if output_matrix.shape != (len(words), dim):
            raise ConfigError(
                f"output vectors of shape {output_matrix.shape} do not fit {len(words)} words "
                f"of {dim} dimensions"
            )
    counts = np.zeros(len(words), "<i8") if model.counts is None else np.asarray(model.counts)
    if counts.shape != (len(words),):
        raise ConfigError(f"{len(counts)} counts for {len(words)} words")
    with atomic_output(path) as stream:
        stream.write(np.array((MAGIC, VERSION), SIGNATURE).tobytes())
        stream.write(_arguments(model.training or {}, spec, dim).tobytes())
        dictionary = (len(words), len(words), 0, int(counts.sum()), -1)
        stream.write(np.array(dictionary, DICTIONARY).tobytes())
        stream.write(_entries(words, counts))
        for matrix in (input_matrix, output_matrix):
            stream.write(b"\0")  # not quantized
            stream.write(np.array(matrix.shape, MATRIX).tobytes())
            for begin in range(0, len(matrix), _WRITE_CHUNK_ROWS):
                stream.write(memoryview(matrix[begin : begin + _WRITE_CHUNK_ROWS]).cast("B"))


def _map(path: str | os.PathLike) -> np.ndarray:
    """The file's bytes, mapped copy-on-write: views of it are writable arrays for torch, and no
    write ever reaches the file."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise FormatError(f"{path}: the file is empty")
        return np.memmap(path, dtype=np.uint8, mode="c")
    except OSError as error:
        raise FormatError(f"{path}: cannot read the file: {error.strerror or error}") from None


def _record(path: str | os.PathLike, data: np.ndarray, at: int, dtype: np.dtype, what: str) -> Any:
    if at + dtype.itemsize > len(data):
        raise FormatError(f"{path}: truncated in {what} (the file has {len(data)} bytes)")
    return data[at : at + dtype.itemsize].view(dtype)[0]


def _read_arguments(path: str | os.PathLike, data: np.ndarray) -> tuple[Any, int]:
    """The arguments block and the format version, after the magic number and version check."""
    if len(data) < SIGNATURE.itemsize:
        raise FormatError(f"{path}: not a fastText model: {len(data)} bytes, too short")
    signature = data[: SIGNATURE.itemsize].view(SIGNATURE)[0]
    if int(signature["magic"]) != MAGIC:
        raise FormatError(
            f"{path}: not a fastText model: it starts with {int(signature['magic'])}, not "
            f"fastText's magic number {MAGIC}"
        )
    version = int(signature["version"])
    if version not in READABLE_VERSIONS:
        age = "an older" if version < min(READABLE_VERSIONS) else "a newer"
        raise FormatError(
            f"{path}: fastText format version {version}, {age} one than w2v reads (versions "
            f"{' and '.join(map(str, READABLE_VERSIONS))}, what fastText has written since 2017)"
        )
    arguments = _record(path, data, SIGNATURE.itemsize, ARGUMENTS, "the arguments")
    model, loss = int(arguments["model"]), int(arguments["loss"])
    if model == MODEL_SUPERVISED:
        raise FormatError(
            f"{path}: a supervised fastText model (a classifier), not word vectors: w2v reads "
            "skipgram and cbow models"
        )
    problems = [
        (model not in MODELS, f"model {model}"),
        (loss not in LOSSES, f"loss {loss}"),
        (int(arguments["dim"]) < 1, f"dim {int(arguments['dim'])}"),
        (int(arguments["bucket"]) < 0, f"bucket {int(arguments['bucket'])}"),
        (int(arguments["minn"]) < 0, f"minn {int(arguments['minn'])}"),
        (int(arguments["maxn"]) < 0, f"maxn {int(arguments['maxn'])}"),
    ]
    bad = [what for wrong, what in problems if wrong]
    if bad:
        raise FormatError(f"{path}: corrupt: its arguments hold {', '.join(bad)}")
    return arguments, version


@numba.njit(nogil=True, cache=True)
def _scan_entries(data, start, size):
    """The dictionary's entries from `start`: each word's first and end byte, its count and type,
    the offset after the last entry, and the first entry cut short (-1 for none) and the first
    whose word holds ASCII whitespace or is empty (-1 for none)."""
    word_starts = np.empty(size, np.int64)
    word_ends = np.empty(size, np.int64)
    counts = np.empty(size, np.int64)
    types = np.empty(size, np.int8)
    at = start
    bad = -1
    for entry in range(size):
        word_starts[entry] = at
        while at < len(data) and data[at] != 0:
            byte = data[at]
            if bad < 0 and (byte == 32 or 9 <= byte <= 13):
                bad = entry
            at += 1
        if at + 1 + ENTRY_TAIL_BYTES > len(data):
            return word_starts, word_ends, counts, types, at, entry, bad
        if bad < 0 and at == word_starts[entry]:
            bad = entry
        word_ends[entry] = at
        count = np.int64(0)
        for k in range(8):
            count |= np.int64(data[at + 1 + k]) << np.int64(8 * k)
        counts[entry] = count
        types[entry] = np.int8(data[at + 9])
        at += 10
    return word_starts, word_ends, counts, types, at, -1, bad


@numba.njit(nogil=True, cache=True)
def _join_words(data, word_starts, word_ends):
    """The words' bytes, each followed by a space (words hold no ASCII whitespace)."""
    out = np.empty(np.sum(word_ends - word_starts) + len(word_starts), np.uint8)
    at = 0
    for entry in range(len(word_starts)):
        for i in range(word_starts[entry], word_ends[entry]):
            out[at] = data[i]
            at += 1
        out[at] = 32
        at += 1
    return out


def _read_entries(
    path: str | os.PathLike, data: np.ndarray, at: int, size: int, unicode_errors: str
) -> tuple[list[str], list[int], int]:
    """The dictionary's words and counts, and the offset after them."""
    starts, ends, counts, types, end, cut, bad = _scan_entries(data, at, size)
    if cut >= 0:
        raise FormatError(
            f"{path}: truncated in the dictionary: entry {cut + 1} of {size} is cut short"
        )
    if bad >= 0:
        raise FormatError(
            f"{path}: corrupt: the word of dictionary entry {bad + 1} is empty or holds whitespace"
        )
    if (types != 0).any() or (counts < 0).any():
        entry = int(np.flatnonzero((types != 0) | (counts < 0))[0])
        raise FormatError(
            f"{path}: corrupt: dictionary entry {entry + 1} has type {int(types[entry])} and "
            f"count {int(counts[entry])}, not a word's type 0 and a count"
        )
    encoded = _join_words(data, starts, ends).tobytes()
    try:
        text = encoded.decode("utf-8", unicode_errors)
    except UnicodeDecodeError as error:
        entry = encoded.count(b" ", 0, error.start)
        raise FormatError(
            f"{path}: the word of dictionary entry {entry + 1} is not valid UTF-8: "
            f"{encoded.split(b' ', entry + 1)[entry]!r}"
        ) from None
    except LookupError:
        raise ConfigError(
            f"unicode_errors must be 'strict', 'replace' or 'ignore', not {unicode_errors!r}"
        ) from None
    words = text.split(" ")
    words.pop()  # the empty string after the last word's space
    if "" in words:
        raise FormatError(
            f"{path}: the word of dictionary entry {words.index('') + 1} is empty once decoded "
            f"with unicode_errors={unicode_errors!r}"
        )
    duplicate = first_duplicate(words)
    if duplicate is not None:
        word, first, second = duplicate
        raise FormatError(
            f"{path}: corrupt: the word {word!r} appears twice, in dictionary entries "
            f"{first + 1} and {second + 1}"
        )
    return words, counts.tolist(), int(end)


def _flag(path: str | os.PathLike, data: np.ndarray, at: int, what: str) -> bool:
    if at >= len(data):
        raise FormatError(f"{path}: truncated before {what} (the file has {len(data)} bytes)")
    if data[at] > 1:
        raise FormatError(f"{path}: corrupt: {what} is {int(data[at])}, neither 0 nor 1")
    return bool(data[at])


def _read_matrix(
    path: str | os.PathLike, data: np.ndarray, at: int, shape: tuple[int, int], name: str
) -> tuple[np.ndarray, int]:
    """The float32 matrix at `at`, which must be of `shape`, as a view of the mapping; the offset
    after it."""
    header = _record(path, data, at, MATRIX, f"the {name} matrix's header")
    found = (int(header["rows"]), int(header["columns"]))
    if found != shape:
        raise FormatError(
            f"{path}: corrupt: the {name} matrix is {found[0]} x {found[1]}, not the "
            f"{shape[0]} x {shape[1]} its dictionary and arguments call for"
        )
    at += MATRIX.itemsize
    end = at + shape[0] * shape[1] * 4
    if end > len(data):
        raise FormatError(
            f"{path}: truncated in the {name} matrix: it needs {end - at} bytes, the file holds "
            f"{len(data) - at} after its header"
        )
    return data[at:end].view("<f4").reshape(shape), end


def _composed(words: list[str], spec: SubwordSpec, input_matrix: np.ndarray) -> np.ndarray:
    """Each word's vector, the mean of its own row and its n-grams' rows, a chunk of words at a
    time."""
    vectors = np.empty((len(words), input_matrix.shape[1]), dtype=np.float32)
    for begin in range(0, len(words), COMPOSE_CHUNK_WORDS):
        chunk = words[begin : begin + COMPOSE_CHUNK_WORDS]
        starts, rows = subword_rows(chunk, spec, len(words))
        # The chunk's own rows are numbered from 0; each word's first row is its own.
        rows[starts[:-1]] += begin
        vectors[begin : begin + len(chunk)] = composed_vectors(input_matrix, starts, rows)
    return vectors


def _training(arguments: Any, spec: SubwordSpec, version: int) -> dict[str, Any]:
    """The model's fastText arguments as w2v's training settings (`w2v.training.config`'s names);
    fastText splits text on whitespace and keeps its case. Its learning rate is not in the file."""
    hs = int(arguments["loss"]) == LOSS_HS
    return {
        "dim": int(arguments["dim"]),
        "window": int(arguments["ws"]),
        "epochs": int(arguments["epoch"]),
        "min_count": int(arguments["minCount"]),
        "negative": 0 if hs else int(arguments["neg"]),
        "hs": hs,
        "sample": float(arguments["t"]),
        "model": "cbow" if int(arguments["model"]) == MODEL_CBOW else "skipgram",
        "subwords": spec.enabled,
        "minn": spec.minn,
        "maxn": spec.maxn,
        "bucket": spec.bucket,
        "tokenizer": "whitespace",
        "lowercase": False,
        "fasttext": {
            "version": version,
            "loss": LOSSES[int(arguments["loss"])],
            "wordNgrams": int(arguments["wordNgrams"]),
            "lrUpdateRate": int(arguments["lrUpdateRate"]),
        },
    }


def _arguments(training: dict[str, Any], spec: SubwordSpec, dim: int) -> np.ndarray:
    """fastText's arguments block for a model trained with `training` (w2v's settings)."""
    settings = {**DEFAULTS, **training}
    # fastText trains one loss: negative sampling when there are noise words, else hs.
    hs = bool(settings.get("hs")) and not settings["negative"]
    saved = training.get("fasttext", {})
    values = (
        dim,
        settings["window"],
        settings["epochs"],
        settings["min_count"],
        settings["negative"] or DEFAULTS["negative"],
        1,
        LOSS_HS if hs else LOSS_NS,
        MODEL_CBOW if settings.get("model") == "cbow" else MODEL_SKIPGRAM,
        spec.bucket,
        spec.minn,
        spec.maxn,
        saved.get("lrUpdateRate", LR_UPDATE_RATE),
        settings["sample"],
    )
    return np.array(values, ARGUMENTS)


def _entries(words: list[str], counts: np.ndarray) -> bytes:
    """The dictionary's entries: each word's UTF-8 bytes, a NUL, its int64 count and type 0."""
    joined = np.frombuffer(("\0".join(words) + "\0").encode("utf-8"), dtype=np.uint8)
    ends = np.flatnonzero(joined == 0)  # the NUL after each word
    out = np.zeros(len(joined) + ENTRY_TAIL_BYTES * len(words), dtype=np.uint8)
    # Byte i of the joined words moves past the tails of the words before it.
    shift = np.zeros(len(joined), dtype=np.int64)
    shift[ends[:-1] + 1] = ENTRY_TAIL_BYTES
    out[np.arange(len(joined)) + np.cumsum(shift)] = joined
    tails = ends + np.arange(len(words)) * ENTRY_TAIL_BYTES + 1
    count_bytes = counts.astype("<i8").view(np.uint8).reshape(len(words), 8)
    out[tails[:, None] + np.arange(8)] = count_bytes
    return out.tobytes()


def _float32(name: str, tensor: torch.Tensor) -> np.ndarray:
    matrix = torch.as_tensor(tensor).detach().to(device="cpu", dtype=torch.float32).contiguous()
    if matrix.dim() != 2 or matrix.shape[1] == 0:
        raise ConfigError(f"{name} of shape {tuple(matrix.shape)} is not a matrix of vectors")
    return matrix.numpy().astype("<f4", copy=False)
