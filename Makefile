# Everyday commands. Each one creates the virtualenv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test lint demo bench

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'

install: $(PY)

test: $(PY)
	$(PY) -m pytest

lint: $(PY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: $(PY)
	$(VENV)/bin/persona-worker demo

bench: $(PY)
	$(PY) -m bench
