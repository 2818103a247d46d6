"""Files that survive crashes and that several processes share (files rewritten whole, such as a clip's
sidecar or a site's labels.txt, go through core.atomic.replace_atomically; locks are in core.locks).

    drop_cut_last_line(path)         a file of lines a crash cut short mid-line: the cut line removed
                                     (fsync'd), so what is appended next starts a line of its own

    AppendedFile(path, header)       the other way to survive a crash, for streams too large to rewrite
                                     (a clip's video and depth): written front to back, `sync()` puts
                                     what is written on disk, so a crash leaves a valid prefix
    rename_durably(written, path)    a file written and checked elsewhere (an ONNX export) put in place
                                     as core.atomic.write_then_rename puts its own
    killed_writes(folder)            the temporary files of core.atomic's writes a kill or a power cut
                                     stopped midway, under a folder
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
from pathlib import Path

from core.atomic import UNFINISHED_NAME, _replace, sync_directory

# A write in a recordings folder (a clip's skeleton or sidecar, labels.txt) takes seconds: the temporary
# file of one untouched this long was left by a writer killed midway, on this computer or another.
KILLED_WRITE_AFTER_S = 600.0


def rename_durably(written: Path | str, path: Path | str) -> None:
    """Put a closed file (an ONNX export, checked before it is kept) in `path`'s place: its bytes, then the
    rename, on the disk, so that a power cut leaves the old file or the new one whole, not an empty one
    under the final name; on Windows a file held open a moment (a virus scanner) is waited for, as
    write_then_rename does. Here, not in core.atomic, whose edits re-export every engine cache."""
    with open(written, "rb+") as f:  # rb+: Windows flushes only a handle that may write
        os.fsync(f.fileno())
    _replace(Path(written), Path(path))
    sync_directory(Path(path).parent)


def killed_writes(folder: Path | str, untouched_for_s: float = KILLED_WRITE_AFTER_S) -> list[Path]:
    """The temporary files of writes (core.atomic.unfinished_path's `.<name>.<pid>-<8 hex>.partial`)
    under `folder` untouched for `untouched_for_s` (longer than a write there takes): a kill or a power
    cut stopped them midway, and nothing else would ever remove them (hidden, and hundreds of KB to MB
    each). Not a recording's `*.partial` folder, which recovers."""
    now, found = time.time(), []
    for path in Path(folder).rglob(".*.partial"):
        try:
            if (UNFINISHED_NAME.fullmatch(path.name) and path.is_file()
                    and now - path.stat().st_mtime >= untouched_for_s):
                found.append(path)
        except OSError:  # gone meanwhile
            continue
    return sorted(found)


def why_not_writable(folder: Path | str) -> str | None:
    """Why no file can be made in `folder` -- or, where it does not exist yet, in the nearest folder above
    it that does, where it would be made (nothing is created) --; None when one can. Tried with a
    temporary file: permission bits say nothing of a read-only disk (and nothing at all to root or on
    Windows), a share may refuse what they allow."""
    folder = Path(folder)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    if not folder.exists():  # not even its root: a drive or share that is not there
        return f"{folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as error:
        return f"{folder}: {error.strerror or error}"


def umask_lets_others_read() -> int | None:
    """The process's umask where the files it creates are readable by every account on this computer
    (the usual 022), else None; None on Windows, where folders' ACLs decide. Python reads the umask only
    by setting it: call this at start-up, before threads that create files."""
    if os.name != "posix":
        return None
    mask = os.umask(0o077)
    os.umask(mask)
    return mask if not mask & stat.S_IROTH else None


def say_if_others_can_read(what: str) -> None:
    """The room's people (video, crops) written where every account on this computer can read them is
    said on stderr, as `python -m live` says it of what it records (the README's service unit runs that
    under UMask=0077; the commands that call this run in a user's shell)."""
    if (mask := umask_lets_others_read()) is not None:
        print(f"warning: {what} will be readable by every account on this computer (umask {mask:04o}): "
              "run this under umask 077 where the room's people must not be seen by them", file=sys.stderr)


class AppendedFile:
    """A file written front to back as a recording goes (see the module docstring). The recorder
    syncs its partial files together (about once a second) rather than each write; close syncs."""

    def __init__(self, path: Path | str, header: bytes) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(header)

    def append(self, data: bytes) -> None:
        self._file.write(data)

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            try:
                self.sync()
            finally:  # a full disk still lets the file go
                self._file.close()


def drop_cut_last_line(path: Path | str) -> tuple[int, int]:
    """Truncate a file of newline-ended lines after its last newline; (that byte offset, bytes dropped).
    Reads back from the end a block at a time: the file may be large."""
    with open(path, "r+b") as file:
        end = complete = file.seek(0, os.SEEK_END)
        while complete > 0:
            start = max(complete - 65536, 0)
            file.seek(start)
            newline = file.read(complete - start).rfind(b"\n")
            if newline >= 0 or start == 0:
                complete = start + newline + 1
                break
            complete = start
        if complete < end:
            file.truncate(complete)
            file.flush()
            os.fsync(file.fileno())
    return complete, end - complete
