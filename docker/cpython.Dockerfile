# syntax=docker/dockerfile:1
# One recipe for every CPython runtime (docker/runtimes.toml: kind = "cpython").
# CPython is built from the pristine upstream tarball, checked against PYTHON_SHA256.
# The JIT flag and the LLVM it needs are the only difference between a JIT and a non-JIT
# image of one version. Built by `make images` (suite/runtimes/images.py), which puts the verified
# tarball and the worker requirements in the build context; by hand:
#
#   podman build --network host -f docker/cpython.Dockerfile \
#     --build-arg BASE_IMAGE=localhost/debian:trixie-slim-amd64 \
#     --build-arg PYTHON_VERSION=3.13.5 --build-arg PYTHON_SHA256=93e583f2... \
#     --build-arg JIT=yes-off --build-arg LLVM_VERSION=18 --build-arg OPTIMIZE=yes \
#     --secret id=extra_ca,src=/etc/ssl/certs/ca-certificates.crt  CONTEXT
#
# CONTEXT holds Python-$PYTHON_VERSION.tar.xz, the runtime's requirement files (worker.txt,
# numba.txt, ...) and constraints.txt (pins of every transitive package). The secret
# `extra_ca` (an extra CA bundle for TLS-intercepting proxies) is optional and never stored
# in a layer.
#
# BASE_IMAGE: for registry builds pin it by tag and digest, e.g.
#   docker.io/library/debian:trixie-slim@sha256:<digest>
# Without a registry `make base-images` bootstraps localhost/debian:trixie-slim-<arch>.
#
# Another architecture (arm64 images on an amd64 host): CPython is cross-compiled, not
# compiled under QEMU (hours on 2 cores). The build stage then runs on the host's
# architecture (BUILD_BASE_IMAGE) with Debian's cross gcc and the target's -dev packages
# (multiarch); clang builds the JIT stencils for the target triple; the same release is
# first built for the host as the `--with-build-python` that a cross build needs; the
# worker's wheels are installed for the target's platform tags. Same source, same configure
# flags, same compiler version. TARGET_GNU_TYPE/TARGET_DEB_ARCH/WHEEL_PLATFORM name the
# target; empty for a native build. PGO (OPTIMIZE=yes) would run the training under QEMU,
# so emulated targets build in fast mode unless BUILD_MODE says otherwise.

ARG BASE_IMAGE=localhost/debian:trixie-slim-amd64
ARG BUILD_BASE_IMAGE=${BASE_IMAGE}

FROM --platform=$BUILDPLATFORM ${BUILD_BASE_IMAGE} AS build
ARG PYTHON_VERSION
ARG PYTHON_SHA256
# no | yes-off (built, off unless PYTHON_JIT=1) | yes | interpreter
ARG JIT=no
# LLVM major the JIT needs (3.13 -> 18, 3.14 -> 19, 3.15 -> 21); empty without the JIT.
# From the base image's suite, else from its backports (trixie has clang-21 only there):
# only the LLVM packages come from backports, everything else stays on the base suite.
ARG LLVM_VERSION=
# yes: --enable-optimizations --with-lto (PGO + LTO, like the official images); no: fast
ARG OPTIMIZE=yes
# Cross builds only (see above), e.g. aarch64-linux-gnu, arm64, manylinux_2_28_aarch64
ARG TARGET_GNU_TYPE=
ARG TARGET_DEB_ARCH=
ARG WHEEL_PLATFORM=
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# Packages come from the base image's Debian suite (pinned by the base image itself); an
# LLVM that suite lacks comes from <codename>-backports (installed by name, without -t, so
# nothing else is taken from backports). ($dev and $llvm are split on purpose.)
# hadolint ignore=DL3008,SC2086,SC1091
RUN dev="libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev \
         libreadline-dev uuid-dev libncurses-dev libgdbm-dev" \
 && cross="" \
 && if [ -n "$TARGET_DEB_ARCH" ]; then \
        dpkg --add-architecture "$TARGET_DEB_ARCH"; \
        cross="crossbuild-essential-$TARGET_DEB_ARCH libc6-dev:$TARGET_DEB_ARCH $dev"; \
        dev="$(printf '%s:'"$TARGET_DEB_ARCH"' ' $dev)"; fi \
 && llvm="${LLVM_VERSION:+clang-$LLVM_VERSION llvm-$LLVM_VERSION lld-$LLVM_VERSION}" \
 && apt-get update \
 && if [ -n "$llvm" ] && ! apt-cache show "clang-$LLVM_VERSION" >/dev/null 2>&1; then \
        . /etc/os-release \
        && mirror="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources \
                     /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 \
                     | awk '{print $2}' || true)" \
        && keyring="$(ls /usr/share/keyrings/debian-archive-keyring.gpg \
                      /usr/share/keyrings/debian-archive-keyring.pgp 2>/dev/null | head -n1 || true)" \
        && echo "deb ${keyring:+[signed-by=$keyring] }${mirror:-http://deb.debian.org/debian}" \
                "$VERSION_CODENAME-backports main" > /etc/apt/sources.list.d/llvm-backports.list \
        && apt-get update \
        && apt-cache show "clang-$LLVM_VERSION" >/dev/null 2>&1 \
        || { echo "clang-$LLVM_VERSION is in neither $VERSION_CODENAME nor" \
                  "$VERSION_CODENAME-backports: the JIT of Python $PYTHON_VERSION needs LLVM" \
                  "$LLVM_VERSION (Tools/jit/README.md)" >&2; exit 1; }; fi \
 && apt-get install -y --no-install-recommends \
        build-essential ca-certificates pkg-config xz-utils python3 $dev $cross $llvm \
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
# ($opt and $cross are split on purpose; the host build needs its own build directory.)
# hadolint ignore=SC2086,DL3003
RUN if [ -n "$LLVM_VERSION" ]; then export PATH="/usr/lib/llvm-$LLVM_VERSION/bin:$PATH"; fi \
 && opt=""; if [ "$OPTIMIZE" = yes ]; then opt="--enable-optimizations --with-lto"; fi \
 && cross=""; strip=strip \
 && if [ -n "$TARGET_GNU_TYPE" ]; then \
        mkdir /tmp/build-python && cd /tmp/build-python \
        && /usr/src/python/configure --prefix=/opt/build-python --without-ensurepip >/dev/null \
        && make -j"$(nproc)" >/dev/null && make install >/dev/null && cd /usr/src/python \
        && rm -rf /tmp/build-python \
        && cross="--host=$TARGET_GNU_TYPE --with-build-python=/opt/build-python/bin/python3 \
                  ac_cv_file__dev_ptmx=yes ac_cv_file__dev_ptc=no ac_cv_buggy_getaddrinfo=no" \
        && strip="$TARGET_GNU_TYPE-strip"; fi \
 && ./configure --prefix=/opt/python --enable-shared --with-ensurepip \
        --enable-loadable-sqlite-extensions --enable-option-checking=fatal \
        --build="$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)" $cross \
        --enable-experimental-jit="$JIT" $opt \
        PYTHON_FOR_REGEN=/usr/bin/python3 \
        LDFLAGS="-Wl,-rpath='\$\$ORIGIN/../lib'" \
        CFLAGS="-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer" \
 && make -j"$(nproc)" \
 && make install \
 && find /opt/python -depth \( -type d -a \( -name test -o -name tests -o -name idle_test \) \) \
        -exec rm -rf '{}' + \
 && find /opt/python -type f -name '*.so*' -exec "$strip" --strip-unneeded '{}' + \
 && "$strip" /opt/python/bin/python3 \
 && ln -s python3 /opt/python/bin/python

