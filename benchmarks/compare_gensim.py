"""Train w2v and gensim side by side on one corpus with the same settings, and compare them.

    python benchmarks/compare_gensim.py [--corpus ../shared/data/wiki17m.txt] [--epochs 5]
                                        [--threads 2] [--runs 1] [--out benchmarks/results]
                                        [--model skipgram|cbow] [--hs] [--alpha 0.025]
                                        [--systems w2v,gensim,gensim-linear]

Each run trains every system, rotating which goes first, each in a child process of its own so
that its peak memory is its own. Run k seeds all with k, so `--runs 3` gives medians over three
seeds. gensim gets the same words split into lines of 1,000, as word2vec C cuts sentences (its
corpus_file mode trains on only the first 10,000 words of a line, and measured on lines of 10,000
it scored 5 points lower).

Two gensims: `gensim` as it comes, and `gensim-linear`, the same with its learning rate falling
linearly from alpha to min_alpha over the whole run as the settings say. In corpus_file mode
gensim measures a worker's progress as that worker's sentences over all of the corpus's
(word2vec_corpusfile.pyx, `get_next_alpha`), so with W workers each epoch takes the rate only 1/W
of the way down, and the run ends near alpha (1 - 1/W) / epochs instead of min_alpha (0.0025 for
the reference settings at 2 workers): a higher rate throughout. `gensim-linear` trains one
epoch a call with the fall W times as steep, which undoes that; its extra calls cost it a little
speed, so words/s are stock gensim's to compare.

All are scored on the whole evaluation battery (`evaluate` with no lists: Google and MSR
analogies over the top 30,000 words, nine word-similarity sets) by w2v's evaluation, which
matches gensim's own protocol. `--hs` trains with hierarchical softmax instead of negative
sampling (w2v `--hs --negative 0`, gensim `hs=1, negative=0`). Writes JSON and a markdown table
of the figures and their ratios. gensim is a benchmark-only dependency: pip install gensim.

Memory is the child's peak resident memory, also less what it held after its imports, and less
what it held after a first epoch on a tiny corpus (`runtime_mb`): numba loads w2v's compiled
kernels at their first call (about 50 MB), where gensim's compiled code loads with its imports.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTINGS = {"dim": 100, "window": 5, "negative": 5, "sample": 1e-3, "min_count": 5, "alpha": 0.025}
SYSTEMS = ("w2v", "gensim", "gensim-linear")
NAMES = {"w2v": "w2v", "gensim": "gensim", "gensim-linear": "gensim, rate fixed"}


def split_into_lines(corpus: Path, out: Path, words_per_line: int = 1_000) -> None:
    """Write the corpus's words again, `words_per_line` to a line, streaming in 16 MB chunks."""
    with corpus.open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as target:
        pending: list[str] = []
        carry = ""
        while chunk := source.read(1 << 24):
            words = (carry + chunk).split()
            # A chunk that ends inside a word leaves the rest of the word to the next chunk.
            carry = "" if chunk[-1].isspace() else words.pop()
            pending.extend(words)
            full = len(pending) // words_per_line * words_per_line
            for start in range(0, full, words_per_line):
                target.write(" ".join(pending[start : start + words_per_line]) + "\n")
            del pending[:full]
        pending.extend([carry] if carry else [])
        if pending:
            target.write(" ".join(pending) + "\n")


@dataclass
class Run:
    """One training run of one system, with the reference settings except where given."""

    system: str  # "w2v" or "gensim"
    corpus: str
    out: str
    epochs: int
    threads: int
    model: str = "skipgram"
    hs: bool = False
    dim: int = SETTINGS["dim"]
    alpha: float = SETTINGS["alpha"]
    seed: int = 1
    min_count: int = SETTINGS["min_count"]
    pair_noise: bool = True  # w2v: fresh noise words per (context, centre) pair
    reproducible: bool = False  # w2v: private thread copies merged in a fixed order
    # Subword models (compare_fasttext.py): character n-grams of minn to maxn in bucket rows.
    subwords: bool = False
    minn: int = 3
    maxn: int = 6
    bucket: int = 2_000_000


def tiny_corpus(folder: Path) -> Path:
    """A corpus of 20,000 words over 100 word types in `folder`: enough for any settings to train
    a first epoch on, too little to hold memory of its own."""
    generator = random.Random(0)
    path = folder / "tiny.txt"
    lines = (" ".join(f"w{generator.randrange(100)}" for _ in range(20)) for _ in range(1000))
    path.write_text("\n".join(lines) + "\n")
    return path


