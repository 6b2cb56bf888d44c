# Two commands from a fresh clone: `make demo` trains and queries the built-in synthetic corpus,
# `make test` runs the whole test suite. Each first sets up a virtual environment in .venv, once:
# a second run finds it ready and starts in seconds.

PYTHON ?= python3
VENV ?= .venv
# torch's CPU build; a torch already importable by $(PYTHON) is used instead (the venv then sees
# the system's packages). Elsewhere, add --index-url https://download.pytorch.org/whl/cpu.
TORCH ?= torch==2.13.0
TORCH_PIP_OPTIONS ?=
DEMO ?= demo

BIN := $(VENV)/bin
W2V := ../$(BIN)/python ../cli.py

.PHONY: demo test lint

$(BIN)/python:
	if $(PYTHON) -c "import torch" 2>/dev/null; then \
		$(PYTHON) -m venv --system-site-packages $(VENV); \
	else \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || \
		$(BIN)/pip install --quiet $(TORCH_PIP_OPTIONS) "$(TORCH)"
	touch $@

# The package and its extras, again whenever pyproject.toml changes.
$(VENV)/.demo: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e ".[plot]"
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e ".[test,dev,plot]"
	touch $@

demo: $(VENV)/.demo
	mkdir -p $(DEMO)
	cd $(DEMO) && $(W2V) synthetic -o synthetic.txt --questions synthetic-questions.txt
	cd $(DEMO) && $(W2V) train synthetic.txt --dim 50 -o vectors.bin -q
	cd $(DEMO) && $(W2V) analogy king man woman
	cd $(DEMO) && $(W2V) similar paris
	cd $(DEMO) && $(W2V) evaluate --analogies synthetic-questions.txt
	cd $(DEMO) && $(W2V) plot king paris dog -o words.png
	@echo
	@echo "The demo's files are in $(DEMO)/:"
	@ls -1 $(DEMO) | sed 's/^/  /'

test: $(VENV)/.test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
