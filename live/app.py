"""`python -m live`: the command line, turned into a LiveConfig, turned into a running app.

    python -m live                                  window, simulated room, demo model
    python -m live --source kinect                  the Kinect v2 (Windows; kinect-next, or kinect:pykinect2)
    python -m live --source kinect --privacy blur   tracked faces blurred before anything shows or keeps them
    python -m live --headless --alert-url https://nurse-call.example/alerts   alerts POSTed, never lost
    python -m live --source ../shared/data/pkummd/skeletons/0005-L.txt.xz --headless --fast
    python -m live --source clips/S001C001P001R001A001.skeleton --loop
    python -m live --source sim --headless --duration 60 --output decisions.jsonl
    python -m live --headless --alert-class fall_down --alert-command "notify-send fall"
    python -m live --record --label "patient fell"  record clips of a site class (labels.txt, A121+)

Which model runs where (`default_checkpoint`; --checkpoint overrides): the simulated room -> demo.pt,
trained on the simulator's own classes; every real source (the Kinect, .xef, NTU-layout clips, PKU-MMD
sequences) -> pku_interactions.pt, trained on real Kinect v2 data. The startup line names the model,
its classes and whether it uses RGB; a model that needs colour is refused on a source without colour.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import logging
import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import IO

from core.engines import (
    MAX_PEOPLE,
    Backend,
    Engine,
    EngineError,
    EngineMetadata,
    open_engine,
    unavailable_reason,
    usable_cores,
)
from core.locks import LockNotOpened, held_by_another
from core.model.settings import DecisionSettings
from core.package_files import PACKAGE_ROOT, describe_software
from core.privacy import PrivacyMode
from core.skeleton import KINECT_V2, layout_by_name
from core.timeline import NO_ACTION
from core.wording import disk_amount, first_few
from live.alert_delivery import (
    DEFAULT_QUEUE,
    DeliveryConfig,
    QueueInUse,
    queue_held,
    queue_problem,
    read_authorization,
    refuse_a_held_queue,
    refuse_other_files,
    undelivered_in,
)
from live.capture import CAPTURE_THREAD
from live.headless import (
    ALERT_BEEP_S,
    DEFAULT_ALERT_CLASSES,
    AlertConfig,
    AlertDispatcher,
    EndedBy,
    HeadlessConfig,
    StartingStatusFile,
    StatusFileInUse,
    alert_classes,
    default_alert_classes,
    hold_status_file,
    room_outage_file,
    run_headless,
)
from live.pipeline import LivePipeline, NotEnoughMemory, PipelineConfig, RecordingSettings, Summary
from live.sources import (
    KinectBackend,
    ReplayOptions,
    Source,
    SourceUnavailable,
    replay_source,
    simulated_source,
)
from live.worker import (
    PARTNER_MAX_M,
    PARTNER_MEMORY_S,
    RECOGNITION_THREAD,
    ModelInputs,
    RecognitionConfig,
    is_two_person,
)
from recordings.argument_types import (
    CommandLineParser,
    any_path,
    existing_path,
    expand_options_files,
    folder_path,
    hop_seconds,
    image_file,
    integer_in,
    json_lines_file,
    non_negative_float,
    output_file,
    package_file,
    positive_float,
    prepare_console,
    probability,
    smoothing_seconds,
    thread_count,
    why_no_display,
    without_secrets,
)
from recordings.atomic import umask_lets_others_read, why_not_writable
from recordings.labels import LABEL_MAP_FILENAME, check_label, unwritable_character
from recordings.picture_text import characters_without_a_font
from recordings.qt_binding import QtBindingError, check_qt_binding
from recordings.recorder import RecorderConfig, RecorderError
from recordings.stop_signals import EXIT_INTERRUPTED, STOP_SIGNALS, interrupt_on_stop_signals

log = logging.getLogger("live")

CHECKPOINTS = PACKAGE_ROOT / "training" / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINTS / "demo.pt"  # the simulated room's own classes
# Real sources (a sensor and recordings of one) get a model trained on real Kinect v2 skeletons: the
# demo knows only the simulator's rendering and would answer nonsense there.
REAL_DATA_CHECKPOINT = CHECKPOINTS / "pku_interactions.pt"
DEFAULT_RECORD_DIR = Path("runs") / "recordings"  # runs/ is ignored by git
# The app's own handlers: the stop signals, and SIGHUP (logrotate's, or a window's terminal closing).
CAUGHT_SIGNALS = (*STOP_SIGNALS, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []))
# Smoothing and threshold for a model that does not carry its own (DecisionSettings) and a command line
# that does not say; events then end where they start, at the threshold.
APP_DECISIONS = DecisionSettings(smoothing_s=RecognitionConfig.smoothing_s, threshold=AlertConfig.threshold)
# --engine choices -> core.engines backends; the short names take the GPU flavour when there is one.
ENGINE_CHOICES = ("auto", "onnxruntime", "torch", "tensorrt", "onnxruntime-cpu", "onnxruntime-cuda",
                  "pytorch-cpu", "pytorch-cuda")


class SourceKind(Enum):
    SIMULATOR = "sim"
    KINECT = "kinect"
    RECORDING = "recording"


@dataclass(frozen=True)
class SourceChoice:
    """What --source names: the simulated room, the Kinect through one library, or a recording."""

    kind: SourceKind = SourceKind.SIMULATOR
    kinect: KinectBackend | None = None  # KINECT: the library that reads the sensor
    path: Path | None = None  # RECORDING: its file or folder

    @classmethod
    def parse(cls, text: str) -> SourceChoice:
        """`sim`, `kinect` (kinect-next), `kinect:BACKEND`, else a recording's path (one named like them:
        `./sim`)."""
        if text == SourceKind.SIMULATOR.value:
            return cls()
        if text == SourceKind.KINECT.value:
            return cls(SourceKind.KINECT, KinectBackend.KINECT_NEXT)
        if text.startswith("kinect:"):
            choice = text.split(":", 1)[1]
            try:
                return cls(SourceKind.KINECT, KinectBackend(choice))
            except ValueError:
                raise ValueError(f"--source {text}: unknown Kinect backend {choice!r}; expected "
                                 f"{' or '.join('kinect:' + b.value for b in KinectBackend)}") from None
        return cls(SourceKind.RECORDING, path=Path(text))

    def __str__(self) -> str:
        if self.kind is SourceKind.RECORDING:
            return str(self.path)
        if self.kind is SourceKind.KINECT:
            return f"kinect:{self.kinect.value}"
        return self.kind.value


@dataclass(frozen=True)
class LiveConfig:
    source: SourceChoice = field(default_factory=SourceChoice)
    video: Path | None = None  # a replayed clip's _rgb.avi kept apart from its .skeleton (NTU's folders)
    checkpoint: Path | None = None  # None: the bundled model for the source (`default_checkpoint`)
    engine: str = "auto"
    threads: int | None = None  # ONNX Runtime intra-op threads (None: usable cores - 1, at least 1)
    headless: bool = False
    replay: ReplayOptions = field(default_factory=ReplayOptions)
    sim_people: int = 2
    seed: int | None = None
    sim_actions: tuple[str, ...] | None = None  # sim: the classes people perform (None: the default ten)
    sim_low_light: bool = False  # sim: the room at night (colour at 15 fps, dark and noisy)
    record_dir: Path = DEFAULT_RECORD_DIR
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    headless_config: HeadlessConfig = field(default_factory=HeadlessConfig)
    alert_classes_given: bool = False  # explicit --alert-class: unknown names are an error
    # --smoothing / --threshold as given; None takes the model's own (DecisionSettings, chosen on its
    # validation data), else the defaults of RecognitionConfig / AlertConfig (`with_decisions`).
    decisions: DecisionSettings = field(default_factory=DecisionSettings)
    duration_s: float | None = None  # stop after this long (None: until closed, Ctrl-C or the replay ends)
    screenshot: Path | None = None  # window: save a screenshot after `duration_s` (or 5 s) and quit
    privacy: PrivacyMode | None = None  # None: the default for the source (default_privacy)
    show_3d: bool = True  # window: the 3D room panel at start (key 3 toggles it)
    check: bool = False  # --check: what a start would refuse, said without running (`check_start`)
    pause_limit_s: float = 600.0  # window: a pause ends by itself after this long (0: only space ends it)
    alert_beep_s: float = ALERT_BEEP_S  # window: seconds between beeps while an alert is unacknowledged
    room_given: bool = True  # --room given (False: the computer's name stands in)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(
        prog="python -m live",
        description="Real-time action recognition for a Kinect v2 room: who does what, and where the "
                    "model looked. @FILE reads options from FILE (UTF-8), an option and its value a line "
                    "(a room's settings kept out of its service unit).",
    )
    parser.add_version()
    parser.add_argument("--source", default="sim",
                        help="kinect | kinect:pykinect2 | sim | PATH of a recording (.xef, NTU-layout "
                             ".skeleton / _rgb.avi / .json, or a clip folder, PKU-MMD NNNN-V.txt[.xz|.gz]); "
                             "default: sim. kinect reads the sensor through kinect-next; kinect:pykinect2 "
                             "through PyKinect2")
    parser.add_argument("--video", type=any_path, default=None,
                        help="the _rgb.avi of a replayed .skeleton kept in another folder (NTU RGB+D's "
                             "release keeps skeletons and videos apart)")
    parser.add_argument("--privacy", choices=[m.value for m in PrivacyMode], default=None,
                        help="off: colour as the sensor gives it; blur: tracked faces blurred before "
                             "anything shows, crops or records them; skeleton: no colour image shown or "
                             "recorded (kept in memory only when the model crops it). Default: skeleton "
                             "for --source kinect (a live room) and a .xef (the room as the sensor saw "
                             "it); for a clip of ours the mode it was recorded under (its sidecar); off "
                             "for the simulator and the research datasets (NTU, PKU-MMD)")
    parser.add_argument("--checkpoint", type=package_file, default=None,
                        help="model checkpoint (.pt) or exported .onnx; default: training/checkpoints/"
                             "demo.pt for the simulated room, training/checkpoints/pku_interactions.pt (real "
                             "Kinect v2 data) for every real source")
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default="auto",
                        help="inference backend; auto takes the first usable of tensorrt, pytorch-cuda "
                             "(FP16 I3Ds, CUDA graphs), onnxruntime-cuda, then the CPU (ONNX Runtime or "
                             "PyTorch, per number of people whichever it measures faster) and logs why; "
                             "torch / onnxruntime take their CUDA flavour where usable; default: auto")
    parser.add_argument("--threads", type=thread_count, default=None,
                        help="ONNX Runtime threads (default: all cores but one, which capture and the "
                             "window need)")
    parser.add_argument("--headless", action="store_true", help="no window: JSON lines of decisions")
    parser.add_argument("--check", action="store_true",
                        help="check the options, the source and the model as a start would (the alert "
                             "classes against the model's) and exit, 0 where it would start; nothing runs, "
                             "and nothing is written but the engine cache")
    parser.add_argument("--output", type=json_lines_file, default=None,
                        help="headless: decisions file (default: stdout)")
    parser.add_argument("--events", type=json_lines_file, default=None,
                        help="headless: event log file (default: the log)")
    parser.add_argument("--status-file", type=output_file, default=None, metavar="FILE",
                        help="headless: a JSON file rewritten every 10 s for a monitor: ok, the problems "
                             "now (keys such as sensor_disconnected, alert_delivery_failing), the time; "
                             "ended when the run stops")
    parser.add_argument("--duration", type=positive_float, default=None,
                        help="stop after this many seconds of wall-clock time (with --fast a replay covers "
                             "more of its stream meanwhile)")
    parser.add_argument("--hop", type=hop_seconds, default=0.2,
                        help="seconds between decisions (default: 0.2)")
    parser.add_argument("--top-k", type=integer_in(1), default=3, help="classes per decision (default: 3)")
    parser.add_argument("--smoothing", type=smoothing_seconds, default=None,
                        help="time constant (s, 0 to 10) of the score smoothing; 0 turns it off (default: "
                             f"the model's own, else {RecognitionConfig.smoothing_s})")
    parser.add_argument("--threshold", type=probability, default=None,
                        help="probability a person's top action needs for an event or alert (default: the "
                             f"model's own, else {AlertConfig.threshold})")
    parser.add_argument("--end-threshold", type=probability, default=None,
                        help="an event lasts while its probability stays at or above this (default: the "
                             "model's own, else the threshold)")
    parser.add_argument("--alert-class", action="append", dest="alert_classes", metavar="CLASS",
                        help="raise alerts for this class (repeatable); default: falling / fall_down")
    parser.add_argument("--alert-cooldown", type=non_negative_float, default=30.0,
                        help="an alert's episode ends after this long without its class (the same person's, "
                             "or pair's, next one is an alert of its own) (default: 30)")
    parser.add_argument("--alert-unwatched-after", type=non_negative_float, default=30.0, metavar="S",
                        help="an alert of the room's own (kind room_unwatched) once nothing has been "
                             "recognised there for this long (sensor unplugged, no frames, recognition "
                             "stuck: no fall could be alerted), and one (room_watched_again) when it is "
                             "again; 0 for none (default: 30)")
    parser.add_argument("--alert-command", default=None,
                        help="command run per alert, with ALERT_KIND (action, or room_unwatched / "
                             "room_watched_again), ALERT_ROOM, ALERT_HOST (this computer's name), "
                             "ALERT_CLASS, ALERT_PERSON (tracking "
                             "id), ALERT_PERSON_NUMBER, ALERT_PARTNER and ALERT_PARTNER_NUMBER (a two-person "
                             "action's other person, else empty), ALERT_PROBABILITY, ALERT_MODEL (the "
                             "model's short sha256), ALERT_AGAIN_AFTER_S (seconds since the person's last "
                             "page of the class, within the hour), ALERT_PROBLEMS (a room alert's), "
                             "ALERT_TIME, ALERT_JSON "
                             "(and, with --alert-url, ALERT_ID and ALERT_SEQUENCE: the POST's id and "
                             "sequence) in its environment (checked at start-up: it must be a program that "
                             "can be run)")
    parser.add_argument("--alert-url", default=None, metavar="URL",
                        help="POST each alert as JSON to this http(s) URL (Idempotency-Key header), "
                             "retried with backoff; undelivered alerts wait in --alert-queue, so a dead "
                             "endpoint or a crash loses none")
    parser.add_argument("--alert-auth-file", type=existing_path, default=None, metavar="FILE",
                        help="file whose one line is sent as each POST's Authorization header (e.g. "
                             "'Bearer <token>'); a file, so the secret is not on the command line")
    parser.add_argument("--alert-queue", type=any_path, default=DEFAULT_QUEUE, metavar="FILE",
                        help=f"append-only file of alerts not yet delivered (default: ./{DEFAULT_QUEUE}); "
                             "its folder also keeps the room's outage, ROOM.unwatched.json "
                             "(--alert-unwatched-after)")
    parser.add_argument("--alert-timeout", type=positive_float, default=5.0, metavar="S",
                        help="seconds one POST may take before it counts as failed (default: 5)")
    parser.add_argument("--room", metavar="NAME",
                        help="where the sensor is, in every alert (ALERT_ROOM, \"room\" in the POST): one "
                             "endpoint can serve many rooms (default: this computer's name)")
    # Its shape checked here; whether it can be written, where a recording starts (--record: at start-up).
    parser.add_argument("--record-dir", type=folder_path, default=DEFAULT_RECORD_DIR,
                        help=f"where the r key / --record write clips (default: ./{DEFAULT_RECORD_DIR})")
    parser.add_argument("--record", action="store_true", help="record from the start")
    parser.add_argument("--min-free-gb", type=non_negative_float, default=None, metavar="GB",
                        help="a recording stops, its clip kept, when its disk has less than this free "
                             "(default 2: a Kinect's colour video takes about 4 GiB per 10 minutes)")
    parser.add_argument("--label", default=None, metavar="CLASS",
                        help="the class recordings are made for: a name or A-number from the site's "
                             "labels.txt, or a new name (added there as the next A121+ class); names the "
                             "clips SsssCcccPpppRrrrAaaa. Headless, it labels the whole clip; in the window, "
                             "keys F1-F9 choose another and s / e mark where an action starts and ends")
    parser.add_argument("--new-class", action="store_true",
                        help="take --label as a new class even though its name is close to a known one "
                             "(otherwise refused as a typo, with the known name offered)")
    parser.add_argument("--labels", type=output_file, default=None, metavar="PATH",
                        help="the site's label map (default: labels.txt in --record-dir)")
    parser.add_argument("--session", type=integer_in(1, 999), default=None,
                        help="S of the clip names: the recording session, for holding clips out by "
                             "session when training (default: the next free one in --record-dir)")
    parser.add_argument("--camera", type=integer_in(1, 999), default=1,
                        help="C of the clip names: which of a room's sensors recorded them (default: 1)")
    parser.add_argument("--performer", type=integer_in(1, 999), default=1,
                        help="P of the clip names (default: 1)")
    parser.add_argument("--fast", action="store_true",
                        help="replay as fast as possible, deciding at every hop as a real-time replay on an "
                             "idle machine would (default: real time)")
    parser.add_argument("--loop", action="store_true", help="replay: start over at the end")
    parser.add_argument("--people", type=integer_in(1, MAX_PEOPLE), default=None,
                        help="sim: at most this many people in the room at once, 1-6 as a Kinect tracks; "
                             "they come and go (default: 2)")
    parser.add_argument("--seed", type=integer_in(0), default=None, help="sim: random seed")
    parser.add_argument("--sim-actions", default=None, metavar="NAME+NAME",
                        help="sim: the actions people perform, '+'-separated ('default' = the ten the demo "
                             "model knows; e.g. raise_both_arms, or default+raise_both_arms)")
    parser.add_argument("--sim-low-light", action="store_true",
                        help="sim: the room at night, as the Kinect's colour camera sees it in low light (15 "
                             "fps, dark and noisy): to check a site's night before it has one")
    parser.add_argument("--screenshot", type=image_file, default=None,
                        help="window: save a screenshot after --duration (default 5 s) and quit")
    parser.add_argument("--no-3d", dest="show_3d", action="store_false",
                        help="window: start with the 3D room panel hidden (key 3 shows it)")
    parser.add_argument("--pause-limit", type=non_negative_float, default=10.0, metavar="MINUTES",
                        help="window: a pause (space) ends by itself after this long, so that a forgotten "
                             "one does not leave the room unwatched (default 10; 0: only space ends it)")
    parser.add_argument("--alert-beep", type=non_negative_float, default=ALERT_BEEP_S, metavar="S",
                        help="window: beep at each alert and every S seconds until it is acknowledged, and "
                             f"flash the window's taskbar entry (default {ALERT_BEEP_S:g}; 0: no beep)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def config_from_args(args: argparse.Namespace) -> LiveConfig:
    alert_classes = tuple(args.alert_classes) if args.alert_classes else DEFAULT_ALERT_CLASSES
    recognition = RecognitionConfig(hop_s=args.hop, top_k=args.top_k)  # smoothing: `with_decisions`
    if args.headless and args.screenshot is not None:
        raise ValueError("--screenshot saves a view of the window, which --headless does not open: give one "
                         "of them")
    room_given = args.room is not None
    if not room_given:
        args.room = socket.gethostname()
    if not args.room.strip():  # every alert says where: an empty room reaches the nurse as nowhere
        raise ValueError("--room: empty; name where the sensor is (default: this computer's name)")
    if (unwritable := unwritable_character(args.room)) is not None:  # a line break forged a second log line
        raise ValueError(f"--room {args.room!r}: a room name is text without tabs, line breaks or invisible "
                         f"characters (it heads every alert and log line); it has {unwritable}")
    if args.alert_url is None:
        # Delivery settings without a delivery: a typo'd or forgotten --alert-url would go unnoticed.
        given = [option for option, value, default in (("--alert-queue", args.alert_queue, DEFAULT_QUEUE),
                                                        ("--alert-timeout", args.alert_timeout, 5.0),
                                                        ("--alert-auth-file", args.alert_auth_file, None))
                 if value != default]
        if given:
            verb = "sets" if len(given) == 1 else "set"
            raise ValueError(f"{' and '.join(given)} {verb} how alerts are sent to --alert-url, but no "
                             "--alert-url is given")
    source = SourceChoice.parse(args.source)
    sensor = source.kind is SourceKind.KINECT
    sim_only = [option for option, value in (("--people", args.people), ("--seed", args.seed),
                                             ("--sim-actions", args.sim_actions),
                                             ("--sim-low-light", args.sim_low_light or None))
                if value is not None]
    if sim_only and source.kind is not SourceKind.SIMULATOR:  # it changed nothing, without a word
        raise ValueError(f"{' and '.join(sim_only)}: for the simulated room (--source sim); --source "
                         f"{args.source} is {'the sensor' if sensor else 'a recording'}")
    if args.video is not None and source.kind is not SourceKind.RECORDING:
        raise ValueError(f"--video {args.video}: gives a replayed clip its video; --source {source} is "
                         f"no recording")
    if args.video is not None and not Path(args.video).is_file():
        what = "a folder, not a video" if Path(args.video).is_dir() else "no such file"
        raise ValueError(f"--video {args.video}: {what}")
    if args.record and (why := why_not_writable(args.record_dir)) is not None:  # before the model loads
        raise ValueError(f"--record-dir {args.record_dir}: cannot be written ({why})")
    files = [(option, what, given.resolve()) for option, what, given in (
        ("--alert-queue", "the alert queue", args.alert_queue), ("--output", "the decisions", args.output),
        ("--events", "the event log", args.events), ("--status-file", "the status file", args.status_file),
    ) if given is not None and str(given) != os.devnull and not given.is_char_device()]  # /dev/null twice
    for k, (option, _, path) in enumerate(files):  # the status file's rename replaced the decisions, say
        same = next(((earlier, what) for earlier, what, other in files[:k] if other == path), None)
        if same is not None:
            raise ValueError(f"{option} {path}: already the file of {same[1]} ({same[0]}); "
                             "give each its own file")
    if args.status_file is not None and not args.headless:
        raise ValueError("--status-file: for --headless runs (the window writes none: a monitor would "
                         "take the missing file for a run gone)")
    if args.alert_url is not None and (why := queue_problem(args.alert_queue)) is not None:
        raise ValueError(why)  # the queue is opened once the model is loaded: said before that
    if args.label is not None and not args.label.strip():  # recorded as unlabelled clips, unnoticed
        raise ValueError("--label: empty; name the class the clips are recorded for")
    if args.new_class and args.label is None:
        raise ValueError("--new-class takes --label NAME as a new class, and no --label is given")
    if args.label:
        # A typo in --label would become a class of its own: refused before anything is opened or recorded.
        check_label(args.labels or Path(args.record_dir) / LABEL_MAP_FILENAME, args.label,
                    similar_ok=args.new_class)
    return LiveConfig(
        room_given=room_given,
        check=args.check,
        source=source,
        video=args.video,
        checkpoint=args.checkpoint,
        engine=args.engine,
        threads=args.threads,
        headless=args.headless,
        replay=ReplayOptions(realtime=not args.fast, loop=args.loop),
        sim_people=args.people if args.people is not None else 2,
        seed=args.seed,
        sim_actions=sim_actions(args.sim_actions),
        sim_low_light=args.sim_low_light,
        record_dir=args.record_dir,
        pipeline=PipelineConfig(recognition=recognition,
                                record_from_start=args.record_dir if args.record else None,
                                recording=RecordingSettings(label=args.label, label_map=args.labels,
                                                            session=args.session, camera=args.camera,
                                                            performer=args.performer,
                                                            new_class=args.new_class, room=args.room,
                                                            min_free_bytes=None if args.min_free_gb is None
                                                            else int(args.min_free_gb * 1e9)),
                                # --fast replays decide at every hop (lockstep); a sensor never waits.
                                lockstep=args.fast and not sensor),
        headless_config=HeadlessConfig(
            output=args.output,
            events=args.events,
            status_file=args.status_file,
            lossless=args.fast and not sensor,  # every decision of a replay is written
            alerts=AlertConfig(classes=alert_classes, room=args.room,
                               cooldown_s=args.alert_cooldown, command=args.alert_command,
                               unwatched_after_s=args.alert_unwatched_after or None,
                               # Kept across restarts where the room's alerts go beyond the log.
                               outage_file=room_outage_file(args.alert_queue.absolute(), args.room)
                               if args.alert_command or args.alert_url else None,
                               delivery=None if args.alert_url is None else DeliveryConfig(
                                   args.alert_url, queue_path=args.alert_queue.absolute(),
                                   timeout_s=args.alert_timeout,
                                   authorization=None if args.alert_auth_file is None
                                   else read_authorization(args.alert_auth_file))),
        ),
        privacy=None if args.privacy is None else PrivacyMode(args.privacy),
        duration_s=args.duration,
        alert_classes_given=bool(args.alert_classes),
        decisions=DecisionSettings.given(smoothing_s=args.smoothing, threshold=args.threshold,
                                   end_threshold=args.end_threshold),
        screenshot=args.screenshot,
        show_3d=args.show_3d,
        pause_limit_s=args.pause_limit * 60.0,
        alert_beep_s=args.alert_beep,
    )


def sim_actions(text: str | None) -> tuple[str, ...] | None:
    """--sim-actions: '+'-separated action names, 'default' standing for the ten the demo model knows."""
    if not text:
        return None
    from simulation.actions import CLASS_NAMES, action_by_name

    names: list[str] = []
    for name in (n.strip() for n in text.split("+")):
        names += list(CLASS_NAMES) if name == "default" else [action_by_name(name).name]  # checked
    return tuple(dict.fromkeys(names))


def default_privacy(config: LiveConfig) -> PrivacyMode:
    """--privacy, else SKELETON for a live sensor and a Kinect Studio capture (.xef: the room as the sensor
    saw it), the mode a replayed clip was recorded under (its sidecar's), and OFF for the simulator and
    the research datasets' recordings (NTU, PKU-MMD, N-UCLA: filmed with consent to publish).

    A live sensor films real people who did not choose to be recorded (patients, visitors, staff):
    nothing of their image leaves the capture thread unless the site opts in (`--privacy blur`, or
    `off` where consent covers it). The simulator has nobody to protect, and a recording shows what
    was already kept when it was recorded; a clip recorded again from its replay keeps its mode, so its
    sidecar does not say "off" over a blurred video.
    """
    if config.privacy is not None:
        return config.privacy
    if _sensor_picture(config.source):
        return PrivacyMode.SKELETON
    return _recorded_privacy(config.source) or PrivacyMode.OFF


def _is_xef(source: SourceChoice) -> bool:
    return source.path is not None and source.path.suffix.lower() == ".xef"


def _clip_sidecar(source: SourceChoice) -> dict:
    """A replayed clip's sidecar as written; {} for anything else (the simulator, .xef, PKU-MMD, NTU's own
    clips, a path that opening the source will refuse)."""
    from recordings.clip import ClipError, clip_paths, read_sidecar

    if source.path is None or _is_xef(source):
        return {}
    try:
        sidecar = clip_paths(source.path).sidecar
        return read_sidecar(sidecar).raw if sidecar is not None else {}
    except (ClipError, OSError, ValueError):
        return {}


def _sensor_picture(source: SourceChoice) -> bool:
    """Whether the source is the sensor's own picture of real people, nothing hidden: a live Kinect, a
    Kinect Studio capture, or the clip `recordings convert` made of one (its sidecar says no mode:
    converted, it replayed under off)."""
    from recordings.xef import CONVERTED_SOURCE

    if source.kind is SourceKind.KINECT or _is_xef(source):
        return True
    sidecar = _clip_sidecar(source)
    return not sidecar.get("privacy") and str(sidecar.get("source", "")).startswith(CONVERTED_SOURCE)


def _site_clip(source: SourceChoice) -> bool:
    """Whether the source is a clip of a site's room: one with a sidecar (NTU's own clips have none) that
    neither the simulator nor a conversion of a research dataset (PKU-MMD) made."""
    from recordings.recorder import made_not_recorded

    sidecar = _clip_sidecar(source)  # (a converted .xef is the sensor's picture: _sensor_picture)
    return bool(sidecar) and not made_not_recorded(sidecar.get("source"))


def _recorded_privacy(source: SourceChoice) -> PrivacyMode | None:
    """The --privacy a clip was recorded under, from its sidecar; None where it says none. A mode this
    version does not know (edited by hand, "Skeleton") is taken as skeleton (it replayed under off);
    build_pipeline says so, once."""
    recorded = _clip_sidecar(source).get("privacy")
    if not recorded:
        return None
    return PrivacyMode(recorded) if _known_privacy(recorded) else PrivacyMode.SKELETON


def _known_privacy(written: object) -> bool:
    return isinstance(written, str) and written in {mode.value for mode in PrivacyMode}


def default_checkpoint(source: SourceChoice) -> Path:
    """The bundled model for a `--source`: the demo for the simulated room, the real-data model for
    everything real (the Kinect, .xef, NTU-layout clips, PKU-MMD sequences)."""
    return DEFAULT_CHECKPOINT if source.kind is SourceKind.SIMULATOR else REAL_DATA_CHECKPOINT


def checkpoint_for(config: LiveConfig) -> Path:
    return config.checkpoint if config.checkpoint is not None else default_checkpoint(config.source)


def keeps_images(config: LiveConfig) -> bool:
    """Whether the run may show or record images: the window, or a headless run with --record, under a
    privacy mode that shows colour. Depth exists in live only to be recorded, so a run that cannot keep
    images does not read it (SKELETON privacy never records depth, live.capture.CapturePrivacy; a
    headless run records only with --record): that spares the capture thread a 424 KB copy (Kinect) or a
    PNG decode (a replayed clip) per frame, and the ring buffer the images. Colour it still reads for a
    model that crops it."""
    if not default_privacy(config).shows_color:
        return False
    return not config.headless or config.pipeline.record_from_start is not None


def open_source(config: LiveConfig, *, color: bool = True) -> Source:
    """The source `--source` names (not opened yet); `color=False` reads a Kinect without its colour
    camera, and replays a recording without decoding its colour."""
    backend = config.source.kinect
    depth = keeps_images(config)
    if backend is KinectBackend.KINECT_NEXT:
        from live.kinect_next_source import KinectNextSource  # kinect_next itself is imported in open()

        return KinectNextSource(color=color, depth=depth)
    if backend is KinectBackend.PYKINECT2:
        from live.kinect import KinectSource  # pykinect2 itself is imported only in open()

        return KinectSource(color=color, depth=depth)
    if config.source.kind is SourceKind.SIMULATOR:
        return simulated_source(people=config.sim_people, seed=config.seed, options=config.replay,
                                actions=config.sim_actions, low_light=config.sim_low_light)
    path = config.source.path
    assert path is not None
    if not path.exists():
        # PKU-MMD's README names NNNN-V.txt; the release holds them compressed beside that name.
        packed = [f"{path}{suffix}" for suffix in (".xz", ".gz") if Path(f"{path}{suffix}").is_file()]
        hint = f"; did you mean {packed[0]}?" if packed else ""
        raise SourceUnavailable(f"--source {config.source}: no such file or folder (expected kinect, sim or "
                                f"a recording's path){hint}")
    return replay_source(path, config.replay, color=color, depth=depth, video=config.video)


def _backend(choice: str) -> Backend:
    if choice == "onnxruntime":
        cuda = unavailable_reason(Backend.ONNXRUNTIME_CUDA) is None
        return Backend.ONNXRUNTIME_CUDA if cuda else Backend.ONNXRUNTIME_CPU
    if choice == "torch":
        cuda = unavailable_reason(Backend.PYTORCH_CUDA) is None
        return Backend.PYTORCH_CUDA if cuda else Backend.PYTORCH_CPU
    return Backend(choice)


def open_model(
    checkpoint: Path, engine_choice: str = "auto", threads: int | None = None, *, source: Source | None = None
) -> tuple[Engine, ModelInputs]:
    """The engine for a checkpoint / ONNX file, and what its inputs must be built from. With `source`,
    a model that needs colour is refused on a source that has none."""
    if Path(checkpoint).is_dir():
        raise FileNotFoundError(f"model checkpoint {checkpoint}: a folder, not a checkpoint file (.pt or "
                                ".onnx)")
    if Path(checkpoint).suffix.lower() in (".engine", ".plan"):
        raise ValueError(f"model checkpoint {checkpoint}: a TensorRT engine is built and cached by the app "
                         "itself from the model it runs: pass the .pt or .onnx it came from")
    if not Path(checkpoint).is_file():
        bundled = ", ".join(sorted(p.name for p in CHECKPOINTS.glob("*.pt")))
        raise FileNotFoundError(f"model checkpoint {checkpoint} not found; pass --checkpoint PATH (the "
                                f"models in {CHECKPOINTS}: {bundled or 'none: reinstall'})")
    if threads is None:
        # Leave a core to the capture thread and the window: a sensor must never wait for the model.
        threads = max(1, usable_cores() - 1)

    def accept(metadata: EngineMetadata) -> ModelInputs:
        inputs = model_inputs(metadata)  # refuses a model live cannot feed
        if source is not None and inputs.parts and source.color_shape is None:
            raise ValueError(
                f"{Path(checkpoint).name} needs colour (it crops {', '.join(inputs.parts)} from the RGB "
                f"video) and {source.name} has none (skeleton only): use a skeleton-only model, e.g. "
                f"--checkpoint {REAL_DATA_CHECKPOINT.relative_to(PACKAGE_ROOT)}, or give the recording its "
                f"video (an NTU-layout clip finds NAME_rgb.avi beside NAME.skeleton; --video names one "
                f"kept elsewhere, as NTU's own release keeps them)"
            )
        return inputs

    # Checked before any engine is built (seconds of loading and exporting for nothing).
    engine = open_engine(checkpoint, _backend(engine_choice), threads=threads, accept=accept)
    return engine, model_inputs(engine.metadata)


def describe_model(checkpoint: Path, inputs: ModelInputs) -> str:
    """The startup line: which model, what it recognises, and what it reads."""
    classes = ", ".join(inputs.class_names)
    reads = (f"uses RGB (crops of {', '.join(inputs.parts)})" if inputs.parts
             else "skeleton only (no RGB)")
    layout = inputs.layout.name.replace("kinect_", "Kinect ")
    if inputs.layout != KINECT_V2:
        layout += " (Kinect v2 bodies mapped to it, core/joint_maps.py)"
    pairs = sum(inputs.needs_partner)
    alone = ""
    if pairs:
        alone = (f"; {pairs} two-person action{'s' if pairs > 1 else ''}, never decided for a person with "
                 f"nobody within {PARTNER_MAX_M:g} m for {PARTNER_MEMORY_S:g} s")
        if pairs == len(inputs.class_names):
            alone += " (nothing is decided for a person alone: this model knows nothing one person does)"
        elif pairs == len(inputs.class_names) - 1 and NO_ACTION in inputs.class_names:
            alone += " (a person alone is no_action: this model knows nothing one person does)"
    return (f"model {Path(checkpoint).name}: {len(inputs.class_names)} classes ({classes}); {reads}; "
            f"{layout} skeletons, {inputs.num_bodies} bod{'y' if inputs.num_bodies == 1 else 'ies'}, "
            f"{inputs.window.duration_s:g} s windows{alone}")


def model_inputs(metadata: EngineMetadata) -> ModelInputs:
    """What the worker builds for a model, from its preprocessing record (ValueError if live cannot)."""
    preprocessing = metadata.preprocessing
    return ModelInputs(
        window=preprocessing.window,
        glimpse=preprocessing.glimpse,
        parts=tuple(preprocessing.parts),
        layout=layout_by_name(preprocessing.layout),
        num_bodies=preprocessing.num_bodies,
        class_names=tuple(metadata.class_names),
        needs_partner=tuple(map(is_two_person, metadata.class_names)),
    )


def build_pipeline(config: LiveConfig) -> LivePipeline:
    """Source first (a missing sensor is said at once, before seconds of model loading), then the model."""
    unseen = ("privacy skeleton shows and records no image" if not default_privacy(config).shows_color
              else "a headless run without --record shows and records none")
    # A Kinect is opened without its colour camera where the run shows and records no image: opened with
    # it, PyKinect2's own thread copies every 1080p image into memory (and a crash dump) from the start.
    # A model that crops colour has it opened again with the camera, once it is known to (below).
    kinect = config.source.kind is SourceKind.KINECT
    source = open_source(config, color=not kinect or keeps_images(config))
    source.open()
    checkpoint = checkpoint_for(config)
    log.info("%s; source: %s; loading the model %s", describe_software(), source.name,
             checkpoint)  # seconds of silence otherwise
    try:
        # Not refused for the colour a Kinect opened without its camera lacks: it gets the camera (below).
        checked = None if kinect else source
        engine, inputs = open_model(checkpoint, config.engine, config.threads, source=checked)
        config.pipeline.recognition.check_window(inputs.window.duration_s)  # before the ring and the window
        if kinect and source.color_shape is None:
            if inputs.parts:
                log.info("the model crops colour: the Kinect is opened again with its colour camera")
                source.close()
                source = open_source(config)
                source.open()
            else:
                log.info("the Kinect's colour camera is not read: the model reads the skeleton only, and %s",
                         unseen)
        replay = config.source.kind is SourceKind.RECORDING
        if replay and source.color_shape is not None and not inputs.parts and not keeps_images(config):
            # Nothing would use the video (a skeleton-only model; nothing shown or recorded): replayed
            # without it, no frame decoded and no image in memory.
            log.info("the recording's video is not read: the model reads the skeleton only, and %s", unseen)
            source.close()
            source = open_source(config, color=False)
            source.open()
    except BaseException:
        source.close()
        raise
    config = with_decisions(config, engine.metadata.decisions)
    log.info("%s", describe_model(checkpoint, inputs))
    # Which model file this is, by its bytes and how it was made: two checkpoints of one class list gave
    # the same start-up lines, and a room given the wrong one (a retrain, a rollback) could not be told.
    exported = Path(checkpoint).suffix.lower() == ".onnx"  # its record is of the checkpoint it came from
    log.info("model %s: %s%s", Path(checkpoint).name, "exported from a checkpoint of " if exported else "",
             engine.metadata.describe_provenance())
    simulated = engine.metadata.provenance.get("dataset") == "simulated"
    if simulated and config.source.kind is not SourceKind.SIMULATOR:
        log.warning("model %s learnt from the simulated room alone: on %s its decisions, and the alerts they "
                    "raise, say little of what people do (%s is the bundled model for real sources)",
                    Path(checkpoint).name, source.name, REAL_DATA_CHECKPOINT.name)
    if NO_ACTION not in inputs.class_names:  # N-UCLA's models: its clips are all actions
        log.warning("model %s has no %s class: everyone it decides for is given one of its actions, "
                    "standing or sitting idle too, so its events and alerts also come while nobody does "
                    "any of them", Path(checkpoint).name, NO_ACTION)
    log.info("engine: %s (%s)", engine.name, engine.reason)
    log.info("%s", describe_decisions(config.decisions, engine.metadata.decisions))
    privacy = default_privacy(config)
    why = ""
    real_room = _sensor_picture(config.source)
    if config.privacy is None:
        written = _clip_sidecar(config.source).get("privacy")
        if written and not _known_privacy(written):
            log.warning("%s: its sidecar says privacy %r, not one of off, blur, skeleton: replayed under "
                        "skeleton (--privacy to choose)", config.source.path, written)
        # Not OFF by default only for a sensor, a capture of one or a clip that records its mode.
        recorded = privacy is not PrivacyMode.OFF and not real_room
        which = "the mode the clip was recorded under" if recorded else "the default for this source"
        if (privacy is PrivacyMode.OFF and config.source.kind is SourceKind.RECORDING
                and source.color_shape is not None and not _clip_sidecar(config.source)):
            # Nothing in an NTU-layout clip but its sidecar tells a site's recording from NTU's own.
            which += (": a clip with video and no sidecar (.json) is taken for research data; a site's clip "
                      "copied without its sidecar shows faces")
        why = f" ({which}; --privacy off|blur|skeleton to change)"
    # A site's own clip replayed (its sidecar says so; research data has none) is of a room too: a patient's
    # clip recorded again, or its decisions, were readable by every account without a word.
    of_a_room = real_room or _site_clip(config.source)
    if of_a_room and (mask := umask_lets_others_read()) is not None:
        log.warning("what this run writes of the room (recordings, decisions, events, alerts, the status "
                    "file with the room's name) is readable by "
                    "every account on this computer (umask %04o): run it under umask 077 (the README's "
                    "service unit: UMask=0077)", mask)
    if real_room and privacy is PrivacyMode.OFF:  # asked for: said where a log filter keeps it
        log.warning("privacy: off - the faces of everyone in view are shown, and recorded with r / --record")
    else:
        log.info("privacy: %s%s", privacy.value, why)
    return LivePipeline(source, engine, inputs,
                        replace(config.pipeline, privacy=privacy, keeps_images=keeps_images(config)),
                        source_is_open=True)


def _status_of_refused_options(argv: list[str], why: str) -> None:
    """--status-file says that a headless run its options refused ended, and why. It kept the previous
    run's "ended" and its reason (an unwritable --record-dir, a typo of --alert-url after an update), and a
    service manager does not restart an exit 2. Read leniently: the options that failed are another's."""
    lenient = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    lenient.add_argument("--headless", action="store_true")
    lenient.add_argument("--check", action="store_true")  # a check writes nothing
    for option in ("--status-file", "--room", "--source"):  # each may be what was refused: `--room` alone
        lenient.add_argument(option, nargs="?")
    try:
        given, _ = lenient.parse_known_args(argv)
        if not given.headless or not given.status_file or given.check:
            return
        path = output_file(given.status_file)  # the status file's own option refused: nowhere to say it
        lock = hold_status_file(path)
    except (argparse.ArgumentError, argparse.ArgumentTypeError, LockNotOpened):
        return
    except StatusFileInUse as error:  # a running room's: its state is not this refused run's to write over
        print(f"python -m live: {error}; left as it is", file=sys.stderr)
        return
    with lock:
        room = given.room or socket.gethostname()
        StartingStatusFile(path, room, given.source or "sim").start().failed(why, EndedBy.OPTIONS_REFUSED)


