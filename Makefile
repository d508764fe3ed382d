# The front door. Every target sets up what it needs (the project's .venv, runtime venvs,
# images); nothing is installed by hand. `make help` lists the targets.
#
#   make bench   [RUNTIMES="cpython-3.12 cpython-3.13"] [PROFILE=smoke|quick|full]
#                [BACKEND=auto|native|container] [ARCH=amd64|arm64] [ENGINE=podman|docker]
#                [WORKLOADS="matmul gelu"] [FLAVORS="pure numpy numba"]
#                [NATIVE="cpython-3.12"]  (BACKEND=container: these on the host, same run)
#   make test    the test suite (pytest + Hypothesis)

PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
PROFILE  ?= quick
BACKEND  ?= auto
RUNTIMES ?=
WORKLOADS ?=
FLAVORS  ?=
ARCH     ?=
ENGINE   ?=
RESULTS  ?= results
REPORT   ?= report
PYTEST_ARGS ?=

DEV_REQS := suite/requirements/dev.txt suite/requirements/worker.txt suite/requirements/numba.txt \
            suite/requirements/torch.txt suite/requirements/jax.txt \
            suite/requirements/constraints.txt


.PHONY: test-containers lint-tools chromium
.PHONY: help bench test validate clean venv report lint base-images images reproduce
.PHONY: reference publish readme-tables

# Debian packages a target needs are installed when missing (as root with apt-get);
# otherwise the target stops with one line naming them.
APT_ENSURE := bash .ci/apt-ensure.sh

help:
	@echo "make bench     run the suite (RUNTIMES, PROFILE=$(PROFILE), BACKEND=$(BACKEND), ARCH, ENGINE,"
	@echo "               WORKLOADS, FLAVORS)"
	@echo "make test      run the tests (all but the container builds); installs the linters"
	@echo "               and, as root, Debian's chromium when missing"
	@echo "make test-containers  build and run the images with Podman, then the container tests"
	@echo "make validate  validate every result document under $(RESULTS)/"
	@echo "make report    render $(REPORT)/index.html and $(REPORT)/report.md from $(RESULTS)/"
	@echo "               (ALLOW_CROSS_RUN=1: also compare cells of different runs, labelled)"
	@echo "make lint      ruff, hadolint, workflow schema and zizmor checks"
	@echo "make base-images  bootstrap the Debian base images locally (no registry needed)"
	@echo "make images    build the runtime images (RUNTIMES, ARCH)"
	@echo "make reproduce FROM=<result file or URL>  rerun a published result and compare:"
	@echo "               exit 0 reproduced (every CI within 1/(1+t)..1+t), 1 differs,"
	@echo "               2 bad input, 3 inconclusive (docs/reproducing.md)"
	@echo "make clean     remove caches, venvs and work files (keeps $(RESULTS)/)"
	@echo "make reference the reference run: every runtime of REFERENCE_RUNTIMES interleaved,"
	@echo "               profile reference (about 90 min on 2 cores)"
	@echo "make publish RESULTS=<run's documents> MACHINE_ID=<id> [RUN=<run id>] [FORCE=1]"
	@echo "               write published/<id>/: documents (gzipped), report, README"
	@echo "make readme-tables  rewrite README.md's claims tables from published/"

$(VENV)/.installed: $(DEV_REQS)
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "make needs Python >= 3.11 (PYTHON=...)")'
	$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  $(APT_ENSURE) "$(PYTHON) -m venv (the project's .venv)" python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check -r suite/requirements/dev.txt
	touch $@

venv: $(VENV)/.installed

# BACKEND=auto: containers when ARCH is given or an engine (docker/podman) is found,
# otherwise the native backend (local interpreters), and it says which.
bench: venv
	@backend="$(BACKEND)"; \
	if [ "$$backend" = auto ]; then \
	  if [ -n "$(ARCH)" ] || [ -n "$(ENGINE)" ] || $(PY) -m suite.runtimes.engine >/dev/null 2>&1; then \
	    backend=container; else backend=native; \
	    echo "make bench: no container engine found: using the native backend (local interpreters)"; fi; \
	fi; \
	$(PY) -m suite run --backend $$backend --profile $(PROFILE) --out $(RESULTS) \
	  $(if $(RUNTIMES),--runtime "$(RUNTIMES)") $(if $(ARCH),--arch $(ARCH)) \
	  $(if $(WORKLOADS),--workload "$(WORKLOADS)") $(if $(FLAVORS),--flavor "$(FLAVORS)") \
	  $(if $(ENGINE),--engine $(ENGINE)) $(if $(NATIVE),--native "$(NATIVE)")

# The tests need the Mojo runtime (pinned toolchain in its venv, extension built): the
# Mojo property tests run for real, never skipped (SUITE_REQUIRE_MOJO=1). The workflow tests
# need the linters (lint-tools) and the report tests headless Chromium (chromium).
MOJO_VENV := .cache/venvs/mojo-1.2
test: venv lint-tools chromium
	$(PY) -m suite.runtimes.native mojo-1.2
	PATH="$(CURDIR)/$(MOJO_VENV)/bin:$$PATH" SUITE_REQUIRE_MOJO=1 \
	  $(PY) -m pytest -m "not containers" $(PYTEST_ARGS)

# The container tests build and run real images with Podman (installed from Debian's
# packages, as root): what .ci/run does after `make test`.
test-containers: venv
	bash .ci/containers.sh

