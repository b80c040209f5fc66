# Two commands on a fresh machine:  `make run` (set up, then train the main recipe)
# and `make test` (set up, then run the test suite). `make bench` / `make bench-quality`: figures.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MAIN_RECIPE := recipes/speech.yaml

.PHONY: setup run test bench bench-quality lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $@

run: setup
	$(BIN)/genmm run $(MAIN_RECIPE) $(ARGS)

# two pytest-xdist workers: most of the suite is CLI subprocesses, which overlap well on 2 cores
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Speed figures (minutes); `make bench-quality` trains the recipes at their defaults (hours).
bench: setup
	$(BIN)/genmm bench recipes/toy_ring.yaml --steps 300 --repeats 7
	$(BIN)/python benchmarks/bench_image.py speed
	$(BIN)/python benchmarks/bench_stylegan2.py
	$(BIN)/python benchmarks/bench_text.py speed
	$(BIN)/python benchmarks/bench_text.py sampling
	$(BIN)/python benchmarks/bench_audio.py synthesis
	$(BIN)/python benchmarks/bench_audio.py step
	$(BIN)/python benchmarks/bench_audio.py memory
	$(BIN)/python benchmarks/bench_audio.py melgan
	$(BIN)/python benchmarks/bench_audio.py polyphase
	$(BIN)/python benchmarks/bench_video.py speed --threads 2

bench-quality: setup
	$(BIN)/python benchmarks/bench_toy.py toy_ring
	$(BIN)/python benchmarks/bench_image.py dcgan
	$(BIN)/python benchmarks/bench_image.py cgan
	$(BIN)/python benchmarks/bench_text.py quality
	$(BIN)/python benchmarks/bench_audio.py quality

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