def runtime_mb(train: Callable[[Path], object]) -> float:
    """Resident memory in MB after `train` ran on a tiny corpus: the imports and what a first run
    loads whatever its corpus (numba's compiled kernels, thread pools), before any of the data's."""
    with tempfile.TemporaryDirectory(prefix="w2v-tiny-") as folder:
        train(tiny_corpus(Path(folder)))
    gc.collect()
    return resident_mb()


def run_w2v(run: Run) -> dict:
    """Child process: train w2v and report its timings."""
    import w2v
    import w2v.api  # the training code and numba, so that the imports' memory is measured whole
    from w2v.training.process import tune_for_training

    imports_mb = resident_mb()
    tune_for_training(run.threads)  # as the CLI does
    settings = SETTINGS | {"dim": run.dim, "min_count": run.min_count, "alpha": run.alpha}
    config = w2v.TrainConfig(
        **settings | ({"negative": 0} if run.hs else {}),
        epochs=run.epochs,
        threads=run.threads,
        device="cpu",
        model=run.model,
        hs=run.hs,
        seed=run.seed,
        pair_noise=run.pair_noise,
        reproducible=run.reproducible,
        subwords=run.subwords,
        minn=run.minn,
        maxn=run.maxn,
        bucket=run.bucket,
    )
    loaded_mb = runtime_mb(
        lambda tiny: w2v.train([tiny], replace(config, epochs=1, bucket=1000), progress=False)
    )
    start = time.perf_counter()
    model = w2v.train([run.corpus], config, progress=False)
    model.vectors.save(run.out)
    return {
        "vocabulary_seconds": model.encode_seconds,
        "train_seconds": model.train_seconds,
        "raw_words": model.raw_words * run.epochs,
        "wall_seconds": time.perf_counter() - start,
        "imports_rss_mb": imports_mb,
        "runtime_rss_mb": loaded_mb,
    }


def gensim_settings(run: Run) -> dict:
    """gensim Word2Vec's keyword arguments for the run's settings."""
    return {
        "sg": 1 if run.model == "skipgram" else 0,
        "cbow_mean": 1,
        "vector_size": run.dim,
        "window": SETTINGS["window"],
        "negative": 0 if run.hs else SETTINGS["negative"],
        "hs": 1 if run.hs else 0,
        "sample": SETTINGS["sample"],
        "min_count": run.min_count,
        "alpha": run.alpha,
        "min_alpha": 0.0001,
        "workers": run.threads,
        "seed": run.seed,
    }


def run_gensim(run: Run) -> dict:
    """Child process: train gensim (its FastText for a subword run) with the same settings and
    report its timings."""
    from gensim.models import FastText, Word2Vec
    from gensim.models.fasttext import save_facebook_model

    imports_mb = resident_mb()
    tiny_run = gensim_settings(run) | {"epochs": 1}
    if run.subwords:
        loaded_mb = runtime_mb(
            lambda tiny: FastText(corpus_file=str(tiny), **tiny_run, min_n=run.minn, bucket=1000)
        )
    else:
        loaded_mb = runtime_mb(lambda tiny: Word2Vec(corpus_file=str(tiny), **tiny_run))
    start = time.perf_counter()
    if run.subwords:
        ngrams = {"min_n": run.minn, "max_n": run.maxn, "bucket": run.bucket}
        model = FastText(**gensim_settings(run), **ngrams)
    else:
        model = Word2Vec(**gensim_settings(run))
    model.build_vocab(corpus_file=run.corpus)
    built = time.perf_counter()
    corpus = {
        "corpus_file": run.corpus,
        "total_words": model.corpus_total_words,
        "total_examples": model.corpus_count,
    }
    if run.system == "gensim-linear":
        # With W workers an epoch takes corpus_file's rate only 1/W of the way down (see the
        # module's docstring): one epoch a call, each falling W times as far, gives the linear
        # fall the settings ask for.
        rates = [
            model.alpha - (model.alpha - model.min_alpha) * epoch / run.epochs
            for epoch in range(run.epochs + 1)
        ]
        for epoch in range(run.epochs):
            fall = (rates[epoch] - rates[epoch + 1]) * run.threads
            model.train(**corpus, epochs=1, start_alpha=rates[epoch], end_alpha=rates[epoch] - fall)
    else:
        model.train(**corpus, epochs=run.epochs)
    trained = time.perf_counter()
    if run.subwords:
        # Facebook's format keeps the n-gram rows, from which w2v.load answers unseen words.
        save_facebook_model(model, run.out)
    else:
        model.wv.save_word2vec_format(run.out, binary=True)
    return {
        "vocabulary_seconds": built - start,
        "train_seconds": trained - built,
        "raw_words": model.corpus_total_words * run.epochs,
        "wall_seconds": time.perf_counter() - start,
        "imports_rss_mb": imports_mb,
        "runtime_rss_mb": loaded_mb,
    }