def _start_failed(starting: StartingStatusFile | None, why: str, status: int,
                  by: EndedBy | None = None) -> int:
    """Say why the run did not start (or stopped), on standard error and in --status-file (`by`: what
    ended it, by default as `status` says); the exit status."""
    print(f"python -m live: {why}", file=sys.stderr)
    if starting is not None:
        by_status = {EXIT_TRY_AGAIN: EndedBy.HELD_ELSEWHERE, EXIT_INTERRUPTED: EndedBy.STOP_REQUESTED}
        starting.failed(why, by or by_status.get(status, EndedBy.START_FAILED))
    return status


def decisions_for(given: DecisionSettings, model: DecisionSettings) -> DecisionSettings:
    """Smoothing and thresholds: the command line's, else the model's own, else the app's defaults (every
    field set but the end threshold, which is then the threshold). The one rule for live and for
    `evaluate --stream`."""
    return given.over(model).over(APP_DECISIONS)


def with_decisions(config: LiveConfig, model: DecisionSettings) -> LiveConfig:
    """`config` with the smoothing and thresholds `decisions_for` picks."""
    chosen = decisions_for(config.decisions, model)
    recognition = replace(config.pipeline.recognition, smoothing_s=chosen.smoothing_s)
    alerts = replace(config.headless_config.alerts, threshold=chosen.threshold)
    return replace(config, pipeline=replace(config.pipeline, recognition=recognition),
                   headless_config=replace(config.headless_config, alerts=alerts,
                                           event_end_threshold=chosen.end_threshold))


