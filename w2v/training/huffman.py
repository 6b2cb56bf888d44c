"""The Huffman tree of the vocabulary that hierarchical softmax walks, as word2vec builds it.

Frequent words get short codes. Every word's path runs from the root to its leaf through inner
nodes numbered 0..V-2 (the root is V-2, the last one made); at each node the word's bit says which
way it goes. Hierarchical softmax trains one output vector per inner node to predict those bits.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class HuffmanTree:
    """Each word's code and path, padded to the longest code.

    `codes[w, :lengths[w]]` are word w's bits from the root down, `points[w, :lengths[w]]` the inner
    nodes (0..V-2) that decide them; entries past a word's length are 0.
    """

    codes: np.ndarray  # V x longest, uint8
    points: np.ndarray  # V x longest, int64
    lengths: np.ndarray  # V, int64

    @property
    def inner_nodes(self) -> int:
        """How many inner nodes, so rows of the inner-node matrix: V - 1 (0 for one word)."""
        return max(len(self.lengths) - 1, 0)

    def mask(self) -> np.ndarray:
        """V x longest: which entries of `codes` and `points` lie on the word's path."""
        return np.arange(self.codes.shape[1]) < self.lengths[:, None]

    def to_torch(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
        """(points, labels, mask) as tensors: labels are 1 - code, word2vec's targets."""
        points = torch.from_numpy(self.points).to(device)
        labels = torch.from_numpy(1.0 - self.codes.astype(np.float32)).to(device)
        mask = torch.from_numpy(self.mask()).to(device)
        return points, labels, mask


def huffman_tree(counts: np.ndarray | list[int]) -> HuffmanTree:
    """Build word2vec's binary tree (CreateBinaryTree) from the words' counts.

    The two rarest nodes are joined under a new inner node, the rarer taking bit 0 and the other
    bit 1, until one node is left. Ties go to the lower node number: the more frequent word, and
    leaves before inner nodes.
    """
    counts = np.asarray(counts, dtype=np.int64)
    size = len(counts)
    nodes = 2 * size - 1 if size else 0
    parent = np.zeros(max(nodes, 1), np.int64)
    bit = np.zeros(max(nodes, 1), np.uint8)
    heap = [(int(count), node) for node, count in enumerate(counts)]
    heapq.heapify(heap)
    for inner in range(size, nodes):
        first_count, first = heapq.heappop(heap)
        second_count, second = heapq.heappop(heap)
        parent[first] = parent[second] = inner
        bit[second] = 1
        heapq.heappush(heap, (first_count + second_count, inner))

    # Depth by depth from the root (made last, so every parent has a higher number than its
    # children): a node's path is its parent's path plus the parent itself.
    depth = np.zeros(max(nodes, 1), np.int64)
    for node in range(nodes - 2, -1, -1):
        depth[node] = depth[parent[node]] + 1
    longest = int(depth[:size].max()) if size else 0
    codes = np.zeros((max(nodes, 1), longest), np.uint8)
    points = np.zeros((max(nodes, 1), longest), np.int64)
    for level in range(1, longest + 1):
        at_level = np.flatnonzero(depth[:nodes] == level)
        above = parent[at_level]
        codes[at_level, : level - 1] = codes[above, : level - 1]
        points[at_level, : level - 1] = points[above, : level - 1]
        codes[at_level, level - 1] = bit[at_level]
        points[at_level, level - 1] = above - size
    return HuffmanTree(codes[:size], points[:size], depth[:size].copy())
