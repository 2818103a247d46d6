"""The demo's simulated room streams, cut into one continuous sequence per tracked person.

    stream_tasks(scenes, minutes, people, seed, prefix) -> StreamTask list (one simulated room each)
    cut_scene(task, settings) -> PersonSequence list:
        pass 1, skeletons only   SimulatedScene(seed).next_frame(): each tracking id's bodies, colour
                                 pixels and ground truth (Body.truth) -> its timeline of actions
                                 (core.timeline, person = the tracking id), boxes over the whole track
                                 (core.glimpse.part_boxes with the demo's glimpse settings, as live's
                                 worker places them)
        pass 2, drawn            the same scene again, drawn only at the crop rate (every third frame at
                                 30 fps): crop_frame of each tracked person's boxes -> crops
    prepare_stream(task, settings, cache)   one scene's sequences into the prepared cache, each with its
                                 timeline (training.cache: the "timeline" array), label -1; the room's
                                 seed, minutes and people kept with it (streams/<name>.json): a room
                                 asked for with others is simulated again

A tracking id is what live follows: a person who leaves the view and comes back is a new sequence, as
with the Kinect. Bodies are reported only where the sensor would see them, with its noise and dropouts;
the video shows the true pose.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.glimpse import crop_frame, part_boxes
from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION, Timeline, intervals_from_labels
from simulation.actions import CLASS_NAMES
from simulation.scene import SimulatedScene
from training.cache import (
    CacheSettings,
    clip_paths,
    open_cache_folder,
    read_settings,
    timeline_array,
    write_clip,
    write_if_changed,
)
from training.data import DatasetError

# A track shorter than this is somebody glimpsed at the edge of the view: too short for a window.
MIN_SEQUENCE_S = 2.0
# part_boxes smooths over a whole track with a (T, T) weight matrix; long tracks are boxed in chunks
# that overlap by far more than the smoothing reaches (GlimpseConfig.smoothing_s: 0.05 s).
BOX_CHUNK = 900
BOX_OVERLAP = 60


@dataclass(frozen=True)
class StreamTask:
    """One simulated room: the seed decides everything (simulation.scene)."""

    name: str
    seed: int
    minutes: float
    people: int = 2
    group: dict = field(default_factory=dict)


@dataclass
class PersonSequence:
    """One tracked person of a scene: arrays as the prepared cache stores them (times from 0)."""

    name: str
    tracking_id: int
    timestamps: np.ndarray  # float64 (N,) seconds since the track's first frame
    joints: np.ndarray  # float32 (N, 1, 25, 3)
    states: np.ndarray  # int8 (N, 1, 25)
    color: np.ndarray  # float32 (N, 1, 25, 2), 0 where unmapped
    crop_timestamps: np.ndarray  # float64 (Nc,)
    crops: np.ndarray  # uint8 (P, Nc, S, S, 3) RGB
    timeline: Timeline
    scene_start: float  # the track's first frame, seconds of scene time


@dataclass
class _Track:
    frames: list[int] = field(default_factory=list)
    joints: list[np.ndarray] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)
    color: list[np.ndarray] = field(default_factory=list)
    truth: list[str] = field(default_factory=list)


def stream_tasks(scenes: int, minutes: float, people: int, seed: int, prefix: str) -> list[StreamTask]:
    """`scenes` rooms of `minutes` each, seeds drawn from `seed` (62-bit: never a small seed that a
    command line would pick for an evaluation)."""
    seeds = np.random.default_rng([seed, 20190107]).integers(0, 2**62, size=scenes)
    return [
        StreamTask(f"{prefix}_{k:03d}", int(s), minutes, people, {"scene": k}) for k, s in enumerate(seeds)
    ]


def _record_bodies(task: StreamTask) -> tuple[dict[int, _Track], int, float]:
    """Pass 1: every tracking id's bodies and truth, without drawing (the same scene as drawn)."""
    scene = SimulatedScene(seed=task.seed, max_people=task.people, color=False)
    count = int(round(task.minutes * 60 * scene.fps))
    tracks: dict[int, _Track] = {}
    for _ in range(count):
        frame = scene.next_frame()
        for body in frame.bodies:
            track = tracks.setdefault(body.tracking_id, _Track())
            track.frames.append(frame.index)
            track.joints.append(body.joints)
            track.states.append(body.states)
            track.color.append(body.joints_color)
            track.truth.append(body.truth or NO_ACTION)
    return tracks, count, scene.fps


