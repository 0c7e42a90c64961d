# Two commands for a newcomer: `make run` and `make test`. Each does its own set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DATASET := data/datasets/demo/manifest.json
DEMO_MODEL := data/models/demo/current
SCALE ?= 0.1

.PHONY: run test test-fast check bench venv demo clean-data

$(VENV)/.installed-runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed-runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed-runtime

$(DEMO_DATASET): $(VENV)/.installed-runtime data/demo/catalog.csv
	$(PY) -m recommender data demo --replace

$(DEMO_MODEL): $(DEMO_DATASET)
	$(PY) -m recommender train --dataset demo

demo: $(DEMO_MODEL)

# The bot when DISCORD_TOKEN is set, the console otherwise (it says how to set a token).
run: $(DEMO_MODEL)
	@$(PY) -m bot $(if $(DISCORD_TOKEN),,--console)

# Lint, format and type checks first (settings in pyproject.toml): a red check stops before pytest.
check: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: check
	$(PY) -m pytest

test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -m "not slow"

bench: $(VENV)/.installed-dev
	$(PY) -m bench --scale $(SCALE)

clean-data:
	rm -rf data/datasets data/models
