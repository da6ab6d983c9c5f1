# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench browser fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,demo,distributed]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) examples/train_digits.py

lint: setup
	$(VENV)/bin/ruff check lazygrad tests tools examples
	$(VENV)/bin/ruff format --check lazygrad tests tools examples

# Debian's chromium for the test that opens an SVG in a real browser (skipped without it).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: the browser test will be skipped"

test: setup lint browser
	$(PY) -m pytest -n auto

bench: setup
	$(PY) tools/bench.py

# The differential fuzzer's long run: 20,000 random programs per test and device.
fuzz: setup
	LAZYGRAD_FUZZ_EXAMPLES=20000 $(PY) -m pytest -n auto tests/test_fuzz.py -q
