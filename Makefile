# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,demo]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) examples/train_digits.py

lint: setup
	$(VENV)/bin/ruff check lazygrad tests tools examples
	$(VENV)/bin/ruff format --check lazygrad tests tools examples

test: setup lint
	$(PY) -m pytest

bench: setup
	$(PY) tools/bench.py
