# The two commands of the README's quick start: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUN_DIR ?= runs/fashion-mnist

.PHONY: run data test lint bench bench-quick bench-all profile clean

# A virtual environment with softreg (editable) and the extras each target needs.
$(VENV)/.run-stamp: pyproject.toml
	@echo "make: building $(VENV) with softreg and its plot and progress extras (pip, once)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[plot,progress]"
	touch $@

$(VENV)/.dev-stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]" $(EXTRA_PIP)
	touch $@ $(VENV)/.run-stamp

# Fashion-MNIST on this machine: found ($SOFTREG_DATA, the cache, Debian's package) or downloaded;
# `softreg data fetch` says which in one line. Where no download works (status 3) and this is
# root with apt-get, Debian's package dataset-fashion-mnist: the Makefile may install system
# packages, the library never does. Otherwise the three ways to get the data, and status 3.
APT_DATA = DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist
data: $(VENV)/.run-stamp
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then brief=--brief; fi; \
	$(VENV)/bin/softreg data fetch fashion-mnist $$brief; status=$$?; \
	if [ $$status -ne 3 ] || [ -z "$$brief" ]; then exit $$status; fi; \
	echo "make: no download worked; installing Debian's dataset-fashion-mnist (apt-get, as root)"; \
	{ $(APT_DATA) || { apt-get update -q && $(APT_DATA); }; } >$(VENV)/apt-get.log 2>&1 \
		|| { tail -n 3 $(VENV)/apt-get.log; echo "make: apt-get failed (log: $(VENV)/apt-get.log)"; }; \
	$(VENV)/bin/softreg data fetch fashion-mnist --offline

# The main job: train and evaluate softmax regression on Fashion-MNIST.
run: $(VENV)/.run-stamp data
	$(VENV)/bin/softreg train --dataset fashion-mnist --out $(RUN_DIR) --overwrite
	$(VENV)/bin/softreg evaluate --model $(RUN_DIR)/model.npz --dataset fashion-mnist
	@echo "report: file://$(abspath $(RUN_DIR))/report.html"

# The whole test suite, after the linters (ruff, mypy) configured in pyproject.toml. One BLAS
# thread: on 2 cores OpenBLAS's threads otherwise fight pytest's work and the suite runs 5x slower.
# Then the estimator and solver tests again without numba: the NumPy fallback must work alone
# (the kernel tests already run both implementations side by side). First, the import
# contracts of pyproject.toml's [tool.importlinter]: layers, forbidden imports, no cycles.
test: lint
	$(VENV)/bin/lint-imports
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest
	SOFTREG_DISABLE_NUMBA=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q \
		tests/test_objective.py tests/test_optim.py tests/test_softmax_regression.py \
		tests/test_mlp_classifier.py tests/test_performance_paths.py

lint: $(VENV)/.dev-stamp
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy

# Fit speed against scikit-learn (and PyTorch when installed) on real Fashion-MNIST.
bench: $(VENV)/.dev-stamp
	$(PY) benchmarks/bench_fit.py

# A 15000-row smoke version of `make bench`.
bench-quick: $(VENV)/.dev-stamp
	$(PY) benchmarks/bench_fit.py --quick

# Where one pass over X spends its time (phases on one thread, from memory and from cache).
profile: $(VENV)/.dev-stamp
	$(PY) benchmarks/profile_pass.py

# Every benchmark, each against its rival in the same process.
bench-all: bench profile
	$(PY) benchmarks/bench_sgd.py
	$(PY) benchmarks/bench_functional.py
	$(PY) benchmarks/accuracy_functional.py
	$(PY) benchmarks/bench_load.py
	$(PY) benchmarks/bench_mlp.py
	$(PY) benchmarks/bench_dask.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
