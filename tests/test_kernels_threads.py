"""softreg._kernels.threads: how a pass's rows are cut into chunks and mapped over threads."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softreg._kernels.threads import _chunks, _map_chunks, default_workers, single_threaded_blas


@given(st.integers(1, 5000), st.integers(1, 9), st.integers(1, 700))
def test_chunks_partition_rows_on_block_boundaries(n, workers, block):
    chunks = _chunks(n, workers, block)
    assert 1 <= len(chunks) <= workers
    assert chunks[0][0] == 0
    assert chunks[-1][1] == n
    for (_, stop), (start, _) in itertools.pairwise(chunks):
        assert stop == start
        assert start % block == 0


@pytest.mark.parametrize("n_workers", [1, 2, 3, 8])
def test_map_chunks_returns_each_chunks_result_in_row_order(n_workers):
    # The passes add the parts in this order: the sums must not depend on which thread
    # finished first.
    rows = np.arange(1000)
    parts = _map_chunks(lambda lo, hi: rows[lo:hi].copy(), 1000, n_workers, 64)
    assert len(parts) == len(_chunks(1000, n_workers, 64))
    np.testing.assert_array_equal(np.concatenate(parts), rows)


def test_default_workers_is_between_one_and_eight():
    assert 1 <= default_workers() <= 8


def test_single_threaded_blas_limits_blas_inside_the_block_only():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    with single_threaded_blas():
        assert set(blas_threads()) <= {1}
    before = blas_threads()
    with single_threaded_blas():
        pass
    assert blas_threads() == before
