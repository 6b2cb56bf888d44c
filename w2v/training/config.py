"""Training settings: one place gives each setting's name, default, range and help (the CLI's
train options are made from it), and the learning-rate schedule."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from w2v.errors import ConfigError
from w2v.text.phrases import THRESHOLD as PHRASE_THRESHOLD
from w2v.text.tokenizer import SPLITS
from w2v.training.distributed import SYNC_EVERY

DEVICES = ("auto", "cpu", "cuda")
KERNELS = ("auto", "numba", "torch")
MODELS = ("skipgram", "cbow")


def setting(default: Any, help: str, **option: Any) -> Any:
    """A TrainConfig field: its default and the help and argparse details of its CLI option
    (`flag` when the option is not `--name-with-dashes`, `choices`, `metavar`)."""
    if callable(default):
        return field(default_factory=default, metadata={"help": help, **option})
    return field(default=default, metadata={"help": help, **option})


@dataclass
class TrainConfig:
    """Training settings; the defaults are word2vec's skip-gram defaults."""

    dim: int = setting(100, "vector dimensions")
    window: int = setting(5, "largest context window; each centre draws one from 1..window")
    negative: int = setting(5, "noise words per centre word, 0 for none with --hs")
    hs: bool = setting(
        False,
        "hierarchical softmax over a Huffman tree of the vocabulary; with --negative 0 alone, "
        "otherwise both losses add up",
    )
    sample: float = setting(1e-3, "subsampling threshold for frequent words, 0 to keep all")
    alpha: float = setting(0.025, "starting learning rate")
    min_alpha: float = setting(0.0001, "final learning rate")
    epochs: int = setting(5, "passes over the corpus")
    min_count: int = setting(5, "drop words seen fewer times")
    max_vocab: int | None = setting(None, "keep only this many most frequent words")
    seed: int = setting(
        1,
        "random seed; on CPU the same corpus and seed give byte-identical vectors with --threads 1 "
        "or --reproducible, not otherwise: threads share the matrices and their updates race",
    )
    threads: int = setting(
        lambda: os.cpu_count() or 1,
        "CPU threads (default: all cores; under torchrun, the cores shared among the ranks)",
    )
    sync_every: int = setting(
        SYNC_EVERY,
        "under torchrun: the ranks add up their changes every WORDS words of all ranks",
        metavar="WORDS",
    )
    reproducible: bool = setting(
        False,
        "with --threads above 1, the same corpus, seed and thread count give the same bytes: each "
        "thread trains a private copy of the matrices, merged in a fixed order (memory grows with "
        "the threads; one thread is reproducible without it)",
    )
    pair_noise: bool = setting(
        True,
        "skip-gram draws one set of noise words per centre word, shared by its window, instead of "
        "one per (context, centre) pair as word2vec does",
        flag="--centre-noise",
    )
    device: str = setting("auto", "auto takes a GPU when there is one", choices=DEVICES)
    batch_words: int = setting(4096, "most centre words per batched update of the torch kernel")
    model: str = setting(
        "skipgram",
        "skipgram: each word predicts its neighbours; cbow: the neighbours together predict the word",
        choices=MODELS,
    )
    cbow_mean: bool = setting(
        True, "CBOW sums the context vectors instead of averaging them", flag="--cbow-sum"
    )
    kernel: str = setting(
        "auto",
        "auto: the compiled numba loop on CPU, batched torch updates on CUDA",
        choices=KERNELS,
    )
    tokenizer: str = setting(
        "words",
        "words: split letters and digits from punctuation; whitespace: split on spaces only",
        choices=SPLITS,
    )
    lowercase: bool = setting(True, "keep the case of words", flag="--no-lowercase")
    phrases: int = setting(
        0,
        "first join frequent pairs of words (new_york) in N passes, as the phrases command does",
        metavar="N",
    )
    phrase_threshold: float = setting(
        PHRASE_THRESHOLD,
        "score a pair needs to be joined in the first pass; each later pass halves it",
    )

    def validate(self) -> None:
        """Raise ConfigError naming the first setting that is out of range."""
        positive = {
            "dim": self.dim,
            "window": self.window,
            "epochs": self.epochs,
            "threads": self.threads,
            "min-count": self.min_count,
            "batch-words": self.batch_words,
            "sync-every": self.sync_every,
        }
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"--{name} must be at least 1, got {value}")
        if self.negative < 0:
            raise ConfigError(f"--negative must be at least 0, got {self.negative}")
        if self.negative == 0 and not self.hs:
            raise ConfigError(
                "--negative 0 leaves nothing to train: use --negative 1 or more, or --hs"
            )
        if not 0 <= self.sample < 1:
            raise ConfigError(f"--sample must be in [0, 1), got {self.sample}")
        if not self.alpha > 0:
            raise ConfigError(f"--alpha must be above 0, got {self.alpha}")
        if not 0 <= self.min_alpha <= self.alpha:
            raise ConfigError(
                f"--min-alpha must be in [0, --alpha] = [0, {self.alpha}], got {self.min_alpha}"
            )
        if self.max_vocab is not None and self.max_vocab < 1:
            raise ConfigError(f"--max-vocab must be at least 1, got {self.max_vocab}")
        for name, value, allowed in (
            ("device", self.device, DEVICES),
            ("model", self.model, MODELS),
            ("kernel", self.kernel, KERNELS),
            ("tokenizer", self.tokenizer, SPLITS),
        ):
            if value not in allowed:
                raise ConfigError(f"unknown {name} {value!r}: choose one of {', '.join(allowed)}")
        if self.kernel == "numba" and self.resolved_device().type != "cpu":
            raise ConfigError(
                "--kernel numba runs on the CPU only: use --kernel torch with --device cuda"
            )
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device cuda asked for, but torch sees no CUDA GPU here")
        if self.phrases < 0:
            raise ConfigError(f"--phrases must be at least 0, got {self.phrases}")
        if not self.phrase_threshold > 0:
            raise ConfigError(f"--phrase-threshold must be above 0, got {self.phrase_threshold}")

    def resolved_kernel(self) -> str:
        """The update code training runs: `auto` takes the compiled CPU kernel on CPU, torch on CUDA."""
        if self.kernel == "auto":
            return "numba" if self.resolved_device().type == "cpu" else "torch"
        return self.kernel

    def resolved_device(self) -> torch.device:
        """The device training runs on: `auto` takes a GPU when torch sees one."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def learning_rate(self, share_done: float) -> float:
        """word2vec's schedule: alpha falling linearly to min_alpha as training goes from 0 to 1."""
        return max(self.min_alpha, self.alpha - (self.alpha - self.min_alpha) * share_done)
