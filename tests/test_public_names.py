"""Every class a public module exports names that module (or another public one) as its home:
reprs, tracebacks and pickles show ``softreg.stats.Summary``, not the private module the code
happens to live in, and a pickle survives a move of the code between private modules."""

import importlib
import inspect
import pickle
import pkgutil
import warnings

import numpy as np
import pytest

import softreg


def public_modules():
    for info in pkgutil.walk_packages(softreg.__path__, "softreg."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        if info.name.startswith(("softreg.dask", "softreg.cli")):
            continue  # optional dependencies / the command line: no classes to pickle
        yield info.name


def exported_classes():
    for name in ["softreg", *public_modules()]:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isclass(obj) and obj.__module__.startswith("softreg"):
                yield name, attr, obj


CLASSES = sorted({(obj.__module__, obj.__qualname__): obj for *_, obj in exported_classes()})


def test_some_classes_are_found():
    names = {f"{module}.{qualname}" for module, qualname in CLASSES}
    assert {"softreg.stats.Summary", "softreg.metrics.CalibrationTable"} <= names


@pytest.mark.parametrize(("module", "qualname"), CLASSES, ids=lambda x: str(x))
def test_exported_classes_live_in_a_public_module(module, qualname):
    assert not any(part.startswith("_") for part in module.split(".")[1:]), module
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    assert f"{found.__module__}.{found.__qualname__}" == f"{module}.{qualname}"


def test_a_calibration_table_and_a_summary_round_trip_through_pickle():
    from softreg import SoftmaxRegression
    from softreg.metrics import calibration_table
    from softreg.stats import summary

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 2))
    y = (X[:, 0] + rng.standard_normal(120) > 0).astype(int)
    table = calibration_table(y, np.column_stack([1 - X[:, 0] ** 2 / 10, X[:, 0] ** 2 / 10]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = summary(SoftmaxRegression(C=np.inf).fit(X, y), X, y)
    for obj, home in ((table, b"softreg.metrics"), (result, b"softreg.stats")):
        data = pickle.dumps(obj)
        assert home in data
        assert b"softreg._" not in data
        again = pickle.loads(data)
        assert type(again) is type(obj)
