# syntax=docker/dockerfile:1
# The Mojo runtime (docker/runtimes.toml: kind = "mojo"): the pinned mojo + max wheels
# (suite/requirements/mojo.txt, manylinux_2_34: needs glibc >= 2.34; trixie has 2.41) in a
# virtualenv on Debian's python3, and the suite's Mojo extension built in the image into
# /opt/mojo-ext (the worker's `mojo_cache`). The .so carries a RUNPATH into the venv, so
# the venv keeps its path (/opt/venv) in the final stage.
#
# CONTEXT (made by suite/images.py): worker.txt, mojo.txt, constraints.txt, suite/{__init__,mojo_kernels}.py
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
RUN PATH=/opt/venv/bin:$PATH MODULAR_CRASH_REPORTING_ENABLED=false HOME=/tmp \
    python3 -c "from pathlib import Path; from suite import mojo_kernels as m; print(m.build(Path('/opt/mojo-ext')))" \
 && rm -f /opt/mojo-ext/*.tmp* \
 && touch /opt/mojo-ext/suite_kernels.lock && chmod 666 /opt/mojo-ext/suite_kernels.lock

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin bench
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/mojo-ext /opt/mojo-ext
# The exact sources the extension was built from (mojo_kernels checks them against the
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
