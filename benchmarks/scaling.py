"""How training cost grows: words/s and peak memory at 1 and 2 threads, dim 100 and 300, and on
the corpus and the corpus repeated 4 times, for w2v and (on a chosen subset) gensim.

    python benchmarks/scaling.py [--corpus ../shared/data/wiki17m.txt] [--epochs 1]
                                 [--gensim 1x] [--repeats 1 4] [--dims 100 300]
                                 [--same-vocabulary] [--out benchmarks/results]

Every run is a child process of its own (see compare_gensim.py), with the reference settings
otherwise. `--gensim 1x` runs gensim on the 1x configurations and on the 4x one at 2 threads and
dim 100; `--gensim all` on every configuration; `--gensim none` skips it. With
`--same-vocabulary`, min-count grows with the repeats (20 for the corpus 4 times), so every corpus
gives the same vocabulary and only the corpus's length changes; otherwise words seen 2 to 4 times
pass min-count 5 in the repeated corpus and the matrices grow. Writes scaling.json and scaling.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from compare_gensim import ROOT, SETTINGS, Run, run_child, split_into_lines

THREADS = (1, 2)
DIMS = (100, 300)
REPEATS = (1, 4)


def repeated(corpus: Path, times: int, out: Path) -> Path:
    """The corpus written `times` times over into `out` (the corpus itself when once)."""
    if times == 1:
        return corpus
    with out.open("wb") as target:
        for _ in range(times):
            with corpus.open("rb") as source:
                shutil.copyfileobj(source, target, 1 << 24)
            target.write(b"\n")
    return out


def wanted_by_gensim(choice: str, threads: int, dim: int, times: int) -> bool:
    """Whether gensim runs this configuration under `--gensim choice`."""
    if choice == "all":
        return True
    if choice == "1x":
        return times == 1 or (threads, dim) == (2, 100)
    return False


def markdown(rows: list[dict], settings: dict) -> str:
    """One line a configuration: each system's words/s and peak memory, and the ratios."""
    lines = [
        f"Corpus `{settings['corpus']}`, {settings['epochs']} epoch(s), skip-gram, window 5, "
        "negative 5, sample 1e-3; one run each.",
        "",
        "| threads | dim | corpus | min-count | w2v words/s | gensim words/s | w2v / gensim "
        "| w2v peak MB | gensim peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ours, theirs = row["w2v"], row.get("gensim")
        speed = f"{theirs['words_per_second']:,.0f}" if theirs else "-"
        ratio = f"{ours['words_per_second'] / theirs['words_per_second']:.2f}" if theirs else "-"
        memory = f"{theirs['peak_rss_mb']:,.0f}" if theirs else "-"
        lines.append(
            f"| {row['threads']} | {row['dim']} | {row['times']}x | {row['min_count']} "
            f"| {ours['words_per_second']:,.0f} | {speed} | {ratio} "
            f"| {ours['peak_rss_mb']:,.0f} | {memory} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/wiki17m.txt")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--gensim", choices=("none", "1x", "all"), default="1x")
    parser.add_argument("--repeats", type=int, nargs="+", default=REPEATS)
    parser.add_argument("--dims", type=int, nargs="+", default=DIMS)
    parser.add_argument("--same-vocabulary", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="w2v-scaling-") as work:
        work = Path(work)
        lines = work / "lines.txt"
        split_into_lines(args.corpus, lines)
        for times in args.repeats:
            corpora = {
                "w2v": repeated(args.corpus, times, work / f"corpus-{times}x.txt"),
                "gensim": repeated(lines, times, work / f"lines-{times}x.txt"),
            }
            min_count = SETTINGS["min_count"] * (times if args.same_vocabulary else 1)
            for dim in args.dims:
                for threads in THREADS:
                    row = {"threads": threads, "dim": dim, "times": times, "min_count": min_count}
                    for system in ("w2v", "gensim"):
                        if system == "gensim" and not wanted_by_gensim(
                            args.gensim, threads, dim, times
                        ):
                            continue
                        row[system] = run_child(
                            Run(
                                system,
                                str(corpora[system]),
                                str(work / f"{system}.bin"),
                                args.epochs,
                                threads,
                                dim=dim,
                                min_count=min_count,
                            )
                        )
                        print(system, json.dumps(row), flush=True)
                    rows.append(row)
            for path in corpora.values():
                if path not in (args.corpus, lines):
                    path.unlink()
    settings = {"corpus": str(args.corpus), "epochs": args.epochs, "gensim": args.gensim}
    settings["same_vocabulary"] = args.same_vocabulary
    (args.out / "scaling.json").write_text(
        json.dumps({"settings": settings, "rows": rows}, indent=2)
    )
    table = markdown(rows, settings)
    (args.out / "scaling.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
