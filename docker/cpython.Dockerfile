# syntax=docker/dockerfile:1
# One recipe for every CPython runtime (docker/runtimes.toml: kind = "cpython").
# CPython is built from the pristine upstream tarball, checked against PYTHON_SHA256.
# The JIT flag and the LLVM it needs are the only difference between a JIT and a non-JIT
# image of one version. Built by `make images` (suite/images.py), which puts the verified
# tarball and the worker requirements in the build context; by hand:
#
#   podman build --network host -f docker/cpython.Dockerfile \
#     --build-arg BASE_IMAGE=localhost/debian:trixie-slim-amd64 \
#     --build-arg PYTHON_VERSION=3.13.5 --build-arg PYTHON_SHA256=93e583f2... \
#     --build-arg JIT=yes-off --build-arg LLVM_VERSION=18 --build-arg OPTIMIZE=yes \
#     --secret id=extra_ca,src=/etc/ssl/certs/ca-certificates.crt  CONTEXT
#
# CONTEXT holds Python-$PYTHON_VERSION.tar.xz, worker.txt and constraints.txt (pins of
# every transitive package). The secret `extra_ca` (an
# extra CA bundle for TLS-intercepting proxies) is optional and never stored in a layer.
#
# BASE_IMAGE: for registry builds pin it by tag and digest, e.g.
#   docker.io/library/debian:trixie-slim@sha256:<digest>
# Without a registry `make base-images` bootstraps localhost/debian:trixie-slim-<arch>.

ARG BASE_IMAGE=localhost/debian:trixie-slim-amd64

FROM ${BASE_IMAGE} AS build
ARG PYTHON_VERSION
ARG PYTHON_SHA256
# no | yes-off (built, off unless PYTHON_JIT=1) | yes | interpreter
ARG JIT=no
# LLVM major the JIT needs (3.13 -> 18, 3.14 -> 19); empty without the JIT
ARG LLVM_VERSION=
# yes: --enable-optimizations --with-lto (PGO + LTO, like the official images); no: fast
ARG OPTIMIZE=yes
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# Packages come from the base image's Debian suite (pinned by the base image itself).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential ca-certificates pkg-config xz-utils python3 \
        libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev \
        libreadline-dev uuid-dev libncurses-dev libgdbm-dev \
        ${LLVM_VERSION:+clang-$LLVM_VERSION llvm-$LLVM_VERSION lld-$LLVM_VERSION} \
 && rm -rf /var/lib/apt/lists/*

COPY Python-${PYTHON_VERSION}.tar.xz /tmp/python.tar.xz
WORKDIR /usr/src/python
RUN got="$(sha256sum /tmp/python.tar.xz | cut -d' ' -f1)" \
 && if [ "$got" != "$PYTHON_SHA256" ]; then \
        echo "Python-${PYTHON_VERSION}.tar.xz: SHA-256 mismatch: expected $PYTHON_SHA256, got $got" >&2; \
        exit 1; fi \
 && tar -xJf /tmp/python.tar.xz --strip-components=1 \
 && rm /tmp/python.tar.xz

# As the official images: shared libpython with an rpath, frame pointers kept, stripped.
# ($opt is split on purpose.)
# hadolint ignore=SC2086
RUN if [ -n "$LLVM_VERSION" ]; then export PATH="/usr/lib/llvm-$LLVM_VERSION/bin:$PATH"; fi \
 && opt=""; if [ "$OPTIMIZE" = yes ]; then opt="--enable-optimizations --with-lto"; fi \
 && ./configure --prefix=/opt/python --enable-shared --with-ensurepip \
        --enable-loadable-sqlite-extensions --enable-option-checking=fatal \
        --build="$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)" \
        --enable-experimental-jit="$JIT" $opt \
        PYTHON_FOR_REGEN=/usr/bin/python3 \
        LDFLAGS="-Wl,-rpath='\$\$ORIGIN/../lib'" \
        CFLAGS="-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer" \
 && make -j"$(nproc)" \
 && make install \
 && find /opt/python -depth \( -type d -a \( -name test -o -name tests -o -name idle_test \) \) \
        -exec rm -rf '{}' + \
 && find /opt/python -type f -name '*.so*' -exec strip --strip-unneeded '{}' + \
 && strip /opt/python/bin/python3 \
 && ln -s python3 /opt/python/bin/python

COPY worker.txt numba.txt constraints.txt /tmp/
RUN --mount=type=secret,id=extra_ca \
    ca=/etc/ssl/certs/ca-certificates.crt \
 && if [ -s /run/secrets/extra_ca ]; then cat "$ca" /run/secrets/extra_ca > /tmp/ca.pem; ca=/tmp/ca.pem; fi \
 && PIP_CERT="$ca" /opt/python/bin/python3 -m pip install --no-cache-dir \
        --disable-pip-version-check --root-user-action=ignore -r /tmp/worker.txt -r /tmp/numba.txt -c /tmp/constraints.txt \
 && find /opt/python -name __pycache__ -prune -exec rm -rf '{}' +

FROM ${BASE_IMAGE}
ARG PYTHON_VERSION
ARG JIT=no
ARG OPTIMIZE=yes
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libssl3t64 zlib1g libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libreadline8t64 \
        libuuid1 libncursesw6 libgdbm6t64 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin bench
COPY --from=build /opt/python /opt/python
ENV PATH=/opt/python/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/suite
LABEL org.opencontainers.image.title="runtime-bench CPython ${PYTHON_VERSION}" \
      bench.python-version="${PYTHON_VERSION}" bench.jit="${JIT}" bench.optimize="${OPTIMIZE}"
RUN python3 -c "import numpy, threadpoolctl, numba, ssl, sqlite3, ctypes, lzma, bz2, zlib"
USER 10001:10001
WORKDIR /suite
CMD ["python3"]
