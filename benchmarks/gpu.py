"""Training on a GPU: wiki17m for 1 and 5 epochs with the Triton kernel, beside the CPU kernel's
figures from a saved CPU run, so the GPU's time is spent on the GPU alone.

    python benchmarks/gpu.py [--corpus ../shared/data/wiki17m.txt] [--epochs 1 5]
                             [--kernel triton|torch] [--device cuda]
                             [--reference benchmarks/cpu_reference.json] [--out benchmarks/results]

Reference settings (skip-gram, dim 100, window 5, negative 5, sample 1e-3, min-count 5, seed 1).
A warm-up run on the corpus's first words compiles the kernels first, so no run's seconds include
compiling. Prints, per run, raw words/s, training seconds, peak GPU memory (torch's allocations,
`torch.cuda.max_memory_allocated`) and the Google analogy (top 30k words), WordSim-353 and
SimLex-999 scores, with the reference's for the same epochs; writes gpu.json and gpu.md to --out.
Under five minutes on one H200 if the kernel trains at 1M words/s or more.

Without a GPU it runs end to end under Triton's interpreter on a small corpus (slowly: about
10 ms a training pair), which checks the command, not the speed:

    python cli.py synthetic -o small.txt --sentences 300
    TRITON_INTERPRET=1 python benchmarks/gpu.py --corpus small.txt --device cpu --epochs 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from compare_gensim import ROOT, SETTINGS

import w2v
from w2v.fileio import atomic_write
from w2v.query.evaluate import evaluate_analogies, evaluate_similarity, shipped_list

WARM_UP_BYTES = 2_000  # of the corpus: enough words to run every kernel once
COLUMNS = (
    ("words/s", "words_per_second", "{:,.0f}"),
    ("seconds", "train_seconds", "{:.1f}"),
    ("peak GPU MB", "peak_gpu_mb", "{:,.0f}"),
    ("Google", "analogy", "{:.3f}"),
    ("WS-353", "wordsim353", "{:.3f}"),
    ("SimLex", "simlex999", "{:.3f}"),
)


def config(epochs: int, kernel: str, device: str, **changes: object) -> w2v.TrainConfig:
    """The reference settings with this run's epochs, kernel and device."""
    settings = SETTINGS | {"epochs": epochs, "kernel": kernel, "device": device, "seed": 1}
    return w2v.TrainConfig(**settings | changes)


def warm_up(corpus: Path, kernel: str, device: str) -> float:
    """Train on the corpus's first words (every word kept in the vocabulary), which compiles the
    kernels for these settings; return the seconds it took."""
    head = corpus.read_bytes()[:WARM_UP_BYTES].decode("utf-8", errors="ignore")
    with tempfile.TemporaryDirectory(prefix="w2v-gpu-") as work:
        piece = Path(work) / "head.txt"
        piece.write_text(head.rsplit(maxsplit=1)[0] + "\n")
        start = time.perf_counter()
        w2v.train([piece], config(1, kernel, device, min_count=1), progress=False)
        return time.perf_counter() - start


def run(corpus: Path, epochs: int, kernel: str, device: str) -> dict:
    """One training run's figures and scores."""
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    model = w2v.train([corpus], config(epochs, kernel, device), progress=False)
    vectors = model.vectors
    analogies = evaluate_analogies(vectors, shipped_list("questions-words.txt"), 30000)
    return {
        "epochs": epochs,
        "words_per_second": model.raw_words * epochs / model.train_seconds,
        "train_seconds": model.train_seconds,
        "encode_seconds": model.encode_seconds,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "analogy": analogies.overall.accuracy,
        "analogy_questions": analogies.overall.evaluated,
        "wordsim353": evaluate_similarity(vectors, shipped_list("wordsim353.tsv")).spearman,
        "simlex999": evaluate_similarity(vectors, shipped_list("simlex999.txt")).spearman,
        "mean_loss_last_epoch": model.history[-1].loss,
    }


def cell(fmt: str, value: float | None) -> str:
    return "-" if value is None else fmt.format(value)


def markdown(rows: list[dict], reference: dict, settings: dict) -> str:
    """A line per run and, under each, the reference's line for the same epochs."""
    saved = {row["epochs"]: row for row in reference["runs"]}
    lines = [
        f"Corpus `{settings['corpus']}`, kernel {settings['kernel']} on {settings['device']}, "
        "skip-gram dim 100, window 5, negative 5, sample 1e-3, min-count 5, seed 1; the CPU "
        f"lines are from `{settings['reference']}` ({reference['source']}).",
        "",
        "| run | epochs | " + " | ".join(label for label, _, _ in COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for row in rows:
        name = f"{settings['kernel']} {settings['device']}"
        for label, line in ((name, row), ("CPU reference", saved.get(row["epochs"]))):
            if line is not None:
                cells = " | ".join(cell(fmt, line.get(key)) for _, key, fmt in COLUMNS)
                lines.append(f"| {label} | {row['epochs']} | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/wiki17m.txt")
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--kernel", choices=("triton", "torch"), default="triton")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--reference", type=Path, default=ROOT / "benchmarks/cpu_reference.json")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args()
    reference = json.loads(args.reference.read_text())
    if torch.device(args.device).type == "cuda":
        print(f"device: {torch.cuda.get_device_name()}", flush=True)
    seconds = warm_up(args.corpus, args.kernel, args.device)
    print(f"warm-up (on a GPU, compiling the kernels): {seconds:.1f} s", flush=True)
    rows = []
    for epochs in args.epochs:
        rows.append(run(args.corpus, epochs, args.kernel, args.device))
        print(json.dumps(rows[-1]), flush=True)
    settings = {key: str(value) for key, value in vars(args).items()}
    table = markdown(rows, reference, settings)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"settings": settings, "warm_up_seconds": seconds, "rows": rows}
    atomic_write(args.out / "gpu.json", json.dumps(results, indent=2).encode())
    atomic_write(args.out / "gpu.md", table.encode())
    print(table)


if __name__ == "__main__":
    main()
