# The two quick-start commands are `make demo` and `make test`; both install what they need first.
VENV := .venv/bin
MODEL ?= meta-llama/Llama-3.1-8B
PY_SOURCES := core parsers tests benchmarks tools transformer_roofline transformer_roofline_analyzer
# Our own markdown (the vendored reference README and config notes are kept verbatim).
MARKDOWN := $(shell find . -name '*.md' -not -path './.*' -not -path './tests/reference/*' -not -path './core/catalog/*')

.PHONY: setup demo test lint typecheck unit e2e format

setup:
	./scripts/setup.sh

demo: setup
	$(VENV)/python ./transformer_roofline_analyzer --cached-tokens 8192 --input-tokens 1 --batch-size 4 -- $(MODEL)

# Everything CI runs: formatting, lint, types, markdown, unit and end-to-end tests.
test: setup lint typecheck
	$(VENV)/pytest

lint: setup
	$(VENV)/black --check --quiet $(wildcard $(PY_SOURCES))
	$(VENV)/isort --check-only --quiet $(wildcard $(PY_SOURCES))
	$(VENV)/ruff check --quiet $(wildcard $(PY_SOURCES))
	$(VENV)/pymarkdown scan $(MARKDOWN)

typecheck: setup
	$(VENV)/pyright

unit: setup
	$(VENV)/pytest tests/unit

e2e: setup
	$(VENV)/pytest tests/end-to-end

format: setup
	$(VENV)/black --quiet $(wildcard $(PY_SOURCES))
	$(VENV)/isort --quiet $(wildcard $(PY_SOURCES))
