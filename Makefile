# SchoolHealth: `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-postgres install install-dev browser fonts lint format \
        translations extract-messages migrate worker bench clean

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed translations fonts
install-dev: $(VENV)/.installed-dev translations fonts

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d schoolhealth/translations

extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -k lazy_ngettext:1,2 -o schoolhealth/translations/messages.pot .
	$(BIN)/pybabel update -i schoolhealth/translations/messages.pot -d schoolhealth/translations --no-fuzzy-matching

browser:
	bash scripts/install-browser.sh

# The CJK TrueType font parent letters embed (Debian's fonts-wqy-zenhei).
fonts:
	bash scripts/install-fonts.sh

migrate: install
	$(FLASK) db upgrade

# The worker runs background jobs (imports, letter batches) beside the web server, and
# stops with it (Ctrl-C, or the server exiting).
run: install migrate
	$(FLASK) seed-demo --if-empty --with-results
	@echo "Serving SchoolHealth on http://$(HOST):$(PORT) with a background worker  (Ctrl-C to stop)"
	@$(FLASK) worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT) --no-reload

worker: install
	$(FLASK) worker

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install-dev browser lint test-sqlite test-postgres

test-sqlite: install-dev
	@echo "== tests on SQLite =="
	env -u TEST_DATABASE_URL $(BIN)/pytest

# PostgreSQL is required under CI; on a laptop without it the pass is reported as not run.
test-postgres: install-dev
	@if [ -n "$$CI" ] || $(BIN)/python scripts/check_service.py "$(PG_TEST_URL)"; then \
		echo "== tests on PostgreSQL ($(PG_TEST_URL)) =="; \
		TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest; \
	else \
		echo "!! PostgreSQL not reachable at $(PG_TEST_URL): PostgreSQL pass NOT run (CI requires it)"; \
	fi

bench: install-dev
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/roster_import.py
	$(BIN)/python bench/pages.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
