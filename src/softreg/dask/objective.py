"""The softmax objective over shards of a ``dask.array``, evaluated where the shards live.

Each evaluation sends ``w`` (``n_classes * (n_features + 1)`` numbers) to every shard, runs the
fused loss+gradient there, and sums ``(S_i / S) * (f_i, g_i)`` on the client (``S_i`` the shard's
and ``S`` the total sample weight; see :func:`softreg.dask._shards.build_objective`). For
Newton-CG, ``loss_grad_hessp`` leaves each shard's probabilities on its worker, and every
Hessian-vector product is one more map-and-sum.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import dask
import numpy as np
from numpy.typing import NDArray

from softreg.dask import _shards
from softreg.objective import L1Part
from softreg.optim._guards import DivergenceError
from softreg.optim._result import record
from softreg.optim.transforms import AdamState

Array = NDArray[Any]


def resolve_client(client: Any = None) -> tuple[Any, bool]:
    """The ``distributed.Client`` to train on, and whether this call created it (to close).

    Order: ``client`` (a Client or a scheduler address), then the default client of this
    process, then ``DASK_SCHEDULER_ADDRESS``; ``(None, False)`` means "evaluate in process".

    Raises
    ------
    ConnectionError
        If a scheduler address is given but no scheduler answers there.
    """
    from distributed import Client, default_client

    if isinstance(client, Client):
        return client, False
    address = client
    if address is None:
        try:
            return default_client(), False
        except ValueError:
            address = os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if address is None:
        return None, False
    if not isinstance(address, str):
        raise TypeError(
            f"client must be a distributed.Client or a scheduler address, got {client!r}"
        )
    try:
        timeout = dask.config.get("distributed.comm.timeouts.connect")
        return Client(address, timeout=timeout, set_as_default=False), True
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"no Dask scheduler reachable at {address!r} (from the client argument or "
            f"DASK_SCHEDULER_ADDRESS): {exc}"
        ) from None


def _submit_where(client: Any, fn: Callable[..., Any], items: list[Any], args: Any) -> list[Any]:
    """Submit ``fn(item, *args_i)`` on the worker that holds each item (a future).

    The holder is a loose restriction (``allow_other_workers=True``): if that worker dies, Dask
    recomputes the shard elsewhere and the task follows it instead of waiting forever. With the
    shards spread evenly (`compute`) and their true size known to the scheduler
    (`_shards.Resident`), work stealing has no reason to move them.
    """
    holders = client.who_has(items)
    futures = []
    for item, item_args in zip(items, args, strict=True):
        where = holders.get(item.key)
        pin = {"workers": list(where), "allow_other_workers": True} if where else {}
        futures.append(client.submit(fn, item, *item_args, pure=False, **pin))
    return futures


class _Executor:
    """Maps a function over the shard objectives, in process or on a distributed cluster."""

    def __init__(self, client: Any, shards: Sequence[Any], sources: Sequence[Any] = ()) -> None:
        self.client = client
        self.shards = list(shards)
        # The validated blocks the shards were built from: held so that Dask can rebuild a
        # shard whose worker died (its lineage stays known to the scheduler).
        self.sources = list(sources)

    def map(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        """``fn(shard, *args)`` for every shard, gathered."""
        return self.map_each(fn, [args] * len(self.shards))

    def map_each(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``fn(shard_i, *args[i])`` for every shard, gathered."""
        if self.client is None:
            return [fn(s, *a) for s, a in zip(self.shards, args, strict=True)]
        return list(self.client.gather(_submit_where(self.client, fn, self.shards, args)))

    def map_keep(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        """Like `map`, but results stay where they were computed (futures on a cluster)."""
        if self.client is None:
            return [fn(s, *args) for s in self.shards]
        return _submit_where(self.client, fn, self.shards, [args] * len(self.shards))

    def map_over(self, kept: list[Any], fn: Callable[..., Any], *args: Any) -> list[Any]:
        """Apply ``fn`` to results of `map_keep` and gather the (small) outcomes."""
        if self.client is None:
            return [fn(r, *args) for r in kept]
        return list(self.client.gather(_submit_where(self.client, fn, kept, [args] * len(kept))))


class ShardedObjective(L1Part):
    """``SoftmaxObjective``'s interface over shards; what the full-batch solvers see.

    Parameters
    ----------
    executor : _Executor
        Holds the shards' objectives (objects in process, or futures on a cluster).
    fractions : sequence of float
        ``S_i / S`` per shard (they sum to 1).
    n_samples, n_features, n_classes : int
        Data and model sizes.
    dtype : numpy dtype
        float32 or float64, the dtype of ``X`` and of all arithmetic.
    fit_intercept : bool
    l1_strength : float
        ``l1_ratio / (C S)`` (the L1 term is applied on the client, by FISTA's prox).
    """

    def __init__(
        self,
        executor: _Executor,
        fractions: Sequence[float] | NDArray[np.float64],
        *,
        n_samples: int,
        n_features: int,
        n_classes: int,
        dtype: Any,
        fit_intercept: bool,
        l1_strength: float,
    ) -> None:
        self.executor = executor
        self.fractions = np.asarray(fractions, dtype=np.float64)
        self.n_samples, self.n_features, self.n_classes = n_samples, n_features, n_classes
        self.dtype = np.dtype(dtype)
        self.fit_intercept = fit_intercept
        self.l1_strength = l1_strength
        self.n_evaluations = 0

    @property
    def n_params(self) -> int:
        """``n_classes * (n_features + fit_intercept)``."""
        return self.n_classes * (self.n_features + int(self.fit_intercept))

    def unravel(self, w: Array) -> tuple[Array, Array | None]:
        """Views ``(coef, intercept)`` of the flat ``w``."""
        k, d = self.n_classes, self.n_features
        return w[: k * d].reshape(k, d), (w[k * d :] if self.fit_intercept else None)

    def _sum(self, parts: Sequence[Any]) -> Array:
        total = np.zeros(self.n_params, dtype=np.float64)
        for fraction, part in zip(self.fractions, parts, strict=True):
            total += fraction * np.asarray(part, dtype=np.float64)
        return total.astype(self.dtype)

    def loss(self, w: Array) -> float:
        """Smooth objective ``f(w)``: one map over the shards."""
        self.n_evaluations += 1
        values = self.executor.map(_shards.shard_loss, np.asarray(w, dtype=self.dtype))
        return float(np.dot(self.fractions, values))

    def loss_grad(self, w: Array) -> tuple[float, Array]:
        """``(f(w), grad f(w))``: one fused map over the shards, summed on the client."""
        self.n_evaluations += 1
        parts = self.executor.map(_shards.shard_loss_grad, np.asarray(w, dtype=self.dtype))
        return float(np.dot(self.fractions, [p[0] for p in parts])), self._sum(
            [p[1] for p in parts]
        )

    def loss_grad_hessp(self, w: Array) -> tuple[float, Array, Callable[[Array], Array]]:
        """``(f, g, hessp)``; the probabilities stay on the shards for ``hessp``."""
        self.n_evaluations += 1
        kept = self.executor.map_keep(
            _shards.shard_loss_grad_hessp, np.asarray(w, dtype=self.dtype)
        )
        parts = self.executor.map_over(kept, _shards.loss_grad_part)
        f = float(np.dot(self.fractions, [p[0] for p in parts]))

        def hessp(v: Array) -> Array:
            v = np.asarray(v, dtype=self.dtype)
            return self._sum(self.executor.map_over(kept, _shards.apply_hessp, v))

        return f, self._sum([p[1] for p in parts]), hessp

    def grad_hessp(self, w: Array) -> tuple[Array, Callable[[Array], Array]]:
        """``(grad f(w), hessp)``."""
        _, g, hessp = self.loss_grad_hessp(w)
        return g, hessp

    def stochastic_epoch(
        self,
        w: Array,
        method: str,
        rng: np.random.Generator,
        state: Any,
        *,
        learning_rate: Any,
        momentum: float,
        batch_size: int,
    ) -> tuple[Array, Any, dict[str, Any]]:
        """Local SGD: every shard runs one epoch of ``method`` from ``w``; the client averages.

        One exchange per epoch (never per batch): the new ``w`` and optimiser state are the
        shard-weighted averages of the shards' (step counts: the largest). The record's
        ``loss`` is the shard-weighted epoch cost and ``grad_norm`` the shard-weighted mean of
        the shards' epoch-gradient norms (an upper bound on the norm of the averaged gradient).
        Each shard shuffles with its own seed drawn from ``rng``.
        """
        seeds = rng.integers(0, 2**63 - 1, size=len(self.fractions))
        settings = (learning_rate, float(momentum), int(batch_size))
        parts = self.executor.map_each(
            _shards.shard_epoch, [(w, method, *settings, int(s), state) for s in seeds]
        )
        w = _average([p[0] for p in parts], self.fractions)
        state = _average([p[1] for p in parts], self.fractions)
        cost = float(np.dot(self.fractions, [p[2] for p in parts]))
        if not np.isfinite(cost):  # (a cost far above the start: the fit core's check)
            rate = "a schedule" if callable(learning_rate) else learning_rate
            raise DivergenceError(
                f"{method} blew up: the epoch cost became {cost}. The learning rate is too "
                f"large for this data: learning_rate={rate!r}; lower learning_rate or scale "
                "the features"
            )
        return w, state, record(1, cost, float(np.dot(self.fractions, [p[3] for p in parts])))


def compute(client: Any, values: list[Any]) -> list[Any]:
    """Compute dask collections: futures that stay on the cluster, or objects in process.

    On a cluster the i-th value is placed on the i-th worker round robin (a hint), so the
    shards spread evenly; errors (bad blocks) are raised here, without fetching any data.
    """
    if client is None:
        return list(dask.compute(*values))
    from distributed import wait

    workers = sorted(client.scheduler_info()["workers"])
    futures = [
        client.compute(v, workers=[workers[i % len(workers)]], allow_other_workers=True)
        if workers
        else client.compute(v)
        for i, v in enumerate(values)
    ]
    with client.as_current():  # wait() uses the current client, which may not be the default
        wait(futures)
    for future in futures:
        if future.status == "error":
            future.result()  # re-raises the shard's exception
    return futures


def gather(client: Any, values: list[Any]) -> list[Any]:
    return values if client is None else list(client.gather(values))


def submit_each(client: Any, fn: Callable[..., Any], items: list[Any], *args: Any) -> list[Any]:
    """``fn(item, *args)`` for each item, kept where the items are."""
    if client is None:
        return [fn(item, *args) for item in items]
    return _submit_where(client, fn, items, [args] * len(items))


def _average(states: list[Any], fractions: NDArray[np.float64]) -> Any:
    """Weighted average of per-shard optimiser states (step counts: the largest)."""
    first = states[0]
    if isinstance(first, np.ndarray):
        total = sum(f * s.astype(np.float64) for f, s in zip(fractions, states, strict=True))
        return np.asarray(total).astype(first.dtype)
    if isinstance(first, AdamState):
        return AdamState(*(_average(list(parts), fractions) for parts in zip(*states, strict=True)))
    if isinstance(first, tuple):
        return tuple(_average(list(parts), fractions) for parts in zip(*states, strict=True))
    if isinstance(first, (int, np.integer)):
        return max(int(s) for s in states)
    return first
