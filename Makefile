# Caricom Connects intake assistant.
#   make run    set up what is missing, train the model if data changed, start everything
#   make run-scaled  the same with two gateways on PostgreSQL and Redis (README: several instances)
#   make test   set up what is missing and run the whole suite
#   make eval   how well the assistant understands requests it never saw (evaluation/)
#   make bench  benchmarks (turn latency and throughput, webhook acknowledgement under a burst)
#   make loadtest  highest mixed rate the scaled setup sustains, by steps (README: Load test)
#   make lint   ruff + mypy

SHELL := /bin/bash
PYTHON ?= python3
# Rasa 3.6 needs Python 3.10: taken from RASA_PYTHON, else `python3.10` on PATH.
RASA_PYTHON ?= $(shell command -v python3.10 2>/dev/null)
CHROMIUM_PATH ?= /usr/bin/chromium
# rasa-webchat, Rasa's community widget, which the browser tests embed (pinned by its lock file).
WEBCHAT_CLIENT := tests/browser/rasa_webchat
WEBCHAT_CLIENT_STAMP := $(WEBCHAT_CLIENT)/node_modules/.installed

APP_VENV := .venv
RASA_VENV := .venv-rasa
APP_STAMP := $(APP_VENV)/.installed
RASA_STAMP := $(RASA_VENV)/.installed
CLI := $(APP_VENV)/bin/python -m gateway.cli

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run run-scaled test eval bench loadtest lint setup model db-upgrade check-chromium check-npm clean

# make run-scaled: the local PostgreSQL and Redis (override on the command line).
SCALED_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/caricom
SCALED_REDIS_URL ?= redis://127.0.0.1:6379/0
SCALED_PG_HOST ?= 127.0.0.1
SCALED_PG_PORT ?= 5432
SCALED_PG_USER ?= postgres
SCALED_PG_PASSWORD ?=
SCALED_REDIS_HOST ?= 127.0.0.1
SCALED_REDIS_PORT ?= 6379

setup: $(APP_STAMP) $(RASA_STAMP)

$(APP_STAMP): requirements/app.lock requirements/app-models.lock pyproject.toml
	@echo "==> Creating the gateway environment in $(APP_VENV) (Python 3.11+)"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed for the gateway (set PYTHON=...).")'
	$(PYTHON) -m venv $(APP_VENV)
	$(APP_VENV)/bin/pip install --quiet --upgrade pip
	$(APP_VENV)/bin/pip install --quiet -r requirements/app.lock
	$(APP_VENV)/bin/pip install --quiet --no-deps -r requirements/app-models.lock
	$(APP_VENV)/bin/pip install --quiet --no-deps -e .
	@touch $@

$(RASA_STAMP): requirements/rasa.lock requirements/rasa-models.lock
	@if [ -z "$(RASA_PYTHON)" ] || ! "$(RASA_PYTHON)" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then \
	  echo "Rasa 3.6 needs Python 3.10, and none was found."; \
	  echo "Install Python 3.10 (for example 'pyenv install 3.10' and keep this repo's .python-version,"; \
	  echo "or your system's python3.10 package), or point RASA_PYTHON at one: make RASA_PYTHON=/path/to/python3.10 ..."; \
	  exit 1; fi
	@echo "==> Creating the Rasa environment in $(RASA_VENV) with $(RASA_PYTHON) (about a minute)"
	"$(RASA_PYTHON)" -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --quiet --upgrade pip
	$(RASA_VENV)/bin/pip install --quiet -r requirements/rasa.lock
	$(RASA_VENV)/bin/pip install --quiet --no-deps -r requirements/rasa-models.lock
	@touch $@

model: setup
	@$(CLI) model ensure

db-upgrade: $(APP_STAMP)
	@$(CLI) db upgrade

# The Rasa channel's token (RASA_CHANNEL_TOKEN), made once into var/ when not set.
CHANNEL_TOKEN = $${RASA_CHANNEL_TOKEN:-$$(test -s var/rasa-channel-token || $(APP_VENV)/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > var/rasa-channel-token; cat var/rasa-channel-token)}

