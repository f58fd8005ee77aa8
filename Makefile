# One venv for everything; each public target installs first when needed so it works alone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions of every dependency (make lock regenerates it; docs/dependencies.md says when).
LOCK := requirements/lock.txt

.PHONY: install test test-slow test-latest lock demo lint clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c $(LOCK) pip
	$(BIN)/python -m pip install -q -c $(LOCK) -e '.[dev]'
	$(BIN)/python -m pip check
	$(BIN)/python -c "import torch, timm, transformers, lightning, verovio, pyvips"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check omrformer grammar synth experiments tests
	$(BIN)/python -m pytest -q -x --timeout=600

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow --timeout=3600

# The newest releases pyproject's ranges admit, in a scratch venv without the lock.
test-latest:
	PY=$(PY) requirements/test_latest.sh

lock:
	PY=$(PY) requirements/make_lock.sh

demo: $(STAMP)
	$(BIN)/python experiments/demo.py

lint: $(STAMP)
	$(BIN)/ruff check omrformer grammar synth experiments tests
	$(BIN)/mypy omrformer grammar synth

clean:
	rm -rf $(VENV) .venv-latest .venv-lock build *.egg-info
