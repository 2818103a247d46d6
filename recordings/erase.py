"""What is recorded of a room on a day, or before a time, found and erased: a patient's erasure request,
a site's retention rule (`python -m recordings erase`).

    DIR --each clip's sidecar ("room", "started_at", "duration_s")--> the clips of that room (recorded
        that day, the room's local time), or that ended before a time (retention),
        each with its files: NAME.skeleton, NAME_rgb.avi, NAME.json, NAME_depth.bin
    DIR --each sidecar without its skeleton--> what is left of a clip (an erasure stopped midway, files
        deleted by hand by age: a sidecar a relabelling had made newer survives them)
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
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from core.package_files import NOTHING_MADE_BEFORE
from recordings.clip import EXPORT_INDEX, ClipError, ClipPaths, find_clips, read_sidecar_header
from recordings.recorder import (
    MAX_PART_S,
    PARTIAL_SUFFIX,
    made_not_recorded,
    partial_recordings,
    started_on_room_clock,
)

# What an erasure of clips does not reach, said after it: copies made of them elsewhere.
ELSEWHERE = (
    "training runs' crop caches (a run's cache folder holds NAME.crops.npy and NAME.npz per clip: "
    "`find RUN -name 'NAME.*'`), models trained on them (their trained_clips name them: retrain without "
    "them), exports made elsewhere, and the room's decision, event and alert files and logs of that time")


@dataclass(frozen=True)
class Asked:
    """What an erasure asks for: a room's recordings (of one day), the recordings that ended before a time
    (of one room, or of all), or clips by name."""

    room: str | None = None
    day: _dt.date | None = None  # the room's local day
    before: float | None = None  # wall-clock seconds: recordings whose last frame came before it
    names: frozenset[str] = frozenset()


@dataclass
class Recorded:
    """What `find_recorded` found under a folder."""

    clips: list[ClipPaths] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)  # sidecars whose skeleton is gone
    interrupted: list[Path] = field(default_factory=list)  # *.partial folders of it nobody writes
    being_written: list[Path] = field(default_factory=list)  # *.partial folders a recorder holds now
    exported: list[tuple[Path, str]] = field(default_factory=list)  # (samples.tsv, sample) cut from the clips
    # Asked for by age, left: clips the simulator or a conversion made (training data), or saying no time.
    not_by_age: list[Path] = field(default_factory=list)
    # Asked for by age, left: recordings dated while the clock was wrong (dated_wrong), of unknown age.
    dated_wrong: list[Path] = field(default_factory=list)
    # Links under the folder to folders elsewhere: not searched (their clips, a room's on another disk,
    # would be left while the erasure said it was done).
    linked_folders: list[Path] = field(default_factory=list)

    def links(self) -> list[Path]:
        """The files and folders an erasure would remove that are links: the link goes, what it points to
        (outside the folder, perhaps) does not."""
        return [path for path in self.files() if path.is_symlink()]

    def files(self) -> list[Path]:
        """Every file and folder an erasure removes: each clip's files, each interrupted recording's folder
        with whatever of its clip its finishing had put beside it."""
        partials = [(partial, partial.with_name(partial.name[: -len(PARTIAL_SUFFIX)] + ".skeleton"))
                    for partial in self.interrupted]
        beside = [path for partial, skeleton in partials for path in clip_files(skeleton)]
        clips = [path for clip in self.clips for path in clip_files(clip.skeleton)]
        left = [path for sidecar in self.leftovers for path in clip_files(sidecar.with_suffix(".skeleton"))]
        return [*clips, *left, *beside, *self.interrupted]


class ErasedInPart(OSError):
    """An erasure a file stopped: what was erased before it, and what is left."""


def clip_files(skeleton: Path) -> list[Path]:
    """The files there of the clip whose skeleton is (or was to be) `skeleton`: its video and depth first,
    then the skeleton, the sidecar last (it says the clip's room: what is left of a clip an error stopped
    is found again by it)."""
    name = skeleton.name[: -len(".skeleton")]
    paths = (skeleton.with_name(f"{name}_rgb.avi"), skeleton.with_name(f"{name}_depth.bin"), skeleton,
             skeleton.with_name(f"{name}.json"))
    return [path for path in paths if path.is_file()]


def asked_for(asked: Asked, header: dict, source: Path, last_written: float | None = None) -> bool | None:
    """Whether the recording of a sidecar's or a partial folder's header (read from `source`) is one
    `asked` names by room, day or time (not by name): recorded in its room, on its day (the room's local
    time: begun that day, or going on into it past midnight), ended before its time. For how long it went
    on: its "duration_s", or for an interrupted recording until `last_written` (wall-clock seconds).
    None where it is asked for by time alone and is not the app's recording of a room (a clip the
    simulator or a conversion made: training data, which a retention rule must not take), or says no time,
    or is dated while the clock was wrong (`dated_wrong`).
    ClipError where the day is asked and a room's recording cannot say it: a clip of the day could hide
    behind it."""
    if asked.room is not None and not same_room(header.get("room"), asked.room):
        return False
    if asked.day is None and asked.before is None:
        return asked.room is not None
    if asked.day is None and made_not_recorded(header.get("source")):
        return None
    try:
        start = started_on_room_clock(header)
    except ValueError:
        if asked.day is not None:
            raise ClipError(f"{source}: a recording of room {asked.room!r} whose \"started_at\" "
                            f"({header.get('started_at')!r}) says no time: which day it is cannot be told; "
                            "erase it by --clip, or mend it") from None
        return None
    if asked.day is None and dated_wrong(header):
        return None
    lasted = header.get("duration_s")
    # (at most 30 years: a damaged length must not overflow the date)
    lasted = min(float(lasted), 1e9) if isinstance(lasted, (int, float)) and lasted >= 0 else 0.0
    if last_written is not None:  # a part lasts MAX_PART_S at most: a later write time is a copy's
        lasted = min(max(0.0, last_written - start.timestamp()), MAX_PART_S)
    end = start + _dt.timedelta(seconds=lasted)
    if asked.day is not None and not start.date() <= asked.day <= end.date():
        return False
    return asked.before is None or end.timestamp() < asked.before


def same_room(recorded: object, asked: str) -> bool:
    """Whether a recording's room is the one asked for: the same name, however its accents were typed
    ("ü" one character, or "u" and a combining mark, as macOS writes names). A patient's erasure found
    nothing of "Zimmer 12 – Süd" typed the other way, and the clips stayed."""
    return isinstance(recorded, str) and (unicodedata.normalize("NFC", recorded)
                                          == unicodedata.normalize("NFC", asked))


def rooms_recorded(directory: Path) -> list[str]:
    """The rooms the clips under `directory` were recorded in (their sidecars'), sorted."""
    rooms = {header.get("room") for clip in find_clips(directory) if clip.sidecar is not None
             for header in [_sidecar_header(clip.sidecar)]}
    return sorted(room for room in rooms if isinstance(room, str))


def dated_wrong(header: dict) -> bool:
    """Whether a recording is dated before this software existed or more than a day ahead of now: the
    computer's clock was wrong when it was recorded (one booted with a flat clock battery reads 2000 until
    it synchronises), or is wrong now. Its age cannot be told: a retention rule erased a fall recorded
    that morning as 26 years old, and never erased one dated ahead."""
    try:
        start = started_on_room_clock(header).timestamp()
    except ValueError:
        return False
    return not NOTHING_MADE_BEFORE <= start <= time.time() + 86400


def find_recorded(directory: Path, asked: Asked) -> Recorded:
    """The clips under `directory` that `asked` names, what is left of such clips, the interrupted
    recordings among them, and the exported samples cut from them. A sidecar that cannot be read is an
    error naming it (a clip of the room could hide behind it), and so is a name that several folders
    hold (clips are numbered per folder: two rooms' folders both have S001C001P001R001A121)."""
    found = Recorded()
    names = asked.names
    inside = directory.resolve()
    found.linked_folders = sorted(  # (a link into the folder itself: searched there)
        path for path in directory.rglob("*") if path.is_symlink() and path.is_dir()
        and not path.resolve().is_relative_to(inside))

    def wanted(name: str, header: dict, source: Path, last_written: float | None = None) -> bool:
        if name in names:
            return True
        matched = asked_for(asked, header, source, last_written)
        if matched is None:
            recorded = not made_not_recorded(header.get("source"))  # (training data: left, whatever its date)
            (found.dated_wrong if recorded and dated_wrong(header) else found.not_by_age).append(source)
        return matched is True

    for clip in find_clips(directory):
        header = _sidecar_header(clip.sidecar) if clip.sidecar is not None else {}
        if wanted(clip.name, header, clip.sidecar or clip.skeleton):
            found.clips.append(clip)
    for sidecar, header in _leftover_sidecars(directory):
        if wanted(sidecar.stem, header, sidecar):
            found.leftovers.append(sidecar)
    folders = sorted({partial.parent for partial in directory.rglob(f"*{PARTIAL_SUFFIX}")
                      if partial.is_dir()})
    for folder in folders:
        interrupted, running = partial_recordings(folder)
        for partial in [*interrupted, *running]:
            name = partial.name[: -len(PARTIAL_SUFFIX)]
            header, source = _partial_header(partial)
            # Frames are appended to frames.jsonl as they come: its last change is when the recording stopped.
            last_written = _modified(source) if source.name == "frames.jsonl" else None
            if wanted(name, header, source, last_written):
                (found.interrupted if partial in interrupted else found.being_written).append(partial)
    for name in names:
        held = [*(clip.skeleton.parent for clip in found.clips if clip.name == name),
                *(sidecar.parent for sidecar in found.leftovers if sidecar.stem == name),
                *(partial.parent for partial in [*found.interrupted, *found.being_written]
                  if partial.name == name + PARTIAL_SUFFIX)]
        if len(set(held)) > 1:
            raise ClipError(f"--clip {name}: clips of that name in {len(set(held))} folders "
                            f"({', '.join(map(str, sorted(set(held))))}): each folder numbers its own; give "
                            "the one folder that holds it")
    erased = {clip.name for clip in found.clips} | {sidecar.stem for sidecar in found.leftovers}
    for index in sorted(directory.rglob(EXPORT_INDEX)):
        with open(index, encoding="utf-8", newline="") as rows:
            found.exported += [(index, row["sample"]) for row in csv.DictReader(rows, delimiter="\t")
                               if Path(row.get("clip") or "").name in erased]
    return found


def erase(found: Recorded) -> tuple[int, int]:
    """Remove the clips' files and the interrupted recordings; (files and folders removed, bytes). A link
    is removed as a link (`Recorded.links`: what it points to is not followed). ErasedInPart where one
    cannot be removed, saying what was and what is left."""
    paths = found.files()
    removed, size = 0, 0
    for path in paths:
        try:
            if path.is_symlink():  # (rmtree refuses a link to a folder; a link's target is not erased)
                path.unlink()
            elif path.is_dir():
                folder_size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
                shutil.rmtree(path)
                size += folder_size
            else:
                file_size = path.stat().st_size
                path.unlink()
                size += file_size
        except OSError as error:
            left = [str(p) for p in paths[removed:] if p.exists()]
            raise ErasedInPart(f"{path}: cannot be erased ({error.strerror or error}); {removed} of "
                               f"{len(paths)} files and folders erased before it, left: {', '.join(left)}"
                               ) from None
        removed += 1
    return removed, size


def _sidecar_header(path: Path) -> dict:
    try:
        return read_sidecar_header(path)
    except ClipError as error:
        raise ClipError(f"{error} (not searched: a clip of the room could be this one; mend or remove it "
                        "first)") from None


def _leftover_sidecars(directory: Path) -> list[tuple[Path, dict]]:
    """Clip sidecars under `directory`, with what they hold, whose skeleton is gone and that no partial
    folder is finishing: what an erasure stopped midway left (the sidecar goes last so that this finds
    it), or files deleted by hand by age, which a sidecar a relabelling had made newer survived."""
    left = []
    for sidecar in sorted(directory.rglob("*.json")):
        if (sidecar.is_file() and not sidecar.with_suffix(".skeleton").exists()
                and not sidecar.with_name(sidecar.stem + PARTIAL_SUFFIX).exists()
                and _looks_like_a_sidecar(sidecar)
                and {"skeleton", "timestamps"} <= (header := _json_object(sidecar)).keys()):
            left.append((sidecar, header))
    return left


def _looks_like_a_sidecar(path: Path) -> bool:
    """Whether a JSON file's start has a clip sidecar's first keys: only those are read whole (a folder of
    runs holds thousands of other JSON files, results and settings)."""
    try:
        with open(path, "rb") as file:
            start = file.read(1 << 16)
    except OSError:
        return False
    return b'"started_at"' in start or b'"frame_count"' in start


def _json_object(path: Path) -> dict:
    """The JSON object a file holds; {} where it holds none (a settings file, not JSON)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _modified(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _partial_header(partial: Path) -> tuple[dict, Path]:
    """What a partial folder says of its recording, and where: its frames.jsonl's header line, else the
    sidecar its finishing had put beside it (a finished clip's left-over folder); {} where neither reads."""
    try:
        with open(partial / "frames.jsonl", "rb") as frames:
            header = json.loads(frames.readline())
        if isinstance(header, dict):
            return header, partial / "frames.jsonl"
    except (OSError, ValueError):
        pass
    sidecar = partial.with_name(partial.name[: -len(PARTIAL_SUFFIX)] + ".json")
    try:
        header = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}, partial
    return (header, sidecar) if isinstance(header, dict) else ({}, partial)
