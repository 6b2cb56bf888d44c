"""Nothing a user types destroys data: an output that is an input, a checkpoint folder that is
the model or the user's folder."""

import os
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpora import synthetic
from w2v.cli import main


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.txt"
    synthetic.write_corpus(path, n_sentences=300, seed=0)
    return path


def train(corpus, *extra):
    return main(
        ["train", str(corpus), "--dim", "8", "--epochs", "1", "--threads", "1", "-q", *extra]
    )


@pytest.mark.parametrize("name", ["c.txt", "c.vocab.txt"])
def test_an_output_that_would_overwrite_the_corpus_is_refused(tmp_path, corpus, capsys, name):
    target = tmp_path / name
    corpus.rename(target)
    before = target.read_bytes()
    assert train(target, "-o", str(tmp_path / "c.txt")) == 1
    assert f"would overwrite the input {target}" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_a_corpus_inside_the_output_folder_is_refused(tmp_path, corpus, capsys):
    (tmp_path / "model").mkdir()
    inside = corpus.rename(tmp_path / "model" / "c.txt")
    assert train(inside, "-o", str(tmp_path / "model")) == 1
    assert "would overwrite the input" in capsys.readouterr().err
    assert inside.exists()


@pytest.mark.parametrize("where", ["model", "model/state"])
def test_a_checkpoint_folder_that_is_the_model_is_refused(tmp_path, corpus, capsys, where):
    output = tmp_path / "model"
    assert train(corpus, "-o", str(output), "--checkpoint-dir", str(tmp_path / where)) == 1
    assert "cannot be the output" in capsys.readouterr().err
    assert not output.exists()


def test_a_checkpoint_folder_of_the_users_is_left_alone(tmp_path, corpus, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "vocab.txt").write_text("my words 1\n")
    (mine / "notes.txt").write_text("keep me")
    assert train(corpus, "-o", str(tmp_path / "v.bin"), "--checkpoint-dir", str(mine)) == 1
    assert "not a w2v checkpoint" in capsys.readouterr().err
    assert (mine / "vocab.txt").read_text() == "my words 1\n"
    assert (mine / "notes.txt").read_text() == "keep me"


CLI = Path(__file__).resolve().parents[1] / "cli.py"


def test_a_file_size_limit_while_writing_keeps_the_trained_state_to_resume(tmp_path, corpus):
    # dim 32 over 455 words: the state (two float32 matrices, 122 kB) fits under the limit, the
    # text vectors (190 kB) do not.
    args = [sys.executable, str(CLI), "train", str(corpus), "--dim", "32", "--epochs", "1"]
    args += ["--threads", "1", "--min-count", "1", "-q", "--no-plots"]
    output, folder = tmp_path / "v.txt", tmp_path / "v.txt.checkpoint"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (135_000, 135_000))

    failed = subprocess.run(
        [*args, "-o", str(output), "--checkpoint-dir", str(folder)],
        preexec_fn=limit,
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 1
    assert failed.stderr == (
        f"error: {output}: cannot write (File too large): the trained state is kept in {folder}: "
        f"make room, then train again with --resume {folder} to write the vectors\n"
    )
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    resumed = subprocess.run([*args, "-o", str(output), "--resume", str(folder)])
    assert resumed.returncode == 0
    assert not folder.exists()
    subprocess.run([*args, "-o", str(tmp_path / "whole.txt")], check=True)
    assert output.read_bytes() == (tmp_path / "whole.txt").read_bytes()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_file_written_follows_the_umask(tmp_path, corpus, umask):
    previous = os.umask(umask)
    try:
        assert train(corpus, "-o", str(tmp_path / "model"), "--no-plots") == 0
        assert train(corpus, "-o", str(tmp_path / "v.bin"), "--no-plots") == 0
    finally:
        os.umask(previous)
    files = [*(tmp_path / "model").iterdir(), *tmp_path.glob("v.*"), tmp_path / "model.log.json"]
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {
        path.name: 0o666 & ~umask for path in files
    }


def test_sigterm_removes_the_temporary_files_as_ctrl_c_does(tmp_path):
    big = tmp_path / "big.txt"
    synthetic.write_corpus(big, n_sentences=40_000, seed=0)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    (tmp_path / "out").mkdir()
    args = [sys.executable, str(CLI), "train", str(big), "-o", str(tmp_path / "out" / "v.bin")]
    args += ["--phrases", "1", "--epochs", "50", "--threads", "1", "-q", "--no-plots"]
    process = subprocess.Popen(
        args, env={**os.environ, "TMPDIR": str(temporary)}, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not any(temporary.rglob("tokens.int32")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    # Into the epochs: once under the full suite's load a signal during encoding ended in a
    # segfault (exit -11), not yet explained; see the notes of issue 14.
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130
    assert process.stderr.read() == "error: interrupted\n"
    assert list(temporary.iterdir()) == []
    assert list((tmp_path / "out").iterdir()) == []
