"""Train w2v's subword model, Facebook's fastText and gensim's FastText side by side on one corpus
with the same settings, and compare their speed, memory and scores.

    python benchmarks/compare_fasttext.py [--corpus ../shared/data/wiki17m.txt] [--epochs 5]
                                          [--threads 2] [--runs 1 | --seeds 4 5]
                                          [--systems w2v,fasttext,gensim]
                                          [--gensim-epochs N] [--out benchmarks/results]

The README's figures (speed, then quality):

    python benchmarks/compare_fasttext.py --corpus ../shared/data/wiki17m.txt --epochs 1 --threads 2 --runs 3
    python benchmarks/compare_fasttext.py --corpus ../shared/data/wiki17m.txt --epochs 5 --threads 2 --runs 5 --systems w2v,fasttext

All three train skip-gram, dim 100, window 5, negative 5, sample 1e-3, min-count 5, learning rate
0.025, character n-grams of 3 to 6 characters hashed into 2,000,000 rows (w2v `--subwords`,
fastText `minn 3 maxn 6 bucket 2000000`, gensim `FastText(sg=1, min_n=3, max_n=6)`). Each run
trains every system, rotating which goes first, each in a child process of its own so that its
peak memory (and its memory right after its imports) is its own; run k seeds all with k, so
`--runs 3` gives medians over three seeds. w2v and fastText read the corpus as it is; gensim gets
its words in lines of 1,000, as compare_gensim.py gives them. Words/s is the corpus's words times
the epochs over the training seconds: fastText reads its vocabulary and allocates its matrices in
the same call that trains, so a call with 0 epochs before it times that part, which is taken off.
Every system's model is written in fastText's .bin format and read back by `w2v.load`, whose
vectors are the same as fastText's own get_word_vector, and scored on the whole battery of
compare_gensim.py, with each word-similarity set also scored with unseen words answered from
their n-grams (the rows ending "(unseen words from n-grams)"). `--gensim-epochs` trains gensim,
the slowest, for fewer epochs, for its speed alone. Writes compare_fasttext.json and
compare_fasttext.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from compare_gensim import (
    ROOT,
    SETTINGS,
    Run,
    child_main,
    median_figures,
    parse_systems,
    resident_mb,
    run_child,
    run_gensim,
    run_w2v,
    split_into_lines,
    table_lines,
)

SYSTEMS = ("w2v", "fasttext", "gensim")
NAMES = {"w2v": "w2v", "fasttext": "fastText", "gensim": "gensim FastText"}


def fasttext_args(run: Run, epochs: int) -> object:
    """fastText's training arguments for the run's settings, `epochs` passes."""
    import fasttext_pybind

    args = fasttext_pybind.args()
    settings = {
        "input": run.corpus,
        "output": "",  # the model is written with saveModel, as train_unsupervised leaves it
        "saveOutput": 0,
        "model": fasttext_pybind.model_name.skipgram,
        "loss": fasttext_pybind.loss_name.ns,
        "dim": run.dim,
        "ws": SETTINGS["window"],
        "neg": SETTINGS["negative"],
        "t": SETTINGS["sample"],
        "lr": run.alpha,
        "minCount": run.min_count,
        "minn": run.minn,
        "maxn": run.maxn,
        "bucket": run.bucket,
        "epoch": epochs,
        "thread": run.threads,
        "seed": run.seed,
        "verbose": 0,
    }
    for name, value in settings.items():
        setattr(args, name, value)
    return args


def run_fasttext(run: Run) -> dict:
    """Child process: train Facebook's fastText with the same settings and report its timings.

    fasttext 0.9.3's train_unsupervised refuses a seed its C++ takes, so this calls the bindings'
    train as train_unsupervised does, with the seed set."""
    import fasttext_pybind

    imports_mb = resident_mb()
    start = time.perf_counter()
    fasttext_pybind.train(fasttext_pybind.fasttext(), fasttext_args(run, 0))
    built = time.perf_counter()
    model = fasttext_pybind.fasttext()
    fasttext_pybind.train(model, fasttext_args(run, run.epochs))
    trained = time.perf_counter()
    model.saveModel(run.out)
    saved = time.perf_counter()
    del model  # its matrices, before the corpus is counted
    return {
        "vocabulary_seconds": built - start,
        "train_seconds": (trained - built) - (built - start),
        "raw_words": count_words(Path(run.corpus)) * run.epochs,
        "wall_seconds": saved - built,  # the one call fastText's command makes, and the writing
        "imports_rss_mb": imports_mb,
    }


def count_words(corpus: Path) -> int:
    """The corpus's words as fastText reads them: runs of bytes between ASCII whitespace."""
    words = 0
    ended_in_word = False
    with corpus.open("rb") as source:
        while chunk := source.read(1 << 22):
            words += len(chunk.split())
            if ended_in_word and not chunk[:1].isspace():
                words -= 1  # a word cut by the chunk's start, counted with the chunk before
            ended_in_word = not chunk[-1:].isspace()
    return words


