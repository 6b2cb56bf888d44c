"""The native model folder: exact round trips, conversions, memory mapping, and refusing pickles."""

import json
import pickle
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors as GensimKeyedVectors
from hypothesis import given, settings
from hypothesis import strategies as st

import w2v
from corpora import synthetic
from w2v.cli import main
from w2v.errors import ConfigError, FormatError
from w2v.files.model import Model
from w2v.files.native import is_native, read_native, write_native
from w2v.files.store import convert

FILES = ("vectors.safetensors", "vocab.txt", "tokenizer.json", "config.json")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("native") / "corpus.txt"
    synthetic.write_corpus(corpus, n_sentences=2000, seed=0)
    config = w2v.TrainConfig(dim=12, epochs=1, threads=1, min_count=2)
    return w2v.train([corpus], config, progress=False)


def test_round_trip_is_exact(tmp_path, model):
    written = model.save(tmp_path / "model")
    assert [path.name for path in written.paths] == list(FILES)
    native = read_native(tmp_path / "model")
    assert native.words == model.vectors.words
    assert torch.equal(native.vectors, model.vectors.vectors)
    assert torch.equal(native.output_vectors, model.output_vectors)
    assert native.counts == model.vectors.counts
    assert native.loaded_tokenizer().to_str() == model.tokenizer.to_str()
    assert native.training == asdict(model.config)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert (config["format"], config["version"], config["dim"]) == ("w2v", 1, 12)

    kv = w2v.load(tmp_path / "model")
    assert kv.words == model.vectors.words and kv.counts == model.vectors.counts
    assert torch.equal(kv.vectors, model.vectors.vectors)
    assert kv.tokenizer.to_str() == model.tokenizer.to_str()


@pytest.mark.parametrize(
    ("name", "native"),
    [
        ("model", True),
        ("model/", True),
        ("model.w2v", True),
        ("vectors.bin", False),
        ("vectors.TXT", False),
        ("vectors.vec", False),
    ],
)
def test_the_name_picks_the_format(tmp_path, name, native):
    assert is_native(str(tmp_path / "x") + "/" + name) == native
    (tmp_path / "folder.bin").mkdir()
    assert is_native(tmp_path / "folder.bin")


def test_loading_maps_the_file_instead_of_reading_it(tmp_path, model):
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs /proc to see memory mappings")
    model.save(tmp_path / "model")
    kv = w2v.load(tmp_path / "model")
    address = kv.vectors.data_ptr()
    mapped = [
        [int(end, 16) for end in line.split()[0].split("-")]
        for line in maps.read_text().splitlines()
        if line.endswith(str(tmp_path / "model" / "vectors.safetensors"))
    ]
    assert any(start <= address < end for start, end in mapped)


@pytest.mark.parametrize("suffix", [".bin", ".txt"])
def test_word2vec_files_survive_a_trip_through_native_byte_for_byte(tmp_path, model, suffix):
    original = tmp_path / f"vectors{suffix}"
    model.save(original)
    assert [path.name for path in convert(original, tmp_path / "model").paths] == list(FILES)
    native = read_native(tmp_path / "model")
    assert native.counts == model.vectors.counts and native.training is None
    assert native.output_vectors is None
    back = tmp_path / f"back{suffix}"
    assert convert(tmp_path / "model", back).paths == [
        back,
        tmp_path / "back.tokenizer.json",
        tmp_path / "back.vocab.txt",
    ]
    for name in ("vectors{}", "vectors.tokenizer.json", "vectors.vocab.txt"):
        ours, theirs = (
            tmp_path / name.format(suffix),
            tmp_path / name.format(suffix).replace("vectors", "back"),
        )
        assert ours.read_bytes() == theirs.read_bytes()


def test_binary_and_text_convert_into_each_other_byte_for_byte(tmp_path, model):
    model.save(tmp_path / "vectors.bin")
    convert(tmp_path / "vectors.bin", tmp_path / "vectors.txt")
    convert(tmp_path / "vectors.txt", tmp_path / "back.bin")
    assert (tmp_path / "vectors.bin").read_bytes() == (tmp_path / "back.bin").read_bytes()


def test_native_to_native_copies_every_file(tmp_path, model):
    model.save(tmp_path / "model")
    convert(tmp_path / "model", tmp_path / "copy")
    for name in FILES:
        assert (tmp_path / "model" / name).read_bytes() == (tmp_path / "copy" / name).read_bytes()


def test_gensim_files_convert_to_the_same_values(tmp_path, model):
    gensim_vectors = GensimKeyedVectors(model.vectors.dim)
    gensim_vectors.add_vectors(model.vectors.words, model.vectors.vectors.numpy())
    gensim_vectors.save_word2vec_format(str(tmp_path / "gensim.bin"), binary=True)
    convert(tmp_path / "gensim.bin", tmp_path / "model")
    kv = w2v.load(tmp_path / "model")
    assert kv.words == model.vectors.words and kv.counts is None and kv.tokenizer is None
    assert torch.equal(kv.vectors, model.vectors.vectors)
    assert (tmp_path / "model" / "vocab.txt").read_text().startswith(f"{kv.words[0]} 0\n")


def test_convert_command(tmp_path, model, capsys):
    model.save(tmp_path / "vectors.bin")
    assert main(["convert", str(tmp_path / "vectors.bin"), str(tmp_path / "model")]) == 0
    assert "config.json" in capsys.readouterr().out
    assert w2v.load(tmp_path / "model").words == model.vectors.words


