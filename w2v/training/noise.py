"""Noise words for negative sampling: word2vec's distribution, counts to the power 0.75, drawn in
constant time per word with Walker's alias method.

A draw picks a word slot uniformly, then keeps the slot's word or takes its alias by one coin, so a
block's millions of noise words cost two random tensors and two lookups, where a binary search of
the cumulative distribution cost most of the time spent outside the training kernel.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

SAMPLE_CHUNK = 1 << 20


def noise_probabilities(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Each word's chance to be drawn as noise: counts**power, normalised (float64)."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


@numba.njit(cache=True, inline="always")
def _file(word: int, scaled: np.ndarray, stacks: np.ndarray, heights: np.ndarray) -> None:
    """Push `word` on the stack of short slots (scaled share under 1) or of tall ones."""
    tall = int(scaled[word] >= 1.0)
    stacks[tall, heights[tall]] = word
    heights[tall] += 1


@numba.njit(cache=True)
def _alias_tables(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's construction: slot i keeps word i with chance acceptance[i], else gives alias[i]."""
    size = len(probabilities)
    scaled = probabilities * size
    acceptance = np.ones(size)
    alias = np.arange(size)
    stacks = np.empty((2, size), np.int64)  # short slots, tall slots
    heights = np.zeros(2, np.int64)
    for word in range(size):
        _file(word, scaled, stacks, heights)
    while heights[0] and heights[1]:
        heights -= 1
        short, tall = stacks[0, heights[0]], stacks[1, heights[1]]
        acceptance[short] = scaled[short]
        alias[short] = tall
        # The tall word gives the short slot what it lacks, and may become short itself.
        scaled[tall] -= 1.0 - scaled[short]
        _file(tall, scaled, stacks, heights)
    # What is left over is 1 up to rounding: those slots keep their own word.
    return acceptance, alias


class NoiseSampler:
    """Draws noise word ids on the device of its tables."""

    def __init__(self, counts: np.ndarray, device: torch.device | str = "cpu", power: float = 0.75):
        self.probabilities = noise_probabilities(counts, power)
        acceptance, alias = _alias_tables(self.probabilities)
        self.acceptance = torch.from_numpy(acceptance).to(device=device, dtype=torch.float32)
        self.alias = torch.from_numpy(alias).to(device)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Word ids (int64) of the given shape, each drawn independently.

        Drawn a million at a time, so the temporaries stay small next to the result.
        """
        device = self.alias.device
        drawn = torch.empty(shape, dtype=torch.int64, device=device)
        flat = drawn.view(-1)
        for start in range(0, len(flat), SAMPLE_CHUNK):
            count = min(SAMPLE_CHUNK, len(flat) - start)
            slots = torch.randint(0, len(self.alias), (count,), generator=generator, device=device)
            coins = torch.rand(count, generator=generator, device=device)
            torch.where(
                coins < self.acceptance[slots],
                slots,
                self.alias[slots],
                out=flat[start : start + count],
            )
        return drawn