def describe_decisions(given: DecisionSettings, model: DecisionSettings) -> str:
    """The startup line: the smoothing and thresholds in use, and where each came from."""
    chosen = decisions_for(given, model)

    def origin(name: str) -> str:
        return ("given" if getattr(given, name) is not None
                else "the model's" if getattr(model, name) is not None else "default")

    ending = chosen.ending and f"{chosen.ending} ({origin('end_threshold')})"
    if chosen.end_threshold is None:  # none, or one at or above the threshold (DecisionSettings.ending)
        if given.end_threshold is not None:
            ending = (f"; the given --end-threshold {given.end_threshold:g} is not below the threshold, so "
                      "events end where they start")
        elif model.end_threshold is not None:  # a --threshold given at or below the model's end
            ending = (f"; the model's end threshold {model.end_threshold:g} is not below it, so events end "
                      "where they start")
    return (f"decisions: smoothing {chosen.smoothing_s:g} s ({origin('smoothing_s')}), threshold "
            f"{chosen.threshold:g} ({origin('threshold')}){ending}; --smoothing / --threshold / "
            "--end-threshold to change")


def _alerts_for(config: LiveConfig, class_names: tuple[str, ...]) -> LiveConfig:
    """Without --alert-class, keep the default alert classes this model knows (maybe none). The log says
    which classes alert, so whoever starts the service sees what the room is watched for."""
    if config.alert_classes_given:
        # A typo is refused, not logged; "sturz" is logged as the model's "Sturz", as the window shows it.
        spelled = alert_classes(config.headless_config.alerts.classes, class_names)
        classes = tuple(name for name in class_names if name in spelled)
    else:
        classes = default_alert_classes(class_names)
    if not classes:
        if config.headless_config.alerts.delivery or config.headless_config.alerts.command:
            # Alerts were asked for and none could ever be raised: a room that looks watched but is not.
            raise ValueError(
                f"--alert-url / --alert-command given, but the model knows none of the default alert classes "
                f"({', '.join(DEFAULT_ALERT_CLASSES)}): name them with --alert-class (the model's classes: "
                f"{', '.join(c for c in class_names if c != NO_ACTION)})")
        # A warning, not a note: whoever starts a room's service must see that nothing will alert.
        log.warning("no alert classes: the model knows none of %s, so nothing will raise an alert "
                    "(--alert-class names one of its classes: %s)", ", ".join(DEFAULT_ALERT_CLASSES),
                    first_few([c for c in class_names if c != NO_ACTION], limit=8))
    alerts = replace(config.headless_config.alerts, classes=classes)
    config = replace(config, headless_config=replace(config.headless_config, alerts=alerts))
    if classes:
        _log_alerts(config)
    return config


