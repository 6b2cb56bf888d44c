"""Pictures: words and their neighbours in two dimensions, the loss curve, analogy accuracy by section.

Drawn with matplotlib, an optional extra (`pip install -e .[plot]`), imported only when a picture
is drawn. Figures are made without pyplot, so no window or display is ever needed.
"""

from __future__ import annotations

import importlib.util
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from w2v.errors import ConfigError, OutOfVocabularyError
from w2v.fileio import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation

    from w2v.query.evaluate import AnalogyResult
    from w2v.query.vectors import KeyedVectors
    from w2v.training.loop import EpochRecord

MISSING = "matplotlib is not installed: pip install -e .[plot]"
PROJECTIONS = ("pca", "tsne")
DPI = 100
WORDS_INCHES = (9.0, 7.0)
LOSS_INCHES = (7.0, 4.0)
SECTIONS_WIDTH_INCHES = 8.0
# Section bars: this much height per section, plus room for the title and the axis.
SECTION_INCHES = 0.32
SECTIONS_MARGIN_INCHES = 1.2
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


def available() -> bool:
    """Whether matplotlib can be imported, so pictures can be drawn."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure(inches: tuple[float, float]) -> Figure:
    if not available():
        raise ConfigError(MISSING)
    from matplotlib.figure import Figure

    # Constrained layout keeps labels inside a figure of exactly the size asked for.
    return Figure(figsize=inches, dpi=DPI, layout="constrained")


def _save(figure: Figure, path: str | Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    try:
        atomic_write(path, buffer.getvalue())
    except OSError as error:
        raise ConfigError(f"{path}: cannot write ({error.strerror or error})") from None
    return Path(path)


def project(vectors: torch.Tensor, method: str = "pca", seed: int = 0) -> torch.Tensor:
    """The rows of `vectors` placed in two dimensions by PCA or (exact) t-SNE, an N x 2 tensor."""
    if method not in PROJECTIONS:
        raise ConfigError(f"unknown projection {method!r}: choose one of {', '.join(PROJECTIONS)}")
    points = vectors.detach().to("cpu", torch.float64)
    if method == "tsne" and len(points) > 3:
        # Hundreds of steps on matrices this small run 100 times slower when torch spreads each
        # one over threads that other work keeps busy.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return _tsne(points, seed).float()
        finally:
            torch.set_num_threads(threads)
    return _pca(points).float()


def _pca(points: torch.Tensor) -> torch.Tensor:
    centred = points - points.mean(dim=0)
    _, _, components = torch.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    # A component's sign is arbitrary; fixing it keeps the same words on the same side every run.
    flip = components.gather(1, components.abs().argmax(dim=1, keepdim=True)).sign()
    coordinates = centred @ (components * flip).T
    return torch.nn.functional.pad(coordinates, (0, 2 - coordinates.shape[1]))


def _tsne_affinities(squared: torch.Tensor, perplexity: float) -> torch.Tensor:
    """Each row's Gaussian neighbour probabilities, bandwidth set by bisection to the perplexity."""
    n = len(squared)
    target = math.log(perplexity)
    low = torch.full((n, 1), -30.0, dtype=squared.dtype)
    high = torch.full((n, 1), 30.0, dtype=squared.dtype)
    diagonal = torch.eye(n, dtype=torch.bool)
    for _ in range(100):
        log_beta = (low + high) / 2
        probabilities = torch.softmax(
            (-squared * log_beta.exp()).masked_fill(diagonal, -math.inf), 1
        )
        entropy = -(probabilities * probabilities.clamp_min(1e-300).log()).sum(1, keepdim=True)
        too_wide = entropy > target
        low, high = torch.where(too_wide, log_beta, low), torch.where(too_wide, high, log_beta)
    return probabilities


def _tsne(points: torch.Tensor, seed: int, steps: int = 750) -> torch.Tensor:
    """Exact t-SNE (van der Maaten and Hinton 2008), enough for the few hundred words of a plot."""
    n = len(points)
    perplexity = min(30.0, (n - 1) / 3)
    conditional = _tsne_affinities(torch.cdist(points, points).square(), perplexity)
    joint = (conditional + conditional.T) / (2 * n)
    generator = torch.Generator().manual_seed(seed)
    placed = torch.randn(n, 2, generator=generator, dtype=torch.float64) * 1e-4
    velocity, gains = torch.zeros_like(placed), torch.ones_like(placed)
    exaggeration, learning_rate = 12.0, max(n / 12.0 / 4, 50.0)
    for step in range(steps):
        early = step < 250
        kernel = 1 / (1 + torch.cdist(placed, placed).square())
        kernel.fill_diagonal_(0)
        weights = ((exaggeration if early else 1.0) * joint - kernel / kernel.sum()) * kernel
        gradient = 4 * (weights.sum(1, keepdim=True) * placed - weights @ placed)
        same_sign = (gradient > 0) == (velocity > 0)
        gains = torch.where(same_sign, gains * 0.8, gains + 0.2).clamp_min(0.01)
        velocity = (0.5 if early else 0.8) * velocity - learning_rate * gains * gradient
        placed = placed + velocity
        placed -= placed.mean(dim=0)
    return placed


