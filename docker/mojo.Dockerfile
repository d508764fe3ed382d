# syntax=docker/dockerfile:1
# The Mojo runtime (docker/runtimes.toml: kind = "mojo"): the pinned mojo + max wheels
# (suite/requirements/mojo.txt, manylinux_2_34: needs glibc >= 2.34; trixie has 2.41) in a
# virtualenv on Debian's python3, and the suite's Mojo extensions built in the image into
# /opt/mojo-ext (the worker's `mojo_cache`): suite_kernels (our kernels) and lib_kernels
# (Modular's linalg/nn kernels, the mojo-lib flavor), plus the max flavor's MAX graphs,
# compiled once and exported to /opt/mojo-ext/max (read back by every worker; compiled for
# the build machine's CPU, so another kind of CPU compiles them again at run time). The
# .so files carry a RUNPATH into the venv, so the venv keeps its path (/opt/venv) in the
# final stage.
#
# CONTEXT (made by suite/runtimes/images.py): worker.txt, mojo.txt, constraints.txt, suite/__init__.py,
# suite/flavors/{__init__,mojo,mojo_lib,max}.py, suite/workloads/
# and mojo/ (the sources the extension is built from, kept in the image at /suite/mojo).
# The optional secret `extra_ca` is an extra CA bundle for TLS-intercepting proxies.
# BASE_IMAGE: see docker/cpython.Dockerfile.

ARG BASE_IMAGE=localhost/debian:trixie-slim-amd64

FROM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        python3 python3-venv ca-certificates gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY worker.txt mojo.txt constraints.txt /tmp/
RUN --mount=type=secret,id=extra_ca \
    ca=/etc/ssl/certs/ca-certificates.crt \
 && if [ -s /run/secrets/extra_ca ]; then cat "$ca" /run/secrets/extra_ca > /tmp/ca.pem; ca=/tmp/ca.pem; fi \
 && python3 -m venv /opt/venv \
 && PIP_CERT="$ca" /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        -r /tmp/worker.txt -r /tmp/mojo.txt -c /tmp/constraints.txt \
 && find /opt/venv -name __pycache__ -prune -exec rm -rf '{}' +
COPY suite /suite/suite
COPY mojo /suite/mojo
WORKDIR /suite
# (exported: every command of this RUN needs the venv's python3, not only the first)
RUN export PATH="/opt/venv/bin:$PATH" MODULAR_CRASH_REPORTING_ENABLED=false HOME=/tmp \
 && python3 -c "from pathlib import Path; from suite.flavors import mojo as m; print(m.build(Path('/opt/mojo-ext'))); print(m.build(Path('/opt/mojo-ext'), module='lib_kernels'))" \
 && python3 -m suite.flavors.max /opt/mojo-ext \
 && rm -rf /opt/mojo-ext/*.tmp* /opt/mojo-ext/max/engine \
 && touch /opt/mojo-ext/suite_kernels.lock /opt/mojo-ext/lib_kernels.lock \
 && chmod 666 /opt/mojo-ext/*.lock /opt/mojo-ext/max/*.lock

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin bench
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/mojo-ext /opt/mojo-ext
# The exact sources the extension was built from (suite/flavors/mojo.py checks them against the
# build's stamp); only suite/ is mounted at run time, so the two always agree.
COPY --from=build /suite/mojo /suite/mojo
ENV PATH=/opt/venv/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/suite \
    MODULAR_CRASH_REPORTING_ENABLED=false
LABEL org.opencontainers.image.title="runtime-bench Mojo" bench.optimize="n/a"
RUN python3 -c "import numpy, threadpoolctl" && mojo --version
USER 10001:10001
WORKDIR /suite
CMD ["python3"]
