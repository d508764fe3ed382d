#!/usr/bin/env bash
# The container part of CI (called by .ci/run once the project's .venv exists):
#   1. Podman (with runc), debootstrap, QEMU from Debian's packages; containers.conf as
#      these machines need it (crun fails here: cgroups in hybrid mode);
#   2. the Debian trixie base images via debootstrap (amd64, and arm64 for the QEMU test);
#   3. builds cpython-3.13, cpython-3.13-jit, mojo-1.2 and pypy-3.11 in fast mode (no
#      PGO/LTO; PyPy is Debian's package either way) and runs them on the smoke profile in
#      one interleaved run, with cpython-3.12 on the host's interpreter (--native) beside them;
#   4. asserts: every document validates, the implementation (CPython, PyPy) and the JIT
#      state are measured as expected (enabled in the JIT image and in PyPy, disabled in
#      the plain one), warm-ups are recorded, the image digest and the build mode are
#      recorded;
#   5. the container tests (tests/test_containers.py: arm64 under QEMU, bad input;
#      tests/test_pypy.py: the PyPy image, and every workload's pure/numpy flavors against
#      the reference with Hypothesis inside PyPy).
# Caching: images are tagged by a content key and only built when missing; the CPython
# tarball is kept in .cache/sources/. With CONTAINERS_CACHE=<dir>, built images are also
# saved there (podman save) and loaded on the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive BUILD_MODE=fast ENGINE=podman
start=$(date +%s)
step() { printf '\n=== containers: %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }
PY=.venv/bin/python
RUNTIMES="cpython-3.13 cpython-3.13-jit mojo-1.2 pypy-3.11"
OUT=.cache/ci/results
CACHE=${CONTAINERS_CACHE:-}

if [ "$EUID" -ne 0 ]; then
    echo "make test-containers: runs Podman as root (as CI does) and configures /etc/containers: run it as root" >&2
    exit 1
fi
step "packages: podman runc debootstrap qemu-user-static binfmt-support uidmap (when missing)"
need=()
for tool_pkg in podman:podman runc:runc debootstrap:debootstrap qemu-aarch64-static:qemu-user-static \
        update-binfmts:binfmt-support newuidmap:uidmap update-ca-certificates:ca-certificates; do
    command -v "${tool_pkg%%:*}" >/dev/null || need+=("${tool_pkg#*:}")
done
[ ${#need[@]} -eq 0 ] || bash .ci/apt-ensure.sh "make test-containers" "${need[@]}"
mkdir -p /etc/containers
if ! grep -qs 'runtime = "runc"' /etc/containers/containers.conf; then
    printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' \
        > /etc/containers/containers.conf
fi
if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
fi
update-binfmts --enable qemu-aarch64 2>/dev/null || true
$PY -m suite.runtimes.engine

if [ -n "$CACHE" ] && compgen -G "$CACHE/*.tar" >/dev/null; then
    step "loading cached images from $CACHE"
    for t in "$CACHE"/*.tar; do podman load -q -i "$t" || true; done
fi

step "base images (debootstrap trixie amd64 + arm64)"
make base-images ARCH="amd64 arm64"

step "images (fast mode): $RUNTIMES"
make images RUNTIMES="$RUNTIMES" BUILD_MODE=fast

step "smoke run, interleaved: $RUNTIMES, and cpython-3.12 natively in the same run (--native)"
rm -rf "$OUT"
status=0
$PY -m suite run --backend container --engine podman --profile smoke \
    --runtime "$RUNTIMES cpython-3.12" --native cpython-3.12 --out "$OUT" || status=$?
# 1 = some cells failed (recorded in the documents, checked below); worse is fatal.
[ "$status" -le 1 ] || { echo "containers: the smoke run failed ($status)" >&2; exit 1; }

step "checks: documents, implementation, JIT state, warm-ups, digests, build mode"
$PY - "$OUT" <<'EOF'
import json, subprocess, sys
from pathlib import Path
from suite import documents
docs = {}
for p in sorted(Path(sys.argv[1]).rglob("*.json")):
    d = documents.load(p)  # validates against the schema
    docs[d["runtime"]["id"]] = d
# --native: cpython-3.12 ran on the host's interpreter in the same run, and says so
d = docs.get("cpython-3.12")
if d is None or d["backend"]["kind"] != "native" or d["backend"].get("image"):
    sys.exit(f"containers: cpython-3.12 (--native): backend {d and d['backend']}")
if d["run"]["id"] != docs["cpython-3.13"]["run"]["id"] or not all(
        c["status"] == "ok" for c in d["cells"]):
    sys.exit("containers: cpython-3.12 (--native): not in the same run, or a cell failed")
print(f"cpython-3.12 (native) {len(d['cells'])}/{len(d['cells'])} cells ok  "
      f"{d['backend']['venv']}")
# runtime: (implementation, JIT expected on (None: not checked), build mode recorded)
want = {"cpython-3.13": ("CPython", False, "fast"), "cpython-3.13-jit": ("CPython", True, "fast"),
        "mojo-1.2": ("CPython", None, None), "pypy-3.11": ("PyPy", True, None)}
bad = []
for rid, (impl, jit, mode) in want.items():
    d = docs.get(rid)
    if d is None:
        bad.append(f"{rid}: no document"); continue
    b, rt = d["backend"], d["runtime"]
    if rt["implementation"] != impl:
        bad.append(f"{rid}: implementation {rt['implementation']!r}, expected {impl!r}")
    if impl == "PyPy" and not rt.get("pypy_version"):
        bad.append(f"{rid}: no pypy_version recorded")
    if jit is not None and (rt["jit"]["built"] and rt["jit"]["enabled"]) is not jit:
        bad.append(f"{rid}: JIT measured {rt['jit']}, expected enabled={jit}")
    if jit is not None and rt["jit"]["built"] is not jit:
        bad.append(f"{rid}: JIT built={rt['jit']['built']}, expected {jit}")
    real = json.loads(subprocess.run(["podman", "image", "inspect", b["image"]],
                                     capture_output=True, text=True, check=True).stdout)[0]
    if not b.get("digest") or b["digest"] != real["Digest"]:
        bad.append(f"{rid}: backend.digest {b.get('digest')} != image {real['Digest']}")
    if b.get("build_mode") != mode:
        bad.append(f"{rid}: build_mode {b.get('build_mode')!r}, expected {mode!r}")
    for c in d["cells"]:
        if c["status"] == "ok" and not c.get("warmups"):
            bad.append(f"{rid}: {c['id']}: no warm-ups recorded")
    if d["host"]["emulated"]:
        bad.append(f"{rid}: marked emulated on a native run")
    ok = sum(c["status"] == "ok" for c in d["cells"])
    failed = [c["id"] + ": " + c.get("error", "") for c in d["cells"] if c["status"] == "failed"]
    print(f"{rid:<18} {ok}/{len(d['cells'])} cells ok  jit={rt['jit'].get('enabled')}  "
          f"{b['image']}  {b['digest']}")
    bad += [f"{rid}: {f}" for f in failed]
if bad:
    sys.exit("containers: checks failed:\n  " + "\n  ".join(bad))
print("containers: all checks passed")
EOF

step "container tests (arm64 under QEMU, bad input, PyPy)"
SUITE_REQUIRE_CONTAINERS=1 $PY -m pytest -p no:cacheprovider -m containers \
    tests/test_containers.py tests/test_pypy.py

if [ -n "$CACHE" ]; then
    step "saving images to $CACHE"
    mkdir -p "$CACHE"
    rm -f "$CACHE"/*.tar
    podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/(bench/|debian:)' |
        while read -r ref; do podman save -q -o "$CACHE/$(echo "$ref" | tr '/:' '__').tar" "$ref"; done
fi
step "done"
