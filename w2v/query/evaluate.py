"""Intrinsic evaluation of word vectors: word-analogy accuracy and word-pair similarity correlation.

The protocol is the one the literature reports (gensim's ``evaluate_word_analogies`` and
``evaluate_word_pairs`` with ``case_insensitive=True``; BATS as its authors' vecto asks it), so
numbers compare with published ones. ``evaluate_battery`` runs every list shipped in
``corpora/eval``.
"""

from __future__ import annotations

import csv
import math
import re
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
METHOD_NAMES = {"3cosadd": "3CosAdd", "3cosmul": "3CosMul"}
# The battery `evaluate` runs with no lists: (set name, file in corpora/eval), in the order shown.
ANALOGY_BATTERY = (
    ("Google analogies", "questions-words.txt"),
    ("MSR analogies", "msr-analogies.csv"),
)
SIMILARITY_BATTERY = (
    ("WordSim-353", "wordsim353.tsv"),
    ("WordSim-353 similarity", "wordsim353-similarity.txt"),
    ("WordSim-353 relatedness", "wordsim353-relatedness.txt"),
    ("SimLex-999", "simlex999.txt"),
    ("MEN", "men3000.txt"),
    ("Rare Words", "rw-stanford.txt"),
    ("MTurk-771", "mturk771.txt"),
    ("RG-65", "rg65.txt"),
    ("MC-30", "mc30.txt"),
)
# The phrase analogies are shipped but left out of the battery: only vectors trained with
# --phrases hold their words.
SHIPPED_LISTS = (
    *(file for _, file in ANALOGY_BATTERY + SIMILARITY_BATTERY),
    "questions-phrases.txt",
)
# In the Google set the first five sections (capitals, currency, city-in-state, family) are
# semantic, the rest syntactic.
SEMANTIC_SECTIONS = 5
# MSR's relation types ("JJ_JJR") grouped by the part of speech of their first tag.
MSR_GROUPS = {"JJ": "adjectives", "NN": "nouns", "VB": "verbs"}
# BATS's four categories, by the first letter of a relation file's name ("I01 [noun - plural_reg]").
BATS_GROUPS = {
    "I": "inflectional morphology",
    "D": "derivational morphology",
    "E": "encyclopedic semantics",
    "L": "lexicographic semantics",
}
MSR_COLUMNS = ("word1", "word2", "word3", "target")
_MAX_BATCH = 1000
# Keep each batch's score matrix near 128 MiB of float32 however large restrict_vocab is.
_SCORE_ELEMENTS = 1 << 25
# Words named, with near spellings, when questions are left out for want of them.
MISSING_NAMED = 5
# The battery's name for a set's figures with unseen words answered from n-grams.
NGRAM_SUFFIX = "(unseen words from n-grams)"


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
    """Analogy counts for one section (relation) of a set, or for a group of sections."""

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