validate: venv
	$(PY) -m suite validate $(RESULTS)

report: venv
	$(PY) -m suite report $(RESULTS) -o $(REPORT) $(if $(ALLOW_CROSS_RUN),--allow-cross-run)

# Linters pinned in suite/requirements/lint.txt, installed into .venv on first use.
$(VENV)/.lint-installed: $(VENV)/.installed suite/requirements/lint.txt
	$(PY) -m pip install -q --disable-pip-version-check -r suite/requirements/lint.txt
	touch $@

lint-tools: $(VENV)/.lint-installed

# Headless Chromium (Debian's package) for the report's browser tests.
chromium: venv
	@$(PY) -m suite.analysis.report.browser --find || { \
	  $(APT_ENSURE) "make test (the report's browser tests)" chromium fonts-dejavu-core && \
	  $(PY) -m suite.analysis.report.browser --find; }

lint: lint-tools
	$(PY) -m ruff check suite tests
	$(if $(wildcard docker/*.Dockerfile),$(VENV)/bin/hadolint $(wildcard docker/*.Dockerfile),@echo "lint: no docker/*.Dockerfile to check")
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --min-severity medium --no-progress .github/workflows
	$(if $(wildcard .ci/* docker/*.sh),$(VENV)/bin/shellcheck $(wildcard .ci/* docker/*.sh),@echo "lint: no shell scripts to check")

# make reproduce FROM=<result document or URL> [ENGINE=podman|docker] [THRESHOLD=pct]
#                [TRUST_IMAGE=<ref>]  (an image from outside the trusted namespaces)
reproduce: venv
	@test -n "$(FROM)" || { echo "usage: make reproduce FROM=<result file or URL> [ENGINE=podman|docker] [THRESHOLD=pct] [TRUST_IMAGE=ref]" >&2; exit 2; }
	$(PY) -m suite reproduce "$(FROM)" $(if $(ENGINE),--engine $(ENGINE)) $(if $(THRESHOLD),--threshold $(THRESHOLD)) \
	  $(foreach t,$(TRUST_IMAGE),--trust-image $(t))

clean:
	rm -rf .cache .pytest_cache .hypothesis .ruff_cache $(REPORT)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf $(VENV)

# Base images without a registry: debootstrap + import, tagged as the Dockerfiles expect
# (localhost/debian:trixie-slim-<arch>). ARCH="amd64 arm64" for both.
base-images:
	ENGINE="$(ENGINE)" sh docker/base-images.sh $(ARCH)

# The runtime images for RUNTIMES (default: all) on ARCH; built only when missing.
# BUILD_MODE=fast: no PGO/LTO (dev, CI). EXTRA_CA=<bundle>, BASE_IMAGE=<ref@digest>.
# PRUNE=1 removes images superseded by a recipe change.
images: venv
	$(PY) -m suite.commands.images $(if $(RUNTIMES),--runtime "$(RUNTIMES)") \
	  $(if $(ARCH),--arch $(ARCH)) $(if $(ENGINE),--engine $(ENGINE)) \
	  $(if $(BUILD_MODE),--mode $(BUILD_MODE)) $(if $(PRUNE),--prune)

# The reference set (published/, docs/reproducing.md): every runtime in one interleaved run
# at the reference profile's sizes and counts (suite/measure/profiles.py). Then
# `make publish RESULTS=$(RESULTS) MACHINE_ID=<id> RUN=<its run id>` and `make readme-tables`.
# cpython-3.12 runs natively (pyenv's build) in the same run: its image needs python.org's
# tarball, which this machine cannot fetch; the others run in their images.
REFERENCE_RUNTIMES ?= cpython-3.12 cpython-3.13 cpython-3.13-jit pypy-3.11 mojo-1.2 \
                      cpython-3.13-frameworks
REFERENCE_NATIVE ?= cpython-3.12
# Every flavor but torch-compile: it compiles for ~7 s in every worker process (about 20 of
# the budget); torch (eager) answers the PyTorch claims, quick and full runs have it.
REFERENCE_FLAVORS ?= pure numpy numba mojo-naive mojo-simd mojo mojo-hybrid mojo-lib max \
                     torch jax
reference:
	$(MAKE) bench PROFILE=reference BACKEND=container RUNTIMES="$(REFERENCE_RUNTIMES)" \
	  NATIVE="$(REFERENCE_NATIVE)" FLAVORS="$(REFERENCE_FLAVORS)"

# make publish RESULTS=<the run's documents or a directory> MACHINE_ID=<id> [RUN=<run id>]
#              [FORCE=1] [COMMAND="make reference"] [PUBLISHED=published]
PUBLISHED ?= published
publish: venv
	@test -n "$(MACHINE_ID)" || { echo "usage: make publish RESULTS=<the run's documents or directory> MACHINE_ID=<id> [RUN=<run id>] [FORCE=1] [COMMAND=\"make reference\"]" >&2; exit 2; }
	$(PY) -m suite publish $(RESULTS) --machine-id "$(MACHINE_ID)" --out "$(PUBLISHED)" \
	  $(if $(RUN),--run "$(RUN)") $(if $(FORCE),--force) $(if $(COMMAND),--command "$(COMMAND)")

# README.md's claims tables, generated from the published reference set (tests/test_publish.py
# fails when they are stale).
readme-tables: venv
	$(PY) -m suite publish --readme-tables --out "$(PUBLISHED)"
