# gas-hmi — two commands on a fresh Debian 12 machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PACKAGE_STAMP := $(VENV)/.installed-package
DEB_TEST_PKGS := mosquitto mbpoll socat xvfb xauth fonts-noto-cjk poppler-utils libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0
DEB_RUN_PKGS := fonts-noto-cjk libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0
STATION ?= station_configs/demo_city_gate
SCENARIO ?= normal

.PHONY: demo demo-fleet test venv deps-test debs-test debs-run lint bench package bundle-check clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(PACKAGE_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[package]'
	touch $@

venv: $(STAMP)

debs-test:
	@bash tools/ensure_debs.sh $(DEB_TEST_PKGS)

debs-run:
	@bash tools/ensure_debs.sh $(DEB_RUN_PKGS)

demo: $(STAMP) debs-run
	$(BIN)/gas-hmi demo --station $(STATION) --scenario $(SCENARIO)

demo-fleet: $(STAMP) debs-test
	$(BIN)/gas-hmi demo-fleet

test: $(TEST_STAMP) debs-test
	$(BIN)/python -m pytest -q tests

# ruff (lint + format) on everything; mypy per [tool.mypy] in pyproject.toml (strict on
# hmi/core, hmi/config, drivers; checked, not strict, on hmi/ui, hmi/cli and the rest)
lint: $(TEST_STAMP)
	$(BIN)/ruff check hmi drivers tests bench packaging
	$(BIN)/ruff format --check hmi drivers tests bench packaging
	$(BIN)/mypy

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

# the bundle of one station (PyInstaller one-folder + Linux tarball) in dist/; docs/INSTALL.md
package: $(PACKAGE_STAMP) debs-run
	$(BIN)/python packaging/build.py $(STATION)

# CI: build the demo station's bundle, then run it (self-test, simulator, HMI offscreen, install.sh)
bundle-check: $(TEST_STAMP) $(PACKAGE_STAMP) debs-test
	$(BIN)/python packaging/build.py station_configs/demo_city_gate
	GAS_HMI_BUNDLE_REQUIRED=1 $(BIN)/python -m pytest -q tests/integration/test_bundle.py

clean:
	rm -rf $(VENV) build dist *.egg-info