def _log_alerts(config: LiveConfig) -> None:
    alerts = config.headless_config.alerts
    ways = ["the log"] + (["--alert-command"] if alerts.command else []) + (
        [f"POST to {alerts.delivery.shown_url}"] if alerts.delivery else [])
    # Two rooms served by one computer without --room both said its name: their alerts told apart by nothing.
    hostname = " (this computer's name: --room names the room where it serves more than one)" if (
        alerts.room == socket.gethostname()) else ""
    unwatched = ("" if alerts.unwatched_after_s is None
                 else f", and the room once not watched for {alerts.unwatched_after_s:g} s")
    # Alerts that leave the computer named by its name: a replacement computer (a dead one's, restored)
    # pages as another room, which a nurse-call system mapping rooms to beds may not know.
    beyond_the_log = not config.room_given and (alerts.command is not None or alerts.delivery is not None)
    if beyond_the_log:
        hostname += "; a computer put in its place would page as another room: give --room"
    log.log(logging.WARNING if beyond_the_log else logging.INFO,
            "alerts: %s in room %r%s, once per episode (cooldown %.0f s)%s, by %s",
            ", ".join(alerts.classes), alerts.room, hostname, alerts.cooldown_s, unwatched, ", ".join(ways))
    # An earlier run's, left for the next start with --alert-url, which this one is not: said, not ignored.
    if alerts.delivery is None and (waiting := undelivered_in(DEFAULT_QUEUE.absolute())):
        log.warning("%s holds %d alert(s) an earlier run could not deliver; this run has no --alert-url "
                    "and does not send them (a run with --alert-url does, first)", DEFAULT_QUEUE.absolute(),
                    waiting)


