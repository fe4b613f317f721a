# `make run` and `make test` work on a fresh machine with nothing but Python 3.11+:
# PostgreSQL and Redis are embedded (under .data/) unless DATABASE_URL / REDIS_URL point elsewhere.
PYTHON ?= python3
VENV := .venv
# Reinstall only when the declared dependencies change.
INSTALLED := $(VENV)/.installed

.PHONY: run test lint

run: $(INSTALLED)
	$(VENV)/bin/shop-api dev

test: $(INSTALLED)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

$(INSTALLED): setup.cfg pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -e '.[dev,embedded]'
	touch $@
