"""Inference speed of softreg's ONNX export vs softreg's own predict_proba vs skl2onnx, in one process.

    /work/venv/bin/python benchmarks/bench_onnx.py [--model RUN_DIR/model.npz] [--threads 1]
    /work/venv/bin/python benchmarks/bench_onnx.py --quick

Two workloads on Fashion-MNIST test images (784 pixels; synthetic uint8 images of the same shape
when the dataset is not on this machine):

* latency: one image per call, median over many calls;
* throughput: 10,000 images in one call, median over repeats.

Rows, for the softmax regression model (``--model``: a model file of ``softreg train``, e.g.
``make run``'s; default: a SoftmaxRegression fitted here on 10,000 training images) and for an
MLP of the CLI's default shape (512, 256) (weights of a one-epoch fit; speed does not depend on
their values):

* ``softreg onnx (float32 px)`` / ``(uint8 px)``: onnxruntime on ``softreg.export_onnx``'s graph,
  fed raw pixels as float32 or as uint8 (a ``Cast`` in the graph);
* ``softreg onnx (float32 px, no prepacking)``: the same float32 session with onnxruntime's
  ``session.disable_prepacking`` set: onnxruntime pre-packs constant MatMul/Gemm weights, which
  for the 10 output columns of the linear model made its product slower here, not faster;
* ``softreg predict_proba``: the estimator itself, on float32 features ``pixels / 255``;
* ``skl2onnx zipmap`` / ``skl2onnx no-zipmap``: skl2onnx's conversion of a scikit-learn
  ``LogisticRegression`` holding the same coefficients (``LinearClassifier`` + ``Normalizer``,
  with and without the ``ZipMap`` to a list of dicts), on float32 features; skipped with a note
  when skl2onnx is not installed. (For the MLP, scikit-learn's ``MLPClassifier`` with the same
  weights.)

onnxruntime runs with ``--threads`` intra-op threads and BLAS is limited to as many, so every row
uses the same cores. Rows are timed round-robin (see `interleaved_medians`). Prints median
times and the ratio of each row to ``softreg onnx (float32 px)`` (> 1: slower than the export).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import softreg
from softreg import MLPClassifier, SoftmaxRegression, export_onnx

N_THROUGHPUT = 10_000


def load_images() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Train pixels, train labels and test pixels (uint8, rows of 784), and their source."""
    try:
        X, y = softreg.datasets.load("fashion-mnist", "train", progress=False)
        X_test, _ = softreg.datasets.load("fashion-mnist", "test", progress=False)
        return X.reshape(len(X), -1), y, X_test.reshape(len(X_test), -1), "Fashion-MNIST"
    except Exception as exc:  # no data on this machine: same shapes, random pixels
        print(f"note: Fashion-MNIST not available ({exc}); using synthetic images")
        rng = np.random.default_rng(0)
        X = rng.integers(0, 256, size=(20_000, 784), dtype=np.uint8)
        y = np.argmax(X[:, :10].astype(int) + rng.integers(0, 60, size=(20_000, 10)), axis=1)
        return X[:10_000], y[:10_000], X[10_000:], "synthetic"


