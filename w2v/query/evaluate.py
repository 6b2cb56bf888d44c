"""Intrinsic evaluation of word vectors: word-analogy accuracy and word-pair similarity correlation.

The protocol is the one the literature reports (gensim's ``evaluate_word_analogies`` and
``evaluate_word_pairs`` with ``case_insensitive=True``), so numbers compare with published ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from w2v.errors import ConfigError, FormatError
from w2v.query.vectors import COSMUL_EPSILON, name_missing

if TYPE_CHECKING:
    from w2v.query.vectors import KeyedVectors

METHODS = ("3cosadd", "3cosmul")
SHIPPED_LISTS = ("questions-words.txt", "questions-phrases.txt", "wordsim353.tsv", "simlex999.txt")
# In the Google set the first five sections (capitals, currency, city-in-state, family) are
# semantic, the rest syntactic.
SEMANTIC_SECTIONS = 5
_MAX_BATCH = 1000
# Keep each batch's score matrix near 128 MiB of float32 however large restrict_vocab is.
_SCORE_ELEMENTS = 1 << 25
# Words named, with near spellings, when questions are left out for want of them.
MISSING_NAMED = 5


def shipped_list(name: str) -> Path:
    """Path of an evaluation list shipped in ``corpora/eval``, by file name ("wordsim353.tsv")."""
    if name not in SHIPPED_LISTS:
        raise ConfigError(
            f"unknown evaluation list {name!r}; shipped lists are {', '.join(SHIPPED_LISTS)}"
        )
    return Path(str(resources.files("corpora") / "eval" / name))


def lowercase_index(words: Sequence[str], limit: int | None = None) -> dict[str, int]:
    """Map the lower case of each of the first `limit` words to its lowest (most frequent) row."""
    index: dict[str, int] = {}
    for row, word in enumerate(words[:limit]):
        index.setdefault(word.lower(), row)
    return index


class WrongAnswer(NamedTuple):
    """An analogy a:b :: c:expected that the model answered with `got`, with both words' scores."""

    question: tuple[str, str, str]
    expected: str
    got: str
    expected_score: float
    got_score: float


@dataclass
class SectionScore:
    """Analogy counts for one section of a file, or for a group of sections."""

    name: str
    correct: int
    evaluated: int
    total: int
    wrong: list[WrongAnswer] = field(default_factory=list, repr=False)

    @property
    def accuracy(self) -> float | None:
        """Correct / evaluated; None when no question could be evaluated."""
        return self.correct / self.evaluated if self.evaluated else None

    @property
    def coverage(self) -> float | None:
        """Evaluated / questions in the file; None for a section without questions."""
        return self.evaluated / self.total if self.total else None

    def to_dict(self, include_wrong: bool = False) -> dict[str, Any]:
        """JSON-ready counts and ratios, with the wrong answers when asked."""
        out: dict[str, Any] = {
            "name": self.name,
            "correct": self.correct,
            "evaluated": self.evaluated,
            "total": self.total,
            "accuracy": self.accuracy,
            "coverage": self.coverage,
        }
        if include_wrong:
            out["wrong"] = [
                {
                    "question": list(w.question),
                    "expected": w.expected,
                    "got": w.got,
                    "expected_score": w.expected_score,
                    "got_score": w.got_score,
                }
                for w in self.wrong
            ]
        return out


def _combine(name: str, sections: Sequence[SectionScore]) -> SectionScore:
    return SectionScore(
        name,
        sum(s.correct for s in sections),
        sum(s.evaluated for s in sections),
        sum(s.total for s in sections),
        [w for s in sections for w in s.wrong],
    )


