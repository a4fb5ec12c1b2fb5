# The README's two commands are `make demo` and `make test`; both set up .venv on first use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint gui bench clean

$(BIN)/garment-studio: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,train]"
	touch $@

setup: $(BIN)/garment-studio

demo: setup
	$(BIN)/garment-studio demo

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check app inference measure tests
	$(BIN)/lint-imports

gui: setup
	$(BIN)/garment-studio gui

clean:
	rm -rf $(VENV) build dist *.egg-info
