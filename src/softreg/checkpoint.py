"""Training checkpoints: everything a long fit needs to continue exactly where it stopped.

File format (version 1)
-----------------------
A NumPy ``.npz`` archive written with ``allow_pickle=False``, atomically (temporary file in the
same folder, then ``os.replace``: a checkpoint is either the previous complete one or the new
complete one, never half-written), holding

* ``__header__``: the UTF-8 bytes of a JSON object (version 2 adds ``data_fingerprint`` and
  ``digest``, see :mod:`softreg.archive`)::

      {"format": "softreg-checkpoint", "format_version": 1, "softreg_version": "0.1.0",
       "estimator": "SoftmaxRegression",      # the model class (a name, never an import path)
       "params": {...},                       # get_params() of the model being trained
       "data_shape": [n_samples, n_features], "n_classes": 10, "epoch": 7,
       "data_fingerprint": "9f2c...",          # SHA-256 of X, y, sample_weight
       "rng": {"bit_generator": "PCG64", "state": {...}, ...},   # shuffling RNG state
       "params_tree": ..., "optimizer_tree": ..., "model_tree": ...,  # structure of the arrays
       "arrays": {"classes": {"dtype": "<i8", "shape": [10], "sha256": "..."}, ...}}

* one array per entry of ``header["arrays"]``: ``classes``, the solver's parameters
  (``params.*``), the optimiser state (``optimizer.*``: momentum, Adam moments) and the model's
  fitted attributes (``model.*``).

`load_checkpoint` verifies every array against its SHA-256 and refuses, with a
`CheckpointError` (a ``ValueError``) naming the file and the difference, a checkpoint written for
another model class, other hyper-parameters, another data shape or other classes. The archive
format (atomic write, hashes, verification) is :mod:`softreg.archive`'s, shared with model files;
the hook that writes checkpoints during a fit, and resuming from one, are :mod:`softreg.resume`'s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg.archive import (
    checked_array,
    decode_tree,
    encode_tree,
    from_json,
    read_archive,
    to_json,
    write_archive,
)
from softreg.optim.newton_cg import NewtonCGState
from softreg.optim.transforms import AdamState

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT_VERSION = 2  # 2: the header's digest covers it and every array (version 1 is read)
_FORMAT_NAME = "softreg-checkpoint"
# Hyper-parameters that may change between the interrupted and the resumed run.
_RESUMABLE_PARAMS = frozenset({"max_iter", "max_epochs", "verbose", "warm_start"})
_NAMED_TUPLES: dict[str, Any] = {"AdamState": AdamState, "NewtonCGState": NewtonCGState}
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "SFC64")


class CheckpointError(ValueError):
    """Not a checkpoint this run can resume from (the message names the file and the problem)."""


@dataclass
class Checkpoint:
    """The state of a fit after ``epoch`` epochs (iterations for full-batch solvers).

    Attributes
    ----------
    estimator : str
        Class name of the model being trained.
    params : dict
        Its ``get_params()``.
    data_shape : tuple of int
        ``(n_samples, n_features)`` of the training data.
    classes : ndarray of shape (n_classes,)
        Class labels.
    epoch : int
        Epochs (iterations) completed.
    solver_params : tuple of ndarray
        The solver's parameters (for `SoftmaxRegression` the flat vector ``w``).
    optimizer_state : object
        Optimiser state (tuples and Adam states of arrays and ints), or None.
    rng_state : dict or None
        ``Generator.bit_generator.state`` of the shuffling generator.
    model_state : dict
        The model's fitted attributes (``_state_attributes``) at that epoch.
    extra : dict
        JSON-able training-loop state (e.g. the stop rule's counters).
    data_fingerprint : str or None
        :func:`softreg._fingerprint.data_fingerprint` of the training data (None in version-1
        checkpoints and fits whose data could not be read here, e.g. on Dask).
    """

    estimator: str
    params: dict[str, Any]
    data_shape: tuple[int, int]
    classes: NDArray[Any]
    epoch: int
    solver_params: tuple[NDArray[Any], ...] = ()
    optimizer_state: Any = None
    rng_state: dict[str, Any] | None = None
    model_state: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str | None = None

    def make_rng(self) -> np.random.Generator | None:
        """A new ``Generator`` in the saved state (None if no state was saved)."""
        if self.rng_state is None:
            return None
        name = self.rng_state.get("bit_generator")
        if name not in _BIT_GENERATORS:
            raise CheckpointError(f"unsupported bit generator {name!r} in checkpoint")
        bit_generator = getattr(np.random, name)()
        bit_generator.state = self.rng_state
        return np.random.Generator(bit_generator)

    def restore(self, model: Any) -> None:
        """Set the saved fitted attributes on ``model`` (same class as when saved)."""
        for attr, value in self.model_state.items():
            setattr(model, attr, value)


# --- writing and reading ---------------------------------------------------------------------


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    *,
    epoch: int,
    data_shape: tuple[int, int],
    classes: NDArray[Any],
    solver_params: tuple[NDArray[Any], ...] = (),
    optimizer_state: Any = None,
    rng: np.random.Generator | None = None,
    model_state: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    data_fingerprint: str | None = None,
) -> Path:
    """Write a training checkpoint atomically (see the module docstring for the format).

    Parameters
    ----------
    path : str or path-like
        Destination; the previous checkpoint there is replaced in one step.
    model : estimator
        The model being trained (its class name and ``get_params()`` are recorded).
    epoch : int
        Epochs (iterations) completed.
    data_shape : tuple of int
        ``(n_samples, n_features)`` of the training data.
    classes : ndarray of shape (n_classes,)
        Class labels.
    solver_params : tuple of ndarray, optional
        The solver's parameter arrays.
    optimizer_state : object, optional
        Nested tuples / Adam states of arrays and numbers.
    rng : numpy.random.Generator, optional
        Generator whose state is saved (PCG64, PCG64DXSM or SFC64).
    model_state : mapping, optional
        Fitted attributes to restore with the checkpoint.
    extra : mapping, optional
        JSON-able training-loop state.
    data_fingerprint : str, optional
        Fingerprint of the training data (:func:`softreg._fingerprint.data_fingerprint`);
        `load_checkpoint` given another one refuses the checkpoint.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from softreg import SoftmaxRegression
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> rng = np.random.default_rng(0)
    >>> _ = save_checkpoint(path, SoftmaxRegression(), epoch=3, data_shape=(100, 4),
    ...                     classes=np.array([0, 1, 2]), solver_params=(np.zeros(15),), rng=rng)
    >>> ck = load_checkpoint(path, SoftmaxRegression(), data_shape=(100, 4))
    >>> ck.epoch, ck.solver_params[0].shape, ck.make_rng().random() == rng.random()
    (3, (15,), True)
    """
    arrays: dict[str, NDArray[Any]] = {"classes": checked_array(np.asarray(classes), "classes")}
    header: dict[str, Any] = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": type(model).__name__,
        "params": to_json(model.get_params(deep=False), "model parameters"),
        "data_shape": [int(s) for s in data_shape],
        "n_classes": len(arrays["classes"]),
        "epoch": int(epoch),
        "data_fingerprint": data_fingerprint,
        "rng": None if rng is None else _rng_state(rng),
        "params_tree": encode_tree(tuple(solver_params), "params", arrays, _NAMED_TUPLES),
        "optimizer_tree": encode_tree(optimizer_state, "optimizer", arrays, _NAMED_TUPLES),
        "extra": to_json(dict(extra or {}), "extra"),
        "model_tree": {
            k: encode_tree(v, f"model.{k}", arrays, _NAMED_TUPLES)
            for k, v in dict(model_state or {}).items()
        },
    }
    return write_archive(path, header, arrays)


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state = rng.bit_generator.state
    if state.get("bit_generator") not in _BIT_GENERATORS:
        raise TypeError(
            f"rng must use one of the bit generators {_BIT_GENERATORS} to be checkpointed, got "
            f"{state.get('bit_generator')!r}"
        )
    return dict(state)


def load_checkpoint(
    path: str | os.PathLike[str],
    model: Any = None,
    *,
    data_shape: tuple[int, int] | None = None,
    classes: NDArray[Any] | None = None,
    data_fingerprint: str | None = None,
) -> Checkpoint:
    """Read and verify a checkpoint; with ``model``/``data_shape``/``classes``/
    ``data_fingerprint``, check it belongs to this fit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError
        (a ``ValueError``) if the file is not a complete, unmodified softreg checkpoint, or was
        written for another model class, other hyper-parameters (``max_iter``/``max_epochs``
        and ``verbose`` may differ), another data shape, other classes, or other data of the
        same shape and classes (``data_fingerprint`` differs from the one it recorded; a
        checkpoint that recorded none, from version 1 or a Dask fit, is not checked for it).
    """
    where = os.fspath(path)

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{where}: cannot resume from this checkpoint: {problem}")

    if not os.path.isfile(where):
        raise FileNotFoundError(f"{where}: no such checkpoint file")
    header, contents = read_archive(where, _FORMAT_NAME, FORMAT_VERSION, fail, digest_since=2)
    if "classes" not in contents:
        raise fail("no 'classes' array")
    used = {"classes"}
    try:
        solver_params = tuple(decode_tree(header["params_tree"], contents, used, _NAMED_TUPLES))
        optimizer_state = decode_tree(header["optimizer_tree"], contents, used, _NAMED_TUPLES)
        model_state = {
            k: decode_tree(v, contents, used, _NAMED_TUPLES)
            for k, v in header["model_tree"].items()
        }
        if used != set(contents):
            raise fail(f"unused arrays {sorted(set(contents) - used)}")
        ck = Checkpoint(
            estimator=str(header["estimator"]),
            params=from_json(header["params"]),
            data_shape=(int(header["data_shape"][0]), int(header["data_shape"][1])),
            classes=contents["classes"],
            epoch=int(header["epoch"]),
            solver_params=solver_params,
            optimizer_state=optimizer_state,
            rng_state=header.get("rng"),
            model_state=model_state,
            extra=from_json(header.get("extra", {})),
            data_fingerprint=header.get("data_fingerprint"),
        )
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise fail(f"malformed state ({type(exc).__name__}: {exc})") from None
    _check_compatible(ck, model, data_shape, classes, fail)
    if (
        data_fingerprint is not None
        and ck.data_fingerprint is not None
        and data_fingerprint != ck.data_fingerprint
    ):
        raise fail(
            "it was written for other data: X, y or sample_weight differ from those it was "
            "written for (same shape and classes, other values or row order); resume on the "
            "same data"
        )
    return ck


def _check_compatible(
    ck: Checkpoint,
    model: Any,
    data_shape: tuple[int, int] | None,
    classes: NDArray[Any] | None,
    fail: Any,
) -> None:
    if model is not None:
        if ck.estimator != type(model).__name__:
            raise fail(f"it was written by {ck.estimator}, not {type(model).__name__}")
        current = from_json(to_json(model.get_params(deep=False), "model parameters"))
        upgrade = getattr(model, "_upgrade_params", None)  # parameters of an older softreg
        saved = ck.params if upgrade is None else upgrade(ck.params)
        changed = sorted(
            k
            for k in set(current) | set(saved)
            if k not in _RESUMABLE_PARAMS and current.get(k) != saved.get(k)
        )
        if changed:
            detail = ", ".join(f"{k}={saved.get(k)!r} -> {current.get(k)!r}" for k in changed)
            raise fail(f"hyper-parameters differ ({detail})")
    if data_shape is not None and tuple(int(s) for s in data_shape) != ck.data_shape:
        raise fail(f"it was written for data of shape {ck.data_shape}, got {tuple(data_shape)}")
    if classes is not None and not np.array_equal(np.asarray(classes), ck.classes):
        raise fail(
            f"it was written for classes {ck.classes.tolist()}, got {np.asarray(classes).tolist()}"
        )
