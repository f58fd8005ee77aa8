# One venv for everything; each public target installs first when needed so it works alone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-slow demo lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -c "import torch, timm, transformers, lightning, verovio, pyvips"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check omrformer grammar synth experiments tests
	$(BIN)/python -m pytest -q -x --timeout=600

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow --timeout=3600

demo: $(STAMP)
	$(BIN)/python experiments/demo.py

lint: $(STAMP)
	$(BIN)/ruff check omrformer grammar synth experiments tests
	$(BIN)/mypy omrformer grammar synth

clean:
	rm -rf $(VENV) build *.egg-info
