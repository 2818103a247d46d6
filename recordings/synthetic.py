"""Generated clips written in the NTU layout, through the same recorder as real recordings.

    write_synthetic_dataset(out, clips_per_class, seed)
      for each class c (simulation.CLASSES) and clip k: generate_clip(c, rng([seed, c, k]))
      --> recordings.recorder.Recorder --> S<setup>C001P<k>R<r>A<121 + c>.skeleton / _rgb.avi / .json
      out/labels.txt        the label map (A121 drink_left, ...; recordings.labels format), with each
                            class's informative part in its comments
      out/simulation.json   seed, generator config, class table (name, focus) and every clip's draws
                            (distance, facing, held objects, ...)

Every loader reads these as it reads a recorded clip: colour pixels in the skeleton file are those of
the 640x360 video, and the sidecar's calibration holds the camera that drew it. Clip k of class c
depends only on (seed, c, k), so the result does not depend on the number of worker processes, and
an interrupted run resumes: clips whose files exist are kept.

    python -m recordings.synthetic --out data/sim --clips-per-class 100 --seed 1 --workers 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from core.atomic import replace_atomically
from core.frame import Body, Frame
from core.timeline import Timeline
from recordings.argument_types import CommandLineParser, float_in, integer_in, output_folder
from recordings.labels import FIRST_SITE_ACTION, LABEL_MAP_FILENAME, LabelMap, read_label_map, write_label_map
from recordings.ntu_samples import SampleName
from recordings.recorder import SIMULATED_SOURCE, Recorder, RecorderConfig, RecorderError
from simulation import CLASSES, SimClip, SimulationConfig, generate_clip

MANIFEST = "simulation.json"
MANIFEST_FORMAT = "where-to-focus simulated dataset"


def simulated_label_map() -> LabelMap:
    """A121.. for the simulated classes, in CLASSES order (the class index is the position)."""
    return LabelMap({FIRST_SITE_ACTION + i: action.name for i, action in enumerate(CLASSES)})


def sample_name(class_index: int, clip_number: int, seed: int) -> str:
    """S = seed (mod 999) + 1, P and R = the clip number within its class, A = the class's site id."""
    return str(
        SampleName(
            setup=seed % 999 + 1,
            camera=1,
            performer=clip_number % 999 + 1,
            replication=clip_number // 999 + 1,
            action=FIRST_SITE_ACTION + class_index,
        )
    )


def clip_frames(clip: SimClip) -> list[Frame]:
    """The clip as the sensor's stream: core Frames with colour and the reported body."""
    frames = []
    body_id = int(clip.body_ids[0])
    for i, image in enumerate(clip.frames):
        bodies = []
        if clip.present[i, 0]:
            bodies.append(Body(body_id, clip.joints[i, 0], clip.states[i, 0], clip.joints_color[i, 0]))
        frames.append(Frame(timestamp=float(clip.timestamps[i]), color=image, bodies=bodies, index=i))
    return frames


def write_clip(
    clip: SimClip, out_dir: Path, name: str, label_map: LabelMap, source: str, jpeg_quality: int = 90
) -> Path:
    """Write one generated clip with the recorder; returns the .skeleton path."""
    config = RecorderConfig(
        fps=clip.fps, jpeg_quality=jpeg_quality, min_free_bytes=256 * 1024**2, sync_interval_s=3600.0
    )
    with Recorder(
        out_dir,
        label=clip.action.name,
        label_map=label_map,
        sample_name=name,
        camera=clip.camera,
        source=source,
        config=config,
        # Where the action is: a model with no_action trains the idle time around it as background.
        timeline=Timeline.checked([clip.action_interval], duration=clip.num_frames / clip.fps, source=name),
    ) as recorder:
        for frame in clip_frames(clip):
            if not recorder.write(frame):
                raise RuntimeError(f"{out_dir / name}: the recorder stopped: {recorder.stopped_reason}")
    return recorder.close().skeleton


