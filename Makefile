# The everyday commands. Each creates/uses .venv; the README's two commands do the same.
VENV ?= .venv
PY := $(VENV)/bin/python

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -r requirements.txt

install-dev: $(PY)
	$(PY) -m pip install -r requirements-dev.txt

run: install
	$(VENV)/bin/streamlit run app.py

test: install-dev
	$(PY) -m pytest

bench: install-dev
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

lint: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

.PHONY: install install-dev run test bench lint