class SectionGroup(NamedTuple):
    """A named group of a set's sections (Google's semantic ones, BATS's inflections)."""

    name: str
    sections: tuple[int, ...]


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
    """Accuracy on one analogy set: per section (relation), per group of sections and overall."""

    name: str  # the set's name: the battery's ("MSR analogies") or the file's
    path: str
    form: str  # the form the set came in: "google", "msr" or "bats"
    method: str
    restrict_vocab: int  # rows actually searched: min(requested, vocabulary size)
    sections: list[SectionScore]
    grouping: list[SectionGroup]
    skipped_lines: int
    missing_words: list[str] = field(default_factory=list)  # kept questions out, in file order
    missing_named: str = ""  # the first few, with near spellings from the vocabulary
    from_ngrams: bool = False  # words outside the rows were asked from their n-grams

    kind = "analogy"

    @property
    def groups(self) -> list[SectionScore]:
        """Each group's sections together, in the set's order."""
        return [_combine(g.name, [self.sections[i] for i in g.sections]) for g in self.grouping]

    @property
    def overall(self) -> SectionScore:
        """All sections together."""
        return _combine("total", self.sections)

    @property
    def score(self) -> float | None:
        """The battery's score: overall accuracy."""
        return self.overall.accuracy

    @property
    def coverage(self) -> float | None:
        """Questions evaluated / questions in the set."""
        return self.overall.coverage

    def to_dict(self, include_wrong: bool = False) -> dict[str, Any]:
        """JSON-ready summary; the wrong answers only when asked, as they can run to thousands."""
        return {
            "set": self.name,
            "kind": self.kind,
            "score": self.score,
            "coverage": self.coverage,
            "file": self.path,
            "form": self.form,
            "method": self.method,
            "restrict_vocab": self.restrict_vocab,
            "from_ngrams": self.from_ngrams,
            "skipped_lines": self.skipped_lines,
            "missing_words": self.missing_words,
            "sections": [s.to_dict(include_wrong) for s in self.sections],
            "groups": [g.to_dict() for g in self.groups],
            "overall": self.overall.to_dict(),
        }

    def format(self) -> str:
        """Plain-text table: a row per section, then each group and the total with coverage."""
        summary = [*self.groups, self.overall]
        width = max(len(s.name) for s in [*self.sections, *summary])
        counts = max(len(f"{s.correct}/{s.evaluated}") for s in [*self.sections, *summary])
        ngrams = ", unseen words from n-grams" if self.from_ngrams else ""
        lines = [
            f"analogies {self.name} ({METHOD_NAMES[self.method]}, top {self.restrict_vocab} words"
            f"{ngrams})",
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

    name: str  # the set's name: the battery's ("MEN") or the file's
    path: str
    spearman: float | None  # None when fewer than two pairs, or one side is constant
    pearson: float | None
    pairs_used: int
    pairs_total: int
    skipped_lines: int
    header: str | None  # the header line, skipped, when the file has one
    score_range: tuple[float, float]  # lowest and highest human score in the file
    restrict_vocab: int  # rows searched: min(requested, vocabulary size), all rows by default
    missing_words: list[str] = field(default_factory=list)  # kept pairs out, in file order
    missing_named: str = ""  # the first few, with near spellings from the vocabulary

    kind = "similarity"

    @property
    def score(self) -> float | None:
        """The battery's score: Spearman's rho."""
        return self.spearman

    @property
    def coverage(self) -> float:
        """Pairs with both words in the vocabulary / well-formed pairs in the file."""
        return self.pairs_used / self.pairs_total

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "set": self.name,
            "kind": self.kind,
            "score": self.score,
            "coverage": self.coverage,
            "file": self.path,
            "spearman": self.spearman,
            "pearson": self.pearson,
            "pairs_used": self.pairs_used,
            "pairs_total": self.pairs_total,
            "skipped_lines": self.skipped_lines,
            "header_lines": int(self.header is not None),
            "header": self.header,
            "score_range": list(self.score_range),
            "missing_words": self.missing_words,
            "restrict_vocab": self.restrict_vocab,
        }

    def format(self) -> str:
        """One line: set name, Spearman's rho, Pearson's r, pairs used / pairs in the file."""
        rho = "-" if self.spearman is None else f"{self.spearman:.4f}"
        r = "-" if self.pearson is None else f"{self.pearson:.4f}"
        line = (
            f"{self.name}  Spearman rho {rho}  Pearson r {r}  "
            f"pairs {self.pairs_used}/{self.pairs_total} ({self.coverage:.1%})"
        )
        if self.header is not None:
            line += f"  skipped header line {self.header!r}"
        if self.skipped_lines:
            line += f"  skipped {self.skipped_lines} malformed lines"
        if self.missing_words:
            line += "\n" + _missing_line(
                self.missing_words, self.missing_named, self.restrict_vocab
            )
        return line


def _read_text(path: str | Path) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except IsADirectoryError as e:
        raise FormatError(f"{path}: a folder, not a list file") from e
    except OSError as e:
        raise FormatError(f"{path}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not UTF-8 text (bad byte at offset {e.start})") from e


def _read_lines(path: str | Path) -> list[str]:
    return _read_text(path).split("\n")


