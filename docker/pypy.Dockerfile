# syntax=docker/dockerfile:1
# The PyPy runtime (docker/runtimes.toml: kind = "pypy"): Debian's own pypy3 package
# (trixie: PyPy 7.3.19, the Python 3.11 language, JIT built in and on), pinned to the exact
# package version PYPY_PACKAGE from runtimes.toml (`pypy_package`), and a virtualenv made
# with it at /opt/venv holding the pinned worker requirements (NumPy's pp311 manylinux
# wheels, threadpoolctl). In the venv `python`, `python3` and `pypy3` are all PyPy: the
# container backend starts the worker as `python3 -m suite.measure.worker`.
#
# CONTEXT (made by suite/runtimes/images.py): worker.txt and constraints.txt. The optional secret
# `extra_ca` is an extra CA bundle for TLS-intercepting proxies (never stored in a layer).
# BASE_IMAGE: see docker/cpython.Dockerfile. By hand:
#
#   podman build --network host -f docker/pypy.Dockerfile \
#     --build-arg BASE_IMAGE=localhost/debian:trixie-slim-amd64 \
#     --build-arg PYPY_PACKAGE=7.3.19+dfsg-2 CONTEXT

ARG BASE_IMAGE=localhost/debian:trixie-slim-amd64

FROM ${BASE_IMAGE} AS build
# The exact Debian version of pypy3 (runtimes.toml: pypy_package); no default on purpose.
ARG PYPY_PACKAGE
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# pypy3* pinned exactly; ca-certificates comes from the base image's suite.
# hadolint ignore=DL3008
RUN test -n "$PYPY_PACKAGE" || { echo "PYPY_PACKAGE (the pypy3 package version) is not set" >&2; exit 1; } \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
        pypy3="$PYPY_PACKAGE" pypy3-lib="$PYPY_PACKAGE" pypy3-venv="$PYPY_PACKAGE" \
        ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY worker.txt constraints.txt /tmp/
RUN --mount=type=secret,id=extra_ca \
    ca=/etc/ssl/certs/ca-certificates.crt \
 && if [ -s /run/secrets/extra_ca ]; then cat "$ca" /run/secrets/extra_ca > /tmp/ca.pem; ca=/tmp/ca.pem; fi \
 && pypy3 -m venv /opt/venv \
 && PIP_CERT="$ca" /opt/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
        --only-binary=numpy -r /tmp/worker.txt -c /tmp/constraints.txt \
 && find /opt/venv -name __pycache__ -prune -exec rm -rf '{}' +

FROM ${BASE_IMAGE}
ARG PYPY_PACKAGE
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends pypy3="$PYPY_PACKAGE" pypy3-lib="$PYPY_PACKAGE" \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin bench
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/suite
LABEL org.opencontainers.image.title="runtime-bench PyPy ${PYPY_PACKAGE}" \
      bench.pypy-package="${PYPY_PACKAGE}" bench.optimize="n/a"
# `python3` (what the worker is started with) must be the venv's PyPy with its JIT.
RUN python3 -c "import sys, numpy, threadpoolctl, pypyjit; assert sys.implementation.name == 'pypy', sys.version; assert sys.prefix == '/opt/venv', sys.prefix; print(sys.version.replace(chr(10), ' '), 'numpy', numpy.__version__)"
USER 10001:10001
WORKDIR /suite
CMD ["python3"]
