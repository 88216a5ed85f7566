"""Work split over the members of a ``firedrake.Ensemble`` (or any MPI communicator)."""
from __future__ import annotations

__all__ = ["member_range", "mpiexec_env"]


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


# set by the MPI job (or singleton) a process runs in; an mpiexec started from such a process with them
# thinks it is inside that job and exits 1 without a word (as in a pytest-xdist worker)
_JOB_VARS = ("PMIX_", "OMPI_MCA_ess", "OMPI_MCA_pmix", "OMPI_MCA_orte_", "OMPI_APP_CTX_", "OMPI_COMM_WORLD_",
             "OMPI_UNIVERSE_SIZE", "OMPI_FIRST_RANKS", "ORTE_SCHIZO_DETECTION")


def mpiexec_env(environ=None) -> dict:
    """The environment for starting ``mpiexec`` from this process: one thread per rank unless the
    user says otherwise, oversubscription allowed, root allowed (OpenMPI refuses it unless told),
    and without the variables of the MPI job this process itself belongs to.

    >>> env = mpiexec_env({"PMIX_RANK": "0", "OMPI_MCA_ess": "singleton", "OMPI_MCA_btl": "self", "PATH": "/bin"})
    >>> sorted(k for k in env if k.startswith(("PMIX", "OMPI_MCA")))
    ['OMPI_MCA_btl', 'OMPI_MCA_rmaps_base_oversubscribe']
    """
    import os

    environ = dict(os.environ if environ is None else environ)
    env = {k: v for k, v in environ.items() if not k.startswith(_JOB_VARS)}
    env = {"OMP_NUM_THREADS": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1", **env}
    if os.geteuid() == 0:
        env = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", **env}
    return env
