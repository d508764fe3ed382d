#!/bin/sh
# Bootstrap the Debian base image(s) locally, for machines that cannot pull from a
# container registry. debootstrap builds the same Debian suite the registry image is made
# from, and the engine imports it under the name the Dockerfiles' FROM expects:
#
#     localhost/debian:trixie-slim-amd64   localhost/debian:trixie-slim-arm64
#
# Usage: docker/base-images.sh [ARCH...]        (default: this machine's architecture)
# Environment:
#   ENGINE   podman | docker (default: podman if present, else docker)
#   MIRROR   Debian mirror (default: the first http(s) URI in /etc/apt/sources.list.d/,
#            else http://deb.debian.org/debian)
#   SUITE    Debian suite (default: trixie)
#   FORCE=1  rebuild even if the image exists
# arm64 on an amd64 host needs qemu-user-static + binfmt-support (debootstrap runs the
# second stage under QEMU).
set -eu

SUITE=${SUITE:-trixie}
ENGINE=${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}
if [ -z "${MIRROR:-}" ]; then
    MIRROR=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources \
        /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 | awk '{print $2}') || true
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
host_arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
case "$host_arch" in x86_64) host_arch=amd64 ;; aarch64) host_arch=arm64 ;; esac
[ "$#" -gt 0 ] || set -- "$host_arch"

command -v debootstrap >/dev/null 2>&1 || {
    echo "base-images: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

for arch in "$@"; do
    case "$arch" in
        amd64 | arm64) ;;
        *) echo "base-images: unknown ARCH '$arch' (amd64 or arm64)" >&2; exit 2 ;;
    esac
    tag="localhost/debian:${SUITE}-slim-${arch}"
    if [ -z "${FORCE:-}" ] && "$ENGINE" image inspect "$tag" >/dev/null 2>&1; then
        echo "base-images: $tag exists (FORCE=1 rebuilds)"
        continue
    fi
    if [ "$arch" != "$host_arch" ]; then
        if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
            mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
        fi
        command -v update-binfmts >/dev/null 2>&1 && update-binfmts --enable qemu-aarch64 2>/dev/null || true
        [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || {
            echo "base-images: $arch on a $host_arch host needs QEMU binfmt (apt-get install qemu-user-static binfmt-support)" >&2
            exit 1; }
    fi
    root=$(mktemp -d "${TMPDIR:-/tmp}/rootfs-${SUITE}-${arch}.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    echo "base-images: debootstrap --arch=$arch --variant=minbase $SUITE from $MIRROR"
    start=$(date +%s)
    debootstrap --arch="$arch" --variant=minbase "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 || {
        tail -n 20 "$root.log" >&2; echo "base-images: debootstrap failed (log: $root.log)" >&2; exit 1; }
    # Slim it the way debian:*-slim is: no apt lists, no docs/man pages.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
        "$root"/usr/share/man/* "$root"/usr/share/info/*
    if [ "$(basename "$ENGINE")" = docker ]; then archflag="--platform=linux/$arch"; else archflag="--arch=$arch"; fi
    tar -C "$root" -c . | "$ENGINE" import "$archflag" \
        --change "CMD [\"bash\"]" --message "debootstrap $SUITE $arch from $MIRROR" - "$tag"
    rm -rf "$root" "$root.log"
    trap - EXIT
    echo "base-images: $tag ready in $(( $(date +%s) - start )) s"
done
