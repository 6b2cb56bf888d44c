"""Hostile files of every format we read, through the command line: truncated, padded, oversized
and tampered. Each ends in one `error:` line naming the file (exit 1) or a clean result, with no
traceback and nothing written."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from corpora import synthetic
from w2v.cli import main
from w2v.training import checkpoint

SETTINGS = ["--dim", "8", "--epochs", "2", "--threads", "1", "--min-count", "1"]
QUIET = ["-q", "--no-plots"]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A corpus, a native model, a word2vec binary and text file, and a kept checkpoint."""
    folder = tmp_path_factory.mktemp("made")
    corpus = folder / "c.txt"
    synthetic.write_corpus(corpus, n_sentences=300, seed=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoint, "remove", lambda folder: None)
        args = ["train", str(corpus), *SETTINGS, *QUIET, "-o", str(folder / "model")]
        assert main([*args, "--checkpoint-dir", str(folder / "ck")]) == 0
    for name in ("v.bin", "v.txt"):
        assert main(["convert", str(folder / "model"), str(folder / name)]) == 0
    return {
        "corpus": corpus,
        "model": folder / "model",
        "ck": folder / "ck",
        "bin": folder / "v.bin",
        "txt": folder / "v.txt",
    }


def one_error(capsys: pytest.CaptureFixture[str], status: int, names: str) -> str:
    err = capsys.readouterr().err
    assert status == 1, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert names in err, err
    return err


# Checkpoints: the state's tensors and position, corpus.json, the ids, the vocabulary


def rewrite_state(
    folder: Path,
    tensors: Callable | None = None,
    position: Callable | None = None,
    metadata: dict | None = None,
) -> None:
    path = folder / checkpoint.STATE
    with safe_open(path, "pt") as file:
        held = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118 (no __iter__)
        saved = json.loads(file.metadata()["state"])
    saved["epoch"] = 0  # an epoch left to train, so that the kernel would run
    if tensors:
        tensors(held)
    if position:
        position(saved)
    save_file(held, path, metadata={"state": json.dumps(saved), **(metadata or {})})


def edit_json(path: Path, change: Callable) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


