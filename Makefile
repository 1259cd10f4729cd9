# Two commands do everything: `make run` (the chat page) and `make test`.
# Each creates .venv, installs the project and provisions the models when
# missing; a stamp file makes re-runs take seconds.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := .stamps/install-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint fix eval bench install models chromium index clean

run: models index
	$(BIN)/python app.py

test: models chromium
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fix: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

eval: models index
	$(BIN)/rag eval --gold eval/dev.jsonl

bench: models index
	$(BIN)/rag bench --gold eval/dev.jsonl

install: $(STAMP)

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	rm -rf .stamps && mkdir -p .stamps && touch $@

models: install
	$(BIN)/rag models pull

index: models
	$(BIN)/rag index

chromium:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

clean:
	rm -rf $(VENV) .stamps index/current index/gen-* index/.current-*
