"""Export for the TensorFlow Embedding Projector (projector.tensorflow.org): vectors and words as TSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from w2v.errors import ConfigError
from w2v.fileio import atomic_output, atomic_write
from w2v.query.vectors import KeyedVectors

ROWS_PER_WRITE = 10_000
# A tab or line break inside a word would break the TSV's rows; the projector shows these instead.
_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})


def export_projector(
    vectors: KeyedVectors, folder: str | Path, top: int | None = None
) -> tuple[Path, Path]:
    """Write `vectors.tsv` (a row of numbers per word) and `metadata.tsv` (the words, in the same
    order, no header) into `folder`, for the `top` most frequent words or all of them."""
    if top is not None and top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{folder}: cannot make the folder ({error.strerror or error})") from None
    rows = len(vectors) if top is None else min(top, len(vectors))
    vectors_path, metadata_path = folder / "vectors.tsv", folder / "metadata.tsv"
    matrix = vectors.vectors[:rows].numpy()
    with atomic_output(vectors_path) as out:
        # Written a block at a time: a whole vocabulary's text at once could be gigabytes.
        for start in range(0, rows, ROWS_PER_WRITE):
            np.savetxt(out, matrix[start : start + ROWS_PER_WRITE], fmt="%.6g", delimiter="\t")
    words = "".join(word.translate(_ESCAPES) + "\n" for word in vectors.words[:rows])
    atomic_write(metadata_path, words.encode("utf-8"))
    return vectors_path, metadata_path