@dataclass
class _AnalogySet:
    """An analogy set as read: pairs (a word and the answers accepted for it, in order of
    preference) and the questions asked on them, `words[i]:answers[i][0] :: words[j]:?`."""

    form: str
    relations: list[str]
    grouping: list[SectionGroup]
    words: list[str] = field(default_factory=list)
    answers: list[list[str]] = field(default_factory=list)
    questions: torch.Tensor = field(default_factory=lambda: torch.empty(0, 2, dtype=torch.long))
    question_relations: torch.Tensor = field(
        default_factory=lambda: torch.empty(0, dtype=torch.long)
    )
    skipped: int = 0

    def add_questions(self, relations: Sequence[int], quads: Sequence[Sequence[str]]) -> None:
        """Ask a:b :: c:d for each quad, in the given relations: two pairs a question."""
        first = len(self.words)
        for a, b, c, d in quads:
            self.words += [a, c]
            self.answers += [[b], [d]]
        pairs = torch.arange(first, len(self.words)).view(-1, 2)
        self.questions = torch.cat([self.questions, pairs])
        self.question_relations = torch.cat(
            [self.question_relations, torch.tensor(relations, dtype=torch.long)]
        )

    def add_relation_pairs(self, relation: int, pairs: Sequence[tuple[str, list[str]]]) -> None:
        """Ask every ordered pair of different pairs of a relation, as BATS does."""
        first = len(self.words)
        for word, answers in pairs:
            self.words.append(word)
            self.answers.append(answers)
        n = len(pairs)
        i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        different = i != j
        asked = torch.stack([i[different], j[different]], 1) + first
        self.questions = torch.cat([self.questions, asked])
        self.question_relations = torch.cat(
            [self.question_relations, torch.full((len(asked),), relation)]
        )


def _groups_by_prefix(
    relations: Sequence[str], names: dict[str, str], width: int
) -> list[SectionGroup]:
    """Groups of the relations whose names start with a key of `names`, in order of appearance."""
    members: dict[str, list[int]] = {}
    for i, relation in enumerate(relations):
        group = names.get(relation[:width].upper())
        if group is not None:
            members.setdefault(group, []).append(i)
    return [SectionGroup(name, tuple(sections)) for name, sections in members.items()]


def _read_google(path: str | Path) -> _AnalogySet:
    """The Google format: ``: section`` lines, each followed by lines of four words a b c d."""
    names: list[str] = []
    relations: list[int] = []
    quads: list[list[str]] = []
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
        relations.append(len(names) - 1)
        quads.append(words)
    if not quads:
        raise FormatError(
            f"{path}: no analogy questions (expected ': section' lines, each followed by lines of "
            "four words a b c d)"
        )
    grouping = [
        SectionGroup("semantic", tuple(range(min(SEMANTIC_SECTIONS, len(names))))),
        SectionGroup("syntactic", tuple(range(SEMANTIC_SECTIONS, len(names)))),
    ]
    analogy_set = _AnalogySet("google", names, grouping, skipped=skipped)
    analogy_set.add_questions(relations, quads)
    return analogy_set


def _read_msr(path: str | Path) -> _AnalogySet:
    """The MSR CSV: a header naming word1, word2, word3, target and, optionally, type."""
    rows = csv.DictReader(_read_text(path).splitlines())
    columns = rows.fieldnames or []
    if not set(MSR_COLUMNS) <= set(columns):
        raise FormatError(
            f"{path}: not an analogy CSV (its header needs the columns {', '.join(MSR_COLUMNS)}; "
            f"found {', '.join(map(repr, columns)) or 'none'})"
        )
    names: dict[str, int] = {}
    relations: list[int] = []
    quads: list[list[str]] = []
    skipped = 0
    for row in rows:
        words = [(row[column] or "").strip() for column in MSR_COLUMNS]
        if not all(words) or any(len(word.split()) != 1 for word in words):
            skipped += 1
            continue
        relation = (row.get("type") or "").strip() or "all"
        relations.append(names.setdefault(relation, len(names)))
        quads.append(words)
    if not quads:
        raise FormatError(
            f"{path}: no analogy questions (expected rows of {','.join(MSR_COLUMNS)})"
        )
    grouping = _groups_by_prefix(list(names), MSR_GROUPS, 2)
    analogy_set = _AnalogySet("msr", list(names), grouping, skipped=skipped)
    analogy_set.add_questions(relations, quads)
    return analogy_set


