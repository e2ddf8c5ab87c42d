# The two commands: `make run` (the whole system on its embedded defaults) and `make test` (every test).
# Both create what is missing first: .venv (gateway, Python 3.11+) and bot/.venv (Rasa 3.6.21, Python 3.10).

PYTHON ?= python3
# The first Python 3.10 that really runs (a pyenv shim named python3.10 may exist without one behind it).
PYTHON310 ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python 2>/dev/null) $$(command -v python3.10); do $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BOT_VENV := bot/.venv
PYTEST_ARGS ?=

.PHONY: setup run test lint wheel-check bench clean

setup: $(VENV)/.installed $(BOT_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "==> gateway environment ($(VENV))"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -e '.[test]'
	@touch $@

$(BOT_VENV)/.installed: bot/requirements.txt
	@echo "==> bot environment ($(BOT_VENV), rasa 3.6.21): a few minutes the first time"
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is needed for Rasa: install it (e.g. pyenv install 3.10) or set PYTHON310=/path/to/python3.10"; exit 1; }
	@test -x $(BOT_VENV)/bin/python || $(PYTHON310) -m venv $(BOT_VENV)
	$(BOT_VENV)/bin/pip install --disable-pip-version-check -q 'pip>=23,<25'
	$(BOT_VENV)/bin/pip install --disable-pip-version-check -q -r bot/requirements.txt
	@touch $@

run: setup
	$(VENV)/bin/complaint-gateway up

# The tests run in PYTEST_WORKERS processes, a file to a process (pytest-xdist); the agent API's schema test
# then runs in one of its own, where schemathesis generates and reports every operation. PYTEST_ARGS go to both.
PYTEST_WORKERS ?= 2
SCHEMA_TEST := tests/gateway/test_api_schema.py
test: setup
	$(VENV)/bin/complaint-gateway train
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --ignore=$(SCHEMA_TEST) $(PYTEST_ARGS)
	$(VENV)/bin/python -m pytest $(SCHEMA_TEST) $(PYTEST_ARGS)

# Every benchmark module in bench/ (helpers start with "_"), each printed as it runs; then the summary of their
# "NAME: ratio X (goal Y)" lines. A module that fails does not stop the others; make fails at the end.
bench: setup
	$(VENV)/bin/complaint-gateway train
	@mkdir -p var/bench; : > var/bench/summary.txt; failed=""; \
	for file in bench/[!_]*.py; do \
		module=$$(echo $$file | sed 's|/|.|; s|\.py$$||'); echo "==> $$module"; \
		{ $(VENV)/bin/python -u -m $$module; echo $$? > var/bench/status; } 2>&1 | tee var/bench/$$module.txt; \
		if [ "$$(cat var/bench/status)" = 0 ]; then \
			grep -E ': ratio [0-9.]+ \(goal ' var/bench/$$module.txt >> var/bench/summary.txt || true; \
		else failed="$$failed $$module"; echo "$$module: FAILED (exit $$(cat var/bench/status))" >> var/bench/summary.txt; fi; \
	done; \
	echo "==> summary (var/bench/summary.txt)"; cat var/bench/summary.txt; test -z "$$failed"

# ruff covers the bot's code too (as Python 3.10, see pyproject.toml); mypy the gateway's packages, whose
# dependencies are in .venv (the bot's are in bot/.venv).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check channels gateway handoff records store tests bench bot
	$(VENV)/bin/mypy

# The gateway as it ships: the wheel built, installed in a fresh environment, started, every page loaded.
wheel-check:
	PYTHON=$(PYTHON) .ci/wheel-smoke

clean:
	rm -rf var bot/models