def markdown(summary: dict, settings: dict) -> str:
    """A table of each system's median figures and, with w2v among them, the ratios w2v / other."""
    epochs = settings["epochs_by_system"]
    trained = ", ".join(f"{NAMES[system]} {epochs[system]}" for system in summary)
    heading = (
        f"Corpus `{settings['corpus']}`, epochs: {trained}; {settings['threads']} threads, "
        "skip-gram dim 100, window 5, negative 5, sample 1e-3, min-count 5, character n-grams "
        f"3 to 6 in 2,000,000 rows; median of {len(settings['seeds'])} run(s), seeds "
        f"{', '.join(map(str, settings['seeds']))}."
    )
    return "\n".join([heading, "", *table_lines(summary, NAMES)]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/wiki17m.txt")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--runs", type=int, default=1, help="seeds 1 to RUNS; medians over them")
    chosen.add_argument("--seeds", type=int, nargs="+", help="these seeds instead (say, 4 5)")
    parser.add_argument(
        "--systems",
        type=lambda text: parse_systems(text, SYSTEMS),
        default=SYSTEMS,
        help=f"comma-separated, of {','.join(SYSTEMS)} (default: all)",
    )
    parser.add_argument(
        "--gensim-epochs", type=int, help="gensim's epochs, for its speed alone (default: --epochs)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args()
    if not args.corpus.is_file():
        parser.error(f"--corpus {args.corpus}: no such file")
    for option, value in (
        ("--epochs", args.epochs),
        ("--threads", args.threads),
        ("--runs", args.runs),
        ("--gensim-epochs", args.gensim_epochs),
    ):
        if value is not None and value < 1:
            parser.error(f"{option} must be at least 1, got {value}")
    seeds = args.seeds or list(range(1, args.runs + 1))
    if min(seeds) < 0:
        parser.error(f"--seeds must be at least 0, got {min(seeds)}")
    epochs = {system: args.epochs for system in args.systems}
    if "gensim" in epochs and args.gensim_epochs is not None:
        epochs["gensim"] = args.gensim_epochs
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict]] = {system: [] for system in args.systems}
    with tempfile.TemporaryDirectory(prefix="w2v-bench-") as work:
        lines = Path(work) / "corpus-lines.txt"
        if "gensim" in args.systems:
            split_into_lines(args.corpus, lines)
        for run, seed in enumerate(seeds):
            turn = run % len(args.systems)
            for system in args.systems[turn:] + args.systems[:turn]:
                corpus = lines if system == "gensim" else args.corpus
                figures = run_child(
                    Run(
                        system,
                        str(corpus),
                        str(Path(work) / f"{system}.bin"),
                        epochs[system],
                        args.threads,
                        seed=seed,
                        subwords=True,
                    ),
                    script=__file__,
                )
                results[system].append(figures)
                print(system, json.dumps(figures), flush=True)
    summary = {system: median_figures(runs) for system, runs in results.items()}
    settings = {
        "corpus": str(args.corpus),
        "epochs": args.epochs,
        "epochs_by_system": epochs,
        "threads": args.threads,
        "seeds": seeds,
        "systems": list(args.systems),
    }
    (args.out / "compare_fasttext.json").write_text(
        json.dumps({"settings": settings, "runs": results, "median": summary}, indent=2)
    )
    table = markdown(summary, settings)
    (args.out / "compare_fasttext.md").write_text(table)
    print(table)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], {"w2v": run_w2v, "fasttext": run_fasttext, "gensim": run_gensim})
    else:
        main()