def _read_bats(folder: Path) -> _AnalogySet:
    """A BATS folder: a ``*.txt`` file per relation (in subfolders or not) of ``word<TAB>answers``
    lines, answers separated by ``/``."""
    files = sorted(folder.rglob("*.txt"), key=lambda file: file.relative_to(folder).as_posix())
    if not files:
        raise FormatError(f"{folder}: no BATS relation files (*.txt) in the folder")
    relations = [file.stem for file in files]
    analogy_set = _AnalogySet("bats", relations, _groups_by_prefix(relations, BATS_GROUPS, 1))
    for relation, file in enumerate(files):
        pairs: list[tuple[str, list[str]]] = []
        for line in _read_lines(file):
            line = line.strip()
            if not line:
                continue
            fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
            answers = [a.strip() for a in fields[-1].split("/") if a.strip()]
            if len(fields) != 2 or not fields[0] or not answers:
                analogy_set.skipped += 1
                continue
            pairs.append((fields[0], answers))
        analogy_set.add_relation_pairs(relation, pairs)
    if not len(analogy_set.questions):
        raise FormatError(
            f"{folder}: no analogy questions (expected relation files of at least two "
            "'word<TAB>answer1/answer2' lines)"
        )
    return analogy_set


def _read_analogy_set(path: str | Path) -> _AnalogySet:
    """Read an analogy set in the form it comes in: a folder is BATS, a ``.csv`` file MSR's CSV,
    any other file the Google format."""
    path = Path(path)
    if path.is_dir():
        return _read_bats(path)
    if path.suffix.lower() == ".csv":
        return _read_msr(path)
    return _read_google(path)


