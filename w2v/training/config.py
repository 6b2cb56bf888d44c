"""Training settings: one place gives each setting's name, default, range and help (the CLI's
train options are made from it), and the learning-rate schedule."""

from __future__ import annotations

import importlib.util
import numbers
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch

from w2v.errors import ConfigError
from w2v.text.counting import MIN_VOCAB_MEMORY
from w2v.text.encode import MAX_SENTENCE_WORDS
from w2v.text.phrases import THRESHOLD as PHRASE_THRESHOLD
from w2v.text.subwords import SubwordSpec
from w2v.text.tokenizer import SPLITS
from w2v.training.distributed import SYNC_EVERY

DEVICES = ("auto", "cpu", "cuda")
KERNELS = ("auto", "numba", "torch", "triton")
# The Triton kernel holds a centre's window as one tile and draws 2 * window sets of noise words a
# centre ahead of training, so its memory and registers grow with the window.
TRITON_MAX_WINDOW = 32
MODELS = ("skipgram", "cbow")
# word2vec's and fastText's starting learning rates: CBOW's error is spread over a whole window,
# and it trains best starting twice as high (wiki17m, 5 epochs, 3 seeds: Google analogies .342
# at 0.05 against .293 at 0.025).
SKIPGRAM_ALPHA = 0.025
CBOW_ALPHA = 0.05
# word2vec's and fastText's noise distributions. With n-grams fastText's draws rare words more
# often, and its vectors trade semantics for syntax (wiki17m, skip-gram, 5 epochs, seed 1: MSR
# analogies .662 against .642 at 0.75, Google syntactic .678 against .659, semantic .280
# against .301, SimLex-999 .270 against .261).
WORD_NOISE_POWER = 0.75
SUBWORD_NOISE_POWER = 0.5
# More threads than this only wait for cores (and 100,000 of them crash the process).
MAX_THREADS = 1024
# The most memory the torch kernel's tensors of one batch may take (see `torch_batch_bytes`).
TORCH_BATCH_BYTES = 4 << 30
# The suffixes a size may end in (--max-vocab-memory 500M), powers of 1024 as memory goes.
SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# What a setting of each annotated type may hold, and how a message names it.
KINDS = {
    "int": ((numbers.Integral,), "an integer"),
    "int | None": ((numbers.Integral, type(None)), "an integer or null"),
    "float": ((numbers.Real,), "a number"),
    "float | None": ((numbers.Real, type(None)), "a number or null"),
    "bool": ((bool,), "true or false"),
    "bool | None": ((bool, type(None)), "true, false or null"),
    "str": ((str,), "a string"),
}


def setting(default: Any, help: str, **option: Any) -> Any:
    """A TrainConfig field: its default and the help and argparse details of its CLI option
    (`flag` when the option is not `--name-with-dashes`, `choices`, `metavar`)."""
    if callable(default):
        return field(default_factory=default, metadata={"help": help, **option})
    return field(default=default, metadata={"help": help, **option})


