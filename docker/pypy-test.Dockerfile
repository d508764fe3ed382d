# syntax=docker/dockerfile:1
# Tests only (tests/test_pypy.py): the pypy-3.11 runtime image (BASE_IMAGE, built from
# docker/pypy.Dockerfile) plus pytest at the version pinned in
# suite/requirements/constraints.txt and Hypothesis (see below), so the workloads' property tests
# (tests/pypy_agreement.py) run inside PyPy. Not a benchmark runtime: the runtime image
# itself is left as it is.
#
# CONTEXT (made by suite/runtimes/images.py): worker.txt, constraints.txt. Secret `extra_ca`: see
# docker/pypy.Dockerfile.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
USER 0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# The runtime image has no CA bundle (its workers run without a network); pip needs one.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY constraints.txt /tmp/
# Hypothesis for PyPy: the last pure-Python release. From 6.156 on Hypothesis needs its
# compiled `_native` module, and its pp311 wheels do not load in Debian's PyPy 7.3.19
# ("undefined symbol: PyPyModule_FromDefAndSpec2": built for a newer PyPy).
ARG HYPOTHESIS_VERSION=6.155.7
# Every other version comes from constraints.txt (-c), the one place they are pinned.
# hadolint ignore=DL3013
RUN --mount=type=secret,id=extra_ca \
    ca=/etc/ssl/certs/ca-certificates.crt \
 && if [ -s /run/secrets/extra_ca ]; then cat "$ca" /run/secrets/extra_ca > /tmp/ca.pem; ca=/tmp/ca.pem; fi \
 && grep -v '^hypothesis==' /tmp/constraints.txt > /tmp/pins.txt \
 && PIP_CERT="$ca" /opt/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
        --only-binary=:all: pytest "hypothesis==$HYPOTHESIS_VERSION" -c /tmp/pins.txt \
 && rm -f /tmp/constraints.txt /tmp/pins.txt /tmp/ca.pem \
 && find /opt/venv -name __pycache__ -prune -exec rm -rf '{}' + \
 && python3 -c "import sys, pytest, hypothesis; assert sys.implementation.name == 'pypy'; print(pytest.__version__, hypothesis.__version__)"
LABEL bench.optimize="n/a"
USER 10001:10001
WORKDIR /suite
CMD ["python3"]