def run_child(run: Run, script: str = __file__) -> dict:
    """Do `run` in a fresh interpreter running `script --child`; add its peak resident memory and
    its scores."""
    command = [sys.executable, script, "--child", json.dumps(asdict(run))]
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["words_per_second"] = figures["raw_words"] / figures["train_seconds"]
    # Imported here, not at the top: the gensim child must not load torch, or its memory would
    # count torch's.
    from w2v.query.evaluate import battery_rows, evaluate_battery
    from w2v.query.vectors import load

    battery = {
        battery_name(row.name, row.group): {
            "kind": row.kind,
            "score": row.score,
            "evaluated": row.evaluated,
            "total": row.total,
        }
        for row in battery_rows(evaluate_battery(load(run.out), restrict_vocab=30000))
    }
    figures["battery"] = battery
    # benchmarks/threads.py's columns: the three sets the tables reported before the battery.
    figures["analogy"] = battery["Google analogies"]["score"]
    figures["wordsim353"] = battery["WordSim-353"]["score"]
    figures["simlex999"] = battery["SimLex-999"]["score"]
    return figures


def battery_name(name: str, group: str | None) -> str:
    """A battery row's label: the set's name, or 'set: group' for a group of its sections."""
    return name if group is None else f"{name}: {group}"


def median_or_none(values: list[float | None]) -> float | None:
    """The median of the values that exist (a score is None where too few words were covered)."""
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def median_figures(runs: list[dict]) -> dict:
    """Each figure's median over the runs, the battery's scores and counts set by set."""
    summary = {
        key: median_or_none([run[key] for run in runs]) for key in runs[0] if key != "battery"
    }
    summary["battery"] = {
        name: {
            "kind": row["kind"],
            **{
                key: median_or_none([run["battery"][name][key] for run in runs])
                for key in ("score", "evaluated", "total")
            },
        }
        for name, row in runs[0]["battery"].items()
    }
    return summary


def resident_mb() -> float:
    """This process's resident memory now, in MB (0 where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_resident_mb() -> float:
    """This process's peak resident memory in MB.

    Linux's VmHWM starts afresh when a program is executed; getrusage's ru_maxrss does not: a child
    reports its parent's peak from before the exec if that was higher.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(settings: str, runners: dict[str, Callable[[Run], dict]] | None = None) -> None:
    """Train the run given as JSON with its system's runner (w2v's or gensim's by default) and
    print its figures as JSON."""
    run = Run(**json.loads(settings))
    runners = runners or {"w2v": run_w2v, "gensim": run_gensim, "gensim-linear": run_gensim}
    figures = runners[run.system](run)
    figures["peak_rss_mb"] = peak_resident_mb()
    figures["working_rss_mb"] = figures["peak_rss_mb"] - figures["imports_rss_mb"]
    if "runtime_rss_mb" in figures:
        figures["data_rss_mb"] = figures["peak_rss_mb"] - figures["runtime_rss_mb"]
    print(json.dumps(figures))


# The tables' rows of timings and memory: label, figure, format.
FIGURE_ROWS = (
    ("training words/s", "words_per_second", "{:,.0f}"),
    ("training seconds", "train_seconds", "{:.1f}"),
    ("vocabulary + encoding seconds", "vocabulary_seconds", "{:.1f}"),
    ("whole command seconds", "wall_seconds", "{:.1f}"),
    ("peak memory MB", "peak_rss_mb", "{:,.0f}"),
    ("peak memory minus the imports' MB", "working_rss_mb", "{:,.0f}"),
    ("peak memory minus the runtime's (imports, a first tiny run) MB", "data_rss_mb", "{:,.0f}"),
)


