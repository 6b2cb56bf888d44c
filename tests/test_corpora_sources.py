"""Corpus sources: dataset files through `datasets`, Hub names, named corpora fetched into a cache."""

import csv
import dataclasses
import gzip
import hashlib
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpora import registry
from corpora.registry import NamedCorpus, fetch, listing
from corpora.sources import DatasetSource, hub_source, resolve_sources
from w2v.cli import main
from w2v.errors import CorpusError
from w2v.query.vectors import load
from w2v.text.corpus import read_pieces

ROWS = [
    {"id": 1, "body": "the cat sat\non the mat"},
    {"id": 2, "body": "a dog ran"},
    {"id": 3, "body": None},
    {"id": 4, "body": "the end"},
]
LINES = [("the cat sat", True), ("on the mat", True), ("a dog ran", True), ("the end", True)]


def write_rows(path: Path, rows: list[dict]) -> Path:
    """Write rows as JSON lines, CSV or Parquet, by the file's suffix (.gz compresses JSON lines)."""
    if path.name.endswith(".jsonl.gz"):
        path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif path.suffix == ".csv":
        with path.open("w", newline="") as stream:
            writer = csv.DictWriter(stream, ["id", "body"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.jsonl.gz", "rows.csv", "rows.parquet"])
def test_dataset_files_are_read_through_datasets(tmp_path, name):
    path = write_rows(tmp_path / name, ROWS)
    (found,) = resolve_sources([path], text_column="body")
    assert isinstance(found, DatasetSource) and str(found) == str(path)
    assert list(read_pieces([found])) == LINES


def test_text_files_stay_plain_paths(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("a b\n")
    assert resolve_sources([text], text_column="body") == [text]


def test_a_missing_text_column_names_the_columns(tmp_path):
    path = write_rows(tmp_path / "rows.jsonl", ROWS)
    with pytest.raises(CorpusError, match=r"rows.jsonl: no column 'text' \(columns: id, body\)"):
        list(read_pieces(resolve_sources([path])))


def test_a_long_row_comes_in_bounded_pieces(tmp_path):
    words = " ".join(f"w{i}" for i in range(5000))
    path = write_rows(tmp_path / "rows.jsonl", [{"id": 1, "body": words}])
    pieces = list(DatasetSource("json", text_column="body", data_file=str(path)).pieces(1000))
    # As for files: a piece is cut at the last space once over chunk_chars, so under twice that.
    assert len(pieces) > 5 and all(len(text) <= 2000 for text, _ in pieces)
    assert [ends for _, ends in pieces] == [False] * (len(pieces) - 1) + [True]
    assert " ".join(text for text, _ in pieces) == words


def test_hub_names_parse_into_name_config_split_and_column():
    assert hub_source("hf:Salesforce/wikitext:wikitext-103-raw-v1", "test", "body") == (
        DatasetSource("Salesforce/wikitext", "wikitext-103-raw-v1", "test", "body")
    )
    assert hub_source("hf:stas/openwebtext-10k") == DatasetSource("stas/openwebtext-10k")
    assert str(hub_source("hf:a/b:c", "test")) == "hf:a/b:c (test split)"
    with pytest.raises(CorpusError, match="name a dataset"):
        hub_source("hf:")


def test_a_hub_dataset_that_cannot_be_reached_fails_in_one_line(monkeypatch):
    import datasets

    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'a/b' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(CorpusError) as caught:
        list(read_pieces(resolve_sources(["hf:a/b"])))
    message = str(caught.value)
    assert message.startswith("hf:a/b: cannot load (Couldn't reach 'a/b'")
    assert "pass a local path" in message and "\n" not in message


def test_training_from_a_jsonl_file_through_the_cli(tmp_path):
    words = ["king", "queen", "man", "woman", "paris", "france", "rome", "italy"]
    body = " ".join(words[:4]) + "\n" + " ".join(words[4:])
    rows = [{"id": i, "body": body} for i in range(50)]
    path = write_rows(tmp_path / "rows.jsonl", rows)
    output = tmp_path / "vectors.txt"
    argv = ["train", str(path), "--text-column", "body", "-o", str(output), "--dim", "10"]
    argv += ["--min-count", "1", "--epochs", "1", "--threads", "1", "-q", "--no-plots"]
    assert main(argv) == 0
    assert sorted(load(output).words) == sorted(words)


# A named corpus served from a local file instead of the internet.
@pytest.fixture
def fake_corpus(tmp_path, monkeypatch):
    text = "the quick brown fox\njumps over the lazy dog\n" * 20
    archive = tmp_path / "served" / "fake8.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("fake8/train.txt", text)
    data = archive.read_bytes()
    corpus = NamedCorpus(
        name="fake8",
        description="a test corpus",
        words="16",
        urls=(archive.as_uri(),),
        archive_bytes=len(data),
        checksum="sha256:" + hashlib.sha256(data).hexdigest(),
        member="fake8/train.txt",
        text_bytes=len(text.encode()),
    )
    monkeypatch.setitem(registry.CORPORA, "fake8", corpus)
    return corpus, text, tmp_path / "cache"


def test_a_named_corpus_is_downloaded_checked_and_unpacked_once(fake_corpus, monkeypatch):
    corpus, text, cache = fake_corpus
    path = fetch("fake8", cache, progress=False)
    assert path == cache / "fake8" / "train.txt" and path.read_text() == text
    assert sorted(p.name for p in (cache / "fake8").iterdir()) == ["train.txt"]
    monkeypatch.setitem(registry.CORPORA, "fake8", dataclasses.replace(corpus, urls=()))
    assert fetch("fake8", cache, progress=False) == path  # no download the second time


def test_a_damaged_download_is_refused_and_not_kept(fake_corpus, monkeypatch):
    corpus, _, cache = fake_corpus
    wrong = dataclasses.replace(corpus, checksum="sha256:" + "0" * 64)
    monkeypatch.setitem(registry.CORPORA, "fake8", wrong)
    with pytest.raises(CorpusError, match="the download is damaged"):
        fetch("fake8", cache, progress=False)
    assert list((cache / "fake8").iterdir()) == []


def test_offline_the_error_says_to_pass_a_local_path(fake_corpus, monkeypatch, tmp_path):
    corpus, _, cache = fake_corpus
    gone = dataclasses.replace(corpus, urls=((tmp_path / "nowhere.zip").as_uri(),))
    monkeypatch.setitem(registry.CORPORA, "fake8", gone)
    with pytest.raises(CorpusError) as caught:
        fetch("fake8", cache, progress=False)
    message = str(caught.value)
    assert message.startswith("fake8: cannot download (file://")
    assert "pass the path of its train.txt file instead of the name" in message
    assert "\n" not in message


def test_training_on_a_named_corpus_through_the_cli(fake_corpus, tmp_path, capsys):
    _, _, cache = fake_corpus
    output = tmp_path / "vectors.txt"
    argv = ["train", "fake8", "--cache-dir", str(cache), "-o", str(output), "--dim", "10"]
    argv += ["--min-count", "1", "--epochs", "1", "--threads", "1", "-q", "--no-plots"]
    assert main(argv) == 0
    assert "fox" in load(output).words
    assert (cache / "fake8" / "train.txt").is_file()


def test_a_local_file_comes_before_a_named_corpus(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("text8").write_text("a b c\n")
    assert resolve_sources(["text8"]) == [Path("text8")]


def test_corpora_command_lists_the_named_corpora(tmp_path, capsys):
    assert main(["corpora", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "not yet" in rows["text8"] and "not yet" in rows["wikitext-103"]
    assert f"cache folder: {tmp_path}" in out
    (tmp_path / "text8").mkdir()
    (tmp_path / "text8" / "text8").write_text("cached")
    assert str(tmp_path / "text8" / "text8") in listing(tmp_path)


def test_named_corpora_record_a_published_size_and_checksum():
    for corpus in registry.CORPORA.values():
        algorithm, digest = corpus.checksum.split(":")
        assert len(digest) == hashlib.new(algorithm).digest_size * 2
        assert corpus.archive_bytes > 0 and corpus.urls
        assert corpus.text_bytes is None or corpus.text_bytes > corpus.archive_bytes
