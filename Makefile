# `make run` and `make test` each build everything they need from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup assets translations translations-update db bench bench-portal bench-e2e lint chromium screenshots

setup: $(VENV)/.installed assets translations chromium

# The browser tests drive Debian's Chromium (never `playwright install`, which downloads its own).
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium fonts-liberation)

# The engine, quickjs-ng, is built here from its pinned sdist with our bytecode patch (README, "Engine build").
ENGINE_BUILD := runtime/engine_build

$(VENV)/.installed: requirements.txt $(addprefix $(ENGINE_BUILD)/,build.sh quickjs-ng.sha256 quickjs-ng-bytecode.patch)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(ENGINE_BUILD)/build.sh $(BIN)/pip $(VENV)/engine
	touch $@

# Monaco, htmx and Chart.js (the dashboard's charts) come from the npm registry into static/, the curated
# packages scripts may import (runtime/packages.py) into runtime/packages/, beside the time-zone table that
# Intl.DateTimeFormat reads (runtime/zonetable.py, from Python's zoneinfo); all git-ignored.
PACKAGES := runtime/packages
assets: static/monaco/vs/loader.js static/vendor/htmx.min.js static/vendor/chart.umd.min.js $(PACKAGES)/.installed

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

static/monaco/vs/loader.js: node_modules/.package-lock.json
	rm -rf static/monaco && mkdir -p static/monaco
	cp -r node_modules/monaco-editor/min/vs static/monaco/vs
	touch $@

static/vendor/htmx.min.js: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js $@

static/vendor/chart.umd.min.js: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/chart.js/dist/chart.umd.min.js $@

$(PACKAGES)/.installed: node_modules/.package-lock.json $(VENV)/.installed runtime/zonetable.py
	rm -rf $(PACKAGES) && mkdir -p $(PACKAGES)
	cp node_modules/lodash/lodash.min.js $(PACKAGES)/lodash.js
	cp node_modules/dayjs/dayjs.min.js $(PACKAGES)/dayjs.js
	cp node_modules/dayjs/plugin/utc.js $(PACKAGES)/dayjs-plugin-utc.js
	cp node_modules/dayjs/plugin/timezone.js $(PACKAGES)/dayjs-plugin-timezone.js
	$(BIN)/python -P runtime/zonetable.py $(PACKAGES)/zones.js
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -f -d translations

# After adding user-visible strings: refresh the catalogs, then translate the new entries.
translations-update: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

db: setup
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) jsr seed-demo

run: db
	$(BIN)/python -m tasks.worker & WORKER=$$!; \
	trap "kill $$WORKER" EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/python -m pytest -q

# Screenshots of the editor, test panel, history and detail pages, taken by the browser tests (README).
screenshots: setup
	JSR_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/browser

# Server time of the portal's list pages with 10 000 executions and of the dashboard per range with 100 000
# (SQLite; --database for PostgreSQL).
bench-portal: setup
	$(BIN)/python -m bench.portal_bench

bench: setup
	$(BIN)/pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench.runtime_bench

# End-to-end benchmarks of the triggers: webhooks against bare Flask, events end to end (embedded, and
# Redis + PostgreSQL at BENCH_REDIS_URL/BENCH_DATABASE_URL when they answer), the scheduler pass.
bench-e2e: setup
	$(BIN)/python -m bench.e2e_bench
	$(BIN)/python -m bench.tick_bench
