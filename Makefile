# Latchkey — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
WIDGET_STAMP := widget/node_modules/.installed
EMBED := widget/packages/core/dist/embed.js
HOST ?= 127.0.0.1
PORT ?= 8000
EXAMPLE_PORT ?= 8001
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: run test check bench setup widget chromium browser-deps postgres redis test-sqlite test-postgres test-widget clean logos screenshots

run: setup ## set up, migrate, seed the sandbox demo and start the service
	$(BIN)/latchkey migrate
	$(BIN)/latchkey seed-demo
	@scripts/run-demo.sh $(BIN) $(HOST) $(PORT) $(EXAMPLE_PORT)

test: setup chromium browser-deps ## every test: Python on SQLite, Python on Postgres, the widget's unit tests
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-widget

check: setup ## formatter, linter and types: ruff and mypy over the Python, tsc over the widget
	@echo "== ruff format --check, ruff check, mypy, tsc --noEmit"
	$(BIN)/ruff format --check server bench tests examples scripts
	$(BIN)/ruff check server bench tests examples scripts
	$(BIN)/mypy
	$(BIN)/python -m server.generated --check
	$(BIN)/python -m server.catalog.logo_art --check
	cd widget && npm run typecheck --silent

test-sqlite:
	@scripts/ensure-redis.sh || echo "== the Redis rate-limit tests will be SKIPPED: no server answers on 127.0.0.1:6379 and none could be started here"
	@echo "== Python tests on SQLite"
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-postgres:
	@if scripts/ensure-postgres.sh; then \
		echo "== Python tests on Postgres (a fresh database per test)"; \
		LATCHKEY_TEST_POSTGRES_URL=$(PG_ADMIN_URL) $(BIN)/python -m pytest -q -p no:cacheprovider -m "not browser and not container"; \
	else \
		echo "== SKIPPED the Postgres pass: no server answers on 127.0.0.1:5432 and none could be started here"; \
	fi

test-widget: widget
	@echo "== Widget unit tests (vitest)"
	cd widget && npm test --silent

bench: setup chromium ## print throughput ratios and sizes measured in one run
	-@scripts/ensure-apt-package.sh wrk
	-@scripts/ensure-postgres.sh
	$(BIN)/python -m bench

setup: $(PY_STAMP) widget

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

widget: $(EMBED)

$(WIDGET_STAMP): widget/package.json widget/package-lock.json
	cd widget && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(EMBED): $(WIDGET_STAMP) $(shell find widget/packages -path '*/node_modules' -prune -o -path '*/dist' -prune -o -type f -newer widget/package.json -print 2>/dev/null)
	cd widget && npm run build --silent

logos: setup ## write the integrations' logo files from the catalog's logo_source and simple-icons
	$(BIN)/python -m server.catalog.logo_art

screenshots: setup chromium ## take docs/screenshots/ again from the seeded demo
	$(BIN)/python scripts/screenshots.py

chromium: ## Debian's Chromium for the browser tests (Playwright drives it; no browser download)
	@scripts/ensure-apt-package.sh chromium
	@fc-list :lang=ja 2>/dev/null | grep -q . || scripts/ensure-apt-package.sh fonts-ipafont-gothic no-such-command || true

browser-deps: ## axe-core for the browser tests' accessibility checks (from the npm registry, no CDN)
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error

postgres:
	@scripts/ensure-postgres.sh

redis:
	@scripts/ensure-redis.sh

clean:
	rm -rf $(VENV) widget/node_modules widget/packages/*/dist var test-artifacts
