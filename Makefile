# `make run` and `make test` work on a fresh machine: each creates .venv and installs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Test-only Node tools (Prism, for the Twilio contract tests), pinned by package-lock.json.
NODE_TOOLS := node_modules/.installed

.PHONY: install run console test lint clean

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

$(NODE_TOOLS): package.json package-lock.json
	@command -v npm >/dev/null \
		|| { echo "Node.js 18.20 or newer with npm is needed for the Twilio contract tests (Prism)"; exit 1; }
	SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_TOOLS)

run: $(INSTALLED)
	$(BIN)/procurebot run

console: $(INSTALLED)
	$(BIN)/procurebot console

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(NODE_TOOLS)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache *.egg-info
