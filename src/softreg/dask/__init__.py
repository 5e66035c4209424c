"""Dask backend: train softreg models on ``dask.array`` data that stays on the workers.

Install with ``pip install softreg[dask]``. Full-batch solvers (``"newton-cg"``, ``"lbfgs"``,
``"fista"``) run unchanged on the client against a :class:`ShardedObjective`, whose every
evaluation maps the fused loss+gradient (and the Hessian-vector product) over shards that keep
rows of ``X`` and ``y`` together on one worker and sums the small results on the client.
``"sgd"``/``"adam"`` run one local epoch per shard and average the models (and optimiser states)
once per epoch. A ``distributed.Client`` is used if one is passed, is the default client, or
``DASK_SCHEDULER_ADDRESS`` names a scheduler; otherwise the shards are evaluated in this process.
"""

try:
    import dask.array  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "softreg.dask needs Dask: pip install softreg[dask] (installs dask[array,distributed])"
    ) from exc

from softreg.dask.fit import fit_dask
from softreg.dask.objective import ShardedObjective, resolve_client
from softreg.dask.predict import decision_function, predict, predict_log_proba, predict_proba

__all__ = [
    "ShardedObjective",
    "decision_function",
    "fit_dask",
    "predict",
    "predict_log_proba",
    "predict_proba",
    "resolve_client",
]
