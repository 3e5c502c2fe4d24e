# The README names two commands: `make setup` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/.tools/bin:$(PATH)

.PHONY: setup test lint fmt typecheck protos protos-check pytest unit integration e2e up bench eval-data

setup:
	bash scripts/setup.sh

test: lint typecheck protos-check pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck:
	$(BIN)/mypy

protos:
	$(BIN)/python scripts/gen_protos.py

protos-check:
	$(BIN)/python scripts/gen_protos.py --check

pytest:
	$(BIN)/python -m pytest -q -ra

unit:
	$(BIN)/python -m pytest -q tests/unit

integration:
	$(BIN)/python -m pytest -q tests/integration

e2e:
	$(BIN)/python -m pytest -q tests/e2e

eval-data:
	bash scripts/fetch_eval_data.sh

up:
	$(BIN)/uunet up --dev --state-dir .uunet-dev
