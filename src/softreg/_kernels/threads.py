"""How a pass over X is split between threads: row chunks on one shared pool, one BLAS thread.

A pass cuts its rows into at most ``n_workers`` contiguous chunks on its block boundaries
(:func:`_chunks`) and runs each chunk on a thread of one process-wide pool (:func:`_map_chunks`,
:func:`_pool`); each thread calls single-threaded BLAS (NumPy releases the GIL in BLAS and in
ufunc loops). Why not BLAS's own threads: OpenBLAS's threads split a 10-column product badly and
spin against each other, measured several times slower on this 2-core machine for small
blocks. Each pass holds :func:`single_threaded_blas` while it runs (about 50 microseconds to
enter).

Used by the dense passes (:mod:`softreg._kernels.passes`,
:mod:`softreg._kernels.compiled_passes`), the sparse ones, the preconditioners and the fused
conjugate-gradient updates.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

_POOL: ThreadPoolExecutor | None = None
_CONTROLLER: Any = None


def default_workers() -> int:
    """Worker threads for a pass: the CPUs this process may use, at most 8."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="softreg-pass")
    return _POOL


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit every loaded BLAS (NumPy's, SciPy's) to one thread inside the block.

    The fused passes parallelise over row blocks themselves; see the module docstring. The
    libraries are looked up once per process (a fresh lookup costs ~1 ms with PyTorch loaded,
    too much for every mini-batch); the limit itself costs ~20 microseconds.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield


def _chunks(n_samples: int, n_workers: int, block_rows: int) -> list[tuple[int, int]]:
    """Split ``range(n_samples)`` into at most ``n_workers`` contiguous, block-aligned chunks."""
    n_blocks = -(-n_samples // block_rows)
    n_workers = max(1, min(n_workers, n_blocks))
    per = -(-n_blocks // n_workers)
    return [
        (i * per * block_rows, min((i + 1) * per * block_rows, n_samples))
        for i in range(n_workers)
        if i * per * block_rows < n_samples
    ]


def _map_chunks(
    work: Callable[[int, int], Any], n_samples: int, n_workers: int, block_rows: int
) -> list[Any]:
    chunks = _chunks(n_samples, n_workers, block_rows)
    if len(chunks) == 1:
        return [work(*chunks[0])]
    futures = [_pool().submit(work, start, stop) for start, stop in chunks]
    return [f.result() for f in futures]
