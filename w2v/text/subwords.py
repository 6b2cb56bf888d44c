"""fastText's character n-grams: which rows of the input matrix make up a word's vector.

The definitions are fastText's own (its Dictionary::hash, computeSubwords and initNgrams), so that
the rows we train and the files we write agree with theirs: the word is wrapped in "<" and ">", its
n-grams of minn to maxn characters are cut on UTF-8 character boundaries (a lone "<" or ">" is never
an n-gram), each n-gram is hashed with 32-bit FNV-1a over its bytes, every byte sign-extended first
(fastText casts each char to int8_t), and lands in row vocabulary size + hash mod bucket. An n-gram
that occurs twice in a word is listed twice, as fastText lists it. A word of the vocabulary uses its
own row first; a word outside it uses its n-grams alone. fastText's end-of-line word "</s>" has no
n-grams (its own row alone, no row at all outside the vocabulary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

BOW, EOW = "<", ">"
EOS = "</s>"  # the word fastText puts at every line end; it never gets n-grams
FNV_OFFSET_32 = 2166136261
FNV_PRIME_32 = 16777619
MASK_32 = 0xFFFFFFFF


@dataclass(frozen=True)
class SubwordSpec:
    """fastText's n-gram settings: lengths minn to maxn characters, hashed into bucket rows."""

    minn: int = 3
    maxn: int = 6
    bucket: int = 2_000_000

    @property
    def enabled(self) -> bool:
        """maxn 0 means words only, as in fastText."""
        return self.maxn > 0 and self.bucket > 0


def ngram_hash(ngram: str) -> int:
    """fastText's hash of an n-gram: FNV-1a over its UTF-8 bytes, each byte sign-extended."""
    value = FNV_OFFSET_32
    for byte in ngram.encode("utf-8"):
        signed = byte | 0xFFFFFF00 if byte >= 0x80 else byte
        value = ((value ^ signed) * FNV_PRIME_32) & MASK_32
    return value


def word_ngrams(word: str, spec: SubwordSpec) -> list[str]:
    """The n-grams of a word in fastText's order (what its get_subwords lists after the word)."""
    if not spec.enabled or word == EOS:
        return []
    wrapped = BOW + word + EOW
    ngrams = []
    for start in range(len(wrapped)):
        for length in range(spec.minn, spec.maxn + 1):
            end = start + length
            if end > len(wrapped):
                break
            if length == 1 and (start == 0 or end == len(wrapped)):
                continue
            ngrams.append(wrapped[start:end])
    return ngrams


@numba.njit(nogil=True, cache=True)
def _count_rows(data, starts, minn, maxn):
    """How many n-grams each word has: the first pass of _fill_rows, sizing its output."""
    counts = np.zeros(len(starts) - 1, dtype=np.int64)
    for word in range(len(starts) - 1):
        end = starts[word + 1]
        for i in range(starts[word], end):
            if data[i] & 0xC0 == 0x80:
                continue
            j = i
            n = 1
            while j < end and n <= maxn:
                j += 1
                while j < end and data[j] & 0xC0 == 0x80:
                    j += 1
                if n >= minn and not (n == 1 and (i == starts[word] or j == end)):
                    counts[word] += 1
                n += 1
    return counts


@numba.njit(nogil=True, cache=True)
def _fill_rows(data, starts, minn, maxn, bucket, first_bucket_row, out, out_starts, own):
    """Writes each word's rows: its own row when own[word] >= 0, then its n-grams' bucket rows."""
    for word in range(len(starts) - 1):
        end = starts[word + 1]
        at = out_starts[word]
        if own[word] >= 0:
            out[at] = own[word]
            at += 1
        for i in range(starts[word], end):
            if data[i] & 0xC0 == 0x80:
                continue
            value = np.uint64(FNV_OFFSET_32)
            j = i
            n = 1
            while j < end and n <= maxn:
                # The hash of the n-gram from i grows byte by byte with it.
                while True:
                    byte = np.uint64(data[j])
                    if byte >= 0x80:
                        byte |= np.uint64(0xFFFFFF00)
                    value = ((value ^ byte) * np.uint64(FNV_PRIME_32)) & np.uint64(MASK_32)
                    j += 1
                    if j >= end or data[j] & 0xC0 != 0x80:
                        break
                if n >= minn and not (n == 1 and (i == starts[word] or j == end)):
                    out[at] = first_bucket_row + np.int64(value % np.uint64(bucket))
                    at += 1
                n += 1


def subword_rows(
    words: Sequence[str], spec: SubwordSpec, vocabulary_size: int, own_rows: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The input-matrix rows of each word as CSR arrays (starts of length len(words) + 1, rows).

    Row ids are fastText's: a word's own id (its index in `words`, with own_rows), then
    vocabulary_size + hash mod bucket for each n-gram. Without own_rows the words are taken as
    outside the vocabulary, as for a query of an unseen word."""
    # EOS as no bytes at all gets no n-grams, as fastText's initNgrams and getSubwords skip it.
    encoded = [b"" if word == EOS else (BOW + word + EOW).encode("utf-8") for word in words]
    lengths = np.fromiter((len(item) for item in encoded), dtype=np.int64, count=len(encoded))
    starts = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    own = np.arange(len(words), dtype=np.int64) if own_rows else np.full(len(words), -1, np.int64)
    if spec.enabled:
        counts = _count_rows(data, starts, spec.minn, spec.maxn)
    else:
        counts = np.zeros(len(words), dtype=np.int64)
    counts += own >= 0
    out_starts = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_starts[1:])
    rows = np.empty(int(out_starts[-1]), dtype=np.int64)
    if spec.enabled:
        _fill_rows(
            data,
            starts,
            spec.minn,
            spec.maxn,
            spec.bucket,
            vocabulary_size,
            rows,
            out_starts,
            own,
        )
    else:
        rows[:] = own[own >= 0]
    return out_starts, rows


@numba.njit(nogil=True, parallel=True, cache=True)
def _mean_rows(matrix, starts, rows, out):
    for word in numba.prange(len(starts) - 1):
        count = starts[word + 1] - starts[word]
        out[word, :] = 0.0
        for at in range(starts[word], starts[word + 1]):
            out[word, :] += matrix[rows[at], :]
        if count > 0:
            out[word, :] /= count


def composed_vectors(input_matrix: np.ndarray, starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each word's vector as fastText's get_word_vector gives it: the mean of its rows (zero when
    it has none). input_matrix is (V + bucket) x D float32, memory-mapped or not; starts and rows
    are subword_rows' CSR arrays."""
    out = np.empty((len(starts) - 1, input_matrix.shape[1]), dtype=np.float32)
    _mean_rows(input_matrix, starts, rows, out)
    return out
