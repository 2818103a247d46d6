"""How long the engine cache keeps what it made.

The cache (`selection.default_cache_dir`) gains files as models and the code change: an ONNX export per
checkpoint and exporter version with its checksum, FP16 and split graphs, a TensorRT plan and its key per
graph and precision, a CPU measurement per checkpoint and thread count. Once its model or code version is
gone none is needed again, and an RGB model's set is hundreds of MB, so a site that updates would fill
its disk over the years. Each file the cache hands out again is marked used (`mark_used`: its
modification time set to now, since access times are not kept on every file system), and `remove_unused`
deletes what was not used for `UNUSED_DAYS` when a run opens the cache. Whatever it deletes is made again
when needed: an export in seconds, a TensorRT build in minutes.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

log = logging.getLogger(__name__)

UNUSED_DAYS = 60
# A temporary file of a write that never finished (the process was killed before its rename). Writes
# take minutes at most, a TensorRT build included, so one a day old belongs to no running process.
UNFINISHED_DAYS = 1

# Only names this package writes are ever removed: a folder named by WHERE_TO_FOCUS_CACHE may hold
# other files. Exports `<stem>-<sha16>-<code8>.onnx` (+ `.sha256`), FP16 graphs `...-<code8>.fp16.onnx`,
# split graphs `<stem>-<sha16>.parts.onnx` / `.head.onnx`, TensorRT plans `<graph>.fp16.plan` /
# `.fp32.plan` (+ `.json`), CPU measurements `cpu-batching-<sha16>-<threads>t.json`.
_CACHE_FILE = re.compile(
    r".+-[0-9a-f]{16}(-[0-9a-f]{8})?(\.fp16|\.parts|\.head)?\.onnx(\.sha256)?"
    r"|.+\.fp(16|32)\.plan(\.json)?"
    r"|cpu-batching-[0-9a-f]{16}-\d+t\.json"
)
# What every cache write goes through: `.<final name>.<pid>.partial`, renamed into place when complete.
_UNFINISHED = re.compile(r"\.(?P<final>.+)\.\d+\.partial")


def unfinished_path(path: Path) -> Path:
    """Where a write of `path` goes until it is complete (then os.replace'd into place): per process,
    because two runs may make the same file at once."""
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def mark_used(*paths: Path) -> None:
    """Set each file's modification time to now: the cache keeps what was used lately."""
    for path in paths:
        try:
            os.utime(path)
        except OSError:
            pass  # removed meanwhile or not ours to change: at worst it is made again later


def remove_unused(cache_dir: Path, *, now: float | None = None) -> None:
    """Delete the cache's files not used for UNUSED_DAYS, and unfinished writes a day old (logged once)."""
    now = time.time() if now is None else now
    removed, freed = 0, 0
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return
    for entry in entries:
        unfinished = _UNFINISHED.fullmatch(entry.name)
        if unfinished and _CACHE_FILE.fullmatch(unfinished["final"]):
            days = UNFINISHED_DAYS
        elif _CACHE_FILE.fullmatch(entry.name):
            days = UNUSED_DAYS
        else:
            continue
        try:
            status = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or now - status.st_mtime < days * 86400:
                continue
            os.unlink(entry.path)
        except OSError:
            continue  # removed by another run meanwhile, or open (Windows): kept for the next start
        removed += 1
        freed += status.st_size
    if removed:
        log.info("engine cache %s: removed %d file(s), %.1f MB, unused for %d days or left unfinished (each "
                 "is made again if a model needs it)", cache_dir, removed, freed / 1e6, UNUSED_DAYS)
