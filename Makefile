# The two commands: `make run` and `make test` (README.md). Everything else serves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := crm
# Tests on two cores: one worker (and one browser) per core.
TEST_WORKERS ?= auto

.PHONY: run serve cluster test lint format bench bench-load api-check translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask crm init
	$(BIN)/flask crm seed-demo --if-empty
	@# The development server runs the scheduler in a thread of its serving process (one, even
	@# with the reloader: its watcher never serves); gunicorn's workers never run it.
	CRM_SCHEDULER_IN_DEV_SERVER=1 $(BIN)/flask run --host 127.0.0.1 --port 5000

# Production on one host: gunicorn's workers (gunicorn.conf.py) and the scheduler, its own
# process, against CRM_DATABASE_URL with CRM_ENV=production (README "Production").
serve: $(VENV)/.installed
	$(BIN)/flask db upgrade
	trap 'kill 0' EXIT INT TERM; \
	CRM_ENV=production $(BIN)/flask crm scheduler & \
	CRM_ENV=production $(BIN)/gunicorn -c gunicorn.conf.py "crm:create_app()"

# Two app hosts behind nginx with TLS on this machine (bench/cluster.py, docs/operations.md):
# PostgreSQL on 127.0.0.1:5432 (a fresh crm_cluster database), Redis on 127.0.0.1:6379, the demo
# seeded, uploads in a SeaweedFS S3 server (the test extras: tests/s3server.py); prints
# https://127.0.0.1:8443/ and the logins. Ctrl-C stops everything.
CLUSTER_ARGS ?= --port 8443
cluster: $(VENV)/.installed-test
	$(BIN)/python -m bench.cluster $(CLUSTER_ARGS)

test: $(VENV)/.installed-test lint
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check crm tests bench migrations config.py

format: $(VENV)/.installed-test
	$(BIN)/ruff format crm tests bench migrations config.py
	$(BIN)/ruff check --fix .

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs='.* __pycache__ .venv' -o crm/translations/messages.pot .
	$(BIN)/pybabel update -i crm/translations/messages.pot -d crm/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d crm/translations

# The API's contract as an integrator tries it (tests/api_check.py): schemathesis, every phase
# and check, positive and negative data, 200 examples per operation for each role, on the
# database of CRM_TEST_DATABASE_URL (a database of its own beside it) or SQLite. Outside CI.
API_CHECK_EXAMPLES ?= 200
api-check: $(VENV)/.installed-test
	$(BIN)/python -m tests.api_check --examples $(API_CHECK_EXAMPLES)

# The key requests (bench/requests.py) and the daily sweep (bench/sweep.py) over the scale data
# set, seeded once and kept; the tables land in bench/results/. PostgreSQL too when
# BENCH_POSTGRES_URL is set (postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench).
BENCH_FACTORIES ?= 100000
BENCH_IMPORT_POSTGRES_URL ?= $(if $(BENCH_POSTGRES_URL),$(BENCH_POSTGRES_URL)_import)
bench: $(VENV)/.installed-test
	@# Every step runs even when one misses a target; the run fails at the end if any did.
	@failed=""; \
	for step in "bench.requests --factories $(BENCH_FACTORIES)" \
	            "bench.sweep --factories $(BENCH_FACTORIES)" \
	            "bench.import_bench" \
	            $(if $(BENCH_POSTGRES_URL),"bench.requests --factories $(BENCH_FACTORIES) --database $(BENCH_POSTGRES_URL)" \
	            "bench.sweep --factories $(BENCH_FACTORIES) --database $(BENCH_POSTGRES_URL)" \
	            "bench.import_bench --database $(BENCH_IMPORT_POSTGRES_URL)"); do \
	  echo "== python -m $$step"; \
	  $(BIN)/python -m $$step || failed="$$failed\n  python -m $$step"; \
	done; \
	if [ -n "$$failed" ]; then printf "bench: missed a target or failed:$$failed\n"; exit 1; fi

# Throughput (bench/throughput.py): the key pages under gunicorn's sync workers, loaded by wrk
# (Debian's package) beside a bare Flask hello in the same run, over the same kept data set;
# SQLite, then PostgreSQL when BENCH_POSTGRES_URL is set. About 6 minutes a database, so a target
# of its own rather than a step of `make bench`.
bench-load: $(VENV)/.installed-test
	@failed=""; \
	for database in "" $(if $(BENCH_POSTGRES_URL),"--database $(BENCH_POSTGRES_URL)"); do \
	  echo "== python -m bench.throughput --factories $(BENCH_FACTORIES) $$database"; \
	  $(BIN)/python -m bench.throughput --factories $(BENCH_FACTORIES) $$database \
	    || failed="$$failed\n  python -m bench.throughput $$database"; \
	done; \
	if [ -n "$$failed" ]; then printf "bench-load: missed a target or failed:$$failed\n"; exit 1; fi

clean:
	rm -rf $(VENV) instance test-artifacts