def _boxes(
    joints: np.ndarray,
    states: np.ndarray,
    color: np.ndarray,
    times: np.ndarray,
    scene: SimulatedScene,
    settings: CacheSettings,
) -> np.ndarray:
    """part_boxes over a whole track (P, N, 4), in overlapping chunks for long tracks."""
    count = len(times)
    out = np.empty((3, count, 4), np.float32)
    for begin in range(0, count, BOX_CHUNK):
        lo, hi = max(begin - BOX_OVERLAP, 0), min(begin + BOX_CHUNK + BOX_OVERLAP, count)
        boxes = part_boxes(joints[lo:hi], states[lo:hi], scene.camera, KINECT_V2, settings.glimpse,
                           joints_color=color[lo:hi], timestamps=times[lo:hi])
        end = min(begin + BOX_CHUNK, count)
        out[:, begin:end] = boxes[:, begin - lo:end - lo]
    return out


def cut_scene(task: StreamTask, settings: CacheSettings) -> list[PersonSequence]:
    """Every tracked person of one simulated room: skeleton, crops and timeline (see the module doc)."""
    tracks, count, fps = _record_bodies(task)
    step = max(1, int(round(fps / settings.crop_fps)))  # crops at every step-th scene frame
    scene = SimulatedScene(seed=task.seed, max_people=task.people)
    kept: dict[int, dict] = {}
    for tracking_id, track in tracks.items():
        frames = np.asarray(track.frames)
        times = frames / fps
        if times[-1] - times[0] < MIN_SEQUENCE_S or not (frames % step == 0).any():
            continue
        joints, states = np.stack(track.joints), np.stack(track.states)
        color = np.stack(track.color).astype(np.float32)
        kept[tracking_id] = {
            "frames": frames,
            "times": times,
            "joints": joints,
            "states": states,
            "color": color,
            "boxes": _boxes(joints, states, color, times, scene, settings),
            "crop_rows": np.flatnonzero(frames % step == 0),
            "crops": [],
            "truth": track.truth,
        }
    # Pass 2: draw the frames that are cropped, and cut every kept person out of them.
    where = {tid: {int(f): row for row, f in enumerate(k["frames"])} for tid, k in kept.items()}
    for index in range(count):
        drawn = index % step == 0
        frame = scene.next_frame(draw=drawn)
        if not drawn:
            continue
        for body in frame.bodies:
            person = kept.get(body.tracking_id)
            if person is None:
                continue
            row = where[body.tracking_id].get(index)
            if row is None or not np.array_equal(person["joints"][row], body.joints):
                raise RuntimeError(f"scene {task.seed}: the drawn pass differs from the skeleton pass at "
                                   f"frame {index}")  # both passes must be the same scene
            person["crops"].append(crop_frame(frame.color, person["boxes"][:, row], settings.glimpse))
    sequences = []
    for number, (tracking_id, person) in enumerate(sorted(kept.items())):
        times = person["times"]
        start = float(times[0])
        local = times - start
        labels = [None if t == NO_ACTION else t for t in person["truth"]]
        duration = float(local[-1] + 1.0 / fps)
        intervals = intervals_from_labels(local, labels, person=None, period_s=1.0 / fps)
        timeline = Timeline.checked(intervals, classes=CLASS_NAMES, duration=duration,
                                    source=f"{task.name} person {number}")
        sequences.append(PersonSequence(
            name=f"{task.name}_p{number:03d}",
            tracking_id=tracking_id,
            timestamps=local,
            joints=person["joints"][:, None].astype(np.float32),
            states=person["states"][:, None].astype(np.int8),
            color=np.nan_to_num(person["color"])[:, None],
            crop_timestamps=local[person["crop_rows"]],
            crops=np.stack(person["crops"], axis=1),
            timeline=timeline,
            scene_start=start,
        ))
    return sequences


def room_settings(task: StreamTask) -> dict:
    """What a room's sequences come from besides the cache's settings (cache.json): kept with the room
    (streams/<name>.json), so that a room simulated with another seed, length or number of people is
    cut again instead of being taken for this one."""
    return {"seed": task.seed, "minutes": task.minutes, "people": task.people}


def _recorded_room(done: Path) -> tuple[dict | None, list[dict]]:
    """A finished room's settings and index entries; settings None for a room written before they were
    kept (a bare list of entries)."""
    recorded = json.loads(done.read_text(encoding="utf-8"))
    if isinstance(recorded, list):
        return None, recorded
    return recorded["room"], recorded["sequences"]


