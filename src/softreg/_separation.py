"""Whether an unpenalised fit predicts some samples perfectly, so that its MLE may not exist.

With separated classes (complete or quasi-complete separation), the unpenalised log-likelihood
keeps rising along a direction in which some coefficients diverge: the maximum-likelihood
estimate does not exist, and standard errors computed where the solver stopped are meaningless.
:func:`softreg.stats.summary` warns with :class:`SeparationWarning`, naming the classes whose
samples are predicted with probability above ``1 - SEPARATED``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg._summary_names import class_label

__all__ = ["SEPARATED", "SeparationWarning", "warn_separation"]

Array = NDArray[Any]

#: A sample whose own class is predicted with probability above ``1 - SEPARATED`` is taken as
#: perfectly predicted: a finite maximum-likelihood fit needs a logit gap above 23 for that.
SEPARATED = 1e-10


class SeparationWarning(UserWarning):
    """An unpenalised fit predicts some samples perfectly: the MLE may not exist."""


def warn_separation(proba_true: Array, y_enc: Array, classes: Array) -> None:
    """Warn, naming the classes, when some samples' own class has probability ``> 1 - SEPARATED``.

    ``proba_true`` is each sample's fitted probability of its own class and ``y_enc`` its class
    index. The warning points at the caller of the function that calls this one
    (``stacklevel=3``): the user's call of :func:`softreg.stats.summary`.
    """
    perfect = proba_true > 1 - SEPARATED
    if not perfect.any():
        return
    counts = np.bincount(y_enc[perfect], minlength=len(classes))
    totals = np.bincount(y_enc, minlength=len(classes))
    detail = ", ".join(
        f"class {class_label(classes[k])}: {counts[k]} of {totals[k]}"
        for k in np.flatnonzero(counts)
    )
    kind = "complete" if perfect.all() else "quasi-complete"
    warnings.warn(
        f"{kind} separation: {int(perfect.sum())} of {len(perfect)} samples are predicted "
        f"with probability above 1 - {SEPARATED:g} for their class ({detail}); the "
        "unpenalised maximum-likelihood estimate may not exist (coefficients diverge), and its "
        "standard errors are then meaningless. Fit with a finite C (an L2 penalty) instead",
        SeparationWarning,
        stacklevel=3,
    )


# The public module that documents and exports it: its name in reprs,
# tracebacks and pickles (which then survive a move of the code between private modules).
SeparationWarning.__module__ = "softreg.stats"
