# Stockroom: `make run` tries it out, `make test` runs the whole suite.
SHELL := /bin/bash
# Python 3.13 first, 3.12 if there is no 3.13 (on PATH, in pyenv, or in the usual places).
PYTHON_BIN ?= $(shell for v in python3.13 python3.12; do \
	for p in $$(command -v $$v) $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$${v:6}*/bin/$$v /usr/local/bin/$$v /usr/bin/$$v; do \
	[ -x "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; done; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stockroom
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
# make test runs the suite on TEST_WORKERS pytest-xdist processes (2: CI's cores),
# tests handed out in small batches to whichever worker runs short (--dist load), each
# worker keeping pytest-django's order (rollback tests, then transactional, then no DB).
# Each worker has its own test database (test_<name>_gw0, _gw1: pytest-django) and
# its own cache key prefix in TEST_REDIS_URL's database (test-gw0, test-gw1:
# config/settings/test.py); servers, clusters and brokers a test starts take a free
# port (tests.foundation.procs.free_port), a temp dir and a queue or prefix of their
# own. So a new test, slow or not, needs no list: it runs on whichever worker is free
# (docs/architecture.md, Tests).
# TEST_WORKERS=0 runs in this one process (pdb, -s); PYTEST_ARGS="-n 4" overrides.
TEST_WORKERS ?= 2
PYTEST_ARGS ?=
# make run: the port runserver listens on (127.0.0.1).
RUN_PORT ?= 8000
# The bench's own database (one per catalog size: <name>_p<products>) and Redis
# database (flushed before each pass: give it one nobody else uses).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stockroom_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/15
BENCH_ARGS ?=
# The soak's own database (dropped and re-created each run) and Redis database.
SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stockroom_soak
SOAK_REDIS_URL ?= redis://127.0.0.1:6379/13
SOAK_ARGS ?=
# make fuzz: examples per operation (CI runs 8), and where its summary is written.
FUZZ_EXAMPLES ?= 100
FUZZ_REPORT ?= test-artifacts/fuzz-report.txt
# The runtime smoke's own database (dropped and re-created each run) and Redis
# databases for the cache and the Celery broker (flushed each run).
SMOKE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/stockroom_smoke_rt
SMOKE_REDIS_URL ?= redis://127.0.0.1:6379/12
SMOKE_BROKER_URL ?= redis://127.0.0.1:6379/3

.PHONY: help venv run test lint fmt up check-services bench bench-smoke soak audit fuzz smoke-runtime

help:
	@echo "make run    - serve Stockroom on http://127.0.0.1:$(RUN_PORT) (embedded PostgreSQL, in-process cache)"
	@echo "make test   - the whole test suite on PostgreSQL and Redis"
	@echo "make lint   - ruff, mypy, hadolint"
	@echo "make audit  - bandit (medium and above) and pip-audit on the pinned requirements"
	@echo "make fuzz   - schemathesis, all phases for every caller, FUZZ_EXAMPLES per operation"
	@echo "make up     - the full stack with docker compose"
	@echo "make bench  - load-test a production-configured server (README: Benchmarks)"
	@echo "make bench-smoke - the same on tiny data, a few seconds per endpoint (CI)"
	@echo "make smoke-runtime - requirements.txt alone, run as compose runs it, one journey over HTTP (CI)"
	@echo "make soak   - 5 minutes of mixed traffic, then checks nothing was lost (SOAK_ARGS=--duration 60)"

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON_BIN)" || { echo "Python 3.13 (or 3.12) is required: install it (pyenv install 3.13) and retry." >&2; exit 1; }
	@test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

# Without DATABASE_URL: an embedded PostgreSQL on .pgdata/, stopped when this stops (scripts/devdb.py).
run: $(STAMP)
	$(PY) scripts/devdb.py --port $(RUN_PORT)

# Fails fast (short pool timeout) and quietly (the command prints its own report).
check-services: $(STAMP)
	@DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DB_POOL_TIMEOUT=2 DB_CONNECT_TIMEOUT=2 LOG_LEVEL=CRITICAL \
		$(PY) -W ignore manage.py check_services --server-only --settings=config.settings.test

test: $(STAMP) check-services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest \
		-n $(TEST_WORKERS) --dist load $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/hadolint Dockerfile

# pip-audit degrades to a clear NOT AUDITED where PyPI's advisory service is unreachable.
audit: $(STAMP)
	$(PY) scripts/audit.py

# The schema fuzzer with a random seed and many more examples than CI (README: Reliability).
fuzz: $(STAMP) check-services
	@mkdir -p $(dir $(FUZZ_REPORT))
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) FUZZ_MAX_EXAMPLES=$(FUZZ_EXAMPLES) \
		FUZZ_SEED= FUZZ_COVERAGE_ALL=1 FUZZ_REPORT=$(FUZZ_REPORT) \
		$(PY) -m pytest tests/fuzz/test_schemathesis.py -q -p no:logging
	@cat $(FUZZ_REPORT)

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# compose reads the secret key from .env; make one (never committed) on first use.
.env:
	@sed "s|^# DJANGO_SECRET_KEY=.*|DJANGO_SECRET_KEY=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')|" .env.example > $@
	@echo "Created .env with a fresh DJANGO_SECRET_KEY (edit it for other settings)."

up: .env
	docker compose up --build

bench: $(STAMP)
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_REDIS_URL=$(BENCH_REDIS_URL) $(PY) -m bench.run $(BENCH_ARGS)

bench-smoke: $(STAMP)
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_REDIS_URL=$(BENCH_REDIS_URL) $(PY) -m bench.run --smoke $(BENCH_ARGS)

# The image's install (requirements.txt alone, the Dockerfile's pip line) running
# compose.yaml's commands with production settings, driven over HTTP from outside.
smoke-runtime: $(STAMP)
	SMOKE_DATABASE_URL=$(SMOKE_DATABASE_URL) SMOKE_REDIS_URL=$(SMOKE_REDIS_URL) SMOKE_BROKER_URL=$(SMOKE_BROKER_URL) \
		$(PY) -m scripts.smoke_runtime $(if $(PYTHON_BIN),--python $(PYTHON_BIN))

# Not in CI: minutes of mixed traffic against gunicorn, then the loss checks (README: Reliability).
soak: $(STAMP)
	SOAK_DATABASE_URL=$(SOAK_DATABASE_URL) SOAK_REDIS_URL=$(SOAK_REDIS_URL) $(PY) -m tests.reliability.soak $(SOAK_ARGS)