def print_summary(summary: Summary) -> None:
    for line in summary.lines():
        print(f"[live] {line}", file=sys.stderr)


def _say_classes_without_a_font(class_names: tuple[str, ...]) -> None:
    """A warning, at the window's start, where a class name holds characters no font here has: the window
    would show the action, its alert banner included, as empty boxes."""
    if missing := characters_without_a_font(class_names):
        log.warning("no font on this computer has %s (in the model's class names): the window shows them "
                    "as empty boxes; install a font that has them (Debian, Ubuntu: apt-get install "
                    "fonts-noto-cjk; Windows has its own)", " ".join(missing))


def run_window(pipeline: LivePipeline, config: LiveConfig) -> Summary:
    """The Qt window on the pipeline; returns when the window closes (key, button, Ctrl-C, end of replay)."""
    with _signals_held() as held:
        from PySide6 import QtCore, QtWidgets

        from live.overlay import LiveWindow, OverlayConfig

        check_qt_binding()  # here: its first Qt import must not meet a Ctrl-C either
        app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    if held:
        raise KeyboardInterrupt  # here, out of Qt's start-up: main says "interrupted before it started"
    _say_classes_without_a_font(pipeline.inputs.class_names)
    alerts = AlertDispatcher(config.headless_config.alerts, pipeline.inputs.class_names,
                             pipeline.engine.metadata.checkpoint_sha256[:12])
    try:
        pipeline.start()
        # Ctrl-C, a session's logout: close as the key does, from the event loop (closed before the loop
        # runs, the window would stop before app.quit is connected to it, and the loop would never end).
        def close_when_asked() -> None:
            log.info("shutting down: asked to stop (Ctrl-C, SIGTERM or the session closing)")
            window.close()

        with _signals_held(then=_then_at_once(lambda: QtCore.QTimer.singleShot(0, close_when_asked))) as held:
            # A screenshot waits for its delay: a replay shorter than that stays up at its last frame.
            overlay = OverlayConfig(record_dir=config.record_dir,
                                    close_at_end=not config.replay.loop and config.screenshot is None,
                                    show_3d=config.show_3d, pause_limit_s=config.pause_limit_s,
                                    alert_beep_s=config.alert_beep_s)
            # The window draws the sources' bodies (Kinect v2); a v1 model reads them through its joint map.
            window = LiveWindow(pipeline, KINECT_V2, overlay, alerts=alerts)
            window.show()
    except BaseException:
        if pipeline.started:
            pipeline.stop()
        alerts.close(0.0)
        raise
    # Qt's event loop does not return to Python on its own, so a timer lets the signal handlers run; a
    # signal that came while the window was being built closes it as soon as the loop runs.
    wakeup = QtCore.QTimer()
    wakeup.timeout.connect(lambda: None)
    wakeup.start(200)
    if held:
        QtCore.QTimer.singleShot(0, close_when_asked)
    saved: list[bool] = []
    if config.screenshot is not None or config.duration_s is not None:
        delay_s = config.duration_s or 5.0

        def finish() -> None:
            if config.screenshot is not None:
                saved.append(window.screenshot().save(str(config.screenshot)))
                if saved[-1]:
                    log.info("screenshot saved to %s", config.screenshot)
            window.close()

        QtCore.QTimer.singleShot(int(delay_s * 1000), finish)
    window.stopped.connect(app.quit)  # the window stops the pipeline off the GUI thread, then this
    app.exec()
    wakeup.stop()
    summary = window.summary or pipeline.stop()
    window.dispose()
    alerts.close()
    if saved and not saved[-1]:
        summary = replace(summary, errors=(*summary.errors, f"--screenshot {config.screenshot}: could not be "
                                                             "written"))
    return alerts.report(summary)


