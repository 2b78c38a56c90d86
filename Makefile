# The two commands of the README, and the developer checks. Everything a fresh Debian
# machine with Python 3.11 needs is installed from here (CI runs `make test` on a fresh clone).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
DEV    := $(VENV)/.dev-$(shell sha1sum pyproject.toml | cut -c1-12)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check system-test-deps browser-test-deps nodesets console clean help

help:
	@echo "make demo   - install into .venv and run the whole stack with simulated robots"
	@echo "make test   - install what the tests need (Mosquitto via apt-get) and run the suite"
	@echo "make check  - ruff, mypy and the import contracts (lint-imports)"
	@echo "make console - install the console's pinned npm packages into api/console/vendor/"

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

demo: $(STAMP) console
	$(BIN)/robowatch demo

# The console's third-party front-end code (uPlot), at the versions package-lock.json pins,
# copied into api/console/vendor/ (gitignored; docs/console.md). Rebuilt when the lock changes.
CONSOLE     := api/console
CONSOLE_OUT := $(CONSOLE)/vendor/manifest.json

console: $(CONSOLE_OUT)

$(CONSOLE_OUT): $(CONSOLE)/package.json $(CONSOLE)/package-lock.json $(CONSOLE)/build.mjs
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "installing node and npm with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; \
	fi
	npm ci --prefix $(CONSOLE) --no-audit --no-fund --loglevel=error
	npm run --prefix $(CONSOLE) --silent build

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

# The browser tests (tests/browser) drive Debian's Chromium with Playwright; CJK fonts so the
# Chinese pages render (and their screenshots show) real glyphs.
browser-test-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
		echo "installing chromium and fonts-noto-cjk with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			chromium fonts-noto-cjk; \
	fi

test: $(STAMP) system-test-deps browser-test-deps nodesets console
	$(BIN)/python -m pytest

check: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/mypy collectors detection ticketing maintenance parts api simulators storage robowatch benchmarks reports tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache \
		$(CONSOLE)/node_modules $(CONSOLE)/vendor
