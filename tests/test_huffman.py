"""The Huffman tree of hierarchical softmax: word2vec's codes and paths, as gensim builds them."""

import numpy as np
from gensim.models import KeyedVectors
from gensim.models.word2vec import _assign_binary_codes

from w2v.training.huffman import huffman_tree


def test_small_tree_by_hand():
    tree = huffman_tree([5, 3, 2, 1, 1])
    # Joins: (1, 1) -> node 0, (2, node 0) -> node 1, (3, node 1) -> node 2, (5, node 2) -> root 3.
    assert tree.lengths.tolist() == [1, 2, 3, 4, 4]
    assert tree.codes.tolist()[0] == [0, 0, 0, 0] and tree.codes.tolist()[4] == [1, 1, 1, 1]
    assert tree.points.tolist()[3] == [3, 2, 1, 0]
    assert tree.inner_nodes == 4
    assert tree.mask().sum() == tree.lengths.sum()


def test_an_optimal_prefix_code_like_gensims_tree():
    counts = np.sort(np.random.default_rng(0).zipf(1.5, size=3000).clip(max=10**6))[::-1]
    tree = huffman_tree(counts)  # many ties among the rare words
    kv = KeyedVectors(1)
    kv.index_to_key = [str(i) for i in range(len(counts))]
    kv.key_to_index = {key: i for i, key in enumerate(kv.index_to_key)}
    for i, count in enumerate(counts):
        kv.set_vecattr(i, "count", int(count))
    _assign_binary_codes(kv)
    # gensim breaks ties between equal counts by its heap's layout, so trees differ in shape, but
    # both are Huffman trees: the same total code length, weighted by the counts.
    gensim_lengths = np.array([len(kv.get_vecattr(i, "code")) for i in range(len(counts))])
    assert (counts * tree.lengths).sum() == (counts * gensim_lengths).sum()
    assert tree.points[:, 0].tolist() == [len(counts) - 2] * len(counts)  # all start at the root
    # A complete prefix code: the leaves' 2^-length add up to one, and no two codes are equal.
    assert np.isclose(np.ldexp(1.0, -tree.lengths).sum(), 1.0)
    codes = {tuple(tree.codes[word, : tree.lengths[word]]) for word in range(len(counts))}
    assert len(codes) == len(counts)
    # A node reached by a prefix is the same whichever word's path reaches it.
    node_of = {}
    for word in range(len(counts)):
        for at in range(tree.lengths[word]):
            prefix = tuple(tree.codes[word, :at])
            assert node_of.setdefault(prefix, tree.points[word, at]) == tree.points[word, at]
    assert sorted(node_of.values()) == list(range(len(counts) - 1))


def test_one_word_has_an_empty_code():
    tree = huffman_tree([7])
    assert tree.lengths.tolist() == [0] and tree.inner_nodes == 0