def _clip_record(clip: SimClip, name: str, number: int) -> dict:
    return {
        "name": name,
        "class": clip.action.name,
        "focus": clip.action.focus,
        "clip": number,
        "frames": clip.num_frames,
        "fps": clip.fps,
        "low_light": clip.low_light,
        "held": [None if kind is None else kind.value for kind in clip.held],
        **clip.details,
    }


def _make_one(job: tuple[Path, int, int, int, SimulationConfig, int]) -> tuple[dict, int, float]:
    out_dir, class_index, number, seed, config, jpeg_quality = job
    started = time.perf_counter()
    clip = generate_clip(class_index, np.random.default_rng([seed, class_index, number]), config)
    name = sample_name(class_index, number, seed)
    write_clip(
        clip,
        out_dir,
        name,
        simulated_label_map(),
        f"{SIMULATED_SOURCE} (simulation, seed {seed}, class {clip.action.name}, clip {number})",
        jpeg_quality,
    )
    return _clip_record(clip, name, number), clip.num_frames, time.perf_counter() - started


def _one_thread_per_worker() -> None:
    # Each worker process is one core's worth of work; OpenCV's own thread pool would oversubscribe.
    cv2.setNumThreads(1)


def _settings(seed: int, clips_per_class: int, config: SimulationConfig, classes: Sequence[int]) -> dict:
    return {
        "seed": seed,
        "clips_per_class": clips_per_class,
        "classes": list(classes),
        "config": json.loads(json.dumps(asdict(config))),
    }


def write_synthetic_dataset(
    out_dir: Path | str,
    clips_per_class: int,
    seed: int,
    config: SimulationConfig | None = None,
    *,
    classes: Sequence[int] | None = None,
    workers: int = 1,
    jpeg_quality: int = 90,
    progress: Callable[[str], None] | None = print,
) -> list[Path]:
    """Generate `clips_per_class` clips of each class (all of CLASSES by default) into out_dir.

    A clip takes ~30 KB per frame at jpeg_quality 90 (the sensor noise is what costs; ~3.5 MB for a
    typical 4 s clip), about half at 75. Returns the .skeleton paths, sorted. Clips already there (same
    seed and config, recorded in simulation.json) are kept, so an interrupted run can be started again
    with the same arguments.
    """
    if clips_per_class < 1:
        raise ValueError(f"clips_per_class must be at least 1, got {clips_per_class}")
    config = config or SimulationConfig()
    classes = list(range(len(CLASSES))) if classes is None else list(classes)
    bad = [c for c in classes if not 0 <= c < len(CLASSES)]
    if bad:
        raise ValueError(f"class indices {bad} out of range 0..{len(CLASSES) - 1}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings(seed, clips_per_class, config, classes)
    manifest_path = out_dir / MANIFEST
    records: dict[str, dict] = {}
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{manifest_path}: line {error.lineno}: not valid JSON ({error.msg})") from None
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f'{manifest_path}: expected "format": "{MANIFEST_FORMAT}"')
        old = {key: manifest.get(key) for key in ("seed", "config")}
        if old != {key: settings[key] for key in ("seed", "config")}:
            raise ValueError(
                f"{manifest_path}: this folder holds clips made with another seed or generator "
                f"config; use an empty folder"
            )
        records = {r["name"]: r for r in manifest.get("clips", [])}
    label_map = simulated_label_map()
    labels_path = out_dir / LABEL_MAP_FILENAME
    if labels_path.exists():
        if read_label_map(labels_path, site=False) != label_map:
            raise ValueError(f"{labels_path}: a different label map is already there; use an empty folder")
    else:
        header = "Simulated Kinect actions (simulation); informative part per class:\n" + "\n".join(
            f"A{FIRST_SITE_ACTION + i:03d} {a.name}: {a.focus} ({a.summary})" for i, a in enumerate(CLASSES)
        )
        write_label_map(labels_path, label_map, header)

    jobs = []
    for class_index in classes:
        for number in range(clips_per_class):
            name = sample_name(class_index, number, seed)
            done = all((out_dir / f"{name}{suffix}").is_file() for suffix in (".skeleton", ".json"))
            if not (done and name in records):
                # What an interrupted run left of this clip (finalised short by the stop, or a .partial
                # folder): the generator makes it again, the same, from its seed.
                for leftover in out_dir.glob(f"{name}[._]*"):
                    if leftover.is_dir():
                        shutil.rmtree(leftover)
                    else:
                        leftover.unlink()
                jobs.append((out_dir, class_index, number, seed, config, jpeg_quality))
    total = len(classes) * clips_per_class
    if progress and len(jobs) < total:
        progress(f"{out_dir}: {total - len(jobs)} of {total} clips already there")

    def save_manifest() -> None:
        manifest = {
            "format": MANIFEST_FORMAT,
            **settings,
            "class_table": [
                {"action_id": FIRST_SITE_ACTION + i, "name": a.name, "focus": a.focus, "summary": a.summary}
                for i, a in enumerate(CLASSES)
            ],
            "command": " ".join(sys.argv),
            "clips": [records[k] for k in sorted(records)],
        }
        replace_atomically(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))

    started = time.perf_counter()
    frames = 0
    report_every = max(1, len(jobs) // 20)

    def done(count: int, result: tuple[dict, int, float]) -> None:
        nonlocal frames
        record, clip_frames_count, _ = result
        records[record["name"]] = record
        frames += clip_frames_count
        if progress and (count % report_every == 0 or count == len(jobs)):
            elapsed = time.perf_counter() - started
            progress(
                f"{count}/{len(jobs)} clips, {frames} frames, {frames / max(elapsed, 1e-9):.0f} frames/s "
                f"({elapsed:.0f} s)"
            )
        if count % 50 == 0:
            save_manifest()

    try:
        if workers <= 1 or len(jobs) <= 1:
            for count, job in enumerate(jobs, start=1):
                done(count, _make_one(job))
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_one_thread_per_worker) as pool:
                for count, result in enumerate(pool.map(_make_one, jobs, chunksize=4), start=1):
                    done(count, result)
    finally:
        save_manifest()
    return sorted(out_dir / f"{name}.skeleton" for name in records)


