# The two set-up commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres contract check lint typecheck format clean bench drill

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/patron migrate
	$(BIN)/patron credentials bootstrap
	$(BIN)/patron serve

test: $(STAMP)
	$(BIN)/pytest

# The same suite on PostgreSQL (127.0.0.1:5432, database `test`, trust auth).
test-postgres: $(STAMP)
	PATRON_TEST_DATABASE_URL=$${PATRON_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
		$(BIN)/pytest

contract: $(STAMP)
	$(BIN)/pytest -m contract -v

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench drill
	$(BIN)/ruff check src tests bench drill

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

format: $(STAMP)
	$(BIN)/ruff format src tests bench drill
	$(BIN)/ruff check --fix src tests bench drill

# Load benchmarks on SQLite and PostgreSQL (bench/README.md); CUSTOMERS=1000000 ROUNDS=3 for the full run.
bench: $(STAMP)
	bash bench/setup.sh
	$(BIN)/python bench/run.py --customers $${CUSTOMERS:-100000} --rounds $${ROUNDS:-1}

# The failover drill (docs/deploy.md): a pg_auto_failover cluster, two API processes behind nginx
# and a webhook worker on loopback ports 25410-25430; kills the primary, then an API process.
# About a minute and a half; installs its Debian packages first when they are missing.
drill: $(STAMP)
	bash drill/setup.sh
	$(BIN)/python -m drill

clean:
	rm -rf $(VENV) var/*.db*
