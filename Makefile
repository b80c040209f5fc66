# Two commands on a fresh machine:  `make run` (set up, then train the main recipe)
# and `make test` (set up, then run the test suite). `make bench` runs the benchmarks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MAIN_RECIPE := $(if $(wildcard recipes/speech.yaml),recipes/speech.yaml,recipes/toy_ring.yaml)

.PHONY: setup run test bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $@

run: setup
	@$(if $(wildcard recipes/speech.yaml),,echo "recipes/speech.yaml is not here yet (audio plugin): running the toy recipe instead")
	@echo "genmm run $(MAIN_RECIPE)"
	$(BIN)/genmm run $(MAIN_RECIPE) $(ARGS)

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: setup
	@for script in benchmarks/*.py; do echo "# $$script"; $(BIN)/python $$script; done

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
