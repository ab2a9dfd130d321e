# Two commands on a fresh machine: `make run` (the gateway locally) and `make test` (the whole suite).
# Each installs what it needs: a virtualenv in .venv, Azurite from npm in .tools/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint bench setup clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing Python packages into $(VENV) ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt > $(VENV)/pip-install.log 2>&1 \
		|| (cat $(VENV)/pip-install.log; exit 1)
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)
	@$(PY) -c "from devtools.azurite import ensure_installed; ensure_installed()"

run: setup
	@$(PY) -m devtools.run_local

test: setup lint
	@bash devtools/install_checkov.sh
	@bash devtools/install_chromium.sh
	@$(PY) -c "from devtools.fhir_definitions import ensure_installed; ensure_installed()"
	@$(PY) -m devtools.run_tests $(PYTEST_ARGS)

bench: setup
	@$(PY) -m bench $(BENCH_ARGS)

# The gates every change passes (CI runs them through `make test`): lint, complexity, strict types.
lint: setup
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy

clean:
	rm -rf $(VENV) .tools .local