@dataclass
class TrainConfig:
    """Training settings; the defaults are word2vec's (for skip-gram, the model it starts with)."""

    dim: int = setting(100, "vector dimensions")
    window: int = setting(5, "largest context window; each centre draws one from 1..window")
    negative: int = setting(5, "noise words per centre word, 0 for none with --hs")
    hs: bool = setting(
        False,
        "hierarchical softmax over a Huffman tree of the vocabulary; with --negative 0 alone, "
        "otherwise both losses add up",
    )
    noise_power: float | None = setting(
        None,
        "noise words are drawn in proportion to count**POWER (gensim's ns_exponent): 1 as often "
        f"as they occur, 0 all alike, below 0 rare words more (default: {WORD_NOISE_POWER} as in "
        f"word2vec, {SUBWORD_NOISE_POWER} with --subwords as in fastText)",
        metavar="POWER",
    )
    sample: float = setting(1e-3, "subsampling threshold for frequent words, 0 to keep all")
    alpha: float | None = setting(
        None,
        f"starting learning rate (default: {SKIPGRAM_ALPHA}, and {CBOW_ALPHA} for CBOW, as word2vec "
        "and fastText start it)",
    )
    min_alpha: float = setting(0.0001, "final learning rate")
    epochs: int = setting(5, "passes over the corpus")
    min_count: int = setting(5, "drop words seen fewer times")
    max_vocab: int | None = setting(None, "keep only this many most frequent words")
    max_vocab_memory: int | str | None = setting(
        None,
        "bound the memory of counting the words to SIZE (bytes, or 500M, 2G): past it the words "
        "seen least so far are pruned, as word2vec's ReduceVocab does, and the counts of the words "
        "left are lower bounds (exact while the bound is not reached; default: no bound, exact)",
        metavar="SIZE",
    )
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
        "thread trains copies of just the rows its share of a round touches, merged in a fixed "
        "order (one thread is reproducible without it)",
    )
    thread_regions: bool | None = setting(
        None,
        "with --threads above 1, each thread reads its own region of the corpus (thread t from t/N "
        "of the way in), as word2vec C, gensim and fastText do, instead of its part of each block "
        "(default: on with --subwords, where it lifts the relatedness sets about 0.01 to "
        "fastText's; off for the word model, where it costs the Google analogies and SimLex-999 "
        "about 0.005; README)",
    )
    pair_noise: bool = setting(
        True,
        "skip-gram draws one set of noise words per centre word, shared by its window, instead of "
        "one per (context, centre) pair as word2vec does (hierarchical softmax alone, with no noise "
        "words, always trains a centre's window at once)",
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
    subwords: bool = setting(
        False,
        "fastText's subword model: a word's vector is the mean of its own row and its character "
        "n-grams' rows (--minn to --maxn characters, hashed into --bucket rows), so words never "
        "seen get vectors too",
    )
    minn: int = setting(3, "with --subwords: shortest character n-gram", metavar="N")
    maxn: int = setting(
        6, "with --subwords: longest character n-gram, 0 for words only", metavar="N"
    )
    bucket: int = setting(
        2_000_000, "with --subwords: rows the n-grams are hashed into", metavar="ROWS"
    )
    kernel: str = setting(
        "auto",
        "auto: the compiled numba loop on CPU, batched torch updates on CUDA; triton: thousands "
        "of spans trained at once on a CUDA GPU, each as the numba loop trains it (pip install "
        "triton; on the CPU only under TRITON_INTERPRET=1, slowly, for tests)",
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

    def resolved(self) -> TrainConfig:
        """A copy with the settings whose defaults follow others (alpha, noise_power,
        thread_regions: None until then) set, as a run uses them and its saved config records
        them. They stay None here so that `dataclasses.replace(config, model="cbow")` still
        gets CBOW's defaults."""
        subwords = self.subword_spec() is not None
        defaults = {
            "alpha": CBOW_ALPHA if self.model == "cbow" else SKIPGRAM_ALPHA,
            "noise_power": SUBWORD_NOISE_POWER if subwords else WORD_NOISE_POWER,
            "thread_regions": subwords,
        }
        return replace(
            self, **{name: value for name, value in defaults.items() if getattr(self, name) is None}
        )

    def validate(self) -> None:
        """Raise ConfigError naming the first setting that is of the wrong type or out of range."""
        self.check_types()
        self.resolved().check_ranges()

    def check_ranges(self) -> None:
        """Raise ConfigError naming the first setting out of range, of a resolved config."""
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
        if not -1 <= self.noise_power <= 1:
            raise ConfigError(f"--noise-power must be in [-1, 1], got {self.noise_power}")
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
        self.vocab_memory_bytes()
        if self.window > MAX_SENTENCE_WORDS:
            raise ConfigError(
                f"--window must be at most {MAX_SENTENCE_WORDS:,}, got {self.window:,}: lines are "
                f"cut into sentences of at most {MAX_SENTENCE_WORDS:,} words, so no window reaches "
                "further"
            )
        if self.threads > MAX_THREADS:
            raise ConfigError(f"--threads must be at most {MAX_THREADS}, got {self.threads:,}")
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
        if self.kernel == "triton":
            self.check_triton()
        if self.phrases < 0:
            raise ConfigError(f"--phrases must be at least 0, got {self.phrases}")
        if not self.phrase_threshold > 0:
            raise ConfigError(f"--phrase-threshold must be above 0, got {self.phrase_threshold}")
        self.check_subwords()
        if self.resolved_kernel() == "torch" and self.torch_batch_bytes() > TORCH_BATCH_BYTES:
            per_centre = self.torch_batch_bytes() / self.batch_words
            fitting = int(TORCH_BATCH_BYTES // per_centre)
            advice = f"use --batch-words {fitting} or less" if fitting else "use a smaller --window"
            raise ConfigError(
                f"--window {self.window} with --batch-words {self.batch_words} needs about "
                f"{self.torch_batch_bytes() / 1e9:.1f} GB a batch in the torch kernel: {advice}"
            )

    def vocab_memory_bytes(self) -> int | None:
        """max_vocab_memory in bytes, None for no bound; ConfigError for a size that is not one."""
        if self.max_vocab_memory is None:
            return None
        size = parse_size(self.max_vocab_memory, "--max-vocab-memory")
        if size < MIN_VOCAB_MEMORY:
            raise ConfigError(
                f"--max-vocab-memory must be at least {MIN_VOCAB_MEMORY >> 20}M (the first "
                f"tables), got {self.max_vocab_memory}"
            )
        return size

    def check_triton(self) -> None:
        """ConfigError unless --kernel triton can run: triton installed, and a CUDA device or
        Triton's interpreter (TRITON_INTERPRET=1) on the CPU."""
        if importlib.util.find_spec("triton") is None:
            raise ConfigError("--kernel triton needs triton: pip install -e .[gpu]")
        if self.resolved_device().type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
            raise ConfigError(
                "--kernel triton runs on a CUDA GPU (--device cuda); on the CPU only under "
                "Triton's interpreter (TRITON_INTERPRET=1), which is slow and meant for tests"
            )
        if self.window > TRITON_MAX_WINDOW:
            raise ConfigError(
                f"--kernel triton takes --window up to {TRITON_MAX_WINDOW}, got {self.window}"
            )

    def check_subwords(self) -> None:
        """Raise ConfigError for n-gram settings out of range, or a CBOW sum with subwords."""
        if self.minn < 1:
            raise ConfigError(f"--minn must be at least 1, got {self.minn}")
        if self.maxn != 0 and self.maxn < self.minn:
            raise ConfigError(
                f"--maxn must be 0 (words only) or at least --minn {self.minn}, got {self.maxn}"
            )
        if self.bucket < 1:
            raise ConfigError(f"--bucket must be at least 1, got {self.bucket}")
        if self.subword_spec() is not None and self.resolved_kernel() == "triton":
            raise ConfigError("--subwords runs on the numba and torch kernels, not --kernel triton")
        if self.subword_spec() is not None and self.model == "cbow" and not self.cbow_mean:
            raise ConfigError(
                "--cbow-sum with --subwords: fastText's CBOW averages the context's rows, leave "
                "--cbow-sum out"
            )

    def subword_spec(self) -> SubwordSpec | None:
        """The n-gram settings of a subword model; None for words only (no --subwords, or
        --maxn 0 as in fastText)."""
        if not self.subwords or self.maxn == 0:
            return None
        return SubwordSpec(self.minn, self.maxn, self.bucket)

    def check_types(self) -> None:
        """Raise ConfigError naming the first setting whose value is not of its type (a JSON
        `"window": "5"`, a `1e9` where a whole number belongs)."""
        for setting in fields(self):
            if str(setting.type) not in KINDS:
                continue  # a kind of setting with no check of its own yet
            allowed, kind = KINDS[str(setting.type)]
            value = getattr(self, setting.name)
            wrong_bool = isinstance(value, bool) and bool not in allowed
            if wrong_bool or not isinstance(value, allowed):
                raise ConfigError(
                    f"setting {setting.name} must be {kind}, got {value!r} ({type(value).__name__})"
                )

    def torch_batch_bytes(self) -> int:
        """About the memory the torch kernel's tensors take for one batch: each centre's
        2 * window + 1 context positions, with a vector update and the scores of every target
        (the centre and the noise words, or the nodes of a Huffman code) for each."""
        targets = self.negative + 1 + (40 if self.hs else 0)
        return 4 * self.batch_words * (2 * self.window + 1) * (2 * self.dim + 3 * targets)

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
        """word2vec's schedule: alpha (resolved) falling linearly to min_alpha as training goes
        from 0 to 1."""
        alpha = self.resolved().alpha
        return max(self.min_alpha, alpha - (alpha - self.min_alpha) * share_done)


def parse_size(value: object, option: str) -> int:
    """Bytes from a size: a number of bytes, or one with a K, M, G or T suffix (powers of 1024, an
    optional B after it: 2G, 500MB, 1.5G); ConfigError naming `option` otherwise."""
    problem = f"{option} must be a size in bytes such as 2G, 500M or 1000000, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, str)):
        raise ConfigError(problem)
    text = str(value).strip().upper().removesuffix("B")
    unit = text[-1] if text and text[-1] in SIZE_UNITS else ""
    try:
        size = float(text[: len(text) - len(unit)]) * SIZE_UNITS[unit]
    except ValueError:
        raise ConfigError(problem) from None
    if not 1 <= size < float("inf"):
        raise ConfigError(f"{option} must be at least 1 byte, got {value!r}")
    return int(size)