# Native: pip of the new interpreter. Cross: the build Python (same release) installs the
# wheels for the target's platform tags into the target's site-packages (binary wheels only).
# The context holds the runtime's requirement files (suite/runtimes: requirement_files():
# worker.txt plus one per flavor family it runs, e.g. numba.txt, torch.txt, jax.txt) and
# constraints.txt; every one but the constraints is installed. ($reqs is split on purpose.)
COPY *.txt /tmp/reqs/
# hadolint ignore=SC2086
RUN --mount=type=secret,id=extra_ca \
    ca=/etc/ssl/certs/ca-certificates.crt \
 && if [ -s /run/secrets/extra_ca ]; then cat "$ca" /run/secrets/extra_ca > /tmp/ca.pem; ca=/tmp/ca.pem; fi \
 && reqs="-c /tmp/reqs/constraints.txt" \
 && for f in /tmp/reqs/*.txt; do [ "$f" = /tmp/reqs/constraints.txt ] || reqs="$reqs -r $f"; done \
 && if [ -z "$TARGET_GNU_TYPE" ]; then \
        PIP_CERT="$ca" /opt/python/bin/python3 -m pip install --no-cache-dir \
            --disable-pip-version-check --root-user-action=ignore $reqs; \
    else \
        site="$(echo /opt/python/lib/python3.*/site-packages)" \
        && PIP_CERT="$ca" /opt/build-python/bin/python3 -m pip install --no-cache-dir \
            --disable-pip-version-check --root-user-action=ignore --no-compile \
            --only-binary=:all: --platform "$WHEEL_PLATFORM" \
            --python-version "${PYTHON_VERSION%.*}" --implementation cp \
            --target "$site" $reqs \
        && rm -rf "${site:?}/bin"; fi \
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
# torch.compile (Inductor) builds C++ kernels at run time: an image with torch gets g++.
# hadolint ignore=DL3008
RUN if ls -d /opt/python/lib/python3*/site-packages/torch >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends g++ \
        && rm -rf /var/lib/apt/lists/*; fi
ENV PATH=/opt/python/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/suite
LABEL org.opencontainers.image.title="runtime-bench CPython ${PYTHON_VERSION}" \
      bench.python-version="${PYTHON_VERSION}" bench.jit="${JIT}" bench.optimize="${OPTIMIZE}"
# the stdlib modules a source build can silently lack, the worker's packages, and every
# flavor family this runtime installed (numba, torch, jax: whichever its requirement files had)
RUN python3 -c "import numpy, threadpoolctl, ssl, sqlite3, ctypes, lzma, bz2, zlib" \
 && python3 -c "import importlib, importlib.util as u; [importlib.import_module(m) for m in ('numba', 'torch', 'jax') if u.find_spec(m)]"
USER 10001:10001
WORKDIR /suite
CMD ["python3"]
