# syntax=docker/dockerfile:1
# A small image for testing the container path (tests/test_containers.py), above all
# arm64 under QEMU, where building CPython from source takes too long for a test: Debian's
# own python3 (3.13 on trixie, no JIT) with NumPy and threadpoolctl from Debian. Not a
# benchmark runtime: its NumPy is Debian's, not the pinned one of worker.txt.
ARG BASE_IMAGE=localhost/debian:trixie-slim-amd64
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-numpy python3-threadpoolctl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin bench
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/suite
LABEL bench.optimize="n/a"
USER 10001:10001
WORKDIR /suite
CMD ["python3"]
