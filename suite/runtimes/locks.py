"""File locks (fcntl.flock) for what two runs must not share at once: a results directory,
a cache directory, one runtime's virtualenv while it is built.

A lock is a file (`.suite.lock`) that the holder keeps open with `flock`, exclusive or
shared (a cache: runs use it together, setting it up is exclusive); the kernel releases it
when the holder exits, however it exits, so a crashed run never leaves a stale lock. The
holder writes its pid, command and start time into the file, so a second run can say who it
is waiting for. The file itself is never deleted (deleting a lock file races with a process
that has just opened it). A thread that holds a lock may `hold` it again (a no-op): the run
command locks the results directory and the cache before setting up runtimes, and the run it
starts locks them again; a shared hold cannot be turned into an exclusive one that way.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = ".suite.lock"
_held = threading.local()  # .modes: {lock file: shared?} for the locks this thread holds


class Busy(ValueError):
    """The lock is held by another process and the caller asked not to wait."""


def holder(path: Path) -> str:
    """Who holds the lock at `path`, as its holder wrote it ('an unknown process' if unreadable)."""
    try:
        info = json.loads(path.read_text())
        return f"pid {info['pid']} ({info['command']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "an unknown process"


def _describe_self() -> str:
    return json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv) or sys.executable,
                       "since": datetime.now(UTC).isoformat(timespec="seconds")})


@contextmanager
def hold(path: Path, what: str, wait: bool = True,
         log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
         shared: bool = False) -> Iterator[None]:
    """Hold the lock at `path` (created if missing) for the `with` block: exclusive, or with
    `shared` together with other shared holders.

    When another process holds it against us: wait (saying for whom) or, with `wait=False`,
    raise `Busy` naming the holder's pid. `what` names the locked thing in those messages.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = path.resolve()
    held: dict[Path, bool] = _held.__dict__.setdefault("modes", {})
    if key in held:
        if held[key] and not shared:
            raise RuntimeError(f"{path}: held shared by this thread; it cannot be upgraded")
        yield
        return
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            who = holder(path)
            if not wait:
                raise Busy(f"{what} is in use by {who} (lock {path}); wait for it to finish, "
                           "or run without --no-wait to queue behind it") from None
            log(f"waiting: {what} is in use by {who} (lock {path}); this run starts when "
                "it finishes")
            fcntl.flock(fd, mode)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _describe_self().encode(), 0)
        held[key] = shared
        try:
            yield
        finally:
            del held[key]
    finally:
        os.close(fd)  # releases the lock


def directory_lock(directory: Path) -> Path:
    """The lock file of a results or cache directory."""
    return directory / LOCK_NAME