def plot_words(
    vectors: KeyedVectors,
    words: Sequence[str],
    path: str | Path,
    neighbours: int = 8,
    method: str = "pca",
    analogy: Sequence[str] | None = None,
) -> Path:
    """Draw `words` and their nearest neighbours in two dimensions, labelled, and save a PNG.

    With `analogy` (a, b, c) the picture also holds b -> a and c -> d, d being the best answer to
    a - b + c, drawn as arrows: parallel arrows are the offset the analogy relies on.
    """
    asked = [*words, *(analogy or ())]
    missing = [word for word in dict.fromkeys(asked) if word not in vectors]
    if missing:
        raise OutOfVocabularyError(
            "not in the vocabulary: " + ", ".join(repr(word) for word in missing)
        )
    if not asked:
        raise ConfigError("plot needs words, or --analogy A B C")
    if analogy is not None and len(analogy) != 3:
        raise ConfigError(f"an analogy takes three words a b c, got {len(analogy)}")
    if neighbours < 0:
        raise ConfigError(f"--neighbours must be at least 0, got {neighbours}")
    figure = _figure(WORDS_INCHES)

    groups: dict[str, int] = {}  # word -> the colour of the query word it came with
    for number, word in enumerate(dict.fromkeys(words)):
        groups.setdefault(word, number)
        for other, _ in vectors.most_similar(word, topn=neighbours) if neighbours else []:
            groups.setdefault(other, number)
    answer = None
    if analogy is not None:
        a, b, c = analogy
        answer = vectors.analogy(a, b, c, topn=1)[0][0]
        for word in (a, b, c, answer):
            groups.setdefault(word, -1)
    placed = dict(zip(groups, project(_units(vectors, list(groups)), method).tolist(), strict=True))

    axes = figure.add_subplot()
    queries = {*asked, answer}
    texts, marker_sizes = [], []
    for word, (x, y) in placed.items():
        colour = "black" if groups[word] < 0 else COLOURS[groups[word] % len(COLOURS)]
        query = word in queries
        marker_sizes.append(60 if query else 18)
        axes.scatter(x, y, s=marker_sizes[-1], color=colour, zorder=3)
        label = axes.annotate(
            word,
            (x, y),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=11 if query else 9,
            fontweight="bold" if query else "normal",
            color=colour,
        )
        texts.append(label)
    if analogy is not None:
        a, b, c = analogy
        for start, end in ((b, a), (c, answer)):
            axes.annotate(
                "",
                xy=placed[end],
                xytext=placed[start],
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.5},
                zorder=2,
            )
        axes.set_title(f"{a} - {b} + {c} = {answer}  ({method.upper()})")
    else:
        axes.set_title(f"nearest neighbours, {method.upper()}")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.margins(x=0.15, y=0.08)
    _separate_labels(figure, axes, texts, marker_sizes)
    return _save(figure, path)


def _separate_labels(
    figure: Figure, axes: Axes, labels: list[Annotation], marker_sizes: list[float]
) -> None:
    """Move labels up or down until none overlaps another label or another word's marker, with a
    thin line to each label that moved. `marker_sizes` are the scatter sizes (points squared)."""
    # Freeze the limits the points gave, so that measuring in axes fractions stays valid.
    (left, right), (bottom, top) = axes.get_xlim(), axes.get_ylim()
    axes.set_xlim(left, right)
    axes.set_ylim(bottom, top)
    figure.draw_without_rendering()
    to_axes = axes.transAxes.inverted()
    extents = [to_axes.transform(label.get_window_extent()).tolist() for label in labels]
    boxes = torch.tensor(extents, dtype=torch.float64).reshape(-1, 2, 2)
    label_corners, label_sizes = boxes[:, 0], boxes[:, 1] - boxes[:, 0]
    points = torch.tensor(
        to_axes.transform(axes.transData.transform([label.xy for label in labels])).tolist(),
        dtype=torch.float64,
    ).reshape(-1, 2)
    frame = axes.get_window_extent()
    radius_pixels = torch.tensor(marker_sizes, dtype=torch.float64).sqrt() / 2 * figure.dpi / 72
    radius = radius_pixels[:, None] / torch.tensor([frame.width, frame.height], dtype=torch.float64)
    corners = torch.cat([label_corners, points - radius])
    sizes = torch.cat([label_sizes, 2 * radius])
    spread = _spread(corners, sizes, movable=len(labels))[: len(labels)]
    for label, moved in zip(labels, (spread - label_corners)[:, 1].tolist(), strict=True):
        if moved:
            label.remove()
            offset_x, offset_y = label.xyann
            axes.annotate(
                label.get_text(),
                label.xy,
                xytext=(offset_x, offset_y + moved * frame.height * 72 / figure.dpi),
                textcoords="offset points",
                fontsize=label.get_fontsize(),
                fontweight=label.get_fontweight(),
                color=label.get_color(),
                arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6, "shrinkA": 0},
            )


