"""Time queries and loading against gensim: most_similar on a trained model, and reading a big file.

    python benchmarks/queries.py [--vectors MODEL.bin] [--rows 1000000] [--dim 300]
                                 [--out benchmarks/results]

- most_similar for 1,000 words of the model (default: a random 80,000 x 100 model with the
  shape of the wiki17m vectors), w2v against gensim, over the same words.
- loading a word2vec binary file of --rows x --dim random vectors, w2v.load against gensim's
  load_word2vec_format, and the time to read the file's bytes.
Each timing is the best of three. Writes JSON and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from w2v.files.word2vec import write_word2vec  # noqa: E402
from w2v.query.vectors import load  # noqa: E402


def best_of(runs: int, action) -> float:
    """The shortest of `runs` timings of `action()`, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def random_model(path: Path, rows: int, dim: int) -> None:
    """Write a word2vec binary file of `rows` random vectors with made-up words."""
    words = [f"w{i}" for i in range(rows)]
    vectors = torch.randn(rows, dim, generator=torch.Generator().manual_seed(0))
    write_word2vec(path, words, vectors, binary=True)


def time_queries(path: Path, queries: int = 1000) -> dict:
    """most_similar for `queries` words spread over the vocabulary, ours and gensim's."""
    from gensim.models import KeyedVectors as GensimVectors

    ours = load(path)
    theirs = GensimVectors.load_word2vec_format(str(path), binary=True)
    words = ours.words[:: max(1, len(ours) // queries)][:queries]
    ours.most_similar(words[0])
    theirs.most_similar(words[0])
    return {
        "queries": len(words),
        "w2v_seconds": best_of(3, lambda: [ours.most_similar(word, topn=10) for word in words]),
        "w2v_batch_seconds": best_of(3, lambda: ours.most_similar_batch(words, topn=10)),
        "gensim_seconds": best_of(
            3, lambda: [theirs.most_similar(word, topn=10) for word in words]
        ),
    }


def time_loading(path: Path) -> dict:
    """Loading a word2vec binary file, ours and gensim's, beside reading its bytes."""
    from gensim.models import KeyedVectors as GensimVectors

    return {
        "bytes": path.stat().st_size,
        "read_bytes_seconds": best_of(3, path.read_bytes),
        "w2v_seconds": best_of(3, lambda: load(path)),
        "gensim_seconds": best_of(
            3, lambda: GensimVectors.load_word2vec_format(str(path), binary=True)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--vectors", type=Path, help="model for the query timing (default: random 80,000 x 100)"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="w2v-queries-") as work:
        model = args.vectors
        if model is None:
            model = Path(work) / "model.bin"
            random_model(model, 80_000, 100)
        queries = time_queries(model)
        big = Path(work) / "big.bin"
        random_model(big, args.rows, args.dim)
        loading = time_loading(big)
    results = {
        "most_similar": queries,
        "load": loading,
        "model": str(args.vectors or "random 80,000 x 100"),
    }
    (args.out / "queries.json").write_text(json.dumps(results, indent=2))
    table = (
        "| | w2v s | gensim s | gensim / w2v |\n|---|---:|---:|---:|\n"
        f"| {queries['queries']:,} most_similar calls on {results['model']} | {queries['w2v_seconds']:.3f} | "
        f"{queries['gensim_seconds']:.3f} | {queries['gensim_seconds'] / queries['w2v_seconds']:.1f} |\n"
        f"| the same as one most_similar_batch call | {queries['w2v_batch_seconds']:.3f} | "
        f"{queries['gensim_seconds']:.3f} | {queries['gensim_seconds'] / queries['w2v_batch_seconds']:.1f} |\n"
        f"| load {args.rows:,} x {args.dim} word2vec binary ({loading['bytes'] / 1e9:.2f} GB; reading its bytes "
        f"{loading['read_bytes_seconds']:.2f} s) | {loading['w2v_seconds']:.2f} | {loading['gensim_seconds']:.2f} | "
        f"{loading['gensim_seconds'] / loading['w2v_seconds']:.1f} |\n"
    )
    (args.out / "queries.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