def parse_systems(text: str, known: tuple[str, ...] = SYSTEMS) -> tuple[str, ...]:
    """A --systems list, in the order given; an unknown or repeated name is an argparse error."""
    systems = tuple(name.strip() for name in text.split(","))
    for name in systems:
        if name not in known:
            raise argparse.ArgumentTypeError(
                f"unknown system {name!r}; the systems are {', '.join(known)}"
            )
    if len(set(systems)) != len(systems):
        raise argparse.ArgumentTypeError(f"a system named twice in {text!r}")
    return systems


def cell(value: float | None, fmt: str) -> str:
    """A figure as the table shows it, '-' where there is none."""
    return "-" if value is None else fmt.format(value)


def ratio(ours: float | None, theirs: float | None) -> str:
    """w2v's figure over another system's, '-' where either is missing or the other is 0."""
    return f"{ours / theirs:.2f}" if ours is not None and theirs else "-"


def table_lines(summary: dict, names: dict[str, str]) -> list[str]:
    """The rows of a table of each system's median figures (timings, memory, then the battery's
    scores) and, with w2v among them, the ratios w2v / other."""
    systems = list(summary)
    others = [system for system in systems if system != "w2v"] if "w2v" in summary else []
    lines = [
        "| | "
        + " | ".join(names[system] for system in systems)
        + "".join(f" | w2v / {names[other]}" for other in others)
        + " |",
        "|---|" + "---:|" * (len(systems) + len(others)),
    ]
    rows = [
        (label, fmt, {system: summary[system].get(key) for system in systems})
        for label, key, fmt in FIGURE_ROWS
    ]
    for name, row in summary[systems[0]]["battery"].items():
        measure = "accuracy (top 30k)" if row["kind"] == "analogy" else "rho"
        scores = {system: summary[system]["battery"][name]["score"] for system in systems}
        rows.append((f"{name} {measure}", "{:.4f}", scores))
    for label, fmt, values in rows:
        cells = [cell(values[system], fmt) for system in systems]
        cells += [ratio(values["w2v"], values[other]) for other in others]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def markdown(summary: dict, settings: dict) -> str:
    """The settings in a line, then the table of the systems' median figures."""
    heading = (
        f"Corpus `{settings['corpus']}`, {settings['epochs']} epochs, {settings['threads']} "
        f"threads, {settings['model']} dim 100, window 5, "
        f"{'hierarchical softmax (negative 0)' if settings.get('hs') else 'negative 5'}, "
        f"sample 1e-3, min-count 5, alpha {settings['alpha']}; median of {settings['runs']} "
        "run(s)."
    )
    return "\n".join([heading, "", *table_lines(summary, NAMES)]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/wiki17m.txt")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--model", choices=("skipgram", "cbow"), default="skipgram")
    parser.add_argument("--hs", action="store_true", help="hierarchical softmax, no negatives")
    parser.add_argument(
        "--alpha", type=float, default=SETTINGS["alpha"], help="every system's learning rate"
    )
    parser.add_argument(
        "--systems",
        type=parse_systems,
        default=SYSTEMS,
        help=f"comma-separated, of {','.join(SYSTEMS)} (default: all)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict]] = {system: [] for system in args.systems}
    with tempfile.TemporaryDirectory(prefix="w2v-bench-") as work:
        lines = Path(work) / "corpus-lines.txt"
        split_into_lines(args.corpus, lines)
        for run in range(args.runs):
            turn = run % len(args.systems)
            for system in args.systems[turn:] + args.systems[:turn]:
                corpus = args.corpus if system == "w2v" else lines
                figures = run_child(
                    Run(
                        system,
                        str(corpus),
                        str(Path(work) / f"{system}.bin"),
                        args.epochs,
                        args.threads,
                        args.model,
                        args.hs,
                        alpha=args.alpha,
                        seed=run + 1,
                    )
                )
                results[system].append(figures)
                print(system, json.dumps(figures), flush=True)
    summary = {system: median_figures(runs) for system, runs in results.items()}
    settings = {
        "corpus": str(args.corpus),
        "model": args.model,
        "epochs": args.epochs,
        "threads": args.threads,
        "runs": args.runs,
        "hs": args.hs,
        "alpha": args.alpha,
        "systems": list(args.systems),
    }
    name = f"compare_gensim_{args.model}" + ("_hs" if args.hs else "")
    name += "" if args.alpha == SETTINGS["alpha"] else f"_alpha{args.alpha}"
    (args.out / f"{name}.json").write_text(
        json.dumps({"settings": settings, "runs": results, "median": summary}, indent=2)
    )
    table = markdown(summary, settings)
    (args.out / f"{name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2])
    else:
        main()
