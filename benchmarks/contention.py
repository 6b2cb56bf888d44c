"""Where a second thread's speed goes: the CPU kernel alone, on the same corpus tokens a thread,
trained by one thread, by T threads sharing the matrices (how training runs), and by T threads
each on a private copy of them.

    python benchmarks/contention.py [--corpus ../shared/data/wiki17m.txt] [--threads 2]
                                    [--tokens 2000000] [--dim 100] [--repeats 4]
                                    [--layout regions|split]

Thread t trains `--tokens` tokens from the start of the t-th of T equal regions of the corpus
(as --thread-regions reads it), or with `--layout split` the t-th part of the corpus's first
T x `--tokens` tokens (neighbours, as the word model's threads split a block): the parts of a
first block as training cuts it, skip-gram with the reference settings. "alone" trains the T parts
one after another on one thread; the others train them at once, and their seconds are the
slowest thread's. So alone's seconds over T are the seconds a part takes with a core to itself,
and against them "private" shows what the cores' shared cache and memory cost, "shared" what the
rows both threads write cost on top (the frequent words' rows, whose cache lines go back and forth
between the cores, as in any Hogwild trainer). Prints the minimum of each over the repeats, whose
modes alternate, and the speed-up each gives over one thread.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from w2v.text.encode import EncodedCorpus, encode_corpus
from w2v.text.tokenizer import make_tokenizer
from w2v.training.blocks import corpus_blocks, thread_parts
from w2v.training.cpu_kernel import SharedThreads
from w2v.training.noise import NoiseSampler
from w2v.training.process import tune_for_training

ROOT = Path(__file__).resolve().parent.parent
MODES = ("alone", "private", "shared")


def training_parts(corpus: EncodedCorpus, threads: int, tokens: int, layout: str) -> list[tuple]:
    """The parts of a first block of `tokens` tokens a thread, cut as training cuts its blocks
    (`corpus_blocks`; split blocks cut again by `thread_parts`), each with where its sentences
    end, as `SharedThreads.train_block` takes them."""
    streams = threads if layout == "regions" else 1
    spans = corpus_blocks(corpus.sentence_ends, tokens * threads, streams)[0]
    parts = [corpus.read_part(start, end) for start, end in spans]
    return parts if layout == "regions" else thread_parts(*parts[0], threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/wiki17m.txt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=2_000_000, help="corpus tokens a thread")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument(
        "--layout",
        choices=("regions", "split"),
        default="regions",
        help="thread t's tokens: the start of the t-th of T equal regions of the corpus, or the "
        "t-th part of its first T x --tokens tokens (as the word model's threads split each "
        "block)",
    )
    args = parser.parse_args()
    tune_for_training(args.threads)
    with tempfile.TemporaryDirectory(prefix="w2v-contention-") as folder:
        vocabulary, corpus = encode_corpus(
            [args.corpus], make_tokenizer(), Path(folder), progress=False
        )
        parts = training_parts(corpus, args.threads, args.tokens, args.layout)
    noise = NoiseSampler(vocabulary.counts)
    settings = {
        "keep": vocabulary.keep_probabilities(1e-3),
        "acceptance": noise.acceptance,
        "alias": noise.alias,
    }
    generator = torch.Generator().manual_seed(1)
    start = (torch.rand(len(vocabulary), args.dim, generator=generator) - 0.5) / args.dim

    def trainer(threads: int) -> SharedThreads:
        """Threads on fresh matrices of their own, word2vec's start."""
        return SharedThreads(start.clone(), torch.zeros_like(start), threads, **settings)

    def train(model: SharedThreads, chosen: list[tuple]) -> None:
        model.train_block(chosen, 0, 0.025, 0.0001)

    def run(mode: str) -> float:
        if mode == "shared":
            model = trainer(args.threads)
            began = time.perf_counter()
            train(model, parts)
            model.close()
            return time.perf_counter() - began
        models = [trainer(1) for _ in parts]
        began = time.perf_counter()
        if mode == "alone":
            for model, part in zip(models, parts, strict=True):
                train(model, [part])
        else:
            with ThreadPoolExecutor(len(parts)) as pool:
                list(pool.map(train, models, [[part] for part in parts]))
        return time.perf_counter() - began

    run("alone")  # numba loads the kernel
    seconds = dict.fromkeys(MODES, float("inf"))
    for _ in range(args.repeats):
        for mode in MODES:
            seconds[mode] = min(seconds[mode], run(mode))
    print(
        f"Corpus `{args.corpus}`, {len(vocabulary):,} words x {args.dim}, {args.threads} threads "
        f"of {args.tokens:,} tokens each ({args.layout}); minimum seconds of {args.repeats} "
        "repeats.\n"
    )
    print("| mode | seconds | speed-up over one thread |")
    print("|---|---:|---:|")
    for mode in MODES:
        speedup = 1.0 if mode == "alone" else seconds["alone"] / seconds[mode]
        print(f"| {mode} | {seconds[mode]:.2f} | {speedup:.2f} |")


if __name__ == "__main__":
    main()
