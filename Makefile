# jmimpute developer commands. Every target builds its own environment in .venv/ first.
# `python3` resolves to 3.12 through .python-version (pyenv); python3.12 is tried first.
PYTHON_BOOT ?= $(shell command -v python3.12 2>/dev/null || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-slow test-notebooks test-all lint docs bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON_BOOT) -c 'import sys; assert sys.version_info >= (3, 12), "jmimpute needs Python >= 3.12, found " + sys.version'
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# one environment for the tests and the documentation site (make docs)
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	@# compile once what later imputations reuse (jmimpute/warmup.py says what); a failure
	@# costs the first imputations their compile, not the set-up
	$(PY) -m jmimpute.warmup || echo "jmimpute warm-up failed: the first imputations will compile"
	touch $(STAMP)

## The main job: impute brandsma, print missingness, summary and convergence, write the completed sets.
demo: setup
	$(PY) examples/demo.py --out out/brandsma_imputed.csv

lint: setup
	$(PY) -m ruff check jmimpute tests benchmarks examples
	$(PY) -m ruff format --check jmimpute tests benchmarks examples
	$(PY) -m mypy

## The default test run (lint, types, fast tests and one real end-to-end sampling test).
test: lint
	$(PY) -m pytest -q --durations=15

## Sampling-heavy tests (agreement with the reference posterior, latent vs collapsed, convergence).
test-slow: setup
	$(PY) -m pytest -q --runslow -m slow

## Execute the example notebooks (examples/*.ipynb) in quick mode (JMIMPUTE_QUICK=1).
test-notebooks: setup
	$(PY) -m pytest -q --notebooks -m notebooks tests/test_notebooks.py

test-all: lint
	$(PY) -m pytest -q --runslow

## The documentation site (docs/, Sphinx): warnings are errors; the notebooks are not run.
## -E rebuilds every page, so that a warning of an unchanged page is not hidden by the cache.
docs: setup
	$(VENV)/bin/sphinx-build -E -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

## Speed against the R peers (run them when Rscript with mitml is found).
bench: setup
	$(PY) benchmarks/bench_impute.py
	$(PY) benchmarks/bench_bambi.py
	$(PY) benchmarks/bench_full.py
	$(PY) benchmarks/bench_cluster_cov.py
	$(PY) benchmarks/bench_backends.py
	$(PY) benchmarks/bench_gradient.py
	$(PY) benchmarks/bench_compile.py --toy
	$(PY) benchmarks/bench_reparam.py
	$(PY) benchmarks/bench_tune.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache docs/_build docs/_notebooks docs/api/generated
