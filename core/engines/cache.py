"""How long the engine cache keeps what it made.

The cache (`selection.default_cache_dir`) gains files as models and the code change: an ONNX export per
checkpoint and exporter version with its checksum, FP16 and split graphs, a TensorRT plan and its key per
graph and precision, a CPU measurement per checkpoint and thread count. Once its model or code version is
gone none is needed again, and an RGB model's set is hundreds of MB, so a site that updates would fill
its disk over the years. Each file the cache hands out again is marked used (`mark_used`: its
modification time set to now, at most once a day, since access times are not kept on every file system),
before it is checked or read, so that no other run removes it meanwhile; a run that stays up
marks the files of its engine again every day (`hold`, `mark_held_used`); and `remove_unused` deletes what
no run used for `UNUSED_DAYS` when a run opens the cache. Whatever it deletes is made again when needed:
an export in seconds, a TensorRT build in minutes.

Rooms that share a cache start together (after a reboot, or an update that changed the model): each made
the same export, measurement and TensorRT build at once, the measurements taken against each other's
and stored as a quiet machine's. `making` lets one process at a time make a file; the others wait for it,
then find it made.

Only a folder the engines made (or the default one, theirs by name, or one of only their names that an
earlier version made: `made_by_engines`) is cleaned, never one of a user's own named by
WHERE_TO_FOCUS_CACHE: the folder they make holds a CACHEDIR.TAG (https://bford.info/cachedir/, which
also keeps backups from copying it), and only names the engines write are removed from it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from core.locks import held
from core.package_files import NOTHING_MADE_BEFORE

log = logging.getLogger(__name__)

UNUSED_DAYS = 60
# A temporary file of a write that never finished (the process was killed before its rename). Writes
# take minutes at most, a TensorRT build included, so one a day old belongs to no running process.
UNFINISHED_DAYS = 1
# How often a file is marked used again, by a start or by a run that stays up: well inside UNUSED_DAYS.
HOLD_EVERY_S = 86400.0

CACHEDIR_TAG = "CACHEDIR.TAG"
_TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"  # the standard's, byte for byte
_TAG_TEXT = (f"{_TAG_SIGNATURE}\n# The engine cache of where-to-focus (core/engines/cache.py): ONNX exports, "
             f"TensorRT engines and CPU measurements,\n# made again when needed. Files no run used for "
             f"{UNUSED_DAYS} days are removed.\n")

# Exports `<stem>-<sha16>-<code8>.onnx` (+ `.sha256`), FP16 graphs `...-<code8>.fp16.onnx`, split graphs
# `<stem>-<sha16>.parts.onnx` / `.head.onnx`, TensorRT plans `<graph stem>.<gpu>.fp16.plan` /
# `.fp32.plan` (+ `.json`) and their failed builds `<graph stem>.<gpu>.fp16.failed.json`, CPU measurements
# `cpu-batching-<sha16>-<threads>t-<cpu8>.json` (before 2026-12-07 without `-<cpu8>`); and the lock under
# which one process makes each (`making`), the file's name and `.lock`.
_CACHE_FILE = re.compile(
    r"(.+-[0-9a-f]{16}(-[0-9a-f]{8})?(\.fp16|\.parts|\.head)?\.onnx(\.sha256)?"
    r"|.+\.fp(16|32)\.(plan(\.json)?|failed\.json)"
    r"|cpu-batching-[0-9a-f]{16}-\d+t(-[0-9a-f]{8})?\.json)(\.lock)?"
)
# The checksum of an export (`<stem>-<sha16>-<code8>.onnx.sha256`), written beside it by the cache only.
_EXPORT_CHECKSUM = re.compile(r".+-[0-9a-f]{16}-[0-9a-f]{8}\.onnx\.sha256")
# What every cache write goes through (`unfinished_path`), renamed into place when complete; and what
# TensorRT plans went through before it (`.<graph stem>.fp16.<8 random characters>`).
_UNFINISHED = re.compile(
    r"\.(?P<final>.+)\.\d+(-[0-9a-f]{8})?\.partial"
    r"|\.(?P<plan>.+\.fp(16|32))\.[a-z0-9_]{8}"
)

_held: set[Path] = set()  # the cache files of the engines this process opened
_said_clock_behind = False  # the warning that the clock is behind, once a process


@functools.cache
def _installed_at() -> float:
    """When this software was installed (this file's time), 2026-01-01 at the earliest: read once, not at
    every file the cache marks."""
    try:
        return max(os.stat(__file__).st_mtime, NOTHING_MADE_BEFORE)
    except OSError:  # no source file (a frozen build)
        return NOTHING_MADE_BEFORE


def _clock_behind(now: float) -> bool:
    """Whether the clock reads more than a day before this file was installed, so certainly wrong: a
    machine whose clock battery is flat starts in 2000 (or 1970) until it synchronises, often after the
    service has started. Every cache file then looks stamped years ahead: removed, a room waited minutes
    for its TensorRT build at every such start, and files marked then looked decades old once the clock
    was set, and went at the next start, from under a room still running them. Said once."""
    global _said_clock_behind
    installed = _installed_at()
    if now >= installed - 86400:
        return False
    if not _said_clock_behind:
        _said_clock_behind = True
        log.warning("the clock reads %s, before this software was installed (%s): the engine cache is "
                    "neither marked nor cleaned until it is set (is the machine's time synchronised?)",
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(now)),
                    time.strftime("%Y-%m-%d", time.localtime(installed)))
    return True


def tag_as_cache(folder: Path) -> None:
    """Mark `folder` as the engines' own cache, which `remove_unused` may clean."""
    tag = folder / CACHEDIR_TAG
    try:
        if not tag.is_file():
            tag.write_text(_TAG_TEXT, encoding="utf-8")
    except OSError as error:  # the cache works without it; it is just never cleaned
        log.warning("engine cache %s: cannot write its %s (%s): it is not cleaned", folder, CACHEDIR_TAG,
                    error.strerror or error)


def made_by_engines(folder: Path) -> bool:
    """Whether an untagged `folder` is an engine cache that a version before the tag made: every entry a
    name the engines write, an export's checksum (`_EXPORT_CHECKSUM`, which nothing else writes) among
    them. A site's WHERE_TO_FOCUS_CACHE of then (the README's service) was never cleaned once updated; a
    folder of a user's own models holds their own names too (the ONNX file a split graph was cut from,
    or split graphs with checksums of the user's own, `sha256sum`'s)."""
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return False
    return (any(_EXPORT_CHECKSUM.fullmatch(name) for name in names)
            and all(_CACHE_FILE.fullmatch(name) or _UNFINISHED.fullmatch(name) for name in names))


def mark_used(*paths: Path) -> None:
    """Set each file's modification time to now, where it is a day old or more: the cache keeps what was
    used lately. Once a day is plenty against UNUSED_DAYS, and each mark is a write (on Windows, one that
    keeps other processes out of the file for its moment)."""
    now = time.time()
    if _clock_behind(now):
        return
    for path in paths:
        try:
            if abs(now - os.stat(path).st_mtime) >= HOLD_EVERY_S:
                os.utime(path)
        except OSError:
            pass  # removed meanwhile or not ours to change: at worst it is made again later


def hold(paths: tuple[Path, ...]) -> None:
    """Record the cache files of an engine this process runs, for `mark_held_used`."""
    _held.update(paths)


def mark_held_used() -> None:
    """Mark the held files used again: a run that stays up for months keeps its engine's files, which
    another run would otherwise remove and its next start would have to make again."""
    mark_used(*_held)


def remove_unused(cache_dir: Path, *, now: float | None = None) -> None:
    """Delete the cache's files no run used for UNUSED_DAYS, and writes left unfinished a day ago (logged
    once); nothing where the folder is not tagged as the engines' cache."""
    now = time.time() if now is None else now
    if not (cache_dir / CACHEDIR_TAG).is_file() or _clock_behind(now):
        return
    removed, freed = 0, 0
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return
    for entry in entries:
        unfinished = _UNFINISHED.fullmatch(entry.name)
        if unfinished and _CACHE_FILE.fullmatch(unfinished["final"] or f"{unfinished['plan']}.plan"):
            days = UNFINISHED_DAYS
        elif _CACHE_FILE.fullmatch(entry.name):
            days = UNUSED_DAYS
        else:
            continue
        try:
            status = os.stat(entry.path, follow_symlinks=False)  # now, not as listed: another run may mark it
            # Either way from now: a file stamped by a clock set years ahead is not kept for years (what this
            # run uses was marked with the clock as it is; one behind is caught by _clock_behind).
            if not stat.S_ISREG(status.st_mode) or abs(now - status.st_mtime) < days * 86400:
                continue
            if status.st_mtime < NOTHING_MADE_BEFORE:  # made while the clock was behind: its age is unknown
                os.utime(entry.path)  # (a room that made it then may be running it)
                continue
            os.unlink(entry.path)
        except OSError:
            continue  # removed by another run meanwhile, or open (Windows): kept for the next start
        removed += 1
        freed += status.st_size
    if removed:
        log.info("engine cache %s: removed %d file(s), %.1f MB, unused for %d days or left unfinished (each "
                 "is made again if a model needs it)", cache_dir, removed, freed / 1e6, UNUSED_DAYS)


@contextlib.contextmanager
def making(target: Path, wait_s: float) -> Iterator[None]:
    """Make `target` in the cache (the block: it looks again whether it is there, and makes it if not)
    while no other process makes it, waiting up to `wait_s` for one that does, said; past that, or where
    the folder cannot be locked, made here too (each write is whole or not at all, so two makers cost
    only time)."""
    lock = target.with_name(f"{target.name}.lock")
    # Marked used first, as the files it guards are: a lock two months old was removed by another run's
    # start (remove_unused) while held, and the next room made the file beside the one holding it.
    mark_used(lock)
    with contextlib.ExitStack() as hold_lock:
        try:
            hold_lock.enter_context(held(lock, wait_s, waiting=lambda: log.info(
                "%s: another process on this cache is making it; waiting for it (up to %.0f s)",
                target.name, wait_s)))
        except TimeoutError:
            log.warning("%s: another process has been making it for over %.0f s; making it here too",
                        target, wait_s)
        except OSError as error:  # the lock cannot be made here: the file can be made all the same
            log.debug("%s: not locked (%s)", lock, error)
        yield
