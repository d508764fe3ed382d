"""Prepare a Mojo runtime: build the extensions (suite_kernels and lib_kernels, timed apart
from any sample), measure the machine's FMA peak and the fixed cost of one Python-to-Mojo
call (`call_ns`). Runs inside the Mojo runtime (venv or image):

    python -m suite.flavors.mojo_setup CACHE_DIR

Prints one JSON line: {"runtime_extra": {"mojo": ...}, "host_extra": {"peak_gflops": ...}}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from suite.flavors import mojo as mojo_kernels


def main(argv: list[str]) -> int:
    cache = Path(argv[0]) if argv else mojo_kernels.default_cache_dir()
    build = mojo_kernels.build(cache)
    lib = mojo_kernels.build(cache, module="lib_kernels")  # Modular's kernels (mojo-lib)
    info = mojo_kernels.info(cache)
    cores = os.cpu_count() or 1
    peak = {dt: {str(t): round(mojo_kernels.peak_gflops(cache, t, dt), 2)
                 for t in sorted({1, cores})} for dt in ("float32", "float64")}
    mojo = {**info, "build_seconds": build["seconds"], "build_cached": build["cached"],
            "source_sha256": build["source_sha256"],
            "lib_build_seconds": lib["seconds"], "lib_build_cached": lib["cached"],
            "call_ns": round(mojo_kernels.call_ns(cache), 1)}
    print(json.dumps({"runtime_extra": {"mojo": mojo}, "host_extra": {"peak_gflops": peak}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
