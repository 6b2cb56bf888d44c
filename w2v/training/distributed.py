"""Data-parallel training on torch.distributed: the process group, the ranks' shares, the sync.

Under `torchrun` (WORLD_SIZE > 1) every rank counts, builds the vocabulary and encodes the whole
corpus itself: that is deterministic, so all ranks hold the same vocabulary and the same word ids
without sending the corpus anywhere, on one host or several (`check_same` makes sure). The encoded
corpus is cut into blocks of `sync_every / world` words; block i is trained by rank i % world, so
the shares are disjoint, and after every round of `world` blocks (about `sync_every` words in all)
the ranks merge what they changed (`Sync`). Without torchrun nothing here is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from w2v.errors import ConfigError
from w2v.training.merging import agreed_change, saturated_rows

# Words trained by all ranks together between two syncs. Measured on wiki17m, one epoch, one
# thread a rank: 2 ranks scored 11.0% Google analogies at 1,000,000 and 13.5% at 200,000, against
# 12.0% for one process.
SYNC_EVERY = 200_000


@dataclass
class Group:
    """This process's place among the ranks of a data-parallel run."""

    rank: int
    world: int
    local_rank: int
    trained: list[tuple[int, int]] = field(default_factory=list)  # first epoch's blocks

    def owns(self, block_index: int) -> bool:
        """Whether this rank trains block `block_index`: blocks are dealt out round-robin."""
        return block_index % self.world == self.rank

    def round_ends(self, block_index: int, blocks: int) -> bool:
        """Whether the ranks sync after block `block_index`: at the end of every round of
        `world` blocks, and after the last block."""
        return (block_index + 1) % self.world == 0 or block_index + 1 == blocks


def world_size() -> int:
    """The number of ranks torchrun started, 1 outside torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank, 0 outside torchrun."""
    return int(os.environ.get("RANK", "0")) if world_size() > 1 else 0


def is_writer() -> bool:
    """Whether this process writes the outputs and shows progress: rank 0 only."""
    return rank() == 0


def default_threads() -> int:
    """CPU threads per rank when --threads is not given: the cores shared among this host's ranks."""
    ranks_here = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, (os.cpu_count() or 1) // ranks_here)


def setup(device: torch.device) -> Group | None:
    """Join the process group torchrun's environment describes (gloo on CPU, NCCL on CUDA, each
    rank on GPU LOCAL_RANK); None when there is only one process."""
    world = world_size()
    if world <= 1:
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Group(int(os.environ["RANK"]), world, local_rank)


def close(group: Group | None) -> None:
    """Leave the process group."""
    if group is not None and dist.is_initialized():
        dist.destroy_process_group()


def gather(group: Group, value: Any) -> list[Any]:
    """Every rank's `value`, in rank order, on every rank."""
    gathered: list[Any] = [None] * group.world
    dist.all_gather_object(gathered, value)
    return gathered


def check_same(group: Group, value: Any, what: str) -> None:
    """Raise ConfigError unless every rank has the same `value` (the ranks encode on their own)."""
    values = gather(group, value)
    if any(other != values[0] for other in values):
        raise ConfigError(
            f"the ranks disagree on {what}: {values}; give every rank the same corpus"
        )


def block_words(sync_every: int, world: int) -> int:
    """Block size for `world` ranks: a round of one block per rank is about `sync_every` words."""
    return max(1, sync_every // world)


def sum_tallies(loss: float, pairs: int, device: torch.device) -> tuple[float, int]:
    """The loss sum and pair count of all ranks together."""
    tallies = torch.tensor([loss, float(pairs)], dtype=torch.float64, device=device)
    dist.all_reduce(tallies)
    return float(tallies[0]), int(tallies[1])


class Sync:
    """Merges the ranks' changes to the matrices since the last sync, as w2v.training.merging says:
    each rank trains its own copy from the same base; a row the ranks see fewer than
    SATURATING_SIGHTS times between syncs takes the sum of their changes, one they see more often
    their agreed change. Measured on wiki17m, one epoch, one thread a rank, Google / WordSim-353 /
    SimLex-999 (one process: .120 / .427 / .215): the plain sum ran away with 4 ranks; agreeing
    every row gave 4 ranks .079 / .326 / .189 and 2 ranks .094 / .342 / .202; averaging the 300
    most frequent rows and adding the rest gave 4 ranks .112 / .428 / .201; this rule gave 4 ranks
    .125 / .438 / .220 (the README has the medians of three seeds, one and five epochs). The
    traffic is both matrices and one sum per saturated row each sync.
    """

    def __init__(
        self,
        matrices: tuple[torch.Tensor, ...],
        frequencies: tuple[np.ndarray, ...],
        words_between_syncs: float,
    ):
        """`frequencies`: each matrix's rows' (merging.row_frequencies); `words_between_syncs`:
        the corpus words all ranks train between two syncs."""
        self.matrices = matrices
        for matrix in matrices:  # every rank starts from rank 0's matrices
            dist.broadcast(matrix, src=0)
        self.bases = [matrix.clone() for matrix in matrices]
        self.frequent = [
            torch.from_numpy(np.flatnonzero(saturated_rows(rows, words_between_syncs))).to(
                matrix.device
            )
            for matrix, rows in zip(matrices, frequencies, strict=True)
        ]

    def __call__(self) -> None:
        for matrix, base, frequent in zip(self.matrices, self.bases, self.frequent, strict=True):
            matrix.sub_(base)
            squares = matrix.index_select(0, frequent).square().sum(dim=1)
            dist.all_reduce(matrix)
            dist.all_reduce(squares)
            matrix.index_copy_(
                0, frequent, agreed_change(matrix.index_select(0, frequent), squares)
            )
            matrix.add_(base)
            base.copy_(matrix)
