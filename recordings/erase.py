"""What is recorded of a room on a day, found and erased: a patient's erasure request
(`python -m recordings erase`).

    DIR --each clip's sidecar ("room", "started_at")--> the clips of that room (that day, local time),
        each with its files: NAME.skeleton, NAME_rgb.avi, NAME.json, NAME_depth.bin
    DIR --each *.partial folder's frames.jsonl header--> interrupted recordings of it (one a recorder is
        writing now is left, and said)
    DIR --each export's samples.tsv--> samples cut from those clips: said, not erased (an export is one
        whole for the tools it was made for: it goes whole)

Only what lies under DIR is found. What was made from the clips elsewhere -- a training run's crop cache,
models that list them among their trained clips, decision, event and alert files and logs of the room --
is named for the operator (`ELSEWHERE`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from recordings.clip import EXPORT_INDEX, ClipError, ClipPaths, find_clips, read_sidecar
from recordings.recorder import PARTIAL_SUFFIX, partial_recordings

# What an erasure of clips does not reach, said after it: copies made of them elsewhere.
ELSEWHERE = (
    "training runs' crop caches (a run's cache folder holds NAME.crops.npy and NAME.npz per clip: "
    "`find RUN -name 'NAME.*'`), models trained on them (their trained_clips name them: retrain without "
    "them), exports made elsewhere, and the room's decision, event and alert files and logs of that time")


@dataclass
class Recorded:
    """What `find_recorded` found under a folder."""

    clips: list[ClipPaths] = field(default_factory=list)
    interrupted: list[Path] = field(default_factory=list)  # *.partial folders of it nobody writes
    being_written: list[Path] = field(default_factory=list)  # *.partial folders a recorder holds now
    exported: list[tuple[Path, str]] = field(default_factory=list)  # (samples.tsv, sample) cut from the clips

    def files(self) -> list[Path]:
        """Every file and folder an erasure removes."""
        return [*(path for clip in self.clips for path in clip_files(clip)), *self.interrupted]


def clip_files(clip: ClipPaths) -> list[Path]:
    """A clip's files: its skeleton, video, sidecar and depth (those there)."""
    depth = clip.skeleton.with_name(f"{clip.name}_depth.bin")
    return [path for path in (clip.skeleton, clip.video, clip.sidecar, depth)
            if path is not None and path.is_file()]


def recorded_of(header: dict, room: str | None, day: _dt.date | None) -> bool:
    """Whether a sidecar's or a partial folder's header was recorded in `room` on `day` (local time)."""
    if room is None or header.get("room") != room:
        return False
    if day is None:
        return True
    try:
        started = _dt.datetime.fromisoformat(str(header.get("started_at")))
    except ValueError:
        return False
    return started.astimezone().date() == day


def find_recorded(directory: Path, *, room: str | None = None, day: _dt.date | None = None,
                  names: Collection[str] = ()) -> Recorded:
    """The clips under `directory` recorded in `room` (on `day`), or named in `names`, the interrupted
    recordings of that room, and the exported samples cut from those clips. A sidecar that cannot be read
    is an error naming it: a clip of the room could hide behind it."""
    found = Recorded()
    for clip in find_clips(directory):
        header = _sidecar_header(clip.sidecar) if clip.sidecar is not None else {}
        if clip.name in names or recorded_of(header, room, day):
            found.clips.append(clip)
    folders = sorted({partial.parent for partial in directory.rglob(f"*{PARTIAL_SUFFIX}")
                      if partial.is_dir()})
    for folder in folders:
        interrupted, running = partial_recordings(folder)
        for partial in [*interrupted, *running]:
            name = partial.name[: -len(PARTIAL_SUFFIX)]
            if name in names or recorded_of(_partial_header(partial), room, day):
                (found.interrupted if partial in interrupted else found.being_written).append(partial)
    erased = {clip.name for clip in found.clips}
    for index in sorted(directory.rglob(EXPORT_INDEX)):
        with open(index, encoding="utf-8", newline="") as rows:
            found.exported += [(index, row["sample"]) for row in csv.DictReader(rows, delimiter="\t")
                               if Path(row.get("clip") or "").name in erased]
    return found


def erase(found: Recorded) -> tuple[int, int]:
    """Remove the clips' files and the interrupted recordings; (files and folders removed, bytes)."""
    removed, size = 0, 0
    for path in found.files():
        if path.is_dir():
            size += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            shutil.rmtree(path)
        else:
            size += path.stat().st_size
            path.unlink()
        removed += 1
    return removed, size


def _sidecar_header(path: Path) -> dict:
    try:
        return read_sidecar(path, intervals=False).raw
    except ClipError as error:
        raise ClipError(f"{error} (not searched: a clip of the room could be this one; mend or remove it "
                        "first)") from None


def _partial_header(partial: Path) -> dict:
    """The header line of an interrupted recording's frames.jsonl ({} where it has none that reads)."""
    try:
        with open(partial / "frames.jsonl", "rb") as frames:
            header = json.loads(frames.readline())
    except (OSError, ValueError):
        return {}
    return header if isinstance(header, dict) else {}
