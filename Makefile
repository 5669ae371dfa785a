# The two fresh-machine commands: `make demo` (main job) and `make test` (checks).
# Both create or reuse .venv and install torch==2.13.0 (CPU, pinned) before the package,
# so pip never resolves an unpinned torch.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rnnkit-installed
DOCS_STAMP := $(VENV)/.rnnkit-docs-installed
# The reference data (see ../shared/data/README.md): the tests and the tutorials read it.
DATA := $${RNNKIT_DATA:-$(abspath ../shared/data)}

.PHONY: setup demo test test-slow docs format chromium fashion-mnist runtime-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev,ts,serve,export,runtime,classify,bench]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/rnnkit train --preset default --out runs/demo
	$(BIN)/rnnkit generate --checkpoint runs/demo --prefix "The " --length 300 --seed 0

# Debian's Chromium for the browser test, when root with apt-get; otherwise that test skips.
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed: the browser test will be skipped"

# Debian's Fashion-MNIST IDX files (/usr/share/datasets/fashion-mnist) for
# `rnnkit classify fashion-mnist` and its benchmark, when root with apt-get; the tests never
# need them.
fashion-mnist:
	@test -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } || \
	  echo "dataset-fashion-mnist not installed: put the four IDX files in \$$RNNKIT_DATA/fashion-mnist"

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	RNNKIT_DATA=$(DATA) $(BIN)/python -m pytest
	$(MAKE) --no-print-directory runtime-check

# The slow tier: seeded kills, real tmpfs, torchrun faults, every core's ONNX parity, ... (CI runs
# it after `make test`).
test-slow: $(STAMP)
	RNNKIT_DATA=$(DATA) $(BIN)/python -m pytest -m slow

# The documentation site, built offline into docs/_build/html: the guide pages, the API and
# config reference, and the tutorials (docs/tutorials/*.py), executed at every build.
# Warnings are errors; a failing tutorial fails the build.
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	@for f in timemachine.txt jaychou_lyrics.txt.zip; do test -f "$(DATA)/$$f" || \
	  { echo "make docs: $(DATA)/$$f is missing; set RNNKIT_DATA to the folder holding the reference data" >&2; exit 2; }; done
	RNNKIT_DATA=$(DATA) MPLBACKEND=Agg $(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The torch-free runtime in a fresh venv without torch: export a tiny model with this venv,
# generate from it there with numpy + onnxruntime only (see scripts/check_runtime_venv.sh).
runtime-check: $(STAMP)
	MAIN_PY=$(abspath $(BIN))/python bash scripts/check_runtime_venv.sh