def test_saving_without_a_tokenizer_removes_an_old_one(tmp_path, model):
    model.save(tmp_path / "model")
    kv = w2v.KeyedVectors(["a", "b"], torch.eye(2), counts=None)
    kv.save(tmp_path / "model")
    assert not (tmp_path / "model" / "tokenizer.json").exists()
    loaded = w2v.load(tmp_path / "model")
    assert loaded.words == ["a", "b"] and loaded.counts is None and loaded.tokenizer is None


class Payload:
    """Unpickling this creates a file: proof that a loader ran code from the file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_is_refused_and_never_unpickled(tmp_path, model):
    marker = tmp_path / "unpickled"
    model.save(tmp_path / "model")
    tensors = tmp_path / "model" / "vectors.safetensors"
    torch.save({"vectors": model.vectors.vectors, "payload": Payload(marker)}, tensors)
    with pytest.raises(FormatError, match=r"vectors\.safetensors: not a safetensors file"):
        w2v.load(tmp_path / "model")
    (tmp_path / "vectors.pt").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(FormatError, match=r"vectors\.pt"):
        w2v.load(tmp_path / "vectors.pt")
    assert not marker.exists()


def edit_config(folder, **changes):
    path = folder / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


def drop_from_config(folder, key):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    del config[key]
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda f: (f / "config.json").unlink(), r"not a w2v model folder \(no config\.json\)"),
        (lambda f: edit_config(f, version=2), r"config\.json: format version 2"),
        (lambda f: edit_config(f, format="other"), r"config\.json: not a w2v model"),
        (lambda f: edit_config(f, dim="12"), r"config\.json: 'dim' is missing"),
        (lambda f: drop_from_config(f, "training"), r"config\.json: 'training' is missing"),
        (
            lambda f: edit_config(f, dim=13),
            r"vectors\.safetensors: '(output_)?vectors' is torch\.float32",
        ),
        (lambda f: (f / "vectors.safetensors").unlink(), r"vectors\.safetensors: missing"),
        (lambda f: (f / "vocab.txt").write_text("a 1\n"), r"vocab\.txt: 1 words, not"),
        (lambda f: (f / "vocab.txt").write_text("a\n"), r"vocab\.txt: line 1"),
        (lambda f: (f / "vocab.txt").write_text("a 1.5\n"), r"vocab\.txt: line 1"),
        (lambda f: (f / "vocab.txt").write_bytes(b"\xff 1\n"), r"vocab\.txt: cannot read"),
        (
            lambda f: (f / "vocab.txt").write_text(
                "a 1\n" * json.loads((f / "config.json").read_text())["words"]
            ),
            r"vocab\.txt: the word 'a' appears twice, in lines 1 and 2",
        ),
    ],
)
def test_damaged_folders_are_format_errors(tmp_path, model, damage, problem):
    model.save(tmp_path / "model")
    damage(tmp_path / "model")
    with pytest.raises(FormatError, match=problem):
        w2v.load(tmp_path / "model")


def test_bad_input_to_write_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        write_native(tmp_path / "file", Model(["a"], torch.ones(1, 2)))
    with pytest.raises(ConfigError, match="output vectors"):
        write_native(
            tmp_path / "m", Model(["a"], torch.ones(1, 2), output_vectors=torch.ones(1, 3))
        )
    with pytest.raises(ConfigError, match="counts for"):
        write_native(tmp_path / "m", Model(["a"], torch.ones(1, 2), counts=[1, 2]))
    with pytest.raises(ConfigError, match="whitespace"):
        write_native(tmp_path / "m", Model(["a b"], torch.ones(1, 2)))
    with pytest.raises(ConfigError, match="does not exist"):
        write_native(tmp_path / "no" / "m", Model(["a"], torch.ones(1, 2)))
    assert not (tmp_path / "m").exists()


def test_float64_vectors_are_stored_as_float32(tmp_path):
    vectors = torch.tensor([[0.1, 0.2]], dtype=torch.float64)
    write_native(tmp_path / "m", Model(["a"], vectors, counts=[3]))
    loaded = read_native(tmp_path / "m")
    assert loaded.vectors.dtype == torch.float32 and loaded.counts == [3]
    assert np.array_equal(loaded.vectors.numpy(), vectors.float().numpy())


def test_the_tokenizer_is_read_on_first_use(tmp_path, model):
    model.save(tmp_path / "model")
    (tmp_path / "model" / "tokenizer.json").write_text("{}")
    kv = w2v.load(tmp_path / "model")
    assert kv.words == model.vectors.words
    with pytest.raises(FormatError, match=r"tokenizer\.json: not a tokenizer file"):
        kv.encode("the")


@pytest.fixture(scope="module")
def saved_model(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved") / "model"
    model.save(folder)
    return folder


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(["vectors.safetensors", "config.json", "vocab.txt"]),
    cut=st.integers(0, 400) | st.none(),
    change=st.tuples(st.integers(0, 400), st.integers(0, 255)) | st.none(),
)
def test_any_damage_to_a_model_file_loads_or_raises_a_format_error(
    saved_model, tmp_path_factory, name, cut, change
):
    folder = tmp_path_factory.mktemp("damaged") / "model"
    shutil.copytree(saved_model, folder)
    content = bytearray((folder / name).read_bytes()[:cut])
    if change is not None and change[0] < len(content):
        content[change[0]] = change[1]
    (folder / name).write_bytes(bytes(content))
    try:
        loaded = w2v.load(folder)
    except FormatError:
        return
    assert loaded.vectors.shape == (len(loaded.words), loaded.dim)