def room_changes(task: StreamTask, cache: Path) -> str:
    """How a room finished in `cache` differs from `task` ('seed 1 -> 2; minutes 5 -> 10'); '' when it is
    not finished or the same."""
    done = cache / "streams" / f"{task.name}.json"
    if not done.is_file():
        return "its recut was interrupted" if done.with_name(done.name + ".recut").is_file() else ""
    room, _ = _recorded_room(done)
    now = room_settings(task)
    if room is None:
        return "cut before rooms kept their settings"
    return "; ".join(f"{key} {room.get(key)!r} -> {value!r}" for key, value in now.items()
                     if room.get(key) != value)


def prepare_stream(task: StreamTask, settings: CacheSettings, cache: Path) -> list[dict]:
    """Cut one scene into the cache; returns its index entries. A scene is done once its list of
    sequences (streams/<name>.json) is written, after all of them: an interrupted scene is cut again, and
    so is one simulated with other settings (`room_settings`)."""
    done = cache / "streams" / f"{task.name}.json"
    recut = done.with_name(done.name + ".recut")
    if done.is_file():
        room, entries = _recorded_room(done)
        if room == room_settings(task):
            return entries
        done.replace(recut)  # no longer read as done; its list says which old sequences to remove
    if recut.is_file():  # now, or left by a recut that was interrupted
        # The old sequences go first: a room cut again into fewer people must not leave one of them behind.
        for entry in _recorded_room(recut)[1]:
            for path in clip_paths(cache, entry["name"]):
                path.unlink(missing_ok=True)
        recut.unlink()
    entries = []
    for sequence in cut_scene(task, settings):
        write_clip(cache, sequence.name, {
            "timestamps": sequence.timestamps,
            "joints": sequence.joints,
            "states": sequence.states,
            "color": sequence.color,
            "crop_timestamps": sequence.crop_timestamps,
            "label": np.int64(-1),
            "body_ids": np.array([sequence.tracking_id], np.uint64),
            "timeline": timeline_array(sequence.timeline),
        }, sequence.crops)
        entries.append({
            "name": sequence.name,
            "label": -1,
            "frames": len(sequence.timestamps),
            "crop_frames": len(sequence.crop_timestamps),
            "seconds": float(sequence.timestamps[-1]),
            "group": {**task.group, "scene_seed": task.seed, "scene_start_s": round(sequence.scene_start, 3)},
            "actions": len(sequence.timeline.intervals),
        })
    done.parent.mkdir(parents=True, exist_ok=True)
    partial = done.with_name(done.name + ".partial")
    partial.write_text(json.dumps({"room": room_settings(task), "sequences": entries}), encoding="utf-8")
    partial.replace(done)
    return entries


def _work(job: tuple[StreamTask, CacheSettings, Path]) -> list[dict]:
    return prepare_stream(*job)


def prepare_streams(
    tasks: list[StreamTask], settings: CacheSettings, cache: str | Path, *, workers: int = 1,
    progress: bool = True,
) -> list[dict]:
    """Cut every scene into `cache` (resumable: finished scenes are kept) and write its index.json."""
    cache = Path(cache)
    open_cache_folder(cache)
    settings_path = cache / "cache.json"
    if settings_path.is_file():
        if read_settings(cache) != settings:
            raise DatasetError(f"{cache} was prepared with other settings ({read_settings(cache)}); "
                               "use another folder or the same options")
    else:
        settings_path.write_text(json.dumps(settings.to_dict(), indent=1), encoding="utf-8")
    changed = [(task.name, how) for task in tasks if (how := room_changes(task, cache))]
    if changed:
        print(f"{len(changed)} room(s) in {cache / 'streams'} were simulated with other settings "
              f"({', '.join(f'{name}: {how}' for name, how in changed[:3])}"
              f"{', ...' if len(changed) > 3 else ''}): simulating them again")
    started = time.monotonic()
    index: list[dict] = []
    jobs = [(task, settings, cache) for task in tasks]
    bar = tqdm(total=len(jobs), desc="simulate rooms", unit="room", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for entries in pool.imap_unordered(_work, jobs):
                index.extend(entries)
                bar.update(1)
    else:
        for job in jobs:
            index.extend(_work(job))
            bar.update(1)
    bar.close()
    index.sort(key=lambda e: e["name"])
    # Only when it changes: a training run's inputs include this file, and a demo resumed with every room
    # already cut must see the same inputs (training.stages.stage_inputs).
    write_if_changed(cache / "index.json", json.dumps(index))
    seconds = sum(e["seconds"] for e in index)
    print(f"cut {len(tasks)} simulated rooms into {len(index)} person sequences ({seconds / 60:.0f} min, "
          f"{sum(e['actions'] for e in index)} actions) in {time.monotonic() - started:.0f} s; cache {cache}")
    return index
