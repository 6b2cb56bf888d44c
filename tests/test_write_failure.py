"""A run without --checkpoint-dir whose vectors cannot be written (a full disk, a file-size limit)
keeps its trained state as a checkpoint, beside the output or in the temporary folder, from which
--resume writes the very vectors an uninterrupted run writes, without training again."""

import os
import re
import resource
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import w2v
from corpora import synthetic
from w2v.api import TrainedModel, write_trained
from w2v.cli import main
from w2v.errors import WriteError
from w2v.training import checkpoint

CLI = Path(__file__).resolve().parents[1] / "cli.py"
SETTINGS = ["--dim", "32", "--epochs", "1", "--threads", "1", "--min-count", "1"]
SETTINGS += ["-q", "--no-plots"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.txt"
    synthetic.write_corpus(path, n_sentences=300, seed=0)
    return path


def run_limited(args: list[str], temporary: Path, limit: int | None) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, under a file-size limit, with its own temporary folder."""

    def set_limit() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, str(CLI), *args],
        preexec_fn=set_limit,
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
    )


def test_a_file_size_limit_keeps_the_state_beside_the_output_and_resume_writes_it(tmp_path, corpus):
    # dim 32 over 455 words: the largest checkpoint file, the state (two float32 matrices,
    # 122 kB), fits under the limit, the text vectors (190 kB) do not.
    temporary, output = tmp_path / "tmp", tmp_path / "v.txt"
    temporary.mkdir()
    folder = tmp_path / "v.txt.checkpoint"
    args = ["train", str(corpus), *SETTINGS]
    # First without a limit: the uninterrupted vectors, and numba's cache, written in full.
    assert main([*args, "-o", str(tmp_path / "whole.txt")]) == 0

    failed = run_limited([*args, "-o", str(output)], temporary, 135_000)
    assert failed.returncode == 1
    assert failed.stderr == (
        f"error: {output}: cannot write (File too large): the trained state is kept in {folder}: "
        f"make room, then run the same train command with --resume {folder} added: it writes "
        "the vectors without training again\n"
    )
    assert not output.exists()
    assert sorted(path.name for path in folder.iterdir()) == sorted(checkpoint.FILES)
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []
    assert list(temporary.iterdir()) == []  # the kept encoded corpus went with the run

    resumed = run_limited([*args, "-o", str(output), "--resume", str(folder)], temporary, None)
    assert resumed.returncode == 0, resumed.stderr
    assert output.read_bytes() == (tmp_path / "whole.txt").read_bytes()
    assert not folder.exists()  # removed once the vectors are written
    assert list(temporary.iterdir()) == []


def test_a_state_that_fits_nowhere_is_lost_and_says_why_leaving_nothing_half_written(
    tmp_path, corpus
):
    # 60 kB: the corpus part of a checkpoint fits, its state (122 kB, written by safetensors,
    # whose words the error keeps) fails, beside the output and in the temporary folder alike.
    temporary, output = tmp_path / "tmp", tmp_path / "v.txt"
    temporary.mkdir()
    args = ["train", str(corpus), *SETTINGS, "-o", str(output)]
    assert main([*args[:-1], str(tmp_path / "whole.txt")]) == 0  # numba's cache written in full

    failed = run_limited(args, temporary, 60_000)
    assert failed.returncode == 1
    beside = re.escape(str(tmp_path / "v.txt.checkpoint"))
    elsewhere = re.escape(str(temporary / "v.txt.checkpoint")) + "-[0-9a-f]{8}"
    refused = re.escape(
        "cannot write (Error while serializing: I/O error: File too large (os error 27))"
    )
    assert re.fullmatch(
        f"error: {re.escape(str(output))}: cannot write \\(File too large\\): the trained "
        "vectors are lost: no checkpoint of them could be kept either "
        f"\\({beside}/state.safetensors: {refused}; {elsewhere}/state.safetensors: {refused}\\)\n",
        failed.stderr,
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "c.txt",
        "tmp",
        "whole.log.json",
        "whole.tokenizer.json",
        "whole.txt",
        "whole.vocab.txt",
    ]
    assert list(temporary.iterdir()) == []


def fail_first_write(monkeypatch, reason: str = "No space left on device") -> list[str]:
    """Make the next write of a trained model fail as a full disk does; the paths it refused."""
    save, refused = TrainedModel.save, []

    def full_disk_once(model, path):
        if refused:
            return save(model, path)
        refused.append(str(path))
        raise WriteError(f"{path}: cannot write ({reason})")

    monkeypatch.setattr(TrainedModel, "save", full_disk_once)
    return refused


# With --hs the state holds the inner nodes too; a subword model's holds the bucket rows.
@pytest.mark.parametrize("extra", [[], ["--hs"], ["--subwords", "--bucket", "500"]])
def test_a_taken_folder_beside_the_output_sends_the_state_to_the_temporary_folder(
    tmp_path, corpus, monkeypatch, extra
):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    args = ["train", str(corpus), *SETTINGS, *extra]
    assert main([*args, "-o", str(tmp_path / "whole")]) == 0
    taken = tmp_path / "model.checkpoint"
    taken.write_text("the user's")

    refused = fail_first_write(monkeypatch)
    output = tmp_path / "model"
    assert main([*args, "-o", str(output)]) == 1
    assert refused == [str(output)]
    (kept,) = temporary.iterdir()  # and the encoded corpus kept for it is gone
    assert re.fullmatch(r"model\.checkpoint-[0-9a-f]{8}", kept.name)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o700  # the temporary folder is everyone's
    assert sorted(path.name for path in kept.iterdir()) == sorted(checkpoint.FILES)
    assert taken.read_text() == "the user's"

    assert main([*args, "-o", str(output), "--resume", str(kept)]) == 0
    assert list(temporary.iterdir()) == []
    whole = {path.name: path.read_bytes() for path in (tmp_path / "whole").iterdir()}
    assert {path.name: path.read_bytes() for path in output.iterdir()} == whole


def test_the_message_names_the_folder_to_resume_from(tmp_path, corpus, monkeypatch, capsys):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    (tmp_path / "v.bin.checkpoint").mkdir()  # taken, even empty: left alone
    fail_first_write(monkeypatch)
    output = tmp_path / "v.bin"
    assert main(["train", str(corpus), *SETTINGS, "-o", str(output)]) == 1
    (kept,) = temporary.iterdir()
    assert capsys.readouterr().err == (
        f"error: {output}: cannot write (No space left on device): the trained state is kept in "
        f"{kept} ({tmp_path / 'v.bin.checkpoint'}: already exists, left alone): make room, then "
        f"run the same train command with --resume {kept} added: it writes the vectors without "
        "training again\n"
    )
    assert list((tmp_path / "v.bin.checkpoint").iterdir()) == []


def test_a_library_model_not_trained_resumable_keeps_nothing(tmp_path, corpus, monkeypatch):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    model = w2v.train([corpus], w2v.TrainConfig(dim=8, epochs=1, threads=1), progress=False)
    assert model.finished is None and list(temporary.iterdir()) == []
    fail_first_write(monkeypatch)
    with pytest.raises(WriteError, match="the trained vectors are lost; with --checkpoint-dir"):
        write_trained(model, tmp_path / "v.bin", None)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["c.txt", "tmp"]