CHECKPOINTS = {
    "input shorter than the vocabulary": (
        lambda f: rewrite_state(f, lambda t: t.update(input_vectors=t["input_vectors"][:10])),
        "'input_vectors' is torch.float32 of shape (10, 8)",
    ),
    "output shorter than the vocabulary": (
        lambda f: rewrite_state(f, lambda t: t.update(output_vectors=t["output_vectors"][:3])),
        "'output_vectors'",
    ),
    "float64 vectors": (
        lambda f: rewrite_state(f, lambda t: t.update(input_vectors=t["input_vectors"].double())),
        "torch.float64",
    ),
    "bad generator state": (
        lambda f: rewrite_state(f, lambda t: t.update(generator=t["generator"][:100])),
        "not a random generator state",
    ),
    "generator of floats": (
        lambda f: rewrite_state(f, lambda t: t.update(generator=t["generator"].float())),
        "not a random generator state",
    ),
    "generators of two ranks": (
        lambda f: rewrite_state(f, lambda t: t.update(generator=t["generator"].repeat(2, 1))),
        "not a random generator state",
    ),
    "made by two ranks": (
        lambda f: edit_json(f / checkpoint.CORPUS, lambda c: c.update(ranks=2)),
        "checkpoint made by 2 rank(s), this run has 1",
    ),
    "ranks as text": (
        lambda f: edit_json(f / checkpoint.CORPUS, lambda c: c.update(ranks="1")),
        "'ranks' is missing, or not a whole number of 0 or more",
    ),
    "extra metadata key": (lambda f: rewrite_state(f, metadata={"evil": "1"}), "metadata"),
    "extra position key": (
        lambda f: rewrite_state(f, position=lambda p: p.update(x=1)),
        "position",
    ),
    "missing position key": (
        lambda f: rewrite_state(f, position=lambda p: p.pop("words_done")),
        "position",
    ),
    "words done past the run's": (
        lambda f: rewrite_state(f, position=lambda p: p.update(words_done=10**12)),
        "'words_done' is past",
    ),
    "negative epoch": (
        lambda f: rewrite_state(f, position=lambda p: p.update(epoch=-5)),
        "'epoch'",
    ),
    "epoch as text": (
        lambda f: rewrite_state(f, position=lambda p: p.update(epoch="0")),
        "'epoch'",
    ),
    "history of other fields": (
        lambda f: rewrite_state(f, position=lambda p: p.update(epoch=1, history=[{"x": 1}])),
        "history",
    ),
    "truncated state": (
        lambda f: (f / checkpoint.STATE).write_bytes((f / checkpoint.STATE).read_bytes()[:999]),
        "not a safetensors file",
    ),
    "config a list": (
        lambda f: edit_json(f / checkpoint.CORPUS, lambda c: c.update(config=[])),
        "'config' is missing",
    ),
    "no fingerprint": (
        lambda f: edit_json(f / checkpoint.CORPUS, lambda c: c.pop("fingerprint")),
        "'fingerprint' is missing",
    ),
    "corpus.json cut short": (
        lambda f: (f / checkpoint.CORPUS).write_text('{"format": "w2v-checkpoint", '),
        "corpus.json: cannot read",
    ),
    "id past the vocabulary": (
        lambda f: np.full(
            (f / checkpoint.TOKENS).stat().st_size // 4, 10**6, dtype=np.int32
        ).tofile(f / checkpoint.TOKENS),
        "ids outside the vocabulary",
    ),
    "negative id": (
        lambda f: np.full((f / checkpoint.TOKENS).stat().st_size // 4, -3, np.int32).tofile(
            f / checkpoint.TOKENS
        ),
        "ids outside the vocabulary",
    ),
    "ids file padded": (
        lambda f: (f / checkpoint.TOKENS).open("ab").write(b"\0" * 6),
        "cannot read the encoded corpus",
    ),
    "sentence ends out of order": (
        lambda f: np.array([5, 3, 2], np.int64).tofile(f / checkpoint.ENDS),
        "do not match",
    ),
    "count too large for int64": (
        lambda f: (f / checkpoint.VOCABULARY).open("a").write("zzz 99999999999999999999999\n"),
        "vocab.txt: line",
    ),
    "vocabulary shorter than the tokenizer": (
        lambda f: (f / checkpoint.VOCABULARY).write_text("the 5\n"),
        "tokenizer.json: maps",
    ),
    "tokenizer not a tokenizer": (
        lambda f: (f / checkpoint.TOKENIZER).write_text("{}"),
        "not a tokenizer file",
    ),
}


@pytest.mark.parametrize("case", CHECKPOINTS)
def test_a_tampered_checkpoint_is_refused_before_training(made, tmp_path, capsys, case):
    folder = tmp_path / "ck"
    shutil.copytree(made["ck"], folder)
    tamper, message = CHECKPOINTS[case]
    tamper(folder)
    output = tmp_path / "out"
    args = ["train", str(made["corpus"]), *SETTINGS, *QUIET, "-o", str(output)]
    status = main([*args, "--resume", str(folder)])
    one_error(capsys, status, message)
    assert not output.exists()


# --init models whose config.json holds the wrong types


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("window", "5", "setting window must be an integer, got '5'"),
        ("window", 1e9, "setting window must be an integer, got 1000000000.0"),
        ("window", 10**9, "--window must be at most 10,000"),
        ("seed", "x", "setting seed must be an integer"),
        ("phrases", 1.5, "setting phrases must be an integer"),
        ("hs", 1, "setting hs must be true or false"),
        ("sample", None, "setting sample must be a number"),
    ],
)
def test_an_init_model_with_wrong_settings_is_refused(
    made, tmp_path, capsys, setting, value, message
):
    model = tmp_path / "model"
    shutil.copytree(made["model"], model)
    edit_json(model / "config.json", lambda c: c["training"].update({setting: value}))
    output = tmp_path / "out"
    args = ["train", str(made["corpus"]), "--threads", "1", *QUIET, "-o", str(output)]
    err = one_error(capsys, main([*args, "--init", str(model)]), message)
    assert f"--init {model}: the training settings in its config.json" in err
    assert not output.exists()


