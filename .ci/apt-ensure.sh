#!/usr/bin/env bash
# Install Debian packages a make target needs: as root with apt-get, `apt-get update` then
# `apt-get install`; otherwise stop at once with one line naming what to install.
#   bash .ci/apt-ensure.sh "WHAT NEEDS THEM" PACKAGE...
set -euo pipefail
what=$1
shift
if [ "$EUID" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "make: $what needs Debian's $*: install it (as root: apt-get install $*) and rerun" >&2
    exit 1
fi
echo "make: $what: installing Debian's $* (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
echo "make: installed $*"
