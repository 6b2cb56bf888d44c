"""Nothing a user types destroys data: an output that is an input, a checkpoint folder that is
the model or the user's folder."""

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