@dataclass
class AnalogyResult:
    """Accuracy on one analogy file: per section, semantic, syntactic and overall."""

    path: str
    method: str
    restrict_vocab: int  # rows actually searched: min(requested, vocabulary size)
    sections: list[SectionScore]
    skipped_lines: int
    missing_words: list[str] = field(default_factory=list)  # kept questions out, in file order
    missing_named: str = ""  # the first few, with near spellings from the vocabulary

    @property
    def semantic(self) -> SectionScore:
        """The first five sections together."""
        return _combine("semantic", self.sections[:SEMANTIC_SECTIONS])

    @property
    def syntactic(self) -> SectionScore:
        """Every section after the fifth together."""
        return _combine("syntactic", self.sections[SEMANTIC_SECTIONS:])

    @property
    def overall(self) -> SectionScore:
        """All sections together."""
        return _combine("total", self.sections)

    def to_dict(self, include_wrong: bool = False) -> dict[str, Any]:
        """JSON-ready summary; the wrong answers only when asked, as they can run to thousands."""
        return {
            "file": self.path,
            "method": self.method,
            "restrict_vocab": self.restrict_vocab,
            "skipped_lines": self.skipped_lines,
            "missing_words": self.missing_words,
            "sections": [s.to_dict(include_wrong) for s in self.sections],
            "semantic": self.semantic.to_dict(),
            "syntactic": self.syntactic.to_dict(),
            "overall": self.overall.to_dict(),
        }

    def format(self) -> str:
        """Plain-text table: a row per section, then semantic, syntactic and total with coverage."""
        summary = [self.semantic, self.syntactic, self.overall]
        width = max(len(s.name) for s in [*self.sections, *summary])
        counts = max(len(f"{s.correct}/{s.evaluated}") for s in [*self.sections, *summary])
        method = {"3cosadd": "3CosAdd", "3cosmul": "3CosMul"}[self.method]
        lines = [
            f"analogies {Path(self.path).name} ({method}, top {self.restrict_vocab} words)",
            f"{'section':<{width}}  {'correct':>{counts}}  {'accuracy':>8}",
        ]

        def row(s: SectionScore) -> str:
            accuracy = "-" if s.accuracy is None else f"{s.accuracy:.2%}"
            return f"{s.name:<{width}}  {f'{s.correct}/{s.evaluated}':>{counts}}  {accuracy:>8}"

        lines += [row(s) for s in self.sections]
        lines.append("")
        for s in summary:
            coverage = "-" if s.coverage is None else f"{s.coverage:.1%}"
            lines.append(f"{row(s)}  coverage {s.evaluated}/{s.total} ({coverage})")
        if self.skipped_lines:
            lines.append(f"skipped {self.skipped_lines} malformed lines")
        if self.missing_words:
            lines.append(_missing_line(self.missing_words, self.missing_named, self.restrict_vocab))
        return "\n".join(lines)


@dataclass
class SimilarityResult:
    """Correlation between human similarity scores and cosine similarity on one word-pair file."""

    path: str
    spearman: float | None  # None when fewer than two pairs, or one side is constant
    pearson: float | None
    pairs_used: int
    pairs_total: int
    skipped_lines: int
    restrict_vocab: int  # rows searched: min(requested, vocabulary size), all rows by default
    missing_words: list[str] = field(default_factory=list)  # kept pairs out, in file order
    missing_named: str = ""  # the first few, with near spellings from the vocabulary

    @property
    def coverage(self) -> float:
        """Pairs with both words in the vocabulary / well-formed pairs in the file."""
        return self.pairs_used / self.pairs_total

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "file": self.path,
            "spearman": self.spearman,
            "pearson": self.pearson,
            "pairs_used": self.pairs_used,
            "pairs_total": self.pairs_total,
            "coverage": self.coverage,
            "skipped_lines": self.skipped_lines,
            "missing_words": self.missing_words,
            "restrict_vocab": self.restrict_vocab,
        }

    def format(self) -> str:
        """One line: file name, Spearman's rho, Pearson's r, pairs used / pairs in the file."""
        rho = "-" if self.spearman is None else f"{self.spearman:.4f}"
        r = "-" if self.pearson is None else f"{self.pearson:.4f}"
        line = (
            f"{Path(self.path).name}  Spearman rho {rho}  Pearson r {r}  "
            f"pairs {self.pairs_used}/{self.pairs_total} ({self.coverage:.1%})"
        )
        if self.skipped_lines:
            line += f"  skipped {self.skipped_lines} malformed lines"
        if self.missing_words:
            line += "\n" + _missing_line(
                self.missing_words, self.missing_named, self.restrict_vocab
            )
        return line


