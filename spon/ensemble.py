"""Work split over the members of a ``firedrake.Ensemble`` (or any MPI communicator)."""
from __future__ import annotations

__all__ = ["member_range"]


def member_range(n: int, size: int, rank: int) -> tuple[int, int]:
    """The contiguous share ``[lo, hi)`` of ``n`` items that member ``rank`` of ``size`` takes.

    Shares differ in length by at most one, cover ``range(n)`` in order and
    do not overlap, so gathering them by rank restores the original order.

    >>> [member_range(10, 3, r) for r in range(3)]
    [(0, 3), (3, 6), (6, 10)]
    >>> [member_range(2, 4, r) for r in range(4)]   # more members than items: some idle
    [(0, 0), (0, 1), (1, 1), (1, 2)]
    """
    if not (0 <= rank < size):
        raise ValueError(f"rank: expected 0 <= rank < size = {size}, got {rank}")
    return n * rank // size, n * (rank + 1) // size
