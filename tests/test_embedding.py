"""Tests of vectors as a torch embedding layer: the lookup, freezing, the id layout, text encoding,
the tokenizer loaded beside the vectors, and the classifier example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import w2v
from w2v.errors import ConfigError, OutOfVocabularyError
from w2v.query.embedding import FIRST_WORD_ID, PADDING_ID, UNKNOWN_ID
from w2v.query.vectors import KeyedVectors
from w2v.text.tokenizer import make_tokenizer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "classify.py"


def small_vectors() -> KeyedVectors:
    words = ["the", "cat", "sat", "mat"]
    return KeyedVectors(words, torch.arange(12, dtype=torch.float32).reshape(4, 3) + 1)


@pytest.mark.parametrize("padding", [True, False])
def test_lookup_is_the_one_hot_product_with_the_weights(padding):
    layer = small_vectors().to_embedding(padding=padding)
    ids = torch.tensor([[0, 3, 1], [2, 2, 3]])
    one_hot = torch.nn.functional.one_hot(ids, layer.num_embeddings).float()
    assert torch.equal(layer(ids), one_hot @ layer.weight)


def test_padded_layout_has_zero_padding_and_unknown_rows_before_the_vectors():
    kv = small_vectors()
    layer = kv.to_embedding()
    assert layer.padding_idx == PADDING_ID == 0 and UNKNOWN_ID == 1 and FIRST_WORD_ID == 2
    assert layer.weight.shape == (len(kv) + 2, kv.dim)
    assert not layer.weight[:2].any()
    assert torch.equal(layer.weight[2:], kv.vectors)
    assert torch.equal(layer(torch.tensor([2 + kv.index_of("sat")])), kv["sat"].unsqueeze(0))


def test_unpadded_layout_is_the_vectors_exactly():
    kv = small_vectors()
    layer = kv.to_embedding(padding=False)
    assert layer.padding_idx is None
    assert torch.equal(layer.weight, kv.vectors)


def test_frozen_weights_stay_while_fine_tuned_ones_move():
    kv = small_vectors()
    original = kv.vectors.clone()
    ids = kv.encode(["the cat sat", "mat"])
    layers = {freeze: kv.to_embedding(freeze=freeze) for freeze in (True, False)}
    for freeze, layer in layers.items():
        head = torch.nn.Linear(kv.dim, 1)
        before = layer.weight.detach().clone()
        optimizer = torch.optim.SGD([*layer.parameters(), *head.parameters()], lr=0.1)
        head(layer(ids)).sum().backward()
        optimizer.step()
        assert layer.weight.requires_grad is not freeze
        assert torch.equal(layer.weight, before) is freeze
        assert not layer.weight[PADDING_ID].any()  # padding never learns
    assert torch.equal(kv.vectors, original)  # fine-tuning edits a copy


def test_encode_gives_the_layout_ids_with_unknown_words_and_padding():
    kv = small_vectors()  # the, cat, sat, mat are ids 2, 3, 4, 5
    ids = kv.encode(["The CAT sat, on the mat!", "cat", ""])
    expected = [[2, 3, 4, UNKNOWN_ID, 2, 5], [3, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]
    assert ids.dtype == torch.long and ids.tolist() == expected
    assert kv.encode("the cat").tolist() == [[2, 3]]
    assert kv.encode(["the cat sat mat", "sat"], max_length=3).tolist() == [[2, 3, 4], [4, 0, 0]]
    assert kv.encode([]).shape == (0, 0) and kv.encode([], max_length=4).shape == (0, 4)


def test_encode_without_padding_gives_vocabulary_rows_or_a_clear_error():
    kv = small_vectors()
    assert kv.encode(["the cat", "Mat sat"], padding=False).tolist() == [[0, 1], [3, 2]]
    assert kv.encode(["the cat sat"], max_length=2, padding=False).tolist() == [[0, 1]]
    with pytest.raises(ConfigError, match="padding=True"):
        kv.encode(["the cat", "sat"], padding=False)
    with pytest.raises(OutOfVocabularyError, match="'dog'"):
        kv.encode(["the dog"], padding=False)
    with pytest.raises(ConfigError, match="max_length"):
        kv.encode("the cat", max_length=0)


def test_encode_follows_a_tokenizer_set_later():
    kv = KeyedVectors(["Cat", "cat", "co-op"], torch.eye(3))
    assert kv.encode("Cat co-op").tolist() == [[3, 1, 1]]
    kv.tokenizer = make_tokenizer("whitespace", lowercase=False)
    assert kv.encode("Cat co-op").tolist() == [[2, 4]]


def test_load_attaches_the_tokenizer_saved_beside_the_vectors(tmp_path):
    corpus = tmp_path / "codes.txt"
    corpus.write_text("A-1 b-2 A-1 a-1\nb-2 A-1 a-1 b-2\n" * 20)
    config = w2v.TrainConfig(
        dim=4, epochs=1, min_count=1, threads=1, tokenizer="whitespace", lowercase=False
    )
    w2v.train([corpus], config, progress=False).save(tmp_path / "codes.bin")
    kv = w2v.load(tmp_path / "codes.bin")
    assert kv.tokenizer is not None
    expected = [2 + kv.index_of(code) for code in ["A-1", "a-1", "b-2"]] + [UNKNOWN_ID]
    assert kv.encode("A-1 a-1 b-2 B-2").tolist() == [expected]

    kv.save(tmp_path / "again.bin")  # the tokenizer travels with the vectors
    assert w2v.load(tmp_path / "again.bin").encode("A-1 a-1 b-2 B-2").tolist() == [expected]

    # Vectors without a tokenizer: the default rules, lower-cased words.
    w2v.KeyedVectors(kv.words, kv.vectors).save(tmp_path / "bare.bin")
    bare = w2v.load(tmp_path / "bare.bin")
    assert bare.tokenizer is None
    assert bare.encode("A-1").tolist() == [[UNKNOWN_ID, UNKNOWN_ID]]


def test_example_classifier_does_far_better_with_pretrained_vectors():
    spec = importlib.util.spec_from_file_location("classify", EXAMPLE)
    classify = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(classify)
    pretrained, random_accuracy = classify.main()
    assert pretrained >= 0.9
    assert random_accuracy <= 0.6
