"""The CI matrices, generated from docker/runtimes.toml: the workflows never list runtimes
themselves. Images are built per runtime x arch (in parallel); benchmarks run per arch,
all of its runtimes interleaved in one job on one runner (compare within one machine).

    python -m suite.publish.matrix                      {"include": [{"runtime", "arch", "runner",
                                                 "platform"}, ...]} on one line (build legs)
    python -m suite.publish.matrix --arches             {"include": [{"arch", "runner",
                                                 "runtimes"}, ...]} (one bench job per arch)
    python -m suite.publish.matrix --runtime ID --arch amd64 [--repository OWNER/NAME]
                           [--context DIR]      one leg's build facts as `key=value` lines
                                                for $GITHUB_OUTPUT (image name, Dockerfile,
                                                build arguments, platform; with --context
                                                the build context made as `make images`
                                                makes it)

Standard library only: it runs on a bare CI runner before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from suite.runtimes import ROOT, RUNTIMES_FILE, Runtime, load

# GitHub-hosted runner labels, one per architecture: each leg runs natively, never under
# QEMU (there is no `ubuntu-latest-arm` label).
RUNNERS = {"amd64": "ubuntu-24.04", "arm64": "ubuntu-24.04-arm"}
REGISTRY = "ghcr.io"


def matrix(runtimes: dict[str, Runtime] | None = None) -> dict:
    """Every (runtime, arch) pair the runtimes file declares, in file order."""
    runtimes = load() if runtimes is None else runtimes
    include = []
    for rid, rt in runtimes.items():
        for arch in rt.arches:
            if arch not in RUNNERS:
                raise ValueError(f"{RUNTIMES_FILE.name}: runtime {rid!r} declares the arch "
                                 f"{arch!r}; CI has runners for {', '.join(RUNNERS)}")
            include.append({"runtime": rid, "arch": arch, "runner": RUNNERS[arch],
                            "platform": f"linux/{arch}"})
    if not include:
        raise ValueError(f"{RUNTIMES_FILE}: no runtime declares any arch")
    return {"include": include}


def arches(runtimes: dict[str, Runtime] | None = None) -> dict:
    """One bench job per architecture, with every runtime built for it (space-separated,
    in file order): all of them run interleaved in that one job."""
    by_arch: dict[str, list[str]] = {}
    for leg_ in matrix(runtimes)["include"]:
        by_arch.setdefault(leg_["arch"], []).append(leg_["runtime"])
    return {"include": [{"arch": a, "runner": RUNNERS[a], "runtimes": " ".join(rids)}
                        for a, rids in by_arch.items()]}


def recipe(rt: Runtime) -> tuple[str, dict[str, str]]:
    """The runtime's Dockerfile (relative to the repository root) and its build arguments,
    from its `[<id>.image]` table: `recipe`/`dockerfile`/`file` names the Dockerfile (a
    bare name is looked up under docker/), `args`/`build_args` the build arguments.
    Without a table, `docker/<kind>.Dockerfile`."""
    image = rt.image or {}
    name = next((image[k] for k in ("recipe", "dockerfile", "file") if k in image),
                f"{rt.kind}.Dockerfile")
    path = Path(name)
    if len(path.parts) == 1:
        path = Path("docker") / path
    if path.suffix != ".Dockerfile" and path.name != "Dockerfile" and not (
            ROOT / path).exists():
        path = path.with_name(path.name + ".Dockerfile")
    args = next((image[k] for k in ("args", "build_args", "build-args") if k in image), {})
    return str(path), {str(k): str(v) for k, v in args.items()}


def image_name(repository: str, runtime: str) -> str:
    """`ghcr.io/<owner>/<repo>/<runtime>`, lower-cased as GHCR requires."""
    return f"{REGISTRY}/{repository.lower()}/{runtime}"


def leg(runtime: str, arch: str, repository: str,
        runtimes: dict[str, Runtime] | None = None, context: Path | None = None
        ) -> dict[str, str]:
    """One leg's build facts. With `context`, the build context is made there the way
    `make images` makes it (suite/runtimes/images.py: verified source tarball, worker requirements)
    and the build arguments are the ones it uses; BUILD_MODE and BASE_IMAGE apply."""
    runtimes = load() if runtimes is None else runtimes
    if runtime not in runtimes:
        raise ValueError(f"unknown runtime {runtime!r}; known: {', '.join(runtimes)}")
    rt = runtimes[runtime]
    if arch not in rt.arches:
        raise ValueError(f"runtime {runtime!r} is not built for {arch!r} "
                         f"(arches: {', '.join(rt.arches)})")
    out = {"image": image_name(repository, runtime), "platform": f"linux/{arch}"}
    if context is None:
        dockerfile, args = recipe(rt)
        return {**out, "dockerfile": dockerfile,
                "build-args": "\n".join(f"{k}={v}" for k, v in args.items())}
    from suite.runtimes import images
    from suite.runtimes.backend import Unavailable

    try:
        spec = images.spec(rt, arch, images.build_mode(), context.parent,
                           log=lambda m: print(m, file=sys.stderr))
        ctx = images.make_context(spec, context.parent)
    except Unavailable as exc:
        raise ValueError(str(exc)) from None
    if context.exists():
        shutil.rmtree(context)
    shutil.move(ctx, context)
    return {**out, "dockerfile": str(spec.recipe.relative_to(ROOT)), "context": str(context),
            "build-mode": spec.mode,
            "build-args": "\n".join(f"{k}={v}" for k, v in spec.build_args.items())}


def github_output(values: dict[str, str]) -> str:
    """`key=value` lines; multi-line values in the `key<<EOF` heredoc form."""
    out = []
    for k, v in values.items():
        if "\n" in v:
            out += [f"{k}<<SUITE_EOF", v, "SUITE_EOF"]
        else:
            out.append(f"{k}={v}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m suite.publish.matrix", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtime", help="print one leg's build facts instead of the matrix")
    p.add_argument("--arch", choices=sorted(RUNNERS))
    p.add_argument("--repository", default="local/runtime-bench",
                   help="OWNER/NAME for the image name (CI passes $GITHUB_REPOSITORY)")
    p.add_argument("--context", type=Path, default=None,
                   help="with --runtime: make the image's build context in this directory")
    p.add_argument("--arches", action="store_true",
                   help="the bench matrix: one job per arch with all of its runtimes")
    p.add_argument("--indent", type=int, default=None, help="pretty-print the matrix")
    args = p.parse_args(argv)
    try:
        if args.runtime:
            if not args.arch:
                p.error("--runtime needs --arch")
            sys.stdout.write(github_output(leg(args.runtime, args.arch, args.repository,
                                                 context=args.context)))
        else:
            print(json.dumps(arches() if args.arches else matrix(), indent=args.indent))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