def build_parser() -> argparse.ArgumentParser:
    # (`or`: python -OO drops docstrings)
    parser = CommandLineParser(prog="python -m recordings synth",
                               description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=output_folder, required=True, help="output folder")
    parser.add_argument("--clips-per-class", type=integer_in(1), default=100,
                        help="clips of each of the simulator's classes (default: 100, about 6 minutes on "
                             "one core for the 1,000; 1 makes a trial set in seconds)")
    parser.add_argument("--seed", type=integer_in(0), default=1,
                        help="the same seed writes the same clips (default: 1)")
    parser.add_argument("--workers", type=integer_in(1), default=1,
                        help="processes, each using one core (default: 1)")
    parser.add_argument(
        "--jpeg-quality", type=integer_in(1, 100), default=90,
        help="of the _rgb.avi frames (75 halves the size; default: 90)"
    )
    parser.add_argument(
        "--low-light",
        type=float_in(0.0, 1.0),
        default=0.0,
        metavar="P",
        help="probability of a low-light clip (15 fps, dark, noisy; default: 0)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = SimulationConfig(low_light_probability=args.low_light)
        paths = write_synthetic_dataset(
            args.out,
            args.clips_per_class,
            args.seed,
            config,
            workers=args.workers,
            jpeg_quality=args.jpeg_quality,
        )
    except (ValueError, RecorderError) as error:
        print(f"python -m recordings synth: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: the same command finishes {args.out} (the clips made are kept)", file=sys.stderr)
        return 130
    print(f"{len(paths)} clips in {args.out} (label map {Path(args.out) / LABEL_MAP_FILENAME})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