# Model files: word2vec binary and text, the native folder's four files


def native_case(name: str, change: Callable[[Path], object]) -> Callable[[Path], Path]:
    def make(model: Path) -> Path:
        change(model / name)
        return model

    return make


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


MODELS = {
    "binary truncated": ("bin", truncate, "v.bin"),
    "binary padded with zeros": ("bin", lambda p: p.open("ab").write(b"\0" * 4000), "v.bin"),
    "binary header claims a billion rows": (
        "bin",
        lambda p: p.write_bytes(b"1000000000 8\n" + p.read_bytes().split(b"\n", 1)[1]),
        "v.bin",
    ),
    "binary run of bytes without a space": (
        "bin",
        lambda p: p.write_bytes(b"3 8\n" + b"a" * 100_000),
        "v.bin",
    ),
    "text truncated": ("txt", lambda p: truncate(p, 0.7), "v.txt"),
    "text with a value that is no number": (
        "txt",
        lambda p: p.write_text(p.read_text().replace("\n", "\nnan?word x\n", 1)),
        "v.txt",
    ),
    "native vectors truncated": ("model", native_case("vectors.safetensors", truncate), "vectors"),
    "native vectors of other shape": (
        "model",
        native_case(
            "vectors.safetensors",
            lambda p: save_file({"vectors": torch.zeros(3, 8)}, p),
        ),
        "vectors.safetensors",
    ),
    "native vocabulary cut short": (
        "model",
        native_case("vocab.txt", lambda p: truncate(p, 0.5)),
        "vocab.txt",
    ),
    "native count too large": (
        "model",
        native_case("vocab.txt", lambda p: p.write_text(p.read_text() + "zz 9" * 30 + "\n")),
        "vocab.txt",
    ),
    "native config not JSON": (
        "model",
        native_case("config.json", lambda p: p.write_text("{")),
        "config.json",
    ),
    "native config with words as text": (
        "model",
        native_case("config.json", lambda p: edit_json(p, lambda c: c.update(words="455"))),
        "config.json",
    ),
}


@pytest.mark.parametrize("case", MODELS)
def test_a_damaged_model_file_is_refused_when_queried(made, tmp_path, capsys, case):
    kind, damage, names = MODELS[case]
    source = made[kind]
    copy = tmp_path / source.name
    if source.is_dir():
        shutil.copytree(source, copy)
    else:
        shutil.copyfile(source, copy)
    damaged = damage(copy)
    target = damaged if isinstance(damaged, Path) else copy
    status = main(["similar", "the", "--vectors", str(target)])
    one_error(capsys, status, names)


def test_a_damaged_tokenizer_is_refused_when_training_goes_on(made, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(made["model"], model)
    truncate(model / "tokenizer.json")
    output = tmp_path / "out"
    args = ["train", str(made["corpus"]), "--threads", "1", *QUIET, "-o", str(output)]
    one_error(capsys, main([*args, "--init", str(model)]), "tokenizer.json")
    assert not output.exists()


# Evaluation lists and corpora


def test_evaluation_lists_of_garbage_are_skipped_or_refused(made, tmp_path, capsys):
    questions = tmp_path / "q.txt"
    questions.write_bytes(b"\0\xff\xfe" * 1000)
    status = main(["evaluate", "--vectors", str(made["model"]), "--analogies", str(questions)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if status:
        assert status == 1 and err.count("\n") == 1 and "q.txt" in err


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:30] + bytes(200) + data[230:],  # deflate stream broken
        lambda data: data[:-4] + b"\xff\xff\xff\xff",  # a wrong length in the trailer
    ],
)
def test_a_corrupt_gz_corpus_is_one_line(made, tmp_path, capsys, damage):
    packed = tmp_path / "c.txt.gz"
    packed.write_bytes(damage(gzip.compress(made["corpus"].read_bytes())))
    output = tmp_path / "out.bin"
    status = main(["train", str(packed), *SETTINGS, *QUIET, "-o", str(output)])
    one_error(capsys, status, "c.txt.gz: cannot read")
    assert not output.exists()
