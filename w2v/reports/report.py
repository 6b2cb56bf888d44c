"""A markdown report of an evaluation: the battery's summary table, analogy tables per section and
group with accuracy bars, the worst-answered questions, word-similarity correlations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from w2v.fileio import atomic_write, beside
from w2v.query.evaluate import (
    METHOD_NAMES,
    AnalogyResult,
    SectionScore,
    SimilarityResult,
    battery_rows,
    coverage_text,
    score_legend,
)
from w2v.reports import plots

BAR_WIDTH = 20
WORST_QUESTIONS = 20


def _cell(text: object) -> str:
    """Text that stays inside one markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _bar(share: float | None) -> str:
    if share is None:
        return ""
    filled = round(share * BAR_WIDTH)
    return "`" + "█" * filled + "·" * (BAR_WIDTH - filled) + "`"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def _section_row(section: SectionScore, bold: bool = False) -> str:
    name = f"**{_cell(section.name)}**" if bold else _cell(section.name)
    cells = [
        name,
        str(section.correct),
        str(section.evaluated),
        str(section.total),
        _percent(section.accuracy),
        _bar(section.accuracy),
    ]
    return "| " + " | ".join(cells) + " |"


def _analogy_section(result: AnalogyResult, picture: str | None, worst: int) -> list[str]:
    method = METHOD_NAMES[result.method]
    lines = [
        f"## Analogies: {_cell(result.name)}",
        "",
        f"{method} over the {result.restrict_vocab:,} most frequent words; "
        + (
            "words outside them get vectors from their n-grams, so every question counts, and "
            "one whose answer is outside them is wrong."
            if result.from_ngrams
            else "a question counts when its four words are among them."
        ),
        "",
        "| section | correct | evaluated | questions | accuracy | |",
        "|---|---:|---:|---:|---:|---|",
        *(_section_row(section) for section in result.sections),
        *(_section_row(section, bold=True) for section in (*result.groups, result.overall)),
        "",
    ]
    if result.skipped_lines:
        lines += [f"{result.skipped_lines} malformed lines skipped.", ""]
    if picture:
        lines += [f"![accuracy by section]({picture})", ""]
    wrong = [(section.name, answer) for section in result.sections for answer in section.wrong]
    # Worst first: the wrong answers the vectors preferred most clearly over the expected word.
    wrong.sort(key=lambda pair: pair[1].got_score - pair[1].expected_score, reverse=True)
    lines += ["### Worst-answered questions", ""]
    if not wrong:
        return [*lines, "Every evaluated question was answered correctly.", ""]
    lines += [
        f"The {min(worst, len(wrong))} wrong answers (of {len(wrong):,}) that scored furthest above "
        "the expected word.",
        "",
        "| question | expected | answered | score answered | score expected | section |",
        "|---|---|---|---:|---:|---|",
    ]
    for name, answer in wrong[:worst]:
        a, b, c = answer.question
        cells = [
            _cell(f"{a} : {b} :: {c} : ?"),
            _cell(answer.expected),
            _cell(answer.got),
            f"{answer.got_score:.3f}",
            f"{answer.expected_score:.3f}",
            _cell(name),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _summary_section(results: Sequence[AnalogyResult | SimilarityResult]) -> list[str]:
    lines = [
        "## Summary",
        "",
        f"Score: {score_legend(results)}.",
        "",
        "| set | kind | score | coverage |",
        "|---|---|---:|---:|",
    ]
    for row in battery_rows(results):
        name = _cell(row.name if row.group is None else f"{row.name}: {row.group}")
        score = "-" if row.score is None else f"{row.score:.4f}"
        coverage = coverage_text(row.evaluated, row.total)
        lines.append(f"| {name} | {row.kind} | {score} | {coverage} |")
    return [*lines, ""]


def _similarity_section(results: Sequence[SimilarityResult]) -> list[str]:
    lines = [
        "## Word similarity",
        "",
        "| set | Spearman rho | Pearson r | pairs used | human scores | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    notes = []
    for result in results:
        rho = "-" if result.spearman is None else f"{result.spearman:.4f}"
        r = "-" if result.pearson is None else f"{result.pearson:.4f}"
        pairs = f"{result.pairs_used}/{result.pairs_total} ({result.coverage:.1%})"
        low, high = result.score_range
        bar = _bar(max(result.spearman, 0.0)) if result.spearman is not None else ""
        lines.append(
            f"| {_cell(result.name)} | {rho} | {r} | {pairs} | {low:g} to {high:g} | {bar} |"
        )
        if result.header is not None:
            notes.append(f"{_cell(result.name)}: header line skipped (`{result.header}`).")
        if result.skipped_lines:
            notes.append(f"{_cell(result.name)}: {result.skipped_lines} malformed lines skipped.")
    return [*lines, "", *(f"{note}\n" for note in notes)]


def write_report(
    path: str | Path,
    vectors_path: str | Path,
    results: Sequence[AnalogyResult | SimilarityResult],
    worst: int = WORST_QUESTIONS,
    pictures: bool = True,
) -> list[Path]:
    """Write the markdown report to `path`, with a bar chart per analogy file beside it when
    `pictures` is set (`REPORT.FILE.png`, `REPORT.FILE.ngrams.png` for the figures with words
    answered from their n-grams); return the paths written."""
    path = Path(path)
    written: list[Path] = []
    lines = [f"# Evaluation of {_cell(Path(vectors_path).name)}", "", *_summary_section(results)]
    for result in results:
        if isinstance(result, AnalogyResult):
            picture = None
            if pictures:
                ngrams = ".ngrams" if result.from_ngrams else ""
                chart = beside(path, f".{Path(result.path).stem}{ngrams}.png")
                written.append(plots.plot_sections(result, chart))
                picture = chart.name
            lines += _analogy_section(result, picture, worst)
    similarities = [result for result in results if isinstance(result, SimilarityResult)]
    if similarities:
        lines += _similarity_section(similarities)
    atomic_write(path, "\n".join(lines).encode("utf-8"))
    return [path, *written]
