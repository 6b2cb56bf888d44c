"""Results people look at: word pictures, training logs, projector files, evaluation reports."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from corpora import synthetic
from w2v.cli import main
from w2v.errors import ConfigError, OutOfVocabularyError
from w2v.query.evaluate import evaluate_analogies
from w2v.query.vectors import KeyedVectors, load
from w2v.reports import plots
from w2v.training.loop import EpochRecord

# Three clusters of words around three directions, and a gender offset inside the first.
CLUSTERS = {
    "royal": ["king", "queen", "prince", "princess", "crown", "throne"],
    "city": ["paris", "rome", "london", "berlin", "madrid", "oslo"],
    "animal": ["dog", "cat", "horse", "cow", "sheep", "goat"],
}
WORDS = [word for members in CLUSTERS.values() for word in members] + ["man", "woman"]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the PNG signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def distances(points: torch.Tensor) -> torch.Tensor:
    return (points[:, None] - points[None]).norm(dim=2)


def pixels(inches: tuple[float, float]) -> tuple[int, int]:
    return round(inches[0] * plots.DPI), round(inches[1] * plots.DPI)


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The matplotlib figures the plots save, in order, for checking what they hold."""
    figures = []
    save = plots._save

    def keep(figure, path):
        figures.append(figure)
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def png_pixels(path: Path) -> np.ndarray:
    """The PNG's RGB pixels as floats in [0, 1], row 0 at the top."""
    from matplotlib.image import imread

    return imread(path)[..., :3]


def shows(image: np.ndarray, axes, point, colour, radius: int = 2) -> bool:
    """Whether the picture has a pixel of `colour` within `radius` pixels of the data `point`."""
    from matplotlib.colors import to_rgb

    x, y = axes.transData.transform(point)
    row, column = round(image.shape[0] - y), round(x)
    patch = image[
        max(row - radius, 0) : row + radius + 1, max(column - radius, 0) : column + radius + 1
    ]
    return bool((np.abs(patch - to_rgb(colour)).max(axis=-1) < 0.03).any())


def box_shows(image: np.ndarray, box, colour, markers: np.ndarray) -> bool:
    """Whether a pixel of `colour` lies inside the display-space `box` (a label's extent), away
    from the `markers` (display points), which may have that colour too."""
    from matplotlib.colors import to_rgb

    height, width = image.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width]
    inside = (rows >= height - box.y1) & (rows <= height - box.y0)
    inside &= (columns >= box.x0) & (columns <= box.x1)
    for x, y in markers:
        inside &= (rows - (height - y)) ** 2 + (columns - x) ** 2 > 6**2
    matching = np.abs(image - to_rgb(colour)).max(axis=-1) < 0.1
    return bool((matching & inside).any())


def word_labels(axes) -> dict:
    """word -> its label (an Annotation), for every word label drawn (arrows have no text)."""
    labels = [text for text in axes.texts if text.get_text()]
    assert len({label.get_text() for label in labels}) == len(labels)  # each word once
    return {label.get_text(): label for label in labels}


def check_words_picture(figure, image, vectors, groups, method) -> dict:
    """The picture draws exactly the words of `groups` (word -> its query's colour), each with a
    marker at the point `plots.project` gives its unit vector and a label, both visible in the PNG.
    Returns word -> drawn point."""
    axes = figure.axes[0]
    labels = word_labels(axes)
    assert set(labels) == set(groups)
    words = list(labels)
    rows = torch.tensor([vectors.index_of(word) for word in words])
    expected = plots.project(vectors.unit_vectors()[rows], method)
    placed = torch.tensor([labels[word].xy for word in words])
    assert torch.allclose(placed, expected, atol=1e-5)
    markers = np.concatenate([collection.get_offsets() for collection in axes.collections])
    assert sorted(map(tuple, markers.tolist())) == sorted(map(tuple, placed.tolist()))
    on_screen = axes.transData.transform(markers)
    for word, label in labels.items():
        assert label.get_color() == groups[word], word
        assert shows(image, axes, label.xy, groups[word]), f"no marker drawn for {word}"
        box = label.get_window_extent()
        assert box_shows(image, box, groups[word], on_screen), f"no label drawn for {word}"
    return dict(zip(words, placed, strict=True))


