"""Lock files several processes share: a file only one process may hold, and a wait for one.

    lock_exclusive(handle)           a file only one process may hold (the alert queue, a training run
                                     folder, a recording): OSError when another holds it; the system lets
                                     go at exit, crash or not
    held(path)                       the same, waited for: one process at a time changes a file that
                                     several may change at once (a site's labels.txt), or makes what
                                     several would make at once (an engine cache's export)
    hold(path)                       held's lock as an open file, kept for as long as its holder runs (a
                                     headless run's --status-file; `private`: its account's alone)
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

# What a lock held by another process answers: flock's EWOULDBLOCK (= EAGAIN); Windows' EACCES / EDEADLOCK.
HELD_ELSEWHERE = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK)}


class LockNotOpened(OSError):
    """A lock file that cannot be opened, said path first as the app's other errors are (an OSError reads
    "[Errno 13] Permission denied: '/site/labels.txt.lock'")."""

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def lock_exclusive(handle) -> None:
    """Hold an open file exclusively (without waiting) until it is closed or this process ends, even by a
    crash; OSError when another process holds it."""
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def held_by_another(path: Path) -> bool | None:
    """Whether another process holds the lock file `path` now (True), none does (False: or none ever made
    it), or it cannot be told (None: it cannot be opened, or locked for another reason). The lock is taken
    and let go at once; nothing is made or written (a check beside a running service)."""
    try:
        try:
            lock = open(path, "r+b")  # noqa: SIM115 - not made where absent; NFS locks need writing
        except FileNotFoundError:
            raise
        except OSError:  # another account's, or a read-only mount: locked through a read-only handle
            lock = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return False
    except OSError:
        return None
    with lock:
        try:
            lock_exclusive(lock)
        except OSError as error:  # any other error than another's hold (a lock NFS refuses) tells nothing
            return True if error.errno in HELD_ELSEWHERE else None
    return False


@contextlib.contextmanager
def held(path: Path | str, timeout_s: float = 10.0, *, waiting: Callable[[], None] | None = None
         ) -> Iterator[None]:
    """Hold the lock file `path` (created if absent) while the block runs, waiting up to `timeout_s`
    while another process holds it (`waiting()` called as that wait begins: a wait of minutes is said);
    TimeoutError naming it after that. The empty file stays: removed, a process waiting on it would go on
    under a lock nobody else takes any more."""
    with hold(path, timeout_s, waiting=waiting):
        yield  # let go when the file closes


def hold(path: Path | str, timeout_s: float = 10.0, *, waiting: Callable[[], None] | None = None,
         private: bool = False) -> IO[bytes]:
    """`held`'s lock as the open file that holds it: closing it lets go (so does the process ending).
    `private`: the lock file is made (or, this account's, made) readable by this account alone, since flock
    needs no write access and any account that may read it could hold it. Not for a lock several accounts
    share (a site's labels.txt), nor root's: one root made by hand for itself alone, a service's account
    could not open at all, where it locks one it may read."""
    deadline, pause = time.monotonic() + (timeout_s if timeout_s >= 0 else 0.0), 0.02  # (NaN: none)
    if private and hasattr(os, "getuid") and os.getuid() != 0:
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            if os.stat(path).st_uid == os.getuid():
                os.chmod(path, 0o600)  # made readable by others by an earlier version
    try:
        try:
            handle = open(path, "a+b")  # noqa: SIM115 - the caller's to close
        except PermissionError:
            if not Path(path).is_file():  # a read-only folder: said as such below
                raise
            handle = open(path, "rb")  # noqa: SIM115 - there, made by another account: locked read-only
    except OSError as error:  # a read-only folder: said of what the lock guards, as well as the lock
        raise LockNotOpened(error.errno, f"{error.strerror}; the lock for changing {Path(path).stem} "
                            "cannot be opened", str(path)) from None
    try:
        while True:
            try:
                lock_exclusive(handle)
                return handle
            except OSError as error:
                if error.errno not in HELD_ELSEWHERE:
                    # A share without locks (NFS without lockd, some SMB mounts): changed unlocked, as before
                    # there was a lock, rather than not at all.
                    log.warning("%s: cannot be locked here (%s); going on without the lock", path, error)
                    return handle
                if waiting is not None:
                    waiting()
                    waiting = None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path}: another process has held it for over {timeout_s:g} s"
                                       ) from None
                time.sleep(pause)
                pause = min(pause * 1.5, 0.5)  # a wait of minutes (a TensorRT build): not 50 polls a second
    except BaseException:  # the wait given up (TimeoutError, Ctrl-C): the file closed, nothing held
        handle.close()
        raise
