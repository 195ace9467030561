# The two commands an operator needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint typecheck pytest bench messages clean-venv

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

PORT ?= 8000

run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py importplugins data/plugins.yaml
	@# Until `runbroker` exists, serve the admin alone on HOST_IP (from the environment or .env).
	@if $(PY) manage.py help runbroker >/dev/null 2>&1; then \
	  exec $(PY) manage.py runbroker $(ARGS); \
	else \
	  host=$$($(PY) manage.py shell --verbosity 0 -c 'from django.conf import settings; print(settings.HOST_IP)') || exit 1; \
	  case $$host in *:*) url_host="[$$host]";; *) url_host=$$host;; esac; \
	  echo "sessionbot admin: http://$$url_host:$(PORT)/admin/ (the broker is not installed: admin only)"; \
	  echo "first login: $(PY) manage.py createsuperuser"; \
	  exec $(VENV)/bin/uvicorn sessionbot.asgi:application --host $$host --port $(PORT) --log-level warning; \
	fi

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.dev
	$(VENV)/bin/mypy .

pytest: $(VENV)/.dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(VENV)/.dev
	$(PY) -m bench

messages: $(VENV)/.dev
	$(PY) manage.py makemessages -l es -l zh_Hans --ignore=.venv --ignore=bench
	$(PY) manage.py compilemessages --ignore=.venv
