# Two commands set up a fresh machine with only Python 3.11+:
#   make run    serve a seeded demo on SQLite at http://127.0.0.1:8000
#   make test   run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench crash clean

$(VENV): $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)
	$(BIN)/mentoring demo --if-empty
	$(BIN)/mentoring serve --host $(HOST) --port $(PORT)

test: $(VENV)
	$(BIN)/pytest

BENCH_DB ?= sqlite

# Benchmarks print their figures; they are not part of the test suite. The suite runs on SQLite and, when
# MENTORING_BENCH_DATABASE_URL names a PostgreSQL server, there too; the others follow BENCH_DB.
bench: $(VENV)
	$(BIN)/python bench/suite.py --db sqlite
	$(BIN)/python bench/suite.py --db postgres
	$(BIN)/python bench/taskpage.py --db $(BENCH_DB)
	$(BIN)/python bench/dashboard.py --db $(BENCH_DB)
	$(BIN)/python bench/signoff.py --db $(BENCH_DB)
	$(BIN)/python bench/record_pdf.py --db $(BENCH_DB)

# Kill the server with SIGKILL 50 times under sign-off load; checks integrity, audit chains and acknowledged writes.
crash: $(VENV)
	$(BIN)/python bench/crash.py --cycles 50

lint: $(VENV)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