@contextlib.contextmanager
def _signals_held(then: Callable[[int, object], None] | None = None) -> Iterator[list[int]]:
    """Ctrl-C, SIGTERM and SIGHUP kept back while Qt starts, and listed in the list this yields for the
    caller to act on afterwards: raised inside PySide's imports or shiboken's start-up, KeyboardInterrupt is
    swallowed there (the window then runs until killed) or aborts Python. On leaving, the handlers before
    come back — or `then`, when the block went through, with no moment between for a signal to fall in."""
    held: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in CAUGHT_SIGNALS}
    for signum in previous:
        signal.signal(signum, lambda signum, _frame: held.append(signum))
    went_through = False
    try:
        yield held
        went_through = True
    finally:
        for signum, handler in previous.items():
            handler = then if went_through and then is not None else handler
            if handler is not None:  # None: installed outside Python, which cannot put it back
                signal.signal(signum, handler)


def _then_at_once(first: Callable[[], None]) -> Callable[[int, object], None]:
    """A running app's handler of its stop signals: the first calls `first`, an orderly stop, which may
    wait up to a minute (a hung engine call, a recording finalised, a slow reader of the output); a second
    ends the process at once. A stop asked twice was a hidden window, or a service's silent log, for 30 s."""
    asked: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if asked:
            # Straight to the file descriptor, from a thread given a moment: a logging handler's lock, or
            # the descriptor itself, may be held by a thread stuck on a full stderr pipe.
            said = threading.Thread(target=_say_ending_at_once, daemon=True)
            said.start()
            said.join(0.3)
            end_process_now(EXIT_INTERRUPTED)
        asked.append(signum)
        first()

    return handler