def query_colours(vectors, queries, neighbours) -> dict:
    """word -> the colour of the first query it comes with, as the plot colours them."""
    groups = {}
    for number, word in enumerate(queries):
        colour = plots.COLOURS[number % len(plots.COLOURS)]
        groups.setdefault(word, colour)
        for other, _ in vectors.most_similar(word, topn=neighbours):
            groups.setdefault(other, colour)
    return groups


@pytest.fixture(scope="module")
def vectors() -> KeyedVectors:
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(len(CLUSTERS), 16, generator=generator) * 3
    gender = torch.randn(16, generator=generator)
    rows = []
    for centre, members in zip(centres, CLUSTERS.values(), strict=True):
        rows += [centre + torch.randn(16, generator=generator) * 0.3 for _ in members]
    rows[1] = rows[0] + gender  # queen = king + gender
    rows[3] = rows[2] + gender  # princess = prince + gender
    rows += [centres[0] * 0.2, centres[0] * 0.2 + gender]  # man, woman
    counts = list(range(1000, 1000 - len(WORDS), -1))
    return KeyedVectors(WORDS, torch.stack(rows), counts)


@pytest.fixture(scope="module")
def vectors_file(vectors, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vectors") / "vectors.txt"
    vectors.save(path)
    return path


def test_pca_keeps_a_plane_and_is_deterministic():
    generator = torch.Generator().manual_seed(1)
    flat = torch.randn(30, 2, generator=generator)
    basis = torch.linalg.qr(torch.randn(12, 2, generator=generator))[0]
    placed = plots.project(flat @ basis.T + 5)
    assert placed.shape == (30, 2)
    assert torch.allclose(distances(placed), distances(flat), atol=1e-4)
    assert torch.equal(placed, plots.project(flat @ basis.T + 5))


def test_tsne_keeps_clusters_apart(vectors):
    placed = plots.project(vectors.unit_vectors()[:18], "tsne")
    apart = distances(placed)
    cluster = torch.arange(18) // 6
    same = cluster[:, None] == cluster[None]
    off_diagonal = ~torch.eye(18, dtype=torch.bool)
    assert apart[same & off_diagonal].max() < apart[~same].min()


def test_plot_command_draws_each_word_with_its_neighbours_where_they_project(
    vectors_file, tmp_path, capsys, drawn
):
    output = tmp_path / "words.png"
    argv = ["plot", "king", "paris", "dog", "-o", str(output), "--vectors", str(vectors_file)]
    assert main([*argv, "--neighbours", "3"]) == 0
    assert png_size(output) == pixels(plots.WORDS_INCHES)
    assert capsys.readouterr().out == f"wrote {output}\n"
    (figure,) = drawn
    loaded = load(vectors_file)
    groups = query_colours(loaded, ["king", "paris", "dog"], 3)
    assert len(groups) == 12
    placed = check_words_picture(figure, png_pixels(output), loaded, groups, "pca")
    assert figure.axes[0].get_title() == "nearest neighbours, PCA"
    # Each query's neighbours are from its planted cluster (man and woman lie by the royal one),
    # and the three clusters are drawn far apart.
    royal = {*CLUSTERS["royal"], "man", "woman"}
    for query, members in (
        ("king", royal),
        ("paris", CLUSTERS["city"]),
        ("dog", CLUSTERS["animal"]),
    ):
        assert {word for word, colour in groups.items() if colour == groups[query]} <= set(members)
    words = list(placed)
    apart = distances(torch.stack([placed[word] for word in words]))
    same = torch.tensor([[groups[a] == groups[b] for b in words] for a in words])
    assert apart[same].max() < apart[~same].min() / 5


@pytest.mark.parametrize("method", plots.PROJECTIONS)
def test_analogy_pictures_with_either_projection(vectors, tmp_path, method, drawn):
    output = tmp_path / "analogy.png"
    plots.plot_words(
        vectors, [], output, neighbours=3, method=method, analogy=["queen", "king", "prince"]
    )
    assert png_size(output) == pixels(plots.WORDS_INCHES)
    (figure,) = drawn
    image = png_pixels(output)
    analogy = ["queen", "king", "prince", "princess"]  # princess = prince + (queen - king)
    placed = check_words_picture(figure, image, vectors, dict.fromkeys(analogy, "black"), method)
    axes = figure.axes[0]
    assert axes.get_title() == f"queen - king + prince = princess  ({method.upper()})"
    # Arrows king -> queen and prince -> princess, drawn: black pixels halfway along each.
    arrows = [text for text in axes.texts if not text.get_text()]
    assert all(arrow.arrow_patch is not None for arrow in arrows)
    drawn_ends = sorted((tuple(arrow.xyann), tuple(arrow.xy)) for arrow in arrows)
    ends = [(placed[b], placed[a]) for b, a in (("king", "queen"), ("prince", "princess"))]
    assert drawn_ends == sorted((tuple(b.tolist()), tuple(a.tolist())) for b, a in ends)
    for start, end in ends:
        assert shows(image, axes, ((start + end) / 2).tolist(), "black")


def test_unknown_words_are_named(vectors, tmp_path):
    with pytest.raises(OutOfVocabularyError, match="not in the vocabulary: 'unicorn', 'elf'"):
        plots.plot_words(
            vectors, ["king", "unicorn"], tmp_path / "x.png", analogy=["elf", "man", "woman"]
        )
    assert not (tmp_path / "x.png").exists()


def test_labels_are_moved_apart_until_none_overlaps():
    labels = torch.tensor([[0.1, 0.5], [0.12, 0.5], [0.11, 0.51], [0.8, 0.2]], dtype=torch.float64)
    markers = torch.tensor(
        [[0.1, 0.49], [0.12, 0.49], [0.85, 0.21], [0.79, 0.19]], dtype=torch.float64
    )
    sizes = torch.tensor([[0.1, 0.03]] * 4 + [[0.01, 0.01]] * 4, dtype=torch.float64)
    spread = plots._spread(torch.cat([labels, markers]), sizes, movable=4)
    ends = spread + sizes
    for i in range(4):
        for j in range(8):
            if j in (i, i + 4):  # itself, or its own marker
                continue
            apart = (ends[i] <= spread[j] + 1e-9) | (ends[j] <= spread[i] + 1e-9)
            assert apart.any(), (i, j)
    assert torch.equal(spread[4:], markers) and torch.equal(
        spread[:, 0], torch.cat([labels, markers])[:, 0]
    )
    assert spread[3, 1] != labels[3, 1]  # moved off another word's marker


def test_a_missing_matplotlib_gives_the_install_command(vectors, tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "available", lambda: False)
    with pytest.raises(
        ConfigError, match=r"^matplotlib is not installed: pip install -e \.\[plot\]$"
    ):
        plots.plot_words(vectors, ["king"], tmp_path / "x.png")


def check_loss_picture(figure, image, history) -> None:
    """The loss curve draws each epoch's mean loss (blue) and learning rate (orange), visibly."""
    loss_axes, rate_axes = figure.axes
    (loss_line,) = loss_axes.lines
    (rate_line,) = rate_axes.lines
    epochs = [record.epoch for record in history]
    assert loss_line.get_xdata().tolist() == epochs == rate_line.get_xdata().tolist()
    assert loss_line.get_ydata().tolist() == [record.loss for record in history]
    assert rate_line.get_ydata().tolist() == [record.learning_rate for record in history]
    # The rates' axes are drawn over the loss's: a loss point under a rate point is hidden.
    on_top = rate_axes.transData.transform(rate_line.get_xydata())
    for point in rate_line.get_xydata():
        assert shows(image, rate_axes, point, rate_line.get_color()), ("rate", point)
    for point in loss_line.get_xydata():
        hidden = np.abs(on_top - loss_axes.transData.transform(point)).max(axis=1).min() < 8
        assert hidden or shows(image, loss_axes, point, loss_line.get_color()), ("loss", point)
    speed = sum(record.words_per_second for record in history) / len(history)
    assert (
        loss_axes.get_title() == f"training: {len(history)} epochs, {speed:,.0f} words/s on average"
    )


def test_loss_curve_png(tmp_path, drawn):
    rates = {1: 0.025, 2: 0.02, 3: 0.005}
    history = [EpochRecord(epoch, 3.0 / epoch, rates[epoch], 1e5, 1.0) for epoch in (1, 2, 3)]
    output = plots.plot_loss(history, tmp_path / "loss.png")
    assert png_size(output) == pixels(plots.LOSS_INCHES)
    check_loss_picture(drawn[-1], png_pixels(output), history)
    # A loss that rises instead is another picture, with its points where they belong.
    rising = [EpochRecord(epoch, 1.0 * epoch, rates[epoch], 1e5, 1.0) for epoch in (1, 2, 3)]
    other = plots.plot_loss(rising, tmp_path / "rising.png")
    check_loss_picture(drawn[-1], png_pixels(other), rising)
    assert not np.array_equal(png_pixels(output), png_pixels(other))


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    synthetic.write_corpus(path, n_sentences=1500, seed=0)
    return path


def train_argv(corpus: Path, output: Path) -> list[str]:
    return [
        "train",
        str(corpus),
        "-o",
        str(output),
        "--dim",
        "10",
        "--epochs",
        "2",
        "--threads",
        "1",
        "-q",
    ]


def test_training_writes_a_json_log_and_a_loss_curve(small_corpus, tmp_path, drawn):
    assert main(train_argv(small_corpus, tmp_path / "vectors.bin")) == 0
    log = json.loads((tmp_path / "vectors.log.json").read_text())
    assert log["corpus"] == [str(small_corpus)]
    assert log["config"]["dim"] == 10 and log["vocabulary"] == len(load(tmp_path / "vectors.bin"))
    assert [record["epoch"] for record in log["epochs"]] == [1, 2]
    for record in log["epochs"]:
        assert set(record) == {"epoch", "loss", "learning_rate", "words_per_second", "seconds"}
        assert math.isfinite(record["loss"]) and record["loss"] > 0
        assert 0 < record["learning_rate"] <= 0.025 and record["words_per_second"] > 0
    assert png_size(tmp_path / "vectors.loss.png") == pixels(plots.LOSS_INCHES)
    history = [EpochRecord(**record) for record in log["epochs"]]
    check_loss_picture(drawn[-1], png_pixels(tmp_path / "vectors.loss.png"), history)


def test_no_plots_or_no_matplotlib_still_writes_the_log(
    small_corpus, tmp_path, monkeypatch, capsys
):
    assert main([*train_argv(small_corpus, tmp_path / "a.bin"), "--no-plots"]) == 0
    assert (tmp_path / "a.log.json").is_file() and not (tmp_path / "a.loss.png").exists()
    monkeypatch.setattr(plots, "available", lambda: False)
    capsys.readouterr()
    assert main(train_argv(small_corpus, tmp_path / "b.bin")) == 0
    assert (tmp_path / "b.log.json").is_file() and not (tmp_path / "b.loss.png").exists()
    out = capsys.readouterr().out
    assert out.count("matplotlib is not installed") == 1 and "skipped" in out


@pytest.mark.parametrize("top", [None, 5, 1000])
def test_projector_files_match_the_vocabulary(vectors, vectors_file, tmp_path, top):
    folder = tmp_path / "projector"
    argv = ["export-projector", "-o", str(folder), "--vectors", str(vectors_file)]
    assert main(argv if top is None else [*argv, "--top", str(top)]) == 0
    rows = len(WORDS) if top is None else min(top, len(WORDS))
    metadata = (folder / "metadata.tsv").read_text(encoding="utf-8")
    assert metadata.split("\n") == [*WORDS[:rows], ""]
    lines = (folder / "vectors.tsv").read_text().splitlines()
    assert len(lines) == rows
    matrix = torch.tensor([[float(cell) for cell in line.split("\t")] for line in lines])
    assert torch.allclose(matrix, vectors.vectors[:rows], rtol=1e-5, atol=1e-5)


def test_projector_top_must_be_positive(vectors_file, tmp_path, capsys):
    argv = ["export-projector", "-o", str(tmp_path), "--vectors", str(vectors_file), "--top", "0"]
    assert main(argv) == 1
    assert capsys.readouterr().err == "error: --top must be at least 1, got 0\n"


@pytest.fixture
def questions(tmp_path) -> Path:
    path = tmp_path / "questions.txt"
    path.write_text(
        ": royal\nking queen prince princess\nprince princess king queen\n"
        ": mixed\nking queen man woman\nparis rome dog cat\nparis dog cat\n"
    )
    return path


def test_evaluate_report_has_tables_bars_and_worst_questions(
    vectors, vectors_file, questions, tmp_path, capsys, drawn
):
    report = tmp_path / "report.md"
    argv = ["evaluate", "--vectors", str(vectors_file), "--analogies", str(questions)]
    argv += ["--similarity", str(tmp_path / "pairs.tsv"), "--report", str(report)]
    (tmp_path / "pairs.tsv").write_text("king queen 9\nking dog 1\nparis rome 8\n")
    assert main(argv) == 0
    text = report.read_text(encoding="utf-8")
    result = evaluate_analogies(vectors, questions)
    royal, mixed = result.sections
    assert royal.correct == 2 and mixed.evaluated == 2 and mixed.correct < 2
    assert "## Analogies: questions.txt" in text
    assert "| royal | 2 | 2 | 2 | 100.0% | `████████████████████` |" in text
    assert f"| **total** | {result.overall.correct} | 4 | 4 |" in text
    assert "1 malformed lines skipped." in text
    assert "### Worst-answered questions" in text
    for answer in mixed.wrong:
        a, b, c = answer.question
        assert f"| {a} : {b} :: {c} : ? | {answer.expected} | {answer.got} |" in text
    assert "| pairs.tsv |" in text
    chart = tmp_path / "report.questions.png"
    assert "![accuracy by section](report.questions.png)" in text
    width, height = png_size(chart)
    assert width == pixels((plots.SECTIONS_WIDTH_INCHES, 1))[0] and height > 100
    # A bar per section with questions and one for the total, as long as its accuracy, visible.
    (figure,) = drawn
    (axes,) = figure.axes
    rows = [royal, mixed, result.overall]
    assert [tick.get_text() for tick in axes.get_yticklabels()] == ["royal", "mixed", "total"]
    widths = [bar.get_width() for bar in axes.patches]
    assert widths == pytest.approx([100 * row.accuracy for row in rows])
    assert [text.get_text() for text in axes.texts] == [f"{r.correct}/{r.evaluated}" for r in rows]
    image = png_pixels(chart)
    for bar in axes.patches:
        if bar.get_width() > 0:
            middle = (bar.get_width() / 2, bar.get_y() + bar.get_height() / 2)
            assert shows(image, axes, middle, bar.get_facecolor()[:3])
    assert capsys.readouterr().out.endswith(f"wrote {report}, {chart}\n")