def _spread(
    corners: torch.Tensor, sizes: torch.Tensor, movable: int, steps: int = 400
) -> torch.Tensor:
    """Lower-left corners of boxes, the first `movable` of them (labels) moved vertically a little
    at a time until none overlaps another box; the rest (markers) stay put.

    Box i + movable is the marker of label i, which its label may touch.
    """
    corners = corners.clone()
    count = len(corners)
    order = torch.arange(count)
    # Boxes at the same height part by their order, so the result does not depend on rounding.
    tie = torch.sign(order[:, None] - order[None, :]).to(corners.dtype)
    moves = order < movable
    own_marker = (order[None, :] == order[:, None] + movable) & moves[:, None]
    # Two labels each move half the overlap; a label leaves a marker by the whole of it.
    share = torch.where(moves, 0.5, 1.0).to(corners.dtype)
    for _ in range(steps):
        ends = corners + sizes
        overlap = torch.minimum(ends[:, None], ends[None]) - torch.maximum(
            corners[:, None], corners[None]
        )
        clash = (overlap > 0).all(dim=2) & moves[:, None] & ~own_marker
        clash.fill_diagonal_(False)
        if not clash.any():
            break
        direction = torch.sign(corners[:, None, 1] - corners[None, :, 1])
        direction = torch.where(direction == 0, tie, direction)
        corners[:, 1] += (clash * overlap[..., 1] * direction * share).sum(dim=1)
    return corners


def _units(vectors: KeyedVectors, words: list[str]) -> torch.Tensor:
    rows = torch.tensor([vectors.index_of(word) for word in words])
    return vectors.unit_vectors()[rows]


def plot_loss(history: Sequence[EpochRecord], path: str | Path) -> Path:
    """Draw mean loss and learning rate per epoch, with the mean speed in the title; save a PNG."""
    if not history:
        raise ConfigError("no epochs to plot")
    figure = _figure(LOSS_INCHES)
    axes = figure.add_subplot()
    epochs = [record.epoch for record in history]
    axes.plot(epochs, [record.loss for record in history], "o-", color="tab:blue")
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean loss per pair", color="tab:blue")
    axes.set_xticks(epochs)
    rate_axes = axes.twinx()
    rate_axes.plot(epochs, [record.learning_rate for record in history], "s--", color="tab:orange")
    rate_axes.set_ylabel("learning rate at epoch end", color="tab:orange")
    speed = sum(record.words_per_second for record in history) / len(history)
    axes.set_title(f"training: {len(history)} epochs, {speed:,.0f} words/s on average")
    return _save(figure, path)


def plot_sections(result: AnalogyResult, path: str | Path) -> Path:
    """Draw a bar per analogy section (accuracy, with correct/evaluated) and save a PNG."""
    sections = [section for section in result.sections if section.evaluated]
    rows = [*sections, result.overall]
    height = SECTIONS_MARGIN_INCHES + SECTION_INCHES * len(rows)
    figure = _figure((SECTIONS_WIDTH_INCHES, height))
    axes = figure.add_subplot()
    names = [section.name for section in rows]
    accuracies = [100 * (section.accuracy or 0.0) for section in rows]
    colours = ["tab:blue"] * len(sections) + ["black"]
    bars = axes.barh(names, accuracies, color=colours)
    labels = [f"{section.correct}/{section.evaluated}" for section in rows]
    axes.bar_label(bars, labels=labels, padding=3, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 112)
    axes.set_xlabel("accuracy (%)")
    axes.set_title(f"{Path(result.path).name}: accuracy by section")
    return _save(figure, path)
