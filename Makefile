# Two entry points (see README): `make report` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

.PHONY: install report test lint bench clean
install: $(STAMP)

KEYFILE := $(HOME)/.config/envejind_eval/pseudonym.key

# Exit code 1 means "written with warnings" (e.g. suppressed small cells): not a failure.
report: $(STAMP)
	@if [ -z "$$ENVEJIND_PSEUDONYM_KEY" ] && [ ! -f "$(KEYFILE)" ]; then $(BIN)/envejind-eval keygen; fi
	@$(BIN)/envejind-eval report data/sample --out reports/sample; rc=$$?; [ $$rc -le 1 ] || exit $$rc

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests && $(BIN)/ruff format --check src tests && $(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) reports/sample
