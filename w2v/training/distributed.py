"""Data-parallel training on torch.distributed: the process group, the ranks' shares, the sync.

Under `torchrun` (WORLD_SIZE > 1) every rank counts, builds the vocabulary and encodes the whole
corpus itself: that is deterministic, so all ranks hold the same vocabulary and the same word ids
without sending the corpus anywhere, on one host or several (`check_same` makes sure). The encoded
corpus is cut into blocks of `sync_every / world` words; block i is trained by rank i % world, so
the shares are disjoint, and after every round of `world` blocks (about `sync_every` words in all)
the ranks add up what they changed (`Sync`). Without torchrun nothing here is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from w2v.errors import ConfigError

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
    """Merges the ranks' changes to the matrices since the last sync.

    Each rank trains its own copy from the same base. A row that one rank changed (most rows, in a
    large vocabulary) takes that change whole; averaging the matrices would divide it by the
    number of ranks and slow training of rare words N-fold. A row that several ranks changed takes
    the sum of their changes scaled by how far they agree: by sum |change|^2 / |sum of changes|^2,
    1 for changes at right angles (independent steps, which add) falling to 1 / ranks for equal
    ones (steps towards the same point, which a sum would overshoot), but never below two ranks'
    worth. Measured on wiki17m, one epoch: the plain sum trained 2 ranks well but sent 4 ranks'
    frequent words off (0.03% analogy accuracy); the mean left 2 ranks at 7.0% where one process
    gets 12.0%; this rule keeps 2 ranks' sum and gives 4 ranks 9.7%. The traffic is both matrices
    and one sum a row per sync: (dim + 1) x rows floats per matrix.
    """

    def __init__(self, matrices: tuple[torch.Tensor, ...]):
        self.matrices = matrices
        for matrix in matrices:  # every rank starts from rank 0's matrices
            dist.broadcast(matrix, src=0)
        self.bases = [matrix.clone() for matrix in matrices]

    def __call__(self) -> None:
        for matrix, base in zip(self.matrices, self.bases, strict=True):
            matrix.sub_(base)
            squares = matrix.square().sum(dim=1)
            dist.all_reduce(matrix)
            dist.all_reduce(squares)
            summed = matrix.square().sum(dim=1)
            world = dist.get_world_size()
            # Rows no rank changed have 0 / 0: any scale of a zero change is zero.
            floor = min(1.0, 2.0 / world)
            scale = (squares / summed.clamp(min=1e-30)).clamp_(min=floor, max=1.0)
            matrix.mul_(scale.unsqueeze(1))
            matrix.add_(base)
            base.copy_(matrix)
