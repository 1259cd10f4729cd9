# Two commands do everything: `make run` (the chat page) and `make test`.
# Each creates .venv, installs the project and provisions the models when
# missing; stamp files make re-runs take seconds.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# llama-cpp-python is built for this CPU's instruction sets, never -march=native
# (rag/llama_build.py); LLAMA_CPU=avx2 leaves out AVX-512.
LLAMA_CPU ?= auto
LLAMA_KEY := $(shell $(PYTHON) -m rag.llama_build key --level $(LLAMA_CPU))
STAMP := .stamps/install-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)-$(LLAMA_KEY)
CHECKED := .stamps/checked-$(LLAMA_KEY)

.PHONY: run test lint fix eval bench install models check rebuild-llama chromium index clean

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
	$(PYTHON) -m rag.llama_build install --python $(BIN)/python --level $(LLAMA_CPU)
	$(BIN)/python -m pip install -e '.[dev]'
	rm -rf .stamps && mkdir -p .stamps && touch $@

models: install
	$(BIN)/rag models pull
	@$(MAKE) --no-print-directory check

# The generator must run on this CPU: a broken build fails here in seconds, with what to do.
check: $(CHECKED)

$(CHECKED): $(STAMP)
	$(BIN)/rag models check
	touch $@

rebuild-llama: install
	$(PYTHON) -m rag.llama_build install --python $(BIN)/python --level $(LLAMA_CPU) --rebuild
	rm -f .stamps/checked-*
	$(BIN)/rag models check
	touch $(CHECKED)

index: models
	$(BIN)/rag index

chromium:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

clean:
	rm -rf $(VENV) .stamps index/current index/gen-* index/.current-*
