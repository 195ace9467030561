# The two commands an operator needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint contracts typecheck pytest bench messages clean-venv

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py importplugins data/plugins.yaml
	exec $(PY) manage.py runbroker $(ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

contracts: $(VENV)/.dev
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.dev
	$(VENV)/bin/mypy .

pytest: $(VENV)/.dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint contracts typecheck pytest

bench: $(VENV)/.dev
	$(PY) -m bench.broker
	$(PY) -m bench.plugin_host
	$(PY) -m bench.plugin_host --environments
	$(PY) -m bench.plugin_install

# Folders that hold no user-facing strings of the bot; tests/sessionbot/test_catalogs.py
# extracts with the same list to check that the committed catalogs match the code.
MESSAGES_IGNORE := .venv bench data docs tests mutants staticfiles control

messages: $(VENV)/.dev
	$(PY) manage.py makemessages -l es -l zh_Hans --no-obsolete $(addprefix --ignore=,$(MESSAGES_IGNORE))
	$(PY) manage.py compilemessages $(addprefix --ignore=,$(MESSAGES_IGNORE))
