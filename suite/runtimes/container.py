"""The container backend: each runtime is an image (docker/, suite/images.py), built when
missing and cached; every worker is a fresh container.

    engine run --rm --network none --read-only --user <non-root> \
        -v suite/:/suite/suite:ro  -v <inputs dir>:/bench/inputs:ro  -v <work dir>:/bench/out \
        IMAGE python -m suite.worker /bench/out/<job>.json

The job's host paths (`inputs`, `result`) are rewritten to their in-container paths;
`mojo_cache` points at the extension built into the Mojo image (/opt/mojo-ext).
ARCH other than the host's runs under QEMU: the backend record says `emulated`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .. import images
from ..runtimes import Runtime
from . import Unavailable
from .engine import NoEngine, detect

ROOT = Path(__file__).resolve().parents[2]
MOJO_EXT = "/opt/mojo-ext"
IMAGE_USER = "10001:10001"  # `bench` in every image
EMULATION_SLOWDOWN = 15  # worker timeouts are stretched by this under QEMU
# Host-specific variables worker_env() passes through that mean nothing in a container.
DROP_ENV = ("HOME", "TMPDIR", "MODULAR_HOME", "MODULAR_CACHE_DIR")
EXIT_MEANINGS = {
    125: "the container engine could not run the container",
    126: "the command in the container could not be executed",
    127: "the command was not found in the image",
    137: "the container was killed (SIGKILL: out of memory, a timeout or `kill`)",
    139: "the worker crashed (SIGSEGV)",
    134: "the worker aborted (SIGABRT)",
}


class ContainerBackend:
    kind = "container"

    def __init__(self, cache_dir: Path, arch: str | None = None, engine: str | None = None,
                 log=None, image: str | None = None) -> None:
        """`image`: run this existing image (e.g. `IMAGE@sha256:...` pulled by CI) instead
        of building; it is not rebuilt, and its digest and labels are recorded."""
        self.cache_dir = Path(cache_dir).resolve()
        self.arch = images.check_arch(arch)
        self.mode = images.build_mode(arch=self.arch)
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        try:
            self.engine = detect(engine)
        except NoEngine as exc:
            raise Unavailable(str(exc)) from None
        self.image = image
        self.images: dict[str, str] = {}
        self.records: dict[str, dict] = {}
        self.seq = 0

    @property
    def emulated(self) -> bool:
        return self.arch != images.host_arch()

    # -- what can run here ---------------------------------------------------------------
    def available(self, known: dict[str, Runtime]) -> list[str]:
        return [rid for rid, rt in known.items() if rt.image and self.arch in rt.arches]

    def prepare(self, rt: Runtime) -> dict:
        if self.image:
            if self.images and rt.id not in self.images:
                raise Unavailable(f"--image {self.image} is one runtime's image; it was "
                                  f"given to {', '.join(self.images)} already")
            ref, info, took = self.image, images.inspect(self.engine, self.image), None
            if info is None:
                raise Unavailable(f"image {ref} is not in {self.engine.name}'s local store "
                                  f"(pull or build it first)")
            if info.get("arch") and images.check_arch(info["arch"]) != self.arch:
                raise Unavailable(f"image {ref} is for {info['arch']}, not {self.arch}")
            if "@sha256:" in ref:
                info["digest"] = ref.split("@", 1)[1]
            mode = {"yes": "optimized", "no": "fast"}.get(
                info["labels"].get("bench.optimize", ""))
            base, recipe = None, None
        else:
            s, info, took = images.ensure(self.engine, rt, self.arch, self.mode,
                                          self.cache_dir, self.log)
            ref, mode, base = s.ref, s.mode, s.base_image
            recipe = str(s.recipe.relative_to(ROOT))
        self.images[rt.id] = ref
        if self.emulated:
            self.log(f"{rt.id}: {self.arch} on a {images.host_arch()} host runs under QEMU "
                     "(emulated): timings are not comparable with native runs")
        rec = {"kind": "container", "engine": self.engine.name,
               "engine_version": self.engine.version, "image": ref,
               "digest": info["digest"], "image_id": info["id"], "image_size": info["size"],
               "build_mode": mode if rt.kind == "cpython" else None, "arch": self.arch,
               "platform": f"linux/{self.arch}", "emulated": self.emulated,
               "base_image": base, "recipe": recipe, "build_seconds": took}
        if "python_version" in rt.image:
            rec["source"] = {"file": images.tarball_name(rt.image["python_version"]),
                             "sha256": rt.image["python_sha256"]}
        if rt.kind == "mojo":
            rec.update(self.mojo_setup(rt))
        self.records[rt.id] = rec
        return rec

    def mojo_setup(self, rt: Runtime) -> dict:
        """`python -m suite.mojo_setup` in the image: the extension's build facts (built in
        the image, so cached) and the FMA peak, as runtime_extra / host_extra."""
        cmd = self.run_cmd(rt, [], {"MODULAR_CRASH_REPORTING_ENABLED": "false"},
                           f"bench-setup-{os.getpid()}-{int(time.time())}")
        # The extension was compiled while the image was built: report that compile time
        # (from the build's stamp) rather than the 0 s of finding it cached.
        cmd += ["sh", "-c", f"python3 -m suite.mojo_setup {MOJO_EXT} && "
                            f"cat {MOJO_EXT}/suite_kernels.json"]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=600 * (EMULATION_SLOWDOWN if self.emulated else 1))
            lines = p.stdout.strip().splitlines()
            out, stamp = json.loads(lines[-2]), json.loads(lines[-1])
            mojo = out.get("runtime_extra", {}).get("mojo")
            if mojo is not None and stamp.get("seconds") is not None:
                mojo.update(build_seconds=round(float(stamp["seconds"]), 2), build_cached=True)
            return {k: out[k] for k in ("runtime_extra", "host_extra") if k in out}
        except (subprocess.SubprocessError, ValueError, IndexError) as exc:
            err = getattr(locals().get("p"), "stderr", "") or str(exc)
            raise Unavailable(f"{rt.id}: the Mojo extension in {self.images[rt.id]} does not "
                              f"load: {err.strip()[-800:]}") from None

    # -- running workers -----------------------------------------------------------------
    def user_args(self) -> list[str]:
        if os.geteuid() != 0:  # run as the caller: results come back owned by them
            uid = f"{os.getuid()}:{os.getgid()}"
            extra = ["--userns=keep-id"] if self.engine.name == "podman" else []
            return [*extra, "--user", uid]
        return ["--user", IMAGE_USER]  # root host: the image's non-root user

    def run_cmd(self, rt: Runtime, mounts: list[tuple[str, str, str]], env: dict[str, str],
                name: str) -> list[str]:
        cmd = self.engine.cmd("run", "--rm", "--name", name, "--network", "none",
                              *(() if rt.kind == "mojo" else ("--read-only",)),
                              "--tmpfs", "/tmp:rw,exec,size=1g",
                              *self.engine.platform_args(self.arch), *self.user_args(),
                              "-v", f"{ROOT / 'suite'}:/suite/suite:ro", "-w", "/suite")
        for src, dst, mode in mounts:
            cmd += ["-v", f"{src}:{dst}:{mode}"]
        env = {k: v for k, v in env.items() if k not in DROP_ENV}
        env.update(HOME="/tmp", PYTHONPATH="/suite")
        for k, v in sorted(env.items()):
            cmd += ["-e", f"{k}={v}"]
        cmd.append(self.images[rt.id])
        return cmd

    def run_worker(self, rt: Runtime, job: dict, env: dict[str, str], timeout: float) -> dict:
        inputs, result = Path(job["inputs"]).resolve(), Path(job["result"]).resolve()
        out_dir = result.parent
        if os.geteuid() == 0:  # the image's user must be able to write results here
            os.chmod(out_dir, 0o777)
        inner = {**job, "inputs": f"/bench/inputs/{inputs.name}",
                 "result": f"/bench/out/{result.name}", "mojo_cache": MOJO_EXT}
        job_path = result.with_suffix(".job.json")
        job_path.write_text(json.dumps(inner))
        result.unlink(missing_ok=True)
        self.seq += 1
        name = f"bench-{os.getpid()}-{self.seq}-{int(time.time())}"
        mounts = [(str(inputs.parent), "/bench/inputs", "ro"), (str(out_dir), "/bench/out", "rw")]
        cmd = [*self.run_cmd(rt, mounts, env, name),
               "python3", "-m", "suite.worker", f"/bench/out/{job_path.name}"]
        if self.emulated:
            timeout *= EMULATION_SLOWDOWN
        return run_container(self.engine, cmd, name, result, timeout)


def run_container(engine, cmd: list[str], name: str, result: Path, timeout: float) -> dict:
    """Run one worker container; its result, or a failed result saying what went wrong."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        subprocess.run(engine.cmd("rm", "-f", name), capture_output=True, timeout=120)
        return {"status": "failed",
                "error": f"worker timed out after {timeout:.0f} s; container {name} removed"}
    except OSError as exc:
        return {"status": "failed", "error": f"could not start {engine.name}: {exc}"}
    try:
        return json.loads(result.read_text())
    except (OSError, ValueError):
        pass
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-6:]
    meaning = EXIT_MEANINGS.get(proc.returncode, "")
    return {"status": "failed",
            "error": f"the worker container exited with code {proc.returncode} and no result"
                     + (f" ({meaning})" if meaning else "")
                     + (": " + " | ".join(tail) if tail else "")}