run: setup db-upgrade model
	@mkdir -p var
	RASA_CHANNEL_TOKEN=$(CHANNEL_TOKEN) RASA_MODEL=$$($(CLI) model path) $(APP_VENV)/bin/honcho start -f Procfile

run-scaled: export DATABASE_URL = $(SCALED_DATABASE_URL)
run-scaled: export REDIS_URL = $(SCALED_REDIS_URL)
run-scaled: export TURNS_IN_WORKERS = true
run-scaled: export ACTION_ENDPOINT_URL = http://localhost:5055/webhook
run-scaled: export RASA_TRACKER_DB_HOST = $(SCALED_PG_HOST)
run-scaled: export RASA_TRACKER_DB_PORT = $(SCALED_PG_PORT)
run-scaled: export RASA_TRACKER_DB = caricom_rasa
run-scaled: export RASA_TRACKER_DB_USER = $(SCALED_PG_USER)
run-scaled: export RASA_TRACKER_DB_PASSWORD = $(SCALED_PG_PASSWORD)
run-scaled: export RASA_LOCK_REDIS_HOST = $(SCALED_REDIS_HOST)
run-scaled: export RASA_LOCK_REDIS_PORT = $(SCALED_REDIS_PORT)
run-scaled: export RASA_LOCK_REDIS_DB = 1
run-scaled: setup model
	@mkdir -p var
	@$(CLI) db create
	@$(CLI) db upgrade
	RASA_CHANNEL_TOKEN=$(CHANNEL_TOKEN) RASA_MODEL=$$($(CLI) model path) $(APP_VENV)/bin/honcho start -f Procfile.scaled

check-chromium:
	@if [ ! -x "$(CHROMIUM_PATH)" ]; then \
	  echo "Browser tests need headless Chromium at $(CHROMIUM_PATH), and it is missing."; \
	  echo "On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y chromium"; \
	  echo "Elsewhere, install Chromium and run: make test CHROMIUM_PATH=/path/to/chromium"; \
	  exit 1; fi

check-npm:
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "Browser tests embed rasa-webchat from npm, and npm (Node.js) is missing."; \
	  echo "On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y nodejs npm"; \
	  echo "Elsewhere, install Node.js 18 or newer (it comes with npm) from https://nodejs.org"; \
	  exit 1; fi

# Installed from the lock file once (again when it changes); scripts off: only the built
# bundle is used, nothing needs building.
$(WEBCHAT_CLIENT_STAMP): $(WEBCHAT_CLIENT)/package.json $(WEBCHAT_CLIENT)/package-lock.json
	@$(MAKE) --no-print-directory check-npm
	@echo "==> Installing rasa-webchat for the browser tests into $(WEBCHAT_CLIENT)/node_modules"
	cd $(WEBCHAT_CLIENT) && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

test: setup model check-chromium $(WEBCHAT_CLIENT_STAMP)
	CHROMIUM_PATH=$(CHROMIUM_PATH) $(APP_VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Classifies the held-out evaluation sets with the current model; EVAL_ARGS=--strict fails
# below target, EVAL_ARGS="--language en" limits the languages.
eval: setup model
	PYTHONPATH=$(CURDIR) $(RASA_VENV)/bin/python -m nlu.evaluate --model "$$($(CLI) model path)" $(EVAL_ARGS)

bench: setup model
	$(APP_VENV)/bin/python -m bench $(BENCH_ARGS)

# Needs the local PostgreSQL and Redis (scratch databases and keys, removed afterwards).
loadtest: setup model
	$(APP_VENV)/bin/python -m bench.loadtest $(LOADTEST_ARGS)

lint: $(APP_STAMP)
	$(APP_VENV)/bin/ruff check .
	$(APP_VENV)/bin/ruff format --check .
	$(APP_VENV)/bin/mypy

clean:
	rm -rf $(APP_VENV) $(RASA_VENV) models var .pytest_cache .mypy_cache .ruff_cache $(WEBCHAT_CLIENT)/node_modules