def _analogy_scores(
    unit: torch.Tensor, q: torch.Tensor, method: str, buffers: torch.Tensor
) -> torch.Tensor:
    """Scores of every row of `unit` as the answer to each question, written into `buffers[0]`.

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
    unit: torch.Tensor,
    question_ids: torch.Tensor,
    expected_ids: torch.Tensor,
    mask_rows: torch.Tensor,
    method: str,
    rows: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each question's best of the first `rows` rows outside the question words, its score, and
    the expected's score; the rows of `unit` after those (words from n-grams) are never answers."""
    columns = unit.shape[0]
    batch = max(1, min(_MAX_BATCH, _SCORE_ELEMENTS // columns))
    buffers = torch.empty(2 if method == "3cosmul" else 1, batch, columns)
    got, got_score, expected_score = [], [], []
    with torch.no_grad():
        for start in range(0, len(question_ids), batch):
            q = question_ids[start : start + batch]
            scores = _analogy_scores(unit, q, method, buffers[:, : len(q)])
            expected = expected_ids[start : start + batch, None]
            expected_score.append(scores.gather(1, expected).squeeze(1))
            scores.scatter_(1, mask_rows[q].flatten(1), -math.inf)
            best, row = scores[:, :rows].max(1)
            got.append(row)
            got_score.append(best)
    return torch.cat(got), torch.cat(got_score), torch.cat(expected_score)


def _padded(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    """The ragged `rows` as one tensor, each row padded with -1 to the widest."""
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)
    flat = torch.tensor([value for row in rows for value in row], dtype=torch.long)
    width = max(1, int(lengths.max())) if len(rows) else 1
    out = torch.full((len(rows), width), -1, dtype=torch.long)
    starts = torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    out[
        torch.repeat_interleave(torch.arange(len(rows)), lengths), torch.arange(len(flat)) - starts
    ] = flat
    return out


def evaluate_analogies(
    kv: KeyedVectors,
    path: str | Path,
    restrict_vocab: int = 30000,
    method: str = "3cosadd",
    name: str | None = None,
    subwords: bool = False,
) -> AnalogyResult:
    """Accuracy on an analogy set (Google format, MSR CSV or BATS folder), answering
    a:b :: c:? among the top `restrict_vocab` rows.

    A question counts when a, c, one of a's answers (the first found is b) and one of c's answers
    are among those rows; any of c's answers is right. With `subwords`, for a subword model, every
    question counts, as fastText's analogies are asked: a, b or c outside the rows gets its vector
    from its n-grams (`KeyedVectors.vectors_for`), the answer is still one of the rows, so an
    expected word outside them is wrong (gensim's ``dummy4unknown``).
    """
    method = method.lower()
    if method not in METHODS:
        raise ConfigError(f"unknown analogy method {method!r}; choose from {', '.join(METHODS)}")
    rows = kv.search_limit(restrict_vocab)
    analogy_set = _read_analogy_set(path)
    index = lowercase_index(kv.words, rows)
    from_ngrams = subwords and kv.subwords is not None
    # Words answered from their n-grams take the rows after the searched ones, in first-seen order.
    unseen: dict[str, int] = {}

    def row_of(word: str) -> int:
        row = index.get(word.lower(), -1)
        if row < 0 and from_ngrams:
            row = rows + unseen.setdefault(word.lower(), len(unseen))
        return row

    word_rows = torch.tensor([row_of(w) for w in analogy_set.words])
    found = [
        [index[a.lower()] for a in answers if a.lower() in index] for answers in analogy_set.answers
    ]
    # A pair none of whose answers is found stands for its first answer, from its n-grams if asked.
    answer_rows = _padded(
        [
            rows_found or [row_of(answers[0])]
            for rows_found, answers in zip(found, analogy_set.answers, strict=True)
        ]
    )
    # The answer a question shows for b and for the expected word: the first found, or listed.
    shown = [
        next((a for a in answers if a.lower() in index), answers[0])
        for answers in analogy_set.answers
    ]
    first, second = analogy_set.questions[:, 0], analogy_set.questions[:, 1]
    ids = torch.stack([word_rows[first], answer_rows[first, 0], word_rows[second]], 1)
    accepted = answer_rows[second]
    kept = torch.nonzero((ids >= 0).all(1) & (accepted[:, 0] >= 0)).squeeze(1)
    relation = analogy_set.question_relations

    n_relations = len(analogy_set.relations)
    total = torch.bincount(relation, minlength=n_relations).tolist()
    evaluated = torch.bincount(relation[kept], minlength=n_relations).tolist()
    correct_counts = [0] * n_relations
    sections = [
        SectionScore(relation_name, 0, evaluated[i], total[i])
        for i, relation_name in enumerate(analogy_set.relations)
    ]
    if len(kept):
        group, mask_rows = _case_groups(kv.words, index, rows)
        unit = kv.unit_vectors()[:rows]
        if unseen:
            unit = torch.cat([unit, _unit_vectors_for(kv, list(unseen))])
            # A word from its n-grams has no case variants among the rows: it masks itself alone.
            own = torch.arange(rows, rows + len(unseen))[:, None].expand(-1, mask_rows.shape[1])
            mask_rows = torch.cat([mask_rows, own])
        got, got_score, expected_score = _answer(
            unit, ids[kept], accepted[kept, 0], mask_rows, method, rows
        )
        # The answer's case group against each accepted answer's (their rows are group heads).
        right = (group[got][:, None] == accepted[kept]).any(1)
        correct_counts = torch.bincount(relation[kept][right], minlength=n_relations).tolist()
        # Plain lists: indexing a tensor element by element costs microseconds, and with n-grams
        # every question is evaluated, so the wrong answers can run to tens of thousands.
        wrong = torch.nonzero(~right).squeeze(1)
        asked_wrong = kept[wrong]
        for section_id, i, j, row, expected_at, got_at in zip(
            relation[asked_wrong].tolist(),
            first[asked_wrong].tolist(),
            second[asked_wrong].tolist(),
            got[wrong].tolist(),
            expected_score[wrong].tolist(),
            got_score[wrong].tolist(),
            strict=True,
        ):
            question = (analogy_set.words[i], shown[i], analogy_set.words[j])
            answer = WrongAnswer(question, shown[j], kv.words[row], expected_at, got_at)
            sections[section_id].wrong.append(answer)
    for section, correct in zip(sections, correct_counts, strict=True):
        section.correct = correct
    # A pair's answers keep questions out only when none of them is found.
    asked = (
        word
        for pair_word, answers, rows_found in zip(
            analogy_set.words, analogy_set.answers, found, strict=True
        )
        for word in [pair_word, *([] if rows_found else answers)]
    )
    missing = _missing(index, asked)
    named = name_missing(missing[:MISSING_NAMED], kv.words)
    return AnalogyResult(
        name or Path(path).name,
        str(path),
        analogy_set.form,
        method,
        rows,
        sections,
        analogy_set.grouping,
        analogy_set.skipped,
        missing,
        named,
        from_ngrams,
    )


def _unit_vectors_for(kv: KeyedVectors, words: list[str]) -> torch.Tensor:
    """The vectors of `words` (from their n-grams when outside the vocabulary) at unit length."""
    vectors = kv.vectors_for(words)
    norms = torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
    return vectors / torch.where(norms > 0, norms, 1.0)


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


# Tabs (with any spaces around them) separate a line's three fields when it has three so, so that
# a tab-separated file may hold phrases with spaces; other lines split at any whitespace.
_TAB_FIELDS = re.compile(r"\s*\t\s*")


def _pair(line: str) -> tuple[str, str, float] | None:
    """A line's (word1, word2, score), or None when it is not one."""
    fields = _TAB_FIELDS.split(line)
    if len(fields) != 3:
        fields = line.split()
    if len(fields) != 3:
        return None
    w1, w2, text = fields
    try:
        score = float(text)
    except ValueError:
        return None
    return (w1, w2, score) if w1 and w2 and math.isfinite(score) else None


def _read_pairs(path: str | Path) -> tuple[list[tuple[str, str, float]], int, str | None]:
    """Well-formed (word1, word2, score) pairs, the count of malformed lines, and the header: the
    first line that is neither blank nor a ``#`` comment, when it is not a pair."""
    pairs: list[tuple[str, str, float]] = []
    skipped = 0
    header = None
    first = True
    for line in _read_lines(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pair = _pair(line)
        if pair is not None:
            pairs.append(pair)
        elif first:
            header = line
        else:
            skipped += 1
        first = False
    if not pairs:
        raise FormatError(f"{path}: no word pairs (expected lines 'word1 word2 score')")
    return pairs, skipped, header


def evaluate_similarity(
    kv: KeyedVectors,
    path: str | Path,
    restrict_vocab: int | None = None,
    name: str | None = None,
    subwords: bool = False,
) -> SimilarityResult:
    """Spearman's rho and Pearson's r of a word-pair file's human scores against cosines. With
    `subwords`, for a subword model, a word outside the searched rows gets its vector from its
    n-grams (`KeyedVectors.vectors_for`), as fastText's evaluations answer it, so every pair counts."""
    rows = kv.search_limit(restrict_vocab)
    pairs, skipped, header = _read_pairs(path)
    index = lowercase_index(kv.words, rows)
    from_ngrams = subwords and kv.subwords is not None
    # Words answered from their n-grams take the rows after the vocabulary's, in first-seen order.
    unseen: dict[str, int] = {}
    left, right, human = [], [], []
    for w1, w2, score in pairs:
        i, j = index.get(w1.lower()), index.get(w2.lower())
        if from_ngrams:
            i = len(kv) + unseen.setdefault(w1.lower(), len(unseen)) if i is None else i
            j = len(kv) + unseen.setdefault(w2.lower(), len(unseen)) if j is None else j
        if i is not None and j is not None:
            left.append(i)
            right.append(j)
            human.append(score)
    spearman = pearson = None
    if left:
        unit = kv.unit_vectors()
        if unseen:
            unit = torch.cat([unit, _unit_vectors_for(kv, list(unseen))])
        with torch.no_grad():
            cosine = (unit[left] * unit[right]).sum(1).double()
        gold = torch.tensor(human, dtype=torch.float64)
        spearman = _pearson(_average_ranks(gold), _average_ranks(cosine))
        pearson = _pearson(gold, cosine)
    missing = _missing(index, (w for w1, w2, _ in pairs for w in (w1, w2)))
    named = name_missing(missing[:MISSING_NAMED], kv.words)
    scores = [score for _, _, score in pairs]
    return SimilarityResult(
        name or Path(path).name,
        str(path),
        spearman,
        pearson,
        len(left),
        len(pairs),
        skipped,
        header,
        (min(scores), max(scores)),
        rows,
        missing,
        named,
    )


def evaluate_battery(
    kv: KeyedVectors, restrict_vocab: int = 30000, method: str = "3cosadd"
) -> list[AnalogyResult | SimilarityResult]:
    """Every set of the shipped battery: the analogy sets, then the word-similarity sets, each set
    for a subword model twice: as usual, then with words outside the vocabulary answered from
    their n-grams."""
    results: list[AnalogyResult | SimilarityResult] = []
    for name, file in ANALOGY_BATTERY:
        results.append(evaluate_analogies(kv, shipped_list(file), restrict_vocab, method, name))
        if kv.subwords is not None:
            results.append(
                evaluate_analogies(
                    kv,
                    shipped_list(file),
                    restrict_vocab,
                    method,
                    f"{name} {NGRAM_SUFFIX}",
                    subwords=True,
                )
            )
    for name, file in SIMILARITY_BATTERY:
        results.append(evaluate_similarity(kv, shipped_list(file), name=name))
        if kv.subwords is not None:
            results.append(
                evaluate_similarity(
                    kv, shipped_list(file), name=f"{name} {NGRAM_SUFFIX}", subwords=True
                )
            )
    return results


class BatteryRow(NamedTuple):
    """A line of the battery's table: a set, or a group of an analogy set's sections."""

    name: str
    group: str | None
    kind: str
    score: float | None
    evaluated: int
    total: int


def battery_rows(results: Sequence[AnalogyResult | SimilarityResult]) -> list[BatteryRow]:
    """A row per set and, under each analogy set, a row per group of its sections."""
    rows = []
    for result in results:
        if isinstance(result, AnalogyResult):
            overall = result.overall
            rows.append(
                BatteryRow(
                    result.name, None, result.kind, result.score, overall.evaluated, overall.total
                )
            )
            rows += [
                BatteryRow(result.name, g.name, result.kind, g.accuracy, g.evaluated, g.total)
                for g in result.groups
            ]
        else:
            rows.append(
                BatteryRow(
                    result.name,
                    None,
                    result.kind,
                    result.score,
                    result.pairs_used,
                    result.pairs_total,
                )
            )
    return rows


def score_legend(results: Sequence[AnalogyResult | SimilarityResult]) -> str:
    """What the battery's score means for each kind of set in `results`."""
    analogies = [r for r in results if isinstance(r, AnalogyResult)]
    parts = []
    if analogies:
        first = analogies[0]
        parts.append(
            f"accuracy for analogies ({METHOD_NAMES[first.method]}, top {first.restrict_vocab:,} words)"
        )
    if any(isinstance(r, SimilarityResult) for r in results):
        parts.append("Spearman's rho for word similarity")
    return "; ".join(parts)


def coverage_text(evaluated: int, total: int) -> str:
    """'evaluated/total (share)', as the battery's table shows coverage."""
    share = f"{evaluated / total:.1%}" if total else "-"
    return f"{evaluated:,}/{total:,} ({share})"


def format_battery(results: Sequence[AnalogyResult | SimilarityResult]) -> str:
    """The battery's plain-text table: set, kind, score and coverage, groups indented under sets."""
    rows = battery_rows(results)
    names = [row.name if row.group is None else f"  {row.group}" for row in rows]
    width = max(len("set"), *map(len, names))
    lines = [f"{'set':<{width}}  {'kind':<10}  {'score':>6}  coverage"]
    for name, row in zip(names, rows, strict=True):
        score = "-" if row.score is None else f"{row.score:.4f}"
        lines.append(
            f"{name:<{width}}  {row.kind:<10}  {score:>6}  {coverage_text(row.evaluated, row.total)}"
        )
    return "\n".join([*lines, f"score: {score_legend(results)}"])


def _missing(index: dict[str, int], asked: Iterable[str]) -> list[str]:
    """The asked words with no case variant among the searched rows, each once, in order."""
    return [word for word in dict.fromkeys(asked) if word.lower() not in index]


def _missing_line(missing: list[str], named: str, rows: int) -> str:
    more = f" and {len(missing) - MISSING_NAMED} more" if len(missing) > MISSING_NAMED else ""
    return f"not among the {rows:,} words searched: {named}{more}"