def interleaved_medians(
    funcs: dict[str, Callable[[], Any]], repeats: int, inner: int = 1
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds per call of each function, timed round-robin.

    Each round times every function once (``inner`` calls, averaged), so that load from other
    processes on a shared machine falls on all rows alike rather than on whichever ran last.
    With one thread everything runs in this process's calling thread, so its CPU time
    (``time.process_time``) is the work done, unaffected by waiting for a busy CPU.
    """
    for func in funcs.values():
        func()  # warm-up
    wall: dict[str, list[float]] = {name: [] for name in funcs}
    cpu: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(inner):
                func()
            wall[name].append((time.perf_counter() - start) / inner)
            cpu[name].append((time.process_time() - start_cpu) / inner)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in funcs}


def session(model_bytes: bytes, threads: int, prepacking: bool = True) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not prepacking:
        options.add_session_config_entry("session.disable_prepacking", "1")
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def skl2onnx_bytes(sk_model: Any, n_features: int, zipmap: bool) -> bytes | None:
    try:
        from skl2onnx import to_onnx
    except ImportError:
        return None
    X = np.zeros((1, n_features), dtype=np.float32)
    options = {id(sk_model): {"zipmap": zipmap}} if not zipmap else None
    return to_onnx(sk_model, X, options=options, target_opset=17).SerializeToString()


def sklearn_twin(model: Any) -> Any:
    """A fitted scikit-learn classifier with ``model``'s parameters (for skl2onnx)."""
    if isinstance(model, SoftmaxRegression):
        from sklearn.linear_model import LogisticRegression

        twin = LogisticRegression()
        twin.coef_ = np.asarray(model.coef_, dtype=np.float64)
        twin.intercept_ = np.asarray(model.intercept_, dtype=np.float64)
    else:
        from sklearn.neural_network import MLPClassifier as SkMLP

        twin = SkMLP(hidden_layer_sizes=model.hidden_layer_sizes, activation=model.activation)
        twin.coefs_ = [np.asarray(w, dtype=np.float64) for w in model.coefs_]
        twin.intercepts_ = [np.asarray(b, dtype=np.float64) for b in model.intercepts_]
        twin.n_layers_ = len(model.coefs_) + 1
        twin.out_activation_ = "softmax"
        twin.n_outputs_ = len(model.classes_)
        from sklearn.preprocessing import LabelBinarizer

        twin._label_binarizer = LabelBinarizer().fit(model.classes_)
    twin.classes_ = np.asarray(model.classes_)
    twin.n_features_in_ = model.n_features_in_
    return twin


def bench_model(
    name: str, model: Any, X_test: np.ndarray, threads: int, repeats: int, calls: int
) -> None:
    scale = np.float32(1 / 255)
    ours: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for input_dtype in ("float32", "uint8"):
            path = Path(tmp) / f"{input_dtype}.onnx"
            out = export_onnx(
                model, path, input_dtype=input_dtype, input_scale=1 / 255, check_data=X_test[:2000]
            )
            ours[input_dtype] = session(path.read_bytes(), threads)
            if input_dtype == "float32":
                ours["float32 px, no prepacking"] = session(path.read_bytes(), threads, False)
    parity = out["parity"]
    print(
        f"\n{name}: export parity max |dp| = {parity['max_abs_diff']:.2g} on "
        f"{parity['n_samples']} test images, {parity['label_mismatches']} label mismatches"
    )
    as_float = X_test.astype(np.float32)
    raw = {"float32": as_float, "uint8": X_test, "float32 px, no prepacking": as_float}
    one, many = X_test[:1] * scale, X_test[:N_THROUGHPUT] * scale
    single: dict[str, Callable[[], Any]] = {}
    batch: dict[str, Callable[[], Any]] = {}
    for input_dtype, sess in ours.items():
        label = f"softreg onnx ({input_dtype}{'' if ',' in input_dtype else ' px'})"
        pixels = raw[input_dtype]
        single[label] = lambda s=sess, x=pixels[:1]: s.run(None, {"input": x})
        batch[label] = lambda s=sess, x=pixels[:N_THROUGHPUT]: s.run(None, {"input": x})
    single["softreg predict_proba"] = lambda: model.predict_proba(one)
    batch["softreg predict_proba"] = lambda: model.predict_proba(many)
    twin = sklearn_twin(model)
    for zipmap in (True, False):
        data = skl2onnx_bytes(twin, X_test.shape[1], zipmap)
        if data is None:
            print("note: skl2onnx is not installed (pip install skl2onnx): its rows are skipped")
            break
        sess = session(data, threads)
        label = f"skl2onnx {'zipmap' if zipmap else 'no-zipmap'}"
        feed = sess.get_inputs()[0].name
        single[label] = lambda s=sess, i=feed: s.run(None, {i: one})
        batch[label] = lambda s=sess, i=feed: s.run(None, {i: many})
    latency = interleaved_medians(single, repeats * 3, inner=calls)
    throughput = interleaved_medians(batch, repeats)
    base = "softreg onnx (float32 px)"
    print(
        f"{'':42s} {'1 image: wall us':>16s} {'ratio':>6s} {'cpu us':>8s} {'ratio':>6s}   "
        f"{N_THROUGHPUT} images: {'wall ms':>8s} {'ratio':>6s} {'cpu ms':>8s} {'ratio':>6s}"
    )
    for label in single:
        (lw, lc), (tw, tc) = latency[label], throughput[label]
        (lw0, lc0), (tw0, tc0) = latency[base], throughput[base]
        print(
            f"{label:42s} {lw * 1e6:16.1f} {lw / lw0:6.2f} {lc * 1e6:8.1f} {lc / lc0:6.2f}   "
            f"{'':14s}{tw * 1e3:8.2f} {tw / tw0:6.2f} {tc * 1e3:8.2f} {tc / tc0:6.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="softreg model file (default: fit one here)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime/BLAS threads")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument("--no-mlp", action="store_true", help="skip the MLP rows")
    args = parser.parse_args(argv)
    repeats, calls = (3, 50) if args.quick else (7, 300)

    X, y, X_test, source = load_images()
    X_test = np.ascontiguousarray(np.resize(X_test, (N_THROUGHPUT, X_test.shape[1])))
    print(
        f"softreg {softreg.__version__}, {source} test images, {args.threads} thread(s); "
        "median times; ratio = row / softreg onnx (float32 px)"
    )
    with threadpool_limits(args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits: convergence is not the point here
        if args.model:
            linear = softreg.load(args.model)
        else:
            features = X[:10_000] * np.float32(1 / 255)
            linear = SoftmaxRegression(max_iter=30, random_state=0).fit(features, y[:10_000])
        bench_model(type(linear).__name__, linear, X_test, args.threads, repeats, calls)
        if not args.no_mlp:
            mlp = MLPClassifier((512, 256), max_epochs=1, random_state=0)
            mlp.fit(X[:5_000] * np.float32(1 / 255), y[:5_000])
            bench_model("MLPClassifier (512, 256)", mlp, X_test, args.threads, repeats, calls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
