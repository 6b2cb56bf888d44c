"""Corpus reading: path expansion, transparent decompression, streaming of huge lines."""

import bz2
import gzip
import lzma
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from w2v.errors import CorpusError
from w2v.text.corpus import corpus_size, expand_paths, read_pieces

TEXT = "the cat sat\non the mat\n\nlast line without newline"


def test_expand_paths_takes_files_folders_and_globs(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.txt", "a.txt", "sub/c.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / ".hidden").write_text("x")
    assert expand_paths([tmp_path]) == [
        tmp_path / "a.txt",
        tmp_path / "b.txt",
        tmp_path / "sub/c.txt",
    ]
    assert expand_paths([str(tmp_path / "*.txt")]) == [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert expand_paths([tmp_path / "b.txt", tmp_path / "a.txt"]) == [
        tmp_path / "b.txt",
        tmp_path / "a.txt",
    ]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("missing.txt", "no such file or folder"),
        ("*.nothing", "pattern matches no files"),
        ("empty", "folder holds no files"),
    ],
)
def test_expand_paths_names_what_is_wrong(tmp_path, monkeypatch, given, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=message):
        expand_paths([given])


@pytest.mark.parametrize(
    ("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)]
)
def test_compressed_files_read_like_plain_ones(tmp_path, suffix, compress):
    plain, packed = tmp_path / "c.txt", tmp_path / f"c.txt{suffix}"
    plain.write_text(TEXT)
    packed.write_bytes(compress(TEXT.encode()))
    assert list(read_pieces([packed])) == list(read_pieces([plain]))
    assert corpus_size([packed]) is None
    assert corpus_size([plain]) == len(TEXT)


def test_lines_come_one_by_one_with_their_ends(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    assert list(read_pieces([path])) == [
        ("the cat sat", True),
        ("on the mat", True),
        ("", True),
        ("last line without newline", True),
    ]


def test_a_huge_line_is_cut_at_spaces_into_bounded_pieces(tmp_path):
    words = [f"w{i}" for i in range(5000)]
    path = tmp_path / "one-line.txt"
    path.write_text(" ".join(words) + "\nnext line\n")
    pieces = list(read_pieces([path], chunk_chars=1000))
    assert all(len(text) <= 2000 for text, _ in pieces)
    first_line = [text for text, _ in pieces[:-1]]
    assert [ends for _, ends in pieces[:-2]] == [False] * (len(pieces) - 2)
    assert " ".join(first_line).split() == words
    assert pieces[-1] == ("next line", True)


def test_invalid_utf8_is_replaced_not_fatal(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9 ok\n")
    assert list(read_pieces([path])) == [("caf\ufffd ok", True)]


def test_a_line_without_spaces_is_cut_into_bounded_pieces_in_linear_time(tmp_path):
    path = tmp_path / "one-word.txt"
    path.write_text("a" * 5000 + " b\n" + "\u4e2d\u6587" * 1500 + "\nend\n")
    pieces = list(read_pieces([path], chunk_chars=1000))
    assert all(len(text) <= 2000 for text, _ in pieces)
    assert pieces[:5] == [("a" * 1000, False)] * 4 + [("a" * 1000 + " b", True)]
    assert "".join(text for text, _ in pieces if "\u4e2d" in text) == "\u4e2d\u6587" * 1500
    assert pieces[-1] == ("end", True)
    # 64 MB without a space: linear, where joining it again at every chunk took seconds.
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (64 << 20))
    started = time.perf_counter()
    assert sum(len(text) for text, _ in read_pieces([big])) == 64 << 20
    assert time.perf_counter() - started < 1.5


def test_standard_input_and_named_pipes_are_read_as_corpora(tmp_path):
    assert expand_paths(["-"]) == [Path("/dev/stdin")]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert expand_paths([fifo]) == [fifo]
    assert corpus_size([fifo]) is None
    cli = Path(__file__).resolve().parents[1] / "cli.py"
    args = [sys.executable, str(cli), "train", "-", "--dim", "8", "--epochs", "1"]
    args += ["--threads", "1", "--min-count", "1", "-q", "--no-plots"]
    text = "the cat sat on the mat\nthe dog sat on the log\n" * 20
    piped = subprocess.run([*args, "-o", str(tmp_path / "piped.bin")], input=text, text=True)
    assert piped.returncode == 0
    (tmp_path / "c.txt").write_text(text)
    args[3] = str(tmp_path / "c.txt")
    subprocess.run([*args, "-o", str(tmp_path / "file.bin")], check=True)
    assert (tmp_path / "piped.bin").read_bytes() == (tmp_path / "file.bin").read_bytes()
