"""Time reading a fastText .bin model: w2v.load against gensim's load_facebook_vectors.

    python benchmarks/fasttext_load.py [--words 200000] [--dim 100] [--bucket 2000000] [--runs 3]

Writes a random subword model of that shape with w2v's fastText writer (distinct random words over
a mixed ASCII and accented alphabet, so the n-grams hash as real words' do) into a temporary folder,
then times each reader on it, the file in the page cache for both: w2v.load (best of --runs, after
one untimed load that compiles the numba functions once per machine) and gensim (one run: it
reads both matrices into memory and takes far longer). Both give every word's vector; the script
checks that they agree. Prints the figures and the speed-up.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from w2v.files.fasttext import write_fasttext  # noqa: E402
from w2v.files.model import Model  # noqa: E402
from w2v.query.vectors import load  # noqa: E402
from w2v.text.subwords import SubwordSpec  # noqa: E402

ALPHABET = list("abcdefghijklmnopqrstuvwxyzéèàüöñ")


def random_words(count: int, seed: int) -> list[str]:
    """`count` distinct words of 3 to 12 letters."""
    rng = np.random.default_rng(seed)
    words: dict[str, None] = {}
    while len(words) < count:
        lengths = rng.integers(3, 13, size=count)
        letters = rng.integers(0, len(ALPHABET), size=int(lengths.sum()))
        text = "".join(ALPHABET[i] for i in letters)
        ends = np.cumsum(lengths)
        words.update(
            dict.fromkeys(text[end - n : end] for end, n in zip(ends, lengths, strict=True))
        )
    return list(words)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--bucket", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from gensim.models.fasttext import load_facebook_vectors

    words = random_words(args.words, seed=0)
    rng = np.random.default_rng(1)
    rows = args.words + args.bucket
    subword_input = torch.from_numpy(
        (rng.random((rows, args.dim), dtype=np.float32) - 0.5) / args.dim
    )
    output = torch.zeros(args.words, args.dim)
    spec = SubwordSpec(3, 6, args.bucket)
    counts = list(range(args.words, 0, -1))
    # The writer takes the input matrix alone; the composed vectors are the reader's to compute.
    model = Model(
        words, subword_input[: args.words], counts, output, None, None, spec, subword_input
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.bin"
        start = time.perf_counter()
        write_fasttext(path, model)
        written = time.perf_counter() - start
        size = path.stat().st_size
        print(
            f"wrote {args.words:,} words x {args.dim} + {args.bucket:,} buckets: "
            f"{size / 1e9:.2f} GB in {written:.1f} s"
        )
        path.read_bytes()  # into the page cache for both readers
        load(path)  # compiles the numba functions (cached on disk afterwards)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            kv = load(path)
            times.append(time.perf_counter() - start)
        ours = min(times)
        start = time.perf_counter()
        gensim = load_facebook_vectors(str(path))
        theirs = time.perf_counter() - start
        sample = words[:: max(1, args.words // 1000)]
        difference = max(float(np.abs(gensim[word] - kv[word].numpy()).max()) for word in sample)
        unseen = max(
            float(np.abs(gensim[word] - kv[word].numpy()).max())
            for word in ("neverseen", "unseenword", "zzqx")
        )
    print(f"w2v.load: {ours:.2f} s (best of {args.runs}: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"gensim load_facebook_vectors: {theirs:.2f} s")
    print(f"w2v is {theirs / ours:.1f}x faster")
    print(
        f"largest difference, {len(sample)} words: {difference:.2e}; 3 unseen words: {unseen:.2e}"
    )


if __name__ == "__main__":
    main()
