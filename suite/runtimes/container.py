"""The container backend: each runtime is an image (docker/, suite/runtimes/images.py), built when
missing and cached; every worker is a fresh, locked-down container:

    engine run --rm --user <non-root> --network none --read-only --cap-drop ALL \
        --security-opt no-new-privileges --pids-limit N --memory M --memory-swap M \
        --tmpfs /tmp  -v suite/:/suite/suite:ro  -v <inputs dir>:/bench/inputs:ro \
        -v <job>/job.json:/bench/job.json:ro  -v <job>/out:/bench/out:rw \
        IMAGE python -m suite.measure.worker /bench/job.json

Each job gets a fresh private directory (mkdtemp, 0700) on the host: the host writes the
job file there and mounts it read-only; `out/` (0700, owned by the container's user) is
the only writable mount, only the container writes into it, and the host only reads the
result from it as a regular file (O_NOFOLLOW), then removes the whole directory. The
limits (`SANDBOX`, `sandbox()`) are recorded in the backend record (`backend.sandbox`).
The job's host paths (`inputs`, `result`) are rewritten to their in-container paths;
`mojo_cache` points at the extension built into the Mojo image (/opt/mojo-ext).
ARCH other than the host's runs under QEMU: the backend record says `emulated`.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from suite.runtimes import Runtime, images
from suite.runtimes.backend import Unavailable
from suite.runtimes.engine import NoEngine, detect

ROOT = Path(__file__).resolve().parents[2]
MOJO_EXT = "/opt/mojo-ext"
IMAGE_USER = "10001:10001"  # `bench` in every image
# Limits of every container: the largest worker (full-profile conv2d) peaks near 2.1 GiB,
# pure-Python matmul n=2048 near 0.5 GiB; threads <= cores per pool (BLAS, Numba, Mojo).
MEMORY_CAP = 8 << 30  # at most this, and at most 3/4 of the host's memory
PIDS_BASE, PIDS_PER_CORE = 256, 16
MAX_RESULT_BYTES = 64 << 20  # a worker's result JSON (10,000 samples is < 1 MiB)
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
                 log=None, images_given: dict[str, str] | None = None) -> None:
        """`images_given`: runtime id -> an existing image to run (e.g. `IMAGE@sha256:...`
        pulled by CI) instead of building it; not rebuilt, its digest and labels recorded."""
        self.cache_dir = Path(cache_dir).resolve()
        self.arch = images.check_arch(arch)
        self.mode = images.build_mode(arch=self.arch)
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        try:
            self.engine = detect(engine)
        except NoEngine as exc:
            raise Unavailable(str(exc)) from None
        self.images_given = dict(images_given or {})
        self.images: dict[str, str] = {}
        self.records: dict[str, dict] = {}
        self.sandbox = sandbox(self.user_args())
        self.seq = 0

    @property
    def emulated(self) -> bool:
        return self.arch != images.host_arch()

    # -- what can run here ---------------------------------------------------------------
    def available(self, known: dict[str, Runtime]) -> list[str]:
        return [rid for rid, rt in known.items() if rt.image and self.arch in rt.arches]

    def prepare(self, rt: Runtime) -> dict:
        if self.images_given:
            if rt.id not in self.images_given:
                raise Unavailable(f"no image was given for {rt.id} (--image RUNTIME=REF; "
                                  f"given: {', '.join(self.images_given)})")
            ref = self.images_given[rt.id]
            info, took = images.inspect(self.engine, ref), None
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
               "base_image": base, "recipe": recipe, "build_seconds": took,
               "sandbox": self.sandbox}
        if "python_version" in rt.image:
            rec["source"] = {"file": images.tarball_name(rt.image["python_version"]),
                             "sha256": rt.image["python_sha256"]}
        if rt.kind == "mojo":
            rec.update(self.mojo_setup(rt))
        self.records[rt.id] = rec
        return rec

    def mojo_setup(self, rt: Runtime) -> dict:
        """`python -m suite.flavors.mojo_setup` in the image: the extension's build facts (built in
        the image, so cached) and the FMA peak, as runtime_extra / host_extra."""
        cmd = self.run_cmd(rt, [], {"MODULAR_CRASH_REPORTING_ENABLED": "false"},
                           f"bench-setup-{os.getpid()}-{int(time.time())}")
        # The extension was compiled while the image was built: report that compile time
        # (from the build's stamp) rather than the 0 s of finding it cached.
        cmd += ["sh", "-c", f"python3 -m suite.flavors.mojo_setup {MOJO_EXT} && "
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
        cmd = self.engine.cmd("run", "--rm", "--name", name, *sandbox_args(self.sandbox),
                              "--tmpfs", "/tmp:rw,exec,nosuid,nodev,size=1g",
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
        inner = {**job, "inputs": f"/bench/inputs/{inputs.name}",
                 "result": "/bench/out/result.json", "mojo_cache": MOJO_EXT}
        self.seq += 1
        name = f"bench-{os.getpid()}-{self.seq}-{int(time.time())}"
        if self.emulated:
            timeout *= EMULATION_SLOWDOWN
        with tempfile.TemporaryDirectory(prefix=f"{result.stem}.", dir=result.parent) as d:
            job_file, out = job_dirs(Path(d), inner, self.sandbox["user"])
            mounts = [(str(inputs.parent), "/bench/inputs", "ro"),
                      (str(job_file), "/bench/job.json", "ro"), (str(out), "/bench/out", "rw")]
            cmd = [*self.run_cmd(rt, mounts, env, name),
                   "python3", "-m", "suite.measure.worker", "/bench/job.json"]
            return run_container(self.engine, cmd, name, out / "result.json", timeout)


def sandbox(user_args: list[str]) -> dict:
    """What every container of this backend runs under (recorded as `backend.sandbox`):
    its user, and memory and pids limits that fit the workloads on this host."""
    try:
        host_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        host_memory = MEMORY_CAP
    return {"user": user_args[user_args.index("--user") + 1], "network": "none",
            "read_only": True, "cap_drop": "ALL", "no_new_privileges": True,
            "memory_bytes": min(MEMORY_CAP, host_memory * 3 // 4),
            "pids_limit": PIDS_BASE + PIDS_PER_CORE * (os.cpu_count() or 1)}


def sandbox_args(s: dict) -> list[str]:
    """The engine flags of a sandbox record: non-root is `--user` (user_args)."""
    return ["--network", s["network"], *(["--read-only"] if s["read_only"] else []),
            "--cap-drop", s["cap_drop"],
            *(["--security-opt", "no-new-privileges"] if s["no_new_privileges"] else []),
            "--pids-limit", str(s["pids_limit"]), "--memory", str(s["memory_bytes"]),
            "--memory-swap", str(s["memory_bytes"])]


def job_dirs(job_dir: Path, inner: dict, user: str) -> tuple[Path, Path]:
    """In a fresh private job directory: the job file (host-written, mounted read-only) and
    `out/`, the container's only writable mount (0700, owned by its user)."""
    job_file = job_dir / "job.json"
    job_file.write_text(json.dumps(inner))
    job_file.chmod(0o644)  # the container's user reads it through its read-only mount
    out = job_dir / "out"
    out.mkdir(mode=0o700)
    if os.geteuid() == 0:  # root host: the image's non-root user writes here
        uid, gid = (int(x) for x in user.split(":"))
        os.chown(out, uid, gid)
    return job_file, out


def read_result(path: Path) -> dict:
    """The worker's result from a directory the container could write: a regular file
    only (no symlink followed, no FIFO waited on), at most MAX_RESULT_BYTES."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        data = f.read(MAX_RESULT_BYTES + 1)
    if len(data) > MAX_RESULT_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_RESULT_BYTES >> 20} MiB")
    res = json.loads(data)
    if not isinstance(res, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return res


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
    except BaseException:  # Ctrl-C or SIGTERM: the engine client is killed, not the container
        subprocess.run(engine.cmd("rm", "-f", name), capture_output=True, timeout=120)
        raise
    try:
        return read_result(result)
    except (OSError, ValueError):
        pass
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-6:]
    meaning = EXIT_MEANINGS.get(proc.returncode, "")
    return {"status": "failed",
            "error": f"the worker container exited with code {proc.returncode} and no result"
                     + (f" ({meaning})" if meaning else "")
                     + (": " + " | ".join(tail) if tail else "")}
