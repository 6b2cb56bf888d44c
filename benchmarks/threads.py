"""Any thread count trains, as well and in the same memory: words/s, the three shared scores and
peak memory of w2v (and gensim, where asked) at 1, 2, 4, ... threads.

    python benchmarks/threads.py [--corpus ../shared/data/wiki17m.txt] [--epochs 1]
                                 [--threads 1 2 4 8 16 32] [--gensim 1 2]
                                 [--gensim-linear 2] [--dim 100]
                                 [--pair-noise yes|no] [--seeds 1] [--out benchmarks/results]

On a machine with fewer cores than threads the threads oversubscribe them: the algorithm is the
same as on a bigger machine, so quality and memory show what more cores would give, speed does not.
Every run is a child process of its own (see compare_gensim.py), with the reference settings
otherwise; with several seeds, each (system, threads) line gives the medians. Writes threads.json
and threads.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from compare_gensim import ROOT, Run, run_child, split_into_lines

COLUMNS = (
    ("words/s", "words_per_second", "{:,.0f}"),
    ("seconds", "train_seconds", "{:.1f}"),
    ("Google", "analogy", "{:.3f}"),
    ("WS-353", "wordsim353", "{:.3f}"),
    ("SimLex", "simlex999", "{:.3f}"),
    ("peak MB", "peak_rss_mb", "{:,.0f}"),
    ("peak - imports MB", "working_rss_mb", "{:,.0f}"),
    ("peak - runtime MB", "data_rss_mb", "{:,.0f}"),
)


def markdown(rows: list[dict], settings: dict) -> str:
    """One line a (system, threads) run."""
    lines = [
        f"Corpus `{settings['corpus']}`, {settings['epochs']} epoch(s), skip-gram dim "
        f"{settings['dim']}, window 5, negative 5, sample 1e-3, min-count 5, seed "
        f"{settings['seeds']}; medians over the seeds.",
        "",
        "| system | threads | " + " | ".join(label for label, _, _ in COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for row in rows:
        cells = " | ".join(fmt.format(row[key]) for _, key, fmt in COLUMNS)
        lines.append(f"| {row['system']} | {row['threads']} | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/wiki17m.txt")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--gensim", type=int, nargs="*", default=[], help="its thread counts")
    parser.add_argument(
        "--gensim-linear",
        type=int,
        nargs="*",
        default=[],
        help="thread counts of gensim with its learning rate falling as set (compare_gensim.py)",
    )
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--pair-noise", choices=("yes", "no"), default="yes")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="w2v-threads-") as work:
        lines = Path(work) / "lines.txt"
        if args.gensim or args.gensim_linear:
            split_into_lines(args.corpus, lines)
        plan = [("w2v", threads) for threads in args.threads]
        plan += [("gensim", threads) for threads in args.gensim]
        plan += [("gensim-linear", threads) for threads in args.gensim_linear]
        runs = [(system, threads, seed) for system, threads in plan for seed in args.seeds]
        for system, threads, seed in runs:
            run = Run(
                system,
                str(args.corpus if system == "w2v" else lines),
                str(Path(work) / f"{system}.bin"),
                args.epochs,
                threads,
                dim=args.dim,
                seed=seed,
                pair_noise=args.pair_noise == "yes",
            )
            row = {"system": system, "threads": threads, "seed": seed, **run_child(run)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    medians = [
        {
            "system": system,
            "threads": threads,
            **{
                key: statistics.median(
                    row[key] for row in rows if (row["system"], row["threads"]) == (system, threads)
                )
                for _, key, _ in COLUMNS
            },
        }
        for system, threads in plan
    ]
    settings = {key: str(value) for key, value in vars(args).items()}
    (args.out / "threads.json").write_text(
        json.dumps({"settings": settings, "rows": rows, "medians": medians}, indent=2)
    )
    table = markdown(medians, vars(args))
    (args.out / "threads.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
