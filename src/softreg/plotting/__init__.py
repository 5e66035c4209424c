"""Pictures of a classifier: learning curves, confusion matrix, class weights, predictions, network.

Every function takes arrays (never an estimator or a dataset), an optional ``ax`` and returns what
it drew on, so it works the same in a notebook (pass your own axes) and in the CLI (``ax=None``
makes a new figure). Figures are made with `matplotlib.figure.Figure` directly, never through
pyplot: they render with the Agg canvas whatever the session's backend, need no display and are
not kept alive by pyplot's figure registry. `save_figure` writes a PNG atomically.

One module per picture (`curves`, `confusion`, `images`, `network`, `cv_curve`, `reliability`),
`save` for `save_figure` and `_axes` for the helpers they share; this file only re-exports.

matplotlib is optional (``pip install softreg[plot]``); importing this package (or any module of
it) without it raises an ImportError that says so.
"""

# Imported here only to fail early, naming the extra, before any module of the package imports it.
try:
    import matplotlib.axes
    import matplotlib.figure  # noqa: F401  (both lines bind the otherwise unused `matplotlib`)
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("softreg.plotting needs matplotlib: pip install 'softreg[plot]'") from exc

from softreg.plotting.confusion import plot_confusion_matrix
from softreg.plotting.curves import plot_learning_curves
from softreg.plotting.cv_curve import plot_cv_curve
from softreg.plotting.images import plot_class_weights, plot_predictions
from softreg.plotting.network import plot_network
from softreg.plotting.reliability import reliability_diagram
from softreg.plotting.save import save_figure

__all__ = [
    "plot_class_weights",
    "plot_confusion_matrix",
    "plot_cv_curve",
    "plot_learning_curves",
    "plot_network",
    "plot_predictions",
    "reliability_diagram",
    "save_figure",
]