def _read_lines(path: str | Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().split("\n")
    except OSError as e:
        raise FormatError(f"{path}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not UTF-8 text (bad byte at offset {e.start})") from e


def _read_analogies(path: str | Path) -> tuple[list[str], list[int], list[list[str]], int]:
    """Section names, each question's section and words, and the count of malformed lines."""
    names: list[str] = []
    question_sections: list[int] = []
    questions: list[list[str]] = []
    skipped = 0
    for line in _read_lines(path):
        if line.startswith(":"):
            names.append(line[1:].strip())
            continue
        words = line.split()
        if not words:
            continue
        if len(words) != 4 or not names:
            skipped += 1
            continue
        question_sections.append(len(names) - 1)
        questions.append(words)
    if not questions:
        raise FormatError(
            f"{path}: no analogy questions (expected ': section' lines, each followed by lines of "
            "four words a b c d)"
        )
    return names, question_sections, questions, skipped


def _analogy_scores(
    unit: torch.Tensor, q: torch.Tensor, method: str, buffers: torch.Tensor
) -> torch.Tensor:
    """Scores of every restricted row as the answer to each question, written into `buffers[0]`.

    The buffers (one batch x rows matrix, two for 3CosMul) are reused batch after batch:
    allocating a fresh 100 MiB matrix per batch costs about as much as the product itself.
    """
    a, b, c = unit[q[:, 0]], unit[q[:, 1]], unit[q[:, 2]]
    if method == "3cosadd":
        target = b - a + c
        target /= target.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return torch.mm(target, unit.T, out=buffers[0])
    # 3CosMul (Levy & Goldberg 2014) on cosines shifted to [0, 1].
    spare = buffers[1]
    scores = torch.mm(b, unit.T, out=buffers[0]).add_(1).mul_(0.5)
    torch.mm(c, unit.T, out=spare).add_(1).mul_(0.5)
    scores.mul_(spare)
    torch.mm(a, unit.T, out=spare).add_(1).mul_(0.5).add_(COSMUL_EPSILON)
    return scores.div_(spare)


def _case_groups(
    words: Sequence[str], index: dict[str, int], rows: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's group (the row of its most frequent case variant) and, per row, its group's rows.

    gensim masks every case variant of a question word ("Paris" and "paris") and accepts any
    variant of the expected word, so the answer is judged by group. The second tensor is
    rows x widest group, padded with the row itself so masking a padded slot twice is harmless.
    """
    group = [index[w.lower()] for w in words[:rows]]
    members: dict[int, list[int]] = {}
    for row, head in enumerate(group):
        if head != row:
            members.setdefault(head, []).append(row)
    width = 1 + max(map(len, members.values()), default=0)
    mask_rows = torch.arange(rows)[:, None].repeat(1, width)
    for head, variants in members.items():
        mask_rows[head, 1 : 1 + len(variants)] = torch.tensor(variants)
    return torch.tensor(group), mask_rows


def _answer(
    unit: torch.Tensor, question_ids: torch.Tensor, mask_rows: torch.Tensor, method: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each question's best row outside the question words, its score, and the expected's score."""
    rows = unit.shape[0]
    batch = max(1, min(_MAX_BATCH, _SCORE_ELEMENTS // rows))
    buffers = torch.empty(2 if method == "3cosmul" else 1, batch, rows)
    got, got_score, expected_score = [], [], []
    with torch.no_grad():
        for start in range(0, len(question_ids), batch):
            q = question_ids[start : start + batch]
            scores = _analogy_scores(unit, q, method, buffers[:, : len(q)])
            expected_score.append(scores.gather(1, q[:, 3:]).squeeze(1))
            scores.scatter_(1, mask_rows[q[:, :3]].flatten(1), -math.inf)
            best, row = scores.max(1)
            got.append(row)
            got_score.append(best)
    return torch.cat(got), torch.cat(got_score), torch.cat(expected_score)


def evaluate_analogies(
    kv: KeyedVectors,
    path: str | Path,
    restrict_vocab: int = 30000,
    method: str = "3cosadd",
) -> AnalogyResult:
    """Accuracy on a ``questions-words.txt``-style file, answering a:b :: c:? among the top rows."""
    method = method.lower()
    if method not in METHODS:
        raise ConfigError(f"unknown analogy method {method!r}; choose from {', '.join(METHODS)}")
    rows = kv.search_limit(restrict_vocab)
    names, question_sections, questions, skipped = _read_analogies(path)

    index = lowercase_index(kv.words, rows)
    kept: list[int] = []  # questions whose four words are all among the first `rows` words
    ids: list[list[int]] = []
    for i, words in enumerate(questions):
        found = [index.get(w.lower(), -1) for w in words]
        if -1 not in found:
            kept.append(i)
            ids.append(found)

    sections = [SectionScore(name, 0, 0, 0) for name in names]
    for s in question_sections:
        sections[s].total += 1
    if ids:
        group, mask_rows = _case_groups(kv.words, index, rows)
        question_ids = torch.tensor(ids)
        got, got_score, expected_score = _answer(
            kv.unit_vectors()[:rows], question_ids, mask_rows, method
        )
        correct = (group[got] == question_ids[:, 3]).tolist()
        answers = zip(
            kept, correct, got.tolist(), got_score.tolist(), expected_score.tolist(), strict=True
        )
        for i, right, row, score, expected in answers:
            section = sections[question_sections[i]]
            section.evaluated += 1
            if right:
                section.correct += 1
            else:
                a, b, c, d = questions[i]
                section.wrong.append(WrongAnswer((a, b, c), d, kv.words[row], expected, score))
    missing = _missing(kv.words, index, (w for words in questions for w in words))
    named = name_missing(missing[:MISSING_NAMED], kv.words)
    return AnalogyResult(str(path), method, rows, sections, skipped, missing, named)


def _average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks of x, tied values sharing the mean of their positions (as scipy's rankdata)."""
    n = x.numel()
    order = torch.argsort(x, stable=True)
    ordered = x[order]
    run_start = torch.ones(n, dtype=torch.bool)
    run_start[1:] = ordered[1:] != ordered[:-1]
    run_of = torch.cumsum(run_start, 0) - 1
    first = torch.nonzero(run_start).squeeze(1)
    last = torch.cat([first[1:], torch.tensor([n])]) - 1
    ranks = torch.empty(n, dtype=torch.float64)
    ranks[order] = ((first + last).double() / 2 + 1)[run_of]
    return ranks


def _pearson(x: torch.Tensor, y: torch.Tensor) -> float | None:
    """Pearson's r of two float64 vectors; None when undefined (under two points or no variance)."""
    if x.numel() < 2:
        return None
    xc, yc = x - x.mean(), y - y.mean()
    denom = torch.sqrt((xc * xc).sum() * (yc * yc).sum())
    if denom == 0:
        return None
    return max(-1.0, min(1.0, float((xc * yc).sum() / denom)))


def _read_pairs(path: str | Path) -> tuple[list[tuple[str, str, float]], int]:
    """Well-formed (word1, word2, score) pairs and the count of malformed lines."""
    pairs: list[tuple[str, str, float]] = []
    skipped = 0
    for line in _read_lines(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
        try:
            w1, w2, text = fields
            score = float(text)
        except ValueError:
            skipped += 1
            continue
        if not (w1 and w2 and math.isfinite(score)):
            skipped += 1
            continue
        pairs.append((w1, w2, score))
    if not pairs:
        raise FormatError(f"{path}: no word pairs (expected lines 'word1 word2 score')")
    return pairs, skipped


def evaluate_similarity(
    kv: KeyedVectors, path: str | Path, restrict_vocab: int | None = None
) -> SimilarityResult:
    """Spearman's rho and Pearson's r of a word-pair file's human scores against cosines."""
    rows = kv.search_limit(restrict_vocab)
    pairs, skipped = _read_pairs(path)
    index = lowercase_index(kv.words, rows)
    left, right, human = [], [], []
    for w1, w2, score in pairs:
        i, j = index.get(w1.lower()), index.get(w2.lower())
        if i is not None and j is not None:
            left.append(i)
            right.append(j)
            human.append(score)
    spearman = pearson = None
    if left:
        unit = kv.unit_vectors()
        with torch.no_grad():
            cosine = (unit[left] * unit[right]).sum(1).double()
        gold = torch.tensor(human, dtype=torch.float64)
        spearman = _pearson(_average_ranks(gold), _average_ranks(cosine))
        pearson = _pearson(gold, cosine)
    missing = _missing(kv.words, index, (w for w1, w2, _ in pairs for w in (w1, w2)))
    named = name_missing(missing[:MISSING_NAMED], kv.words)
    return SimilarityResult(
        str(path), spearman, pearson, len(left), len(pairs), skipped, rows, missing, named
    )


def _missing(words: Sequence[str], index: dict[str, int], asked: Iterable[str]) -> list[str]:
    """The asked words with no case variant among the searched rows, each once, in order."""
    return [word for word in dict.fromkeys(asked) if word.lower() not in index]


def _missing_line(missing: list[str], named: str, rows: int) -> str:
    more = f" and {len(missing) - MISSING_NAMED} more" if len(missing) > MISSING_NAMED else ""
    return f"not among the {rows:,} words searched: {named}{more}"
