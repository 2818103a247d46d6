"""Files written whole or not at all: a temporary file beside the target, fsync'd, renamed over it.

    write_then_rename(path, write)   write(f) into a new file of this write's own beside `path`
                                     (`unfinished_path`) -> fsync -> os.replace -> fsync the folder
                                     (durable=False: no fsyncs, for files made again when lost)
    replace_atomically(path, data)   the same for bytes (or a function writing them), keeping the
                                     permissions `path` had

A crash or power cut at any moment leaves either the old file or the new one, never a mixture (the file
is on disk before its rename, and the rename before this returns); a failure, Ctrl-C included, leaves the
old file untouched and removes the temporary one. Each write has a temporary file of its own, since two
processes may write the same file at once (two prepares into one cache, two containers sharing an engine
cache). Every file the project rewrites goes through here: checkpoints, training states, exported graphs,
TensorRT plans, prepared clips, sidecars, labels.txt, manifests.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# unfinished_path's names, and no one else's: what a killed write leaves (kill -9, a power cut).
UNFINISHED_NAME = re.compile(r"\..+\.\d+-[0-9a-f]{8}\.partial")


def remove_leftovers(paths: list[Path]) -> tuple[int, int]:
    """Remove what killed writes left; (how many files, how many bytes) were removed. One gone meanwhile,
    or not this account's to remove, is left and not counted."""
    files = size = 0
    for path in paths:
        try:
            length = path.stat().st_size
            path.unlink()
        except OSError:
            continue
        files, size = files + 1, size + length
    return files, size


def unfinished_path(path: Path) -> Path:
    """Where a write of `path` goes until it is complete: `.<name>.<pid>-<8 hex>.partial` beside it, its
    own for each write (even two with one process id: two containers sharing a cache). The engine cache
    and the prepared-clip cache recognise these names to remove what a killed write left."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")


# What a file system says when it cannot fsync a folder at all (SMB/CIFS shares, vboxsf, WSL's drvfs,
# virtiofs): the rename is as durable as that file system makes it, and the write has succeeded.
FOLDER_SYNC_UNSUPPORTED = {errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EOPNOTSUPP}


def sync_directory(path: Path | str) -> None:
    """fsync a folder: renames in it reach the disk only then (POSIX; a no-op on Windows, and where the
    file system cannot sync a folder)."""
    if os.name == "posix":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError as error:
            if error.errno not in FOLDER_SYNC_UNSUPPORTED:
                raise
        finally:
            os.close(fd)


def write_then_rename(
    path: Path | str, write: Callable[[BinaryIO], object], *, mode: int | None = None, durable: bool = True
) -> None:
    """Make `path` hold what `write` writes into the open file it is given, atomically (see the module
    docstring). A new file gets `mode` if given, else what a plain open() gives (0666 less the umask; not
    tempfile.mkstemp's owner-only 0600: a clip or labels.txt that the site's training account or a
    colleague cannot read is no use). `durable=False` leaves out the two fsyncs, for files made again
    when lost (a prepared clip: 56,880 of NTU's, where they cost 15 minutes): a power cut may then leave
    the file empty or cut short under its name, never another write's."""
    path = Path(path)
    temporary = unfinished_path(path)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(temporary, flags, 0o666)
    except OSError as error:  # a read-only folder: said of the file being written, not a hidden name
        said = f"{error.strerror}: no new file can be made beside it"
        raise OSError(error.errno, said, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(temporary, mode)
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        _replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the first error is the one to say
            temporary.unlink(missing_ok=True)
        raise
    if durable:
        sync_directory(path.parent)


# Windows replaces no file another process holds open without delete-sharing (a checkpoint being loaded,
# labels.txt open in a spreadsheet, a virus scanner's or indexer's look): tried again for this long.
REPLACE_RETRY_S = 5.0


def _replace(temporary: Path, path: Path) -> None:
    deadline = time.monotonic() + REPLACE_RETRY_S
    while True:
        try:
            os.replace(temporary, path)
            return
        except PermissionError as error:
            if os.name != "nt" or time.monotonic() >= deadline:
                if os.name == "nt":
                    raise PermissionError(error.errno, f"{error.strerror} (held open by another program?)",
                                          str(path)) from None
                raise
            time.sleep(0.1)


def replace_atomically(path: Path | str, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Make `path` hold exactly `data`, atomically: the bytes, or what a function writes into the open
    file it is given (a file too big to hold in memory). The file keeps the permissions it had; a new one
    gets what a plain open() would give."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    if mode is not None and not mode & stat.S_IWUSR:
        # Windows replaces no read-only file (nor deletes the temporary copy of its mode): refused here,
        # alike everywhere, and not after a copy has been written beside it.
        raise PermissionError(errno.EACCES, "read-only; make it writable to change it", str(path))
    write_then_rename(path, data if callable(data) else lambda f: f.write(data), mode=mode)
