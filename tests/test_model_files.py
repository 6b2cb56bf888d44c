"""The one reader and writer of models: what every path keeps, what a format cannot hold, folders
replaced whole, and loading vectors without the training code."""

import subprocess
import sys

import pytest
import torch

import w2v
from corpora import synthetic
from w2v.cli import main
from w2v.errors import ConfigError, WriteError
from w2v.files import native
from w2v.files.model import Model
from w2v.files.native import read_native, write_native
from w2v.files.store import read_model, write_model
from w2v.text.tokenizer import make_tokenizer, set_vocabulary
from w2v.training import checkpoint

# Unicode spaces that str.split() cuts at but that are letters to every reader: U+001C to U+001F,
# NEL, no-break space, line separator.
SPACED_WORDS = ["a\x1cb", "c\x1dd", "e\x1ef", "g\x1fh", "i\x85j", "k\xa0l", "m\u2028n"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model_files")
    corpus = folder / "corpus.txt"
    synthetic.write_corpus(corpus, n_sentences=1500, seed=0)
    config = w2v.TrainConfig(dim=8, epochs=1, threads=1, min_count=2)
    return corpus, w2v.train([corpus], config, progress=False)


def spaced_model() -> Model:
    tokenizer = make_tokenizer("whitespace", lowercase=False)
    set_vocabulary(tokenizer, SPACED_WORDS)
    vectors = torch.arange(len(SPACED_WORDS) * 3, dtype=torch.float32).reshape(-1, 3)
    counts = list(range(len(SPACED_WORDS) + 10, 10, -1))
    return Model(SPACED_WORDS, vectors, counts, -vectors, tokenizer, {"dim": 3})


@pytest.mark.parametrize("name", ["model", "vectors.bin", "vectors.txt", "vectors.vec"])
def test_words_with_unicode_spaces_come_back_whole(tmp_path, name):
    model = spaced_model()
    write_model(tmp_path / name, model)
    kv = w2v.load(tmp_path / name)
    assert kv.words == SPACED_WORDS
    assert kv.counts == model.counts
    assert torch.equal(kv.vectors, model.vectors)


def test_a_checkpoint_of_words_with_unicode_spaces_resumes(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus.txt"
    # The whitespace tokenizer cuts at Unicode's White_Space (U+00A0, U+2028...), not at these.
    corpus.write_text(("a\x1fb c\x1cd e\x1ef " * 40 + "\n") * 20, encoding="utf-8")
    output, state = tmp_path / "model", tmp_path / "state"
    common = ["train", str(corpus), "-o", str(output), "--tokenizer", "whitespace", "--dim", "4"]
    common += ["--min-count", "1", "--threads", "1", "-q", "--no-plots", "--epochs", "2"]
    monkeypatch.setattr(checkpoint, "remove", lambda folder: None)  # keep it to resume from
    assert main([*common, "--checkpoint-dir", str(state)]) == 0
    assert main([*common, "--resume", str(state)]) == 0
    assert sorted(w2v.load(output).words) == ["a\x1fb", "c\x1cd", "e\x1ef"]


@pytest.mark.parametrize("first, second", [("a.bin", "b.bin"), ("a.txt", "b.vec")])
def test_load_then_save_keeps_the_tokenizer_and_the_counts(tmp_path, trained, first, second):
    _, model = trained
    model.save(tmp_path / first)
    w2v.load(tmp_path / first).save(tmp_path / second)
    again = w2v.load(tmp_path / second)
    assert again.counts == model.vectors.counts
    assert again.tokenizer.to_str() == model.tokenizer.to_str()
    assert torch.equal(again.vectors, model.vectors.vectors)


def test_load_then_save_to_a_folder_can_be_trained_on(tmp_path, trained):
    corpus, model = trained
    model.save(tmp_path / "model")
    w2v.load(tmp_path / "model").save(tmp_path / "copy")
    copy = read_native(tmp_path / "copy")
    assert copy.counts == model.vectors.counts
    assert torch.equal(copy.output_vectors, model.output_vectors)
    assert copy.training == read_native(tmp_path / "model").training
    more = w2v.train(
        [corpus], w2v.TrainConfig(dim=8, epochs=1, threads=1), False, init=tmp_path / "copy"
    )
    assert more.vectors.words[:5] == model.vectors.words[:5]


def test_a_word2vec_file_says_what_it_cannot_hold(tmp_path, trained, capsys):
    _, model = trained
    written = model.save(tmp_path / "vectors.bin")
    assert written.left_out == ["output vectors", "training settings"]
    assert [path.name for path in written.paths] == [
        "vectors.bin",
        "vectors.tokenizer.json",
        "vectors.vocab.txt",
    ]
    assert written.describe().split("\n")[1] == (
        "left out of vectors.bin: the output vectors and the training settings, which a "
        "word2vec file cannot hold (a native model folder, -o model/, keeps them)"
    )
    model.save(tmp_path / "model")
    assert main(["convert", str(tmp_path / "model"), str(tmp_path / "back.txt")]) == 0
    assert (
        "left out of back.txt: the output vectors and the training settings"
        in capsys.readouterr().out
    )
    assert model.save(tmp_path / "other").left_out == []


def test_a_failed_write_leaves_the_old_folder_whole(tmp_path, trained, monkeypatch):
    _, model = trained
    model.save(tmp_path / "model")
    before = {path.name: path.read_bytes() for path in (tmp_path / "model").iterdir()}

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    # The new vectors are written, then the disk fills before the vocabulary is.
    monkeypatch.setattr(native.Vocabulary, "save", fail)
    shifted = Model(model.vectors.words, model.vectors.vectors + 1, model.vectors.counts)
    with pytest.raises(WriteError, match="model: cannot write \\(No space"):
        write_native(tmp_path / "model", shifted)
    after = {path.name: path.read_bytes() for path in (tmp_path / "model").iterdir()}
    assert after == before
    assert [path.name for path in tmp_path.iterdir()] == ["model"]  # nothing left beside it


def test_a_folder_is_replaced_whole(tmp_path, trained):
    _, model = trained
    model.save(tmp_path / "model")
    assert (tmp_path / "model" / "tokenizer.json").is_file()
    write_native(tmp_path / "model", Model(["x", "y"], torch.ones(2, 3)))
    assert sorted(path.name for path in (tmp_path / "model").iterdir()) == [
        "config.json",
        "vectors.safetensors",
        "vocab.txt",
    ]
    assert read_model(tmp_path / "model").words == ["x", "y"]


def test_a_folder_that_is_not_a_model_is_left_alone(tmp_path, trained):
    _, model = trained
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text("{}")
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match=r"mine: holds notes\.txt, not a w2v model"):
        model.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "mine" / "config.json").read_text() == "{}"


def test_loading_vectors_imports_no_training_code(tmp_path, trained):
    _, model = trained
    model.save(tmp_path / "vectors.bin")
    model.save(tmp_path / "model")
    script = (
        "import sys, w2v\n"
        f"w2v.load({str(tmp_path / 'vectors.bin')!r}).most_similar('king')\n"
        f"w2v.load({str(tmp_path / 'model')!r}).encode('the king')\n"
        "print(sorted(m for m in sys.modules if m.startswith('w2v.training')))\n"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"