def _say_ending_at_once() -> None:
    with contextlib.suppress(OSError):  # no stderr at all (pythonw, a service without one)
        os.write(2, b"[live] asked to stop again: ending at once (lines not yet written are lost, and an "
                    b"alert raised this moment may be too; a recording in progress is left for "
                    b"`python -m recordings recover`)\n")


def stuck_threads_left() -> bool:
    """Whether the capture or recognition thread still runs once the app is done: stuck in a sensor driver
    or an engine call (the summary names it)."""
    return any(thread.name in (CAPTURE_THREAD, RECOGNITION_THREAD) for thread in threading.enumerate())


def end_process_now(status: int) -> None:
    """The process ends without waiting for its threads. On Windows os._exit runs every DLL's detach code
    (CUDA, ONNX Runtime, Qt) after killing the threads mid-call, which can hang there: TerminateProcess
    does not."""
    if os.name == "nt":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        kernel32.TerminateProcess(kernel32.GetCurrentProcess(), status)
    os._exit(status)


def no_display_reason(config: LiveConfig, environ: dict[str, str] | os._Environ = os.environ) -> str | None:
    """Why the window cannot open here, or None. Qt aborts the whole process without a display, so
    say it before any model loading. A screenshot needs no screen: it is taken off-screen."""
    if config.headless or (why := why_no_display(environ)) is None:
        return None
    if config.screenshot is not None:
        environ["QT_QPA_PLATFORM"] = "offscreen"
        return None
    return (f"no display to open the window on ({why}): run with --headless for JSON lines of decisions, "
            "or with --screenshot PNG to save one view of the window")


