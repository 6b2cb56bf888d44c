"""The vocabulary and encoding pass alone: w2v's, against gensim's `build_vocab`, same text.

    python benchmarks/vocabulary.py [--corpus ../shared/data/wiki17m.txt] [--runs 5]

Each measurement is a fresh child process, the systems alternating, so each pays its own start-up
(for w2v, loading numba's compiled code) and neither finds the other's caches warm in its own
memory. The time runs from a Python call with the corpus path to the vocabulary and, for w2v, the
encoded corpus on disk. gensim reads the same words split into lines of 1,000 (see
compare_gensim.py). Prints each run and the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare_gensim import ROOT, SETTINGS, Run, gensim_settings, split_into_lines


def time_w2v(corpus: str) -> float:
    """Child process: seconds to count, build the vocabulary and encode the corpus."""
    from w2v.text.encode import encode_corpus
    from w2v.text.tokenizer import make_tokenizer

    with tempfile.TemporaryDirectory(prefix="w2v-vocab-") as work:
        start = time.perf_counter()
        tokenizer = make_tokenizer()
        encode_corpus([Path(corpus)], tokenizer, Path(work), SETTINGS["min_count"], progress=False)
        return time.perf_counter() - start


def time_gensim(corpus: str) -> float:
    """Child process: seconds for gensim's build_vocab on the corpus file."""
    from gensim.models import Word2Vec

    start = time.perf_counter()
    model = Word2Vec(**gensim_settings(Run("gensim", corpus, "", epochs=1, threads=2)))
    model.build_vocab(corpus_file=corpus)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/wiki17m.txt")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"w2v": [], "gensim": []}
    with tempfile.TemporaryDirectory(prefix="w2v-vocab-bench-") as work:
        lines = Path(work) / "lines.txt"
        split_into_lines(args.corpus, lines)
        for run in range(args.runs):
            order = ("w2v", "gensim") if run % 2 == 0 else ("gensim", "w2v")
            for system in order:
                corpus = args.corpus if system == "w2v" else lines
                command = [sys.executable, __file__, "--child", system, str(corpus)]
                done = subprocess.run(command, check=True, capture_output=True, text=True)
                seconds[system].append(float(done.stdout.strip().splitlines()[-1]))
            print(json.dumps({system: times[-1] for system, times in seconds.items()}), flush=True)
    ours, theirs = (statistics.median(seconds[system]) for system in ("w2v", "gensim"))
    print(f"median seconds: w2v {ours:.2f}, gensim {theirs:.2f}; gensim / w2v {theirs / ours:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        runner = time_w2v if sys.argv[2] == "w2v" else time_gensim
        print(runner(sys.argv[3]))
    else:
        main()
