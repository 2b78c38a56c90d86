# The two commands of the README, and the developer checks. Everything a fresh Debian
# machine with Python 3.11 needs is installed from here (CI runs `make test` on a fresh clone).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
DEV    := $(VENV)/.dev-$(shell sha1sum pyproject.toml | cut -c1-12)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check system-test-deps nodesets clean help

help:
	@echo "make demo   - install into .venv and run the whole stack with simulated robots"
	@echo "make test   - install what the tests need (Mosquitto via apt-get) and run the suite"
	@echo "make check  - ruff, mypy and the import contracts (lint-imports)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	rm -f $(VENV)/.installed-*
	touch $@

# The checkers at the versions pyproject's dev extra names.
$(DEV): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.dev-*
	touch $@

demo: $(STAMP)
	$(BIN)/robowatch demo

# Mosquitto is the broker the integration tests and benchmarks run against.
system-test-deps:
	@if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then \
		echo "installing mosquitto with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends mosquitto; \
	fi

# The OPC 40010 Robotics information model the Robotics simulator serves (MIT, from the pinned
# npm package node-opcua-nodesets, integrity-checked; simulators/nodesets.py).
NODESETS := build/nodesets
nodesets: $(STAMP)
	$(BIN)/python -m simulators.nodesets $(NODESETS)

test: $(STAMP) system-test-deps nodesets
	$(BIN)/python -m pytest

check: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/mypy collectors detection ticketing maintenance parts api simulators storage robowatch benchmarks tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