class _LogFormatter(logging.Formatter):
    """Each line's local time with its UTC offset (2026-10-25T02:30:00.000+01:00): in the hour the
    clocks go back, or after the clock was set back, lines an hour apart had the same time."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _dt.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


def _stderr_is_journald() -> bool:
    """Whether stderr is systemd's journal (which stamps each line itself). JOURNAL_STREAM names the
    journal's stream as device:inode; it is inherited by children, so stderr itself is compared with it
    (systemd.exec(5)): a shell started under systemd that writes to a file is no journal."""
    try:
        device, inode = (int(part) for part in os.environ.get("JOURNAL_STREAM", "").split(":"))
        stat = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):  # unset, malformed, or stderr not a file (a test's)
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


# Exit status of a run that may start later though not now (sysexits' EX_TEMPFAIL): its alert queue held by
# another process. Not 2, which service units do not restart: one left running by hand took a room down.
EXIT_TRY_AGAIN = 75


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if (why := prepare_console("python -m live", arguments)) is not None:
        print(why, file=sys.stderr)
        return 2
    try:
        arguments = expand_options_files(arguments)
    except ValueError as error:  # nothing to find a --status-file in: the options are in the file
        print(f"python -m live: {without_secrets(str(error))}", file=sys.stderr)
        return 2
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit:
        if parser.refused is not None:
            _status_of_refused_options(arguments, parser.refused)
        raise
    # Each line with its time, unless journald stamps it: a service's log redirected to a file had an
    # alert's time only inside its text, and every other line none.
    stamp = "" if _stderr_is_journald() else "%(asctime)s "
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter(f"[live] {stamp}%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    try:
        config = config_from_args(args)
    except ValueError as error:  # a bad --alert-url, say: said without what may be its secret
        print(f"python -m live: {without_secrets(str(error))}", file=sys.stderr)
        _status_of_refused_options(arguments, without_secrets(str(error)))
        return 2
    if (why_not := no_display_reason(config)) is not None:
        print(f"python -m live: {why_not}", file=sys.stderr)
        return 2
    if config.headless and config.headless_config.output is None and sys.stdout is None:
        # Started with >&- (or by a service manager that gave it none): every decision went nowhere, and
        # the run ended 0, its summary silent. (--check too: it says what a start would refuse.)
        print("python -m live: standard output is closed: the decisions would go nowhere; --output FILE "
              "writes them to a file", file=sys.stderr)
        return 2
    if config.check:
        return check_start(config)
    # Until the run installs its own handlers, a service manager's SIGTERM ends start-up as Ctrl-C does:
    # the source is given back and the exit says so.
    handlers = {signum: signal.getsignal(signum) for signum in CAUGHT_SIGNALS}
    interrupt_on_stop_signals()  # SIGTERM (and Ctrl-Break) raise KeyboardInterrupt, as Ctrl-C does
    reopen = threading.Event()
    if hasattr(signal, "SIGHUP"):
        # To a headless service SIGHUP is logrotate's "open --output / --events again", even while it
        # starts; to the window it is its terminal or session closing: it closes as on Ctrl-C.
        on_hangup = (lambda *_: reopen.set()) if config.headless else signal.default_int_handler
        signal.signal(signal.SIGHUP, on_hangup)
    try:
        return _run(config, reopen)
    finally:  # the caller's own (a test, an embedding program) again
        for signum, handler in handlers.items():
            if handler is not None:  # None: installed outside Python, and Python cannot put it back
                signal.signal(signum, handler)


def check_start(config: LiveConfig) -> int:
    """--check: what a start would refuse, said without running, for a deployment's checks: the options
    (read already), the source opened and given back, the model loaded (its engine made and kept in the
    cache, as a start would), the alert classes against the model's, the frame ring against the memory
    available, the window's Qt binding, an alert queue's contents. No status file, output, alert queue,
    recording or alert is written or sent, so a check beside the running service leaves it alone. An alert
    queue or status file another run holds (that service, most likely), and a recording disk too full to
    begin on (a start watches the room meanwhile and tries every minute), are said as notes. The exit
    status a start would have: 0, 2, or 75 (too little memory now)."""
    try:
        if not config.headless:
            check_qt_binding()  # a PySide6 that would abort the window: refused at start
        if (delivery := config.headless_config.alerts.delivery) is not None:
            refuse_other_files(delivery.queue_path)  # a decisions file given as the queue, say
        pipeline = build_pipeline(config)
        try:
            decided = with_decisions(config, pipeline.engine.metadata.decisions)
            _alerts_for(decided, pipeline.inputs.class_names)  # a class the model lacks: refused, as at start
            pipeline.check_memory()
        finally:
            pipeline.release()
    except (SourceUnavailable, OSError, ValueError, EngineError, RecorderError, QtBindingError) as error:
        print(f"python -m live: {error}", file=sys.stderr)
        return 2
    except NotEnoughMemory as error:
        print(f"python -m live: {error}", file=sys.stderr)
        return EXIT_TRY_AGAIN
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    for note in _what_a_start_now_would_meet(config):
        print(f"python -m live: note: {note}", file=sys.stderr)
    print(f"python -m live: check passed: {pipeline.source.name} and model {checkpoint_for(config).name} "
          f"({pipeline.engine.name}) open as a start would; nothing was run", file=sys.stderr)
    return 0


def _what_a_start_now_would_meet(config: LiveConfig) -> list[str]:
    """What a start now would meet that is no setting's fault: files another run holds (a start would exit
    75 and be tried again), a recording disk too full to begin on."""
    notes = []
    if (delivery := config.headless_config.alerts.delivery) is not None and queue_held(delivery.queue_path):
        notes.append(f"alert queue {delivery.queue_path} is held by another running app now (this room's "
                     "service?): a start now would exit 75 until it lets go")
    status = config.headless_config.status_file
    if status is not None and config.headless and held_by_another(status.with_name(status.name + ".lock")):
        notes.append(f"--status-file {status} is written by another running app now (this room's "
                     "service?): a start now would exit 75 until it lets go")
    if (folder := config.pipeline.record_from_start) is not None:
        least = config.pipeline.recording.min_free_bytes
        least = RecorderConfig().min_free_bytes if least is None else least  # (--min-free-gb 0: none)
        existing = next((f for f in (folder, *folder.parents) if f.is_dir()), None)
        free = None
        with contextlib.suppress(OSError):  # a folder it may not look into: the start says what is wrong
            free = shutil.disk_usage(existing).free if existing is not None else None
        if free is not None and free < least:
            notes.append(f"--record: {existing} has {disk_amount(free)} free, less than the "
                         f"{disk_amount(least)} a recording keeps: it would not begin now (a start watches "
                         "the room and tries every minute)")
    return notes


def _run(config: LiveConfig, reopen: threading.Event) -> int:
    """Open the source and the model, run the window or the headless loop, print the summary. `reopen`:
    set on SIGHUP in a headless run."""
    status_file = config.headless_config.status_file if config.headless else None
    starting = (None if status_file is None
                else StartingStatusFile(status_file, config.headless_config.alerts.room, str(config.source)))
    status_lock: IO[bytes] | None = None
    try:
        if status_file is not None:
            status_lock = hold_status_file(status_file)  # another run's file is left as it is
        if starting is not None:
            starting.start()
        if (delivery := config.headless_config.alerts.delivery) is not None:
            refuse_a_held_queue(delivery.queue_path)
        pipeline = build_pipeline(config)
        try:
            # build_pipeline chose the pipeline's smoothing by the same rule; here the headless thresholds.
            config = _alerts_for(with_decisions(config, pipeline.engine.metadata.decisions),
                                 pipeline.inputs.class_names)
            if config.headless:
                # Ctrl-C and a service manager's SIGTERM ask for a stop instead of raising wherever the
                # main thread happens to be (half-way through starting the threads, say): the pipeline
                # then always shuts down in order and a recording in progress is finalised.
                stop = threading.Event()

                def request_stop() -> None:
                    stop.set()
                    if not pipeline.started:  # still starting (the engine's warm-up): nothing watches stop
                        raise KeyboardInterrupt

                handler = _then_at_once(request_stop)
                for signum in STOP_SIGNALS:
                    signal.signal(signum, handler)
                headless = replace(config.headless_config, model_file=checkpoint_for(config))
                summary = run_headless(pipeline, headless, stop=stop, duration_s=config.duration_s,
                                       reopen=reopen, starting=starting)
            else:
                summary = run_window(pipeline, config)
        finally:
            pipeline.release()  # start-up failed before the pipeline ran: the sensor is given back
    # OSError: an --output, --events, --alert-queue or --record-dir path that cannot be written;
    # EngineError: an --engine this machine lacks; RecorderError: --record with too little disk space.
    # QtBindingError: a PySide6 that would abort the window within minutes (--headless needs no Qt).
    except QueueInUse as error:  # another run holds it now (a test run by hand?): worth starting again later
        return _start_failed(starting, str(error), EXIT_TRY_AGAIN)
    except StatusFileInUse as error:  # the same, and the file is that run's: nothing written to it
        return _start_failed(None, str(error), EXIT_TRY_AGAIN)
    except NotEnoughMemory as error:  # memory may be freed by then: started again, the reason said each time
        return _start_failed(starting, str(error), EXIT_TRY_AGAIN, EndedBy.OUT_OF_MEMORY)
    except (SourceUnavailable, OSError, ValueError, EngineError, RecorderError) as error:
        return _start_failed(starting, str(error), 2)
    except QtBindingError as error:
        return _start_failed(starting, f"{error}; --headless needs no Qt", 2)
    except KeyboardInterrupt:  # Ctrl-C while the source or the model was still being opened
        return _start_failed(starting, "interrupted before it started", EXIT_INTERRUPTED)
    except BaseException as error:  # a bug: said by its traceback; the status file must not say "starting"
        if starting is not None:
            starting.failed(f"{type(error).__name__}: {error}", EndedBy.CRASHED)
        raise
    finally:
        if status_lock is not None:
            status_lock.close()
    print_summary(summary)
    return 1 if summary.errors else 0
