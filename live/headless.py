"""Running without a screen: decisions as JSON lines, an event log, and alerts.

    hop -> DecisionWriter   one JSON line per decision (time, person, top-k, attention, latency, window
                            start, and "truth" where the source knows it)
        -> EventLog         "started" / "ended" lines when a person's top action reaches the threshold
                            and when it falls below the end threshold (a wavering score is one event;
                            the background class no_action is never an event nor an alert)
        -> AlertDispatcher  alert classes (falling, ...) above the threshold: a log line, an
                            optional command and an optional HTTP POST (live/alert_delivery.py),
                            once per person (a pair, for a two-person action), class and
                            episode (an episode ends after the cooldown without the class)
    LiveStats.problems -> AlertDispatcher.watch_room   the same ways, once the room has not been
                            watched for --alert-unwatched-after seconds (no frames, recognition stuck:
                            no fall could be alerted), and once it is watched again
    the newest frame's bodies -> MountingReport   how the sensor is mounted (height, pitch, roll), said
                            in the log once the floor is seen and again when it changes

JSON lines go to stdout (or a file) and nothing else does: logs and the summary go to stderr, so
`python -m live --headless | jq` works.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import difflib
import enum
import hashlib
import json
import logging
import math
import ntpath
import os
import queue
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from core.atomic import REPLACE_RETRY_S, replace_atomically, write_then_rename
from core.engines.metadata import file_sha256
from core.locks import hold
from core.package_files import running_software
from core.room import FloorTracker, SensorMounting
from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION
from core.wording import disk_amount
from live.alert_delivery import LOCK_WAIT_S, AlertDelivery, DeliveryConfig, Queued
from live.capture import RingEntry
from live.pipeline import LATE_OVER_S, LivePipeline, LiveStats, Summary
from live.service_manager import ServiceManager, environment_for_children
from live.worker import Decision, Hop, is_two_person
from recordings.atomic import drop_cut_last_line
from recordings.labels import class_name_as_written, related_names
from recordings.recorder import sample_name_from
from recordings.stop_signals import wait_for_event_in_slices

log = logging.getLogger(__name__)

# An acknowledged episode ends after this long without its class (not the cooldown): long enough that a
# score flickering at the threshold while a patient lies on the floor does not alert again and again.
ACKNOWLEDGED_COOLDOWN_S = 3.0
# A page of a person (or pair) and class within this long of their last says how long ago that was
# ("again_after_s"): a receiver tells a patient paged again, still down, from a new event without
# keeping the history itself (each page was a new id with nothing linking it to the last).
AGAIN_WITHIN_S = 3600.0
# Alert classes used when none are named: whichever of these the model knows (NTU's A043 is
# "falling", the simulated room's class is "fall_down").
DEFAULT_ALERT_CLASSES = ("falling", "fall_down")
# The window beeps at an alert and again this often until it is acknowledged (--alert-beep).
ALERT_BEEP_S = 10.0
# A headless run whose recognition has been stuck this long ends (exit 1): a call that never returns
# cannot be interrupted from inside, and a service manager that restarts the process brings it back.
STUCK_EXIT_S = 60.0
# A computer that was not keeping up (with the sensor's frames, or decisions late) is said to again once it
# has for this long (either figure is over the last 10 s, and hovers about its line on a computer at its
# limit).
KEEPING_UP_AGAIN_S = 10.0
# The problems (LiveStats.problems) under which nothing in the room is recognised, so no alert can be
# raised: a fall there would go unseen. Frames missed or decisions late make recognition worse, not absent.
UNWATCHED_BY = ("sensor_disconnected", "no_frames", "source_read_stuck", "recognition_stuck", "no_decisions",
                "stopped_by_error")
# The computer slept (suspend, hibernation): nothing watched the room meanwhile. A problem of the room's
# alerts alone (the run knows it only on waking), counted from a sleep this long (a reading comes a second).
COMPUTER_ASLEEP = "computer_asleep"
ASLEEP_COUNTS_S = 2.0
# Windows' monotonic clock counts the time asleep (QueryPerformanceCounter, GetTickCount64); Linux's does not.
MONOTONIC_COUNTS_SLEEP = sys.platform == "win32"
# A room not watched is watched again once none of UNWATCHED_BY has been seen for this long: a sensor that
# drops out every few seconds is one outage, paged once, not a page and an all-clear each time.
WATCHED_AGAIN_S = 10.0
# An outage not yet paged as a run ends goes on in a run started within this long (a service manager's
# restart after a stuck read: RoomWatch); a later start counts afresh.
OUTAGE_CARRIED_OVER_S = 300.0


@dataclass(frozen=True)
class AlertConfig:
    classes: tuple[str, ...] = ()  # none; the app names them: --alert-class, else default_alert_classes
    room: str = ""  # where the sensor is (--room), in every alert: one endpoint may serve many rooms
    threshold: float = 0.6  # smoothed probability that raises an alert (and logs an event)
    cooldown_s: float = 30.0  # an episode ends after this long below the threshold; then it may alert again
    command: str | None = None  # run for each alert, with ALERT_* environment variables
    delivery: DeliveryConfig | None = None  # --alert-url: POST each alert, queued on disk until delivered
    # A room not watched for this long (a problem of UNWATCHED_BY lasting) is an alert of its own, and so is
    # its end: the nurse-call system learns that falls there cannot be alerted (None: never). 30 s lets a
    # Kinect reopen by itself (10 s) without paging anyone.
    unwatched_after_s: float | None = 30.0
    # Where an outage is kept across restarts (RoomWatch; None: not kept). The app puts it in the alert
    # queue's folder (room_outage_file), where an alert command or --alert-url goes beyond the log.
    outage_file: Path | None = None

    def __post_init__(self) -> None:
        # Said at start-up: a mistyped pager script would otherwise show only when a patient falls.
        if self.command is not None:
            try:
                argv = command_argv(self.command)
            except ValueError as error:  # shlex: "No closing quotation", say
                raise ValueError(f"--alert-command {self.command!r}: {error}") from None
            if not argv or shutil.which(argv[0]) is None:
                raise ValueError(f"--alert-command {self.command!r}: {argv[0] if argv else 'nothing'!r} is "
                                 "not a program that can be run (not on PATH, missing or not executable)"
                                 + _quote_hint(argv))
            if (why := windows_start_problem(argv[0], shutil.which(argv[0]))) is not None:
                raise ValueError(f"--alert-command {self.command!r}: {why}")


def _quote_hint(argv: list[str]) -> str:
    """A hint to quote the program where the words of the command line, joined again, name one: a path with a
    space ("/srv/Zimmer 3/page nurse.sh") split into pieces of which the first is none."""
    for words in range(2, len(argv) + 1):
        program = " ".join(argv[:words])
        if shutil.which(program) is not None:
            return f'; a path with spaces is one word only in quotes within the command: "{program}" ...'
    return ""


def windows_start_problem(program: str, found: str, windows: bool = os.name == "nt") -> str | None:
    """Why Windows would not start `program` (`found`: where PATH and PATHEXT lead) though it is found, or
    None. CreateProcess adds .exe alone to a name without extension: "page-nurse" found as page-nurse.cmd
    passed the check at start-up and failed as the patient fell. A PowerShell script it never runs."""
    if not windows:
        return None
    suffix = ntpath.splitext(found)[1].lower()
    if suffix == ".ps1":
        return f"{found} is a PowerShell script: give it as powershell -NoProfile -File {found} ..."
    if not ntpath.splitext(program)[1] and suffix != ".exe":
        return (f"Windows starts {program!r} only as {program}.exe; give the program as "
                f"{ntpath.basename(found)}")
    return None


def command_argv(command: str, windows: bool = os.name == "nt") -> list[str]:
    """An --alert-command split as a shell would (no shell runs it). On Windows (only to find the program,
    which is run with the line as given): backslashes are path separators, and quotes only group:
    "C:\\Program Files\\Pager\\page.exe" is one piece without its quotes (with them kept, no program of
    that name was found)."""
    if not windows:
        return shlex.split(command)
    pieces = shlex.split(command, posix=False)
    return [p[1:-1] if len(p) >= 2 and p[0] == p[-1] == '"' else p for p in pieces]


@dataclass(frozen=True)
class HeadlessConfig:
    output: Path | None = None  # JSON lines of decisions; None: stdout
    events: Path | None = None  # event log; None: the log (stderr)
    alerts: AlertConfig = field(default_factory=AlertConfig)  # its threshold also starts events
    event_end_threshold: float | None = None  # an event lasts while p >= this; None: the threshold
    health_every_s: float = 60.0  # a status line in the log this often: a service's sign of life
    # A JSON file rewritten every STATUS_FILE_EVERY_S (whole: written and renamed), for a monitor of many
    # rooms: whether the run is well ("ok"), what is wrong ("problems", keys), and when it said so.
    status_file: Path | None = None
    # Every line written, a slow writer slowing the run instead of costing lines: for --fast replays
    # and evaluations, whose decisions are the result. A live room never waits for a file.
    lossless: bool = False
    model_file: Path | None = None  # the checkpoint the run loaded: said when it is replaced or removed


def _append_to(path: Path) -> IO[str]:
    """`path` opened for appending: a service's restarts keep one file. Said when it holds an earlier run,
    whose lines are told apart where `stream_time` starts again at 0 (the wall-clock `time` may repeat
    itself: a clock set back by NTP or by hand). A last
    line an interrupted run left cut short (a full disk, a power cut) is dropped first, said: the next
    line would otherwise be glued onto it and both be lost to a reader."""
    if path.is_file() and path.stat().st_size:
        complete, dropped = drop_cut_last_line(path)
        if dropped:
            log.warning("%s: byte %d: dropping an incomplete last line (%d bytes) an interrupted run "
                        "left", path, complete, dropped)
        log.info("%s: appending after an earlier run's lines (this run's `stream_time` starts again at 0)",
                 path)
    return open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by its owner


def _silence(stream: IO[str]) -> None:
    """Point a stream's file descriptor at /dev/null (its reader is gone, or stopped reading)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no descriptor (a stream in memory)
        pass


class LineWriter:
    """Lines to a file (or stdout) on a thread of their own, through a bounded queue: a full disk, a hung
    network share or a reader of stdout that stopped reading never holds up recognition, alerts or
    shutdown. A line the queue has no room for is dropped and counted; a write that fails (a full disk)
    is said, naming the file, and lines are dropped (counted) until the file is opened again, tried every
    RETRY_S and at a SIGHUP: a moment of full disk must not cost the weeks a service runs. Reopened, a
    line the failure cut short is dropped first, so that none is glued to it. `lossless`: wait for room
    instead (until `stop` is set). `reopen()` (SIGHUP) opens the path again: a log rotated by moving the
    file."""

    QUEUE_LINES = 10_000  # ~3 MB of decisions: some ten minutes of a room of three people
    # A file that has not opened after this long (on a share that hangs while it reconnects) is left to
    # open on the writer's thread: the run starts, its lines queued meanwhile. One that fails sooner (a
    # folder that is not there) fails the start.
    OPEN_WAIT_S = 5.0
    GONE_CHECK_S = 5.0  # how often the file is checked for having been deleted under the writer
    # Said (status line, --status-file's "disk_low") while the file's disk has less than this left: decisions
    # grow by 160 MB a day for each person in view, and a disk found full costs the lines from then on.
    # The recorder's default minimum too (RecorderConfig.min_free_bytes; live --min-free-gb lowers the
    # recorder's, not this warning's).
    LOW_DISK_BYTES = 2_000_000_000
    DISK_CHECK_S = 60.0
    RETRY_S = 30.0  # how often a file that failed is opened again
    DROPPING_AGAIN_S = 60.0  # lines dropped after this long without: a new episode, said again
    _REOPEN, _CLOSE = object(), object()

    def __init__(self, path: Path | None, option: str, lossless: bool = False,
                 stop: threading.Event | None = None, open_by: float | None = None) -> None:
        """`open_by`: the monotonic time the start waits for the file until (None: OPEN_WAIT_S from now;
        one deadline for a run's files, which would otherwise each wait their own)."""
        self.path, self.option = path, option  # option: "--output" / "--events", for messages
        self.lossless = lossless
        self._stop = stop or threading.Event()  # the run is stopping: a lossless writer waits no longer
        # Opened on the writer's thread, waited for up to OPEN_WAIT_S (a bad path: an error at start).
        self._stream: IO[str] | None = sys.stdout if path is None else None
        self._opened = threading.Event()
        self._open_lock = threading.Lock()  # who says a failed open: the start (raised), or the writer
        self._open_error: Exception | None = None
        self._open_given_up = False  # the start went on without the file
        self._queue: queue.Queue = queue.Queue(maxsize=self.QUEUE_LINES)
        self.written = 0  # lines flushed out
        self.dropped = 0  # lines not written: no room in the queue, a failed write, or after one
        self._dropped_lock = threading.Lock()  # counted on the caller's thread and the writer's
        self._markers = 0  # _REOPEN / _CLOSE in the queue (under _dropped_lock)
        self._dropped_at = -math.inf  # when a line last found no room in the queue
        self.failure: str | None = None  # the last failure of the run, for its summary
        self.failing = False  # now: lines are dropped until the file is opened again
        # Set when the reader of stdout went away (`python -m live --headless | head`): a run whose alerts
        # go nowhere else then ends as on Ctrl-C, instead of running on with nobody reading (and the shell
        # waiting for it); run_headless decides.
        self.reader_gone = False
        self.disk_free: int | None = None  # bytes left on the file's disk, while under LOW_DISK_BYTES
        self._thread = threading.Thread(target=self._run, name=f"writer {option}", daemon=True)
        self._thread.start()
        open_by = time.monotonic() + self.OPEN_WAIT_S if open_by is None else open_by
        if path is not None and not self._opened.wait(max(open_by - time.monotonic(), 0.0)):
            with self._open_lock:
                self._open_given_up = self._open_error is None and self._stream is None
            if self._open_given_up:
                then = ("once they fill that, the replay waits for it" if lossless
                        else "lines past that are dropped, counted")
                log.warning("%s has not opened in %.0f s (a share that hangs?): the run starts without "
                            "waiting; its lines wait in memory (up to %d) until it opens; %s", self.where,
                            self.OPEN_WAIT_S, self.QUEUE_LINES, then)
        if self._open_error is not None:
            raise self._open_error

    @property
    def where(self) -> str:
        return f"{self.option} {self.path}" if self.path is not None else "standard output"

    def write(self, line: str) -> None:
        if self.reader_gone or (self.failing and self.path is None):  # stdout is not opened again
            self._count_dropped(1)
            return
        if self._put(line, wait=self.lossless):
            return
        now = time.monotonic()
        if not self.lossless and now - self._dropped_at >= self.DROPPING_AGAIN_S:  # each episode said
            log.warning("%s is not keeping up (a reader that stopped reading, a slow disk): lines are "
                        "dropped until it does (%d so far this run)", self.where, self.dropped)
        self._dropped_at = now
        self._count_dropped(1)

    def _count_dropped(self, lines: int) -> None:
        with self._dropped_lock:  # `+=` reads then writes: two threads' counts at once lost some
            self.dropped += lines

    def _put(self, item: object, wait: bool) -> bool:
        """Queue `item`; `wait`: for room, while the writer lives and the run is not stopping."""
        while True:
            if not wait or not self._thread.is_alive() or self._stop.is_set():
                try:
                    self._queue.put_nowait(item)
                    break
                except queue.Full:
                    return False
            try:
                self._queue.put(item, timeout=0.1)
                break
            except queue.Full:
                continue
        if item is self._REOPEN or item is self._CLOSE:  # not lines: never counted lost
            with self._dropped_lock:
                self._markers += 1
        return True

    def reopen(self) -> None:
        if self.path is not None and not self._put(self._REOPEN, wait=False):
            log.warning("%s: not reopened (its writer is behind)", self.where)

    def _run(self) -> None:
        unflushed = 0  # lines handed to the stream since its last flush: written only once flushed
        reopened = False  # a failed file opened again, not yet shown to take lines (a full disk opens)
        dropped_before = 0  # lines dropped before the file failed: those since are said when it works again

        def flush() -> None:
            nonlocal unflushed, reopened
            self._stream.flush()
            took_lines = unflushed > 0
            self.written, unflushed = self.written + unflushed, 0
            if reopened and took_lines:  # shown to take lines: a full disk opens, and flushes nothing
                reopened, self.failing = False, False
                log.warning("%s: written again (%d lines lost while it could not be)", self.where,
                            self.dropped - dropped_before)

        checked = failed_at = time.monotonic()
        disk_checked = -math.inf
        if self._stream is None:  # the file, opened here: a share that hangs holds up no start
            assert self.path is not None
            try:
                self._stream = _append_to(self.path)
            except Exception as error:
                with self._open_lock:
                    if not self._open_given_up:  # said by the start, which fails
                        self._open_error = error
                        self._opened.set()
                        return
                # Opened too late to fail the start: a file that failed, opened again every RETRY_S.
                why = getattr(error, "strerror", None) or error
                self.failing, self.failure = True, f"{self.where}: cannot be written ({why})"
                failed_at = time.monotonic()
                log.error("%s; lines are dropped until it can be, tried again every %.0f s (recognition "
                          "and alerts go on)", self.failure, self.RETRY_S)
            self._opened.set()
        while True:
            if self.path is not None and time.monotonic() - disk_checked >= self.DISK_CHECK_S:
                disk_checked = time.monotonic()  # here: a share that hangs holds up this thread only
                self._check_disk()
            try:  # an idle writer (events come seldom) checks its disk too
                item = self._queue.get(timeout=max(self.DISK_CHECK_S, 0.01))  # 0 would spin
            except queue.Empty:
                continue
            line = item not in (self._REOPEN, self._CLOSE)
            if not line:
                with self._dropped_lock:
                    self._markers -= 1
            retry = item is self._REOPEN or time.monotonic() - failed_at >= self.RETRY_S
            if self.reader_gone or self.failing and not reopened and (self.path is None or not retry):
                self._count_dropped(line)
                if item is self._CLOSE:
                    return
                continue
            try:
                unflushed += line  # lost with the rest if anything below fails
                if self.failing and not reopened:  # opened again (a SIGHUP, or RETRY_S since)
                    assert self.path is not None
                    if self.path.is_file():  # a line the failure cut short: none glued to it
                        drop_cut_last_line(self.path)
                    self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
                    reopened = True
                    if item is self._REOPEN:
                        continue
                if item is self._CLOSE:
                    flush()
                    return
                if item is self._REOPEN:
                    assert self.path is not None
                    flush()
                    self._stream.close()
                    self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
                    log.info("%s: reopened", self.where)
                    continue
                self._stream.write(item)
                if self._queue.empty():  # flushed when caught up: a reader sees each hop at once
                    flush()
                if self.path is not None and time.monotonic() - checked >= self.GONE_CHECK_S:
                    checked = time.monotonic()
                    opened = os.fstat(self._stream.fileno())
                    # Deleted: lines went nowhere. A file only: Windows gives NUL (which the README offers
                    # for --output) no links at all, and it was "deleted" every GONE_CHECK_S.
                    if stat.S_ISREG(opened.st_mode) and opened.st_nlink == 0:
                        log.error("%s was deleted while being written (a clean-up script?); the lines "
                                  "since went with it; writing to a new %s", self.where, self.path)
                        self._stream.close()
                        self._count_dropped(unflushed)  # into the deleted file: not written
                        unflushed = 0
                        self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            except BrokenPipeError:
                self.reader_gone = True
                self._count_dropped(unflushed)
                unflushed = 0
                _silence(self._stream)  # Python flushes stdout again at exit: that must not fail too
                log.info("the reader of %s closed its end", self.where)  # what follows: run_headless's
            except Exception as error:  # a full disk, a folder removed, a closed stream: OSError, ValueError
                # (and anything else: a writer thread that died of it lost every later line unsaid; said
                # with its traceback, as the defect of ours it is, not the disk's)
                defect = not isinstance(error, (OSError, ValueError))
                if self.path is not None and self._stream is not None:  # closed now: its buffer, lines
                    with contextlib.suppress(OSError, ValueError):  # counted lost, is not written later
                        self._stream.close()
                if not self.failing:
                    dropped_before = self.dropped
                self._count_dropped(unflushed)
                unflushed, reopened = 0, False
                why = (f"{type(error).__name__}: {error}" if defect
                       else getattr(error, "strerror", None) or error)
                self.failure, failed_at = f"{self.where}: cannot be written ({why})", time.monotonic()
                if not self.failing:  # said once: a disk that stays full fails each retry quietly
                    self.failing = True
                    again = (f"lines are dropped until it can be, tried again every {self.RETRY_S:.0f} s"
                             if self.path is not None else "nothing more is written there this run")
                    log.error("%s; %s (recognition and alerts go on)", self.failure, again, exc_info=defect)
            if item is self._CLOSE:
                return

    def _check_disk(self) -> None:
        assert self.path is not None
        try:
            if not self.path.is_file():
                # /dev/null (its /dev is RAM-sized), NUL, a pipe: no disk to fill. A file gone for a moment
                # (rotated, a share's folder away) leaves what was said as it was.
                if self.path.exists():
                    self.disk_free = None
                return
            free = shutil.disk_usage(self.path.parent).free
        except OSError as error:  # the file's own writes say whether it can be written
            log.debug("%s: its disk's free space cannot be read (%s)", self.where, error)
            return
        low = free < self.LOW_DISK_BYTES
        if low and self.disk_free is None:  # said as it begins; the status lines say it from then on
            log.warning("%s: its disk has %s left: once full, lines are lost (rotate or remove old "
                        "files)", self.where, disk_amount(free))
        elif not low and self.disk_free is not None:
            log.info("%s: its disk has %s left again", self.where, disk_amount(free))
        self.disk_free = free if low else None

    def disk_status(self) -> list[str]:
        """For a status line: the file while its disk is nearly full."""
        free = self.disk_free
        return [] if free is None else [f"{self.where} DISK NEARLY FULL ({disk_amount(free)} left)"]

    def status(self) -> list[str]:
        """For a status line: the file while it cannot be written (what a monitor reads, hours after
        its one error line)."""
        if self._stream is None and not self.failing:  # still opening (a share that hangs)
            lost = f", {self.dropped} lost" if self.dropped else ""
            return [f"{self.where} NOT OPEN YET ({max(self._queue.qsize() - self._markers, 0)} lines "
                    f"waiting{lost})"]
        return [f"{self.where} NOT WRITTEN ({self.dropped} lines lost)"] if self.failing else []

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then close the file: within `timeout` (lossless: until done, or until
        `timeout` after the run was stopped)."""
        grace = time.monotonic() + timeout

        def waiting() -> bool:
            return self._thread.is_alive() and (self.lossless and not self._stop.is_set()
                                                or time.monotonic() < grace)

        queued = False
        while not queued and waiting():
            try:
                self._queue.put(self._CLOSE, timeout=0.1)
                queued = True
            except queue.Full:
                pass
        while queued and waiting():
            self._thread.join(0.1)
        if self._thread.is_alive():  # blocked in a write or behind: a reader that does not read, a slow disk
            self.failure = self.failure or f"{self.where}: not done writing at exit (blocked, or behind)"
            log.error("%s; %d lines not written", self.failure, self.lost)
            if self.path is None:  # Python flushes stdout at exit: that must not block for ever too
                _silence(self._stream)
            return
        try:
            if self.path is not None and self._stream is not None:  # None: it never opened
                self._stream.close()
        except OSError as error:
            self.failure = self.failure or f"{self.where}: cannot be written ({error.strerror or error})"

    @property
    def lost(self) -> int:
        """Lines not written: dropped, and those still queued behind a writer that is blocked."""
        return self.dropped + (max(self._queue.qsize() - self._markers, 0) if self._thread.is_alive() else 0)

    def errors(self) -> list[str]:
        """What the run's summary lists as errors: lines of the file lost."""
        if self.failure is not None:
            return [f"{self.failure}; {self.lost} lines not written"]
        if self.lost and not self.reader_gone:
            return [f"{self.where}: {self.lost} lines not written (it did not keep up)"]
        return []


def _recording_disk_status(stats: LiveStats) -> list[str]:
    """For a status line: the recording's disk while it nearly has no more room than the recorder keeps."""
    if stats.recording_disk is None:
        return []
    free, least = stats.recording_disk
    return [f"RECORDING'S DISK NEARLY FULL ({disk_amount(free)} left; the recording stops under "
            f"{disk_amount(least)})"]


def _where(room: str) -> str:
    """"ROOM: " to begin a log line or a page's description with (one log collector may hold several rooms'
    lines), or nothing where the room has no name."""
    return f"{room}: " if room else ""


def _iso(seconds: float) -> str:
    return _dt.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="milliseconds")


class DecisionWriter(LineWriter):
    """One JSON object per line per decision (--output, else stdout), each with its `room` (--room): the
    rooms of one host writing to one file stay apart; its `model` (the checkpoint's short sha256) and
    `run` (RUN): a file a service appends its restarts to is scored one run, of one model, at a time."""

    def __init__(self, path: Path | None, lossless: bool = False,
                 stop: threading.Event | None = None, room: str = "", open_by: float | None = None,
                 model: str = "") -> None:
        super().__init__(path, "--output", lossless, stop, open_by)
        self.room = room
        self.model = model or None  # None: a model file that does not say (a test's stand-in)

    def write_hop(self, hop: Hop) -> None:
        for decision in hop.decisions:
            self.write(json.dumps({"room": self.room, "model": self.model, "run": RUN,
                                   **decision.to_json()}) + "\n")


@dataclass(frozen=True)
class ActionEvent:
    kind: str  # "started" or "ended"
    person: int  # the sensor's tracking id
    action: str
    probability: float
    stream_time: float
    time: float
    duration_s: float = 0.0
    number: int = 0  # the person's number on screen ("person 2"; live/tracks.py), 0 where unknown
    # Why an event ended ("" for a start): "over" (below the end threshold), "another_action" (another
    # took the person's top), "left_view" (no longer tracked) or "run_ended": a dashboard tells an action
    # over from a person who walked out of view or an app that stopped.
    why: str = ""

    def to_json(self) -> dict:
        line = {"event": self.kind, "time": _iso(self.time), "stream_time": round(self.stream_time, 3),
                "person": self.person, "number": self.number, "action": self.action,
                "p": round(self.probability, 4), "duration_s": round(self.duration_s, 2)}
        return {**line, "why": self.why} if self.kind == "ended" else line



class EventLog:
    """Per person, the action currently going on: a line when it starts and when it ends. An event
    starts when a person's top action reaches `threshold` and lasts while that action's probability
    stays at or above `end_threshold` (hysteresis; None or above the threshold: the threshold), so a
    score wavering around the threshold makes one event, not a run of short ones. Another action
    reaching the threshold ends it and starts its own."""

    def __init__(
        self, threshold: float, path: Path | None = None, end_threshold: float | None = None,
        lossless: bool = False, stop: threading.Event | None = None, room: str = "",
        open_by: float | None = None, model: str = "",
    ) -> None:
        self.threshold = threshold
        self.room = room  # on each line written (--room)
        self.model = model or None  # and the checkpoint's short sha256, as decision lines carry it
        self.end_threshold = threshold if end_threshold is None else min(end_threshold, threshold)
        self._current: dict[int, ActionEvent] = {}
        # Per person with an event going on: (stream time, time) of the last decision that held it, where
        # it ends if no decision ends it (the person left the view, the run stopped): a track retired a
        # second later, seen in a batch of hops ending anywhere, gave a --fast replay's events lengths that
        # changed from run to run and counted time nobody was there.
        self._held: dict[int, tuple[float, float]] = {}
        self._file = LineWriter(path, "--events", lossless, stop, open_by) if path is not None else None
        self.events: list[ActionEvent] = []

    def update(self, hop: Hop) -> list[ActionEvent]:
        emitted = []
        for decision in hop.decisions:
            action, p = decision.topk[0]
            current = self._current.get(decision.tracking_id)
            active = action if p >= self.threshold and action != NO_ACTION else None
            if current is not None and active is None:
                # The action's own probability, wherever it ranks: not only the top-k shown.
                held = decision.probability(current.action)
                active = current.action if held >= self.end_threshold else None
            if current is not None and current.action != active:
                why = "over" if active is None else "another_action"
                emitted.append(self._end(current, decision.stream_time, decision.time, why))
                del self._current[decision.tracking_id], self._held[decision.tracking_id]
                current = None
            if current is None and active is not None:
                started = ActionEvent("started", decision.tracking_id, action, p, decision.stream_time,
                                      decision.time, number=decision.number)
                self._current[decision.tracking_id] = started
                emitted.append(started)
            if active is not None:
                self._held[decision.tracking_id] = (decision.stream_time, decision.time)
        for event in emitted:
            self._emit(event)
        return emitted

    def keep_only(self, tracking_ids: set[int], why: str = "left_view") -> None:
        """People no longer tracked: their current action ends, as of their last decision that held it."""
        for tracking_id in set(self._current) - tracking_ids:
            self._emit(self._end(self._current.pop(tracking_id), *self._held.pop(tracking_id), why))

    def _end(self, started: ActionEvent, stream_time: float, at: float, why: str) -> ActionEvent:
        return ActionEvent("ended", started.person, started.action, started.probability, stream_time, at,
                           duration_s=stream_time - started.stream_time, number=started.number, why=why)

    def _emit(self, event: ActionEvent) -> None:
        self.events.append(event)
        if len(self.events) > 1000:  # bounded: the file / log has them all
            del self.events[:500]
        if self._file is not None:
            self._file.write(json.dumps({"room": self.room, "model": self.model, **event.to_json()}) + "\n")
            return
        # The room as the ALERT line names it: one log collector can hold several rooms' lines.
        where = _where(self.room)
        if event.kind == "started":  # at the stream's time: a --fast replay passes 50 s of it in one
            # second of the log's, and a recording's labels are in stream time
            log.info("event at %.2f s: %sperson %d (tracking id %d) started %s (p=%.2f)", event.stream_time,
                     where, event.number, event.person, event.action, event.probability)
        else:  # its probability is the start's: how long it lasted says more
            log.info("event at %.2f s: %sperson %d (tracking id %d) ended %s after %.1f s", event.stream_time,
                     where, event.number, event.person, event.action, event.duration_s)

    def reopen(self) -> None:
        if self._file is not None:
            self._file.reopen()

    def status(self) -> list[str]:
        """The events file's, for a status line (LineWriter.status)."""
        return self._file.status() if self._file is not None else []

    def disk_status(self) -> list[str]:
        """The events file's disk, nearly full (LineWriter.disk_status)."""
        return self._file.disk_status() if self._file is not None else []

    def close(self) -> list[str]:
        """End what is going on (as of each one's last decision), close the file; the file's errors
        (LineWriter)."""
        self.keep_only(set(), "run_ended")
        errors = []
        if self._file is not None:
            self._file.close()
            errors = self._file.errors()
            self._file = None
        return errors


# An alert command running longer than this is taken as hung and stopped (it has had a minute to page).
HOOK_TIMEOUT_S = 60.0
KILLED_GIVE_UP_S = 5.0  # a killed alert command not ended after this long is given up on


@dataclass(frozen=True)
class Alert:
    person: int  # the sensor's tracking id: who in the room, not a patient's identity
    action: str
    probability: float
    stream_time: float
    time: float
    room: str = ""
    number: int = 0  # the person's number on screen ("person 2"; live/tracks.py), 0 where unknown
    tracked: float | None = None  # the decision's share of joints tracked (live.worker.Decision.tracked)
    # A two-person action's other person (Decision.partner): one alert for the pair, naming both.
    partner: int | None = None
    partner_number: int = 0
    model: str = ""  # the checkpoint's short sha256: which model raised it (a site trying one in some rooms)
    again_after_s: float | None = None  # stream seconds since this person's (pair's) last page of the class

    @property
    def people(self) -> tuple[int, ...]:
        """The tracking ids the alert is about: the person's, and their partner's for a two-person action."""
        return (self.person,) if self.partner is None else (self.person, self.partner)

    def who(self) -> str:
        """'person 2', or 'person 2 with person 3' for a two-person action: as the window numbers them."""
        with_partner = f" with person {self.partner_number}" if self.partner is not None else ""
        return f"person {self.number}{with_partner}"

    def describe(self) -> str:
        """Which page, as a failure to deliver it names it: room, who, what, when (several rooms may log to
        one collector)."""
        where = _where(self.room)
        return f"the alert {where}{self.who()}: {self.action} at {_iso(self.time)}"

    def to_json(self) -> dict:
        out = {"kind": "action", "room": self.room, "host": HOST, "person": self.person,
               "number": self.number, "class": self.action,
               "p": round(self.probability, 4), "time": _iso(self.time),
               "stream_time": round(self.stream_time, 3)}
        if self.tracked is not None:
            out["tracked"] = round(self.tracked, 3)
        if self.partner is not None:
            out["partner"] = self.partner
            out["partner_number"] = self.partner_number
        if self.model:
            out["model"] = self.model
        if self.again_after_s is not None:
            out["again_after_s"] = round(self.again_after_s, 1)
        return out

    def environment(self, queued: Queued | None = None) -> dict[str, str]:
        """The --alert-command's ALERT_* variables; with the POST's id and sequence where --alert-url sends
        it too (ALERT_ID and ALERT_SEQUENCE, and "id" and "sequence" in ALERT_JSON): whoever gets both can
        tell they are one alert, and put the command's pages in the order raised."""
        return {
            "ALERT_KIND": "action",
            "ALERT_ROOM": self.room,
            "ALERT_HOST": HOST,
            "ALERT_CLASS": self.action,
            "ALERT_PERSON": str(self.person),
            "ALERT_PERSON_NUMBER": str(self.number),
            # Empty for a one-person action (ALERT_JSON then has no "partner").
            "ALERT_PARTNER": "" if self.partner is None else str(self.partner),
            "ALERT_PARTNER_NUMBER": "" if self.partner is None else str(self.partner_number),
            "ALERT_PROBABILITY": f"{self.probability:.4f}",
            "ALERT_PROBLEMS": "",  # a room alert's (RoomAlert): every variable is set for every kind
            "ALERT_MODEL": self.model,
            "ALERT_AGAIN_AFTER_S": "" if self.again_after_s is None else f"{self.again_after_s:.1f}",
            "ALERT_TIME": _iso(self.time),
            **_delivered_as(self.to_json(), queued),
        }


@dataclass(frozen=True)
class RoomAlert:
    """The room itself, not a person: "room_unwatched" once nothing has been recognised there for
    AlertConfig.unwatched_after_s (the sensor unplugged, recognition stuck: a fall would raise no alert),
    "room_watched_again" once it is watched again after such an alert."""

    kind: str  # "room_unwatched" or "room_watched_again"
    problems: tuple[str, ...]  # the keys of UNWATCHED_BY seen in this outage, first seen first
    since: float  # wall-clock time the outage began
    unwatched_s: float  # how long the room has gone unwatched (for "room_watched_again": the whole outage)
    time: float  # wall-clock time of this alert
    room: str = ""

    def describe(self) -> str:
        where = _where(self.room)
        return f"the alert {where}{self.kind} at {_iso(self.time)}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "room": self.room, "host": HOST, "problems": list(self.problems),
                "since": _iso(self.since), "unwatched_s": round(self.unwatched_s, 1), "time": _iso(self.time)}

    def environment(self, queued: Queued | None = None) -> dict[str, str]:
        """The --alert-command's variables, as an action alert's (Alert.environment) with the person's and
        the class's empty, and ALERT_PROBLEMS (the problems, comma-separated)."""
        return {
            "ALERT_KIND": self.kind,
            "ALERT_ROOM": self.room,
            "ALERT_HOST": HOST,
            **dict.fromkeys(("ALERT_CLASS", "ALERT_PERSON", "ALERT_PERSON_NUMBER", "ALERT_PARTNER",
                             "ALERT_PARTNER_NUMBER", "ALERT_PROBABILITY", "ALERT_MODEL",
                             "ALERT_AGAIN_AFTER_S"), ""),
            "ALERT_PROBLEMS": ",".join(self.problems),
            "ALERT_TIME": _iso(self.time),
            **_delivered_as(self.to_json(), queued),
        }


def _as_environment_takes(value: str) -> str | bytes:
    """An alert command's variable as the child's environment takes it. Under a locale that cannot write
    it (LC_ALL=C without Python's UTF-8 mode, a Latin-1 locale and a dash or a CJK name) a room or class
    named so made the command fail to start, and the page was lost: there, its UTF-8 bytes. Windows'
    environment is Unicode."""
    if os.name != "posix":
        return value
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        return value.encode("utf-8")
    return value


def _delivered_as(record: dict, queued: Queued | None) -> dict[str, str]:
    """ALERT_JSON, and where the alert is POSTed too, ALERT_ID and ALERT_SEQUENCE with "id" and "sequence"
    in ALERT_JSON, as the POST's body carries them."""
    if queued is None:
        return {"ALERT_JSON": json.dumps(record)}
    return {"ALERT_JSON": json.dumps({**record, "id": queued.id, "sequence": queued.sequence}),
            "ALERT_ID": queued.id, "ALERT_SEQUENCE": str(queued.sequence)}


def _unlink_retrying(path: Path, windows: bool = os.name == "nt") -> None:
    """Remove `path`; on Windows, where a reader that holds it open (a monitor, an antivirus) refuses that,
    tried again for REPLACE_RETRY_S, as core.atomic replaces a file: left there, a paged outage long over
    kept the next outage from being paged."""
    deadline = time.monotonic() + REPLACE_RETRY_S
    while True:
        try:
            path.unlink(missing_ok=True)
            return
        except PermissionError:
            if not windows or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def room_outage_file(queue_path: Path, room: str) -> Path:
    """Where RoomWatch keeps the room's outage: in the alert queue's folder, named after the room (apps of
    several rooms with an --alert-command each, and no queue of their own, share the default folder)."""
    name = (sample_name_from(room) if room else "room")[:64]
    # "Bed 3" and "Bed_3" are two rooms, and so are "Bed3" and "bed3" (one file name on NTFS): two files.
    if name != room.lower():
        name += "-" + hashlib.sha1(room.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return queue_path.parent / f"{name}.unwatched.json"


def default_alert_classes(class_names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The default alert classes this model knows, in its own spelling (maybe none)."""
    known = {name.lower(): name for name in class_names}
    return tuple(known[c] for c in DEFAULT_ALERT_CLASSES if c in known)


def alert_classes(classes: tuple[str, ...], class_names: tuple[str, ...] | list[str]) -> set[str]:
    """The model's own names of the alert `classes` (matched without regard to case, or to how a name
    that looks the same is spelt: labels.txt's rule). A name it lacks is a ValueError that lists the
    model's classes and offers the closest (a typo must not leave a room unwatched for that class);
    `no_action` cannot alert."""

    def key(name: str) -> str:
        return class_name_as_written(name).casefold()

    if any(key(c) == NO_ACTION for c in classes):
        raise ValueError(f"{NO_ACTION!r} is the background class; it cannot raise alerts")
    known: dict[str, list[str]] = {}
    for name in class_names:
        known.setdefault(key(name), []).append(name)
    unknown = [c for c in classes if key(c) not in known]
    if unknown:
        hint = _closest_class(key(unknown[0]), {k: names[0] for k, names in known.items() if k != NO_ACTION})
        actions = ", ".join(name for name in class_names if name != NO_ACTION)
        raise ValueError(f"alert classes {unknown} are not among the model's classes{hint} (it has: "
                         f"{actions})")
    # The class as spelt, where the model has it so; else every class spelt alike (a model an older
    # version trained with "Café" twice: both are the one action, and both alert).
    return {name for c in classes for name in ([c] if c in class_names else known[key(c)])}


def _closest_class(typed: str, actions: dict[str, str]) -> str:
    """"; did you mean X?" for an alert class the model lacks (`actions`: key -> the model's spelling,
    the background left out: offered, it was then refused), or "". A class sharing an action word with
    what was typed first (recordings.labels.related_names): by letters alone "punching other person" is
    closest to "pushing other person", another action, where the model has "punching/slapping other
    person"."""
    close = related_names(typed, list(actions))[:1] or difflib.get_close_matches(typed, list(actions), n=1,
                                                                                 cutoff=0.6)
    return f"; did you mean {actions[close[0]]!r}?" if close else ""


def _boot_id() -> str | None:
    """This boot's id (Linux), which the monotonic clock counts within; None elsewhere (a restart's outage
    is then timed by the wall clock)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            return boot.read().strip() or None
    except OSError:
        return None


def time_asleep_s() -> float:
    """Seconds this computer has slept (suspend, hibernation) since it started, counted where the system
    tells it (Linux, Windows; 0 elsewhere). Only its changes mean anything: the monotonic clock stops while
    the computer sleeps on Linux, so hours asleep looked like no time at all to the room's watch."""
    if hasattr(time, "CLOCK_BOOTTIME"):  # Linux: the boot clock counts sleep, the monotonic one does not
        return time.clock_gettime(time.CLOCK_BOOTTIME) - time.clock_gettime(time.CLOCK_MONOTONIC)
    if sys.platform == "win32":  # the interrupt time counts sleep, its unbiased reading does not
        import ctypes

        awake = ctypes.c_ulonglong()
        if ctypes.windll.kernel32.QueryUnbiasedInterruptTime(ctypes.byref(awake)):
            return time.monotonic() - awake.value / 1e7  # (monotonic counts sleep on Windows)
    return 0.0


class RoomWatch:
    """Whether the room is watched (AlertDispatcher.watch_room). An outage begins with the first problem of
    UNWATCHED_BY (`already_s` before it was first reported: the stall, stuck and undecided problems are
    reported 3-10 s into themselves), is paged once it has lasted `after_s`, gaps under WATCHED_AGAIN_S
    included, and ends once none has been seen for WATCHED_AGAIN_S: paged too where its start was. A
    shorter outage is said by the log, the status line and --status-file alone.

    An outage is kept in `path` across restarts: once paged, until its end is paged (a run restarted in it
    neither pages it again nor leaves the nurse-call system holding a page that never ends); not yet
    paged, as it ends the run (a read stuck for good ends each run at STUCK_EXIT_S: counted afresh by each,
    an outage never reached an `after_s` of a minute), for a run started within OUTAGE_CARRIED_OVER_S. Written
    off the caller's thread (the window's, the headless loop's: a share that hangs must not hold them), in
    order."""

    def __init__(self, after_s: float, path: Path | None, room: str) -> None:
        self.after_s = after_s
        self.path = path
        self.room = room
        self.since: tuple[float, float] | None = None  # the outage's start: monotonic, wall clock
        self.problems: list[str] = []  # those seen in it, first seen first
        self.paged = False
        self._watched_since: float | None = None  # monotonic: since when none of UNWATCHED_BY has been seen
        self._kept = False  # `path` holds this outage (written, or read back)
        self._writer: threading.Thread | None = None
        self._read_back()

    def observe(self, problems: list[str], now: float, already_s: float = 0.0, asleep_s: float = 0.0
                ) -> tuple[str, tuple[str, ...], float, float] | None:
        """One reading of the run's problems at monotonic `now`; (kind, the outage's problems, its start on
        the wall clock, how long the room has gone unwatched) where it calls for an alert, else None.
        `asleep_s`: how long the computer slept since the last reading, an outage (COMPUTER_ASLEEP) from
        when it fell asleep."""
        unwatched_by = [problem for problem in problems if problem in UNWATCHED_BY]
        if asleep_s >= ASLEEP_COUNTS_S:
            unwatched_by.append(COMPUTER_ASLEEP)
            already_s = max(already_s, asleep_s)
            if self.since is not None and not MONOTONIC_COUNTS_SLEEP:
                # An outage going on lasted the sleep too: not yet paged, it was never paged; paged, the
                # page of its end said it seconds long.
                self.since = (self.since[0] - asleep_s, self.since[1])
        if unwatched_by:
            self._watched_since = None
            if self.since is None:
                self.since, self.problems = (now - already_s, time.time() - already_s), []
            new = [problem for problem in unwatched_by if problem not in self.problems]
            self.problems += new
            if new and self._kept:  # a restarted run's, or a paged one's: the file has them all
                self._keep(self._record())
            if self.paged or now - self.since[0] < self.after_s:
                return None
            self.paged = True
            self._keep(self._record())
            return "room_unwatched", tuple(self.problems), self.since[1], now - self.since[0]
        if self.since is None:
            return None
        if self._watched_since is None:
            self._watched_since = now
        if now - self._watched_since < WATCHED_AGAIN_S:
            return None
        found = None
        if self.paged:
            lasted = self._watched_since - self.since[0]
            found = ("room_watched_again", tuple(self.problems), self.since[1], lasted)
        if self._kept:
            self._keep(None)
        self.since, self.paged, self._watched_since = None, False, None
        return found

    def _record(self) -> dict:
        assert self.since is not None
        # The monotonic clock too, with the boot it counts from: a run restarted in the same boot times the
        # outage by it, whatever NTP did to the wall clock meanwhile (a clock set right at boot, between the
        # runs, dropped an hour's outage or counted one an hour too long).
        return {"room": self.room, "since": self.since[1], "problems": self.problems, "paged": self.paged,
                "kept_at": time.time(), "boot": _boot_id(), "since_monotonic": self.since[0],
                "kept_monotonic": time.monotonic()}

    def _read_back(self) -> None:
        """An outage an earlier run kept: paged, going on since its start until its end is paged; not yet
        paged, the same where that run ended within OUTAGE_CARRIED_OVER_S."""
        if self.path is None:
            return
        now = time.time()
        try:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return
            record = json.loads(text)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            room, since, problems, paged, kept_at = (record.get(key) for key in ("room", "since", "problems",
                                                                                   "paged", "kept_at"))
            if room != self.room:
                raise ValueError(f"the outage of room {room!r}, not of {self.room!r}")
            for name, value in (("since", since), ("kept_at", kept_at)):
                a_time = not isinstance(value, bool) and isinstance(value, int | float)
                if not a_time or not 0 < value <= now + 86400:  # a clock set back a little is no damage
                    raise ValueError(f"{name} {value!r} is not a time up to now")
            if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
                raise ValueError(f"problems {problems!r} is not a list of names")
            if not isinstance(paged, bool):
                raise ValueError(f"paged {paged!r} is neither true nor false")
            began = _iso(since)
        except (OSError, ValueError, RecursionError) as error:
            log.warning("%s: not a record of this room's outage (%s): left as it is until this room's next "
                        "outage replaces it, and no end of an earlier run's outage will be paged",
                        self.path, error)
            return
        self._kept = True
        age, lasted = now - kept_at, max(now - since, 0.0)
        clocks = [record.get(key) for key in ("since_monotonic", "kept_monotonic")]
        same_boot = (record.get("boot") is not None and record.get("boot") == _boot_id()
                     and all(isinstance(value, float) for value in clocks))
        if same_boot:  # timed by the clock no NTP step moves
            age = time.monotonic() - record["kept_monotonic"]
            lasted = max(time.monotonic() - record["since_monotonic"], 0.0)
        if not paged and age > OUTAGE_CARRIED_OVER_S:  # not a restart: a new run, counted afresh
            self._keep(None)
            return
        self.since, self.problems, self.paged = (time.monotonic() - lasted, since), problems, paged
        log.warning("an earlier run %s the room as not watched since %s (%s): %s",
                    "paged" if paged else "found", began, self.path,
                    "its end is paged once it is watched again" if paged else "counted on from then")

    def _keep(self, record: dict | None) -> None:
        """Write the outage to `path` (None: remove it), after any write before."""
        path, before = self.path, self._writer
        if path is None:
            return
        self._kept = record is not None

        def write() -> None:
            if before is not None:
                before.join()
            try:
                if record is None:
                    _unlink_retrying(path)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    replace_atomically(path, (json.dumps(record) + "\n").encode())
            except OSError as error:
                log.error("%s: the room's outage could not be %s (%s): a run started again meanwhile would "
                          "not know of it", path, "forgotten" if record is None else "kept", error)

        self._writer = threading.Thread(target=write, name="room-outage-file", daemon=True)
        self._writer.start()

    def close(self, timeout: float = 5.0, *, outage_ends_the_run: bool = False) -> None:
        """The run ends: the writes waited for. Where the outage going on ended it (a stuck read or
        recognition, for the service manager to restart) before its page, it is kept for that restart. Not
        at another end: a run stopped on purpose starts its next with a sensor unavailable for a moment
        (the Kinect's start-up), which would page at once an outage long over, or the restart itself."""
        if outage_ends_the_run and self.since is not None and self._watched_since is None and not self.paged:
            self._keep(self._record())
        elif self._kept and not self.paged:  # one an earlier run kept for this one, not carried further
            self._keep(None)
        if self._writer is not None:
            self._writer.join(timeout)


# An alert's episode: (the tracking ids of the person, or of the pair for a two-person action; class).
Episode = tuple[frozenset[int], str]
# A two-person action decided for somebody of a pair alerted this recently, with another partner, is the
# same fight (three close together: each person's partner is their own nearest, which need not point
# back), not a new one: one hop apart, or two. Longer ago, a new partner is a new fight, paged and named.
SAME_FIGHT_S = 1.0


class AlertDispatcher:
    """Alerts for chosen classes, one per episode: per person and class, an alert is raised when the
    class is the person's top action at or above the threshold after at least `cooldown_s` (stream
    time) without it. A two-person action's episode is the pair's (the person and Decision.partner):
    the network sees both bodies and decides it for both, and one fight is one page, naming both.
    The top action, as for events (EventLog): two classes can both pass a threshold below 0.5, and a
    person sitting down (sit_down 0.52, fall_down 0.42) must not raise a fall alert while the screen and
    the event log say "sit_down" (19 of 22 false fall alerts in one simulated hour before,
    training/checkpoints/README.md).

    Delivered as a WARNING log line; when `command` is set, by running it (no shell; arguments
    split like a shell would) with ALERT_ROOM, ALERT_CLASS, ALERT_PERSON (the tracking id),
    ALERT_PERSON_NUMBER, ALERT_PARTNER and ALERT_PARTNER_NUMBER (a two-person action's other person;
    empty for others), ALERT_PROBABILITY, ALERT_MODEL, ALERT_AGAIN_AFTER_S, ALERT_TIME, ALERT_JSON,
    ALERT_KIND and ALERT_PROBLEMS (a room alert's) (with `delivery`, also ALERT_ID and ALERT_SEQUENCE,
    the POST's id and sequence) in its environment (in the
    background: a slow hook delays nothing; one still running after HOOK_TIMEOUT_S, or at exit, is
    stopped); and when
    `delivery` is set, by an HTTP POST from live/alert_delivery.py's threads, queued on disk until the
    endpoint has it (a dead endpoint or a crash loses none).

    The room itself is paged the same ways (RoomAlert, `watch_room`) once it has not been watched for
    `unwatched_after_s`, and when it is again: staff who rely on the pages must learn that none can come.
    """

    def __init__(self, config: AlertConfig, class_names: tuple[str, ...] | list[str], model: str = ""
                 ) -> None:
        """`model`: the checkpoint's short sha256, in each alert it raises."""
        self.config = config
        self.model = model
        self.classes = alert_classes(config.classes, class_names)
        # Windows: the command line as given, which CreateProcess and the program's runtime split (no
        # split of ours reproduces theirs: --msg="ward 3" is one argument there); elsewhere as a shell would.
        self._command = (config.command if os.name == "nt" else command_argv(config.command)
                         ) if config.command else None
        self._last: dict[Episode, float] = {}  # episodes -> the stream time their class was last seen
        self._acknowledged: set[Episode] = set()  # episodes someone has seen
        self._last_paged: dict[Episode, float] = {}  # episodes -> the stream time of their last page
        self._pair_actions = {name for name in self.classes if is_two_person(name)}
        # Running hooks: (process, when it started, when it was killed as hung or None).
        self._children: list[tuple[subprocess.Popen, float, float | None]] = []
        self._paged: dict[subprocess.Popen, str] = {}  # each running hook's alert, as its failure names it
        self.alerts: list[Alert] = []  # the latest (at most 1000)
        self.room_alerts: list[RoomAlert] = []  # the latest (at most 100)
        self.raised = 0  # every alert of the run, the room's included
        self.hook_failures = 0
        self.command_failing = False  # the alert command's last run failed (said until a run succeeds)
        # Whether the room is watched (watch_room); None where room alerts are off, or nothing alerts.
        self._room = (RoomWatch(config.unwatched_after_s, config.outage_file, config.room)
                      if config.unwatched_after_s is not None and self.classes else None)
        self._asleep_at_last_watch = time_asleep_s()  # (a sleep between two readings is an outage)
        # Opened last: it claims the queue file and starts sending what an earlier run left queued.
        self.delivery = AlertDelivery(config.delivery) if config.delivery is not None else None

    def update(self, hop: Hop) -> list[Alert]:
        self.watch_commands()
        raised = []
        for decision in hop.decisions:
            if self.alarming(decision):
                alert = self._consider(decision, *decision.topk[0])
                if alert is not None:
                    raised.append(alert)
        return raised

    def alarming(self, decision: Decision) -> bool:
        """Whether a decision's top action is an alert class at the alert threshold (what raises an alert,
        and what the window draws in red)."""
        action, p = decision.topk[0]
        return action in self.classes and p >= self.config.threshold

    def acknowledge(self) -> None:
        """Someone has seen the alerts raised so far (the window's a key): an episode running now ends
        after ACKNOWLEDGED_COOLDOWN_S without its class instead of `cooldown_s`, so that a second fall ten
        seconds after an acknowledged one is an alert of its own, not part of the first's episode."""
        self._acknowledged.update(self._last)

    def _running(self, key: Episode, now: float) -> bool:
        """Whether the episode `key` still goes on at stream time `now` (its class seen within the cooldown,
        or the shorter one of an acknowledged episode)."""
        last_seen = self._last.get(key)
        cooldown = self.config.cooldown_s
        if key in self._acknowledged:
            cooldown = min(cooldown, ACKNOWLEDGED_COOLDOWN_S)
        return last_seen is not None and now - last_seen < cooldown

    def _in_another_fight(self, decision: Decision, action: str, people: frozenset[int]) -> bool:
        """Whether a two-person decision of `action` for `people` (the person and their partner) is part of
        a running alerted fight of another pair sharing a person with them, seen within SAME_FIGHT_S and
        not yet acknowledged (SAME_FIGHT_S says why; once acknowledged, a new partner is news)."""
        now = decision.stream_time
        return any(key[1] == action and key[0] != people and key[0] & people and key not in self._acknowledged
                   and now - seen < SAME_FIGHT_S and self._running(key, now)  # a cooldown under 1 s too
                   for key, seen in self._last.items())

    def _consider(self, decision: Decision, action: str, p: float) -> Alert | None:
        partner = decision.partner if action in self._pair_actions else None
        people = frozenset((decision.tracking_id,) if partner is None else (decision.tracking_id, partner))
        key = (people, action)  # the person's episode, or for a two-person action the pair's
        going_on = self._running(key, decision.stream_time)
        if partner is not None and not going_on and self._in_another_fight(decision, action, people):
            # Not recorded as this pair's, nor as keeping the other fight going: that fight goes on only
            # while its own pair does, or a person who turned on somebody else would stay in it for good,
            # the new partner never named; a second after the first pair's last decision of it, the new
            # pair is paged.
            return None
        self._last[key] = decision.stream_time
        if len(self._last) > 256:  # bounded: forget episodes that are over
            self._last = {k: t for k, t in self._last.items()
                          if decision.stream_time - t < self.config.cooldown_s}
            self._acknowledged &= set(self._last)
        if going_on:
            return None  # the same episode, still going on (or back within the cooldown)
        self._acknowledged.discard(key)
        now = decision.stream_time
        last = self._last_paged.get(key)
        again_after_s = now - last if last is not None and now - last <= AGAIN_WITHIN_S else None
        self._last_paged[key] = now
        if len(self._last_paged) > 256:  # bounded: forget pages too long ago to be "again"
            self._last_paged = {k: t for k, t in self._last_paged.items() if now - t <= AGAIN_WITHIN_S}
        alert = Alert(decision.tracking_id, action, p, now, decision.time, self.config.room,
                      decision.number, decision.tracked, partner,
                      0 if partner is None else decision.partner_number, self.model, again_after_s)
        self.alerts.append(alert)
        if len(self.alerts) > 1000:
            del self.alerts[:500]
        where = _where(alert.room)
        # Both clocks: the wall clock for staff, the stream's for a replay (its labels are in stream time,
        # and --fast plays a minute's alerts within a second of each other).
        ids = " and ".join(map(str, alert.people))
        log.warning("ALERT: %s%s (tracking id%s %s): %s (p=%.2f) at %s, %.2f s into the stream", where,
                    alert.who(), "s" if alert.partner is not None else "", ids, action, p, _iso(alert.time),
                    alert.stream_time)
        self._send(alert)
        return alert

    def watch_room(self, problems: list[str], now: float | None = None, already_s: float = 0.0
                   ) -> RoomAlert | None:
        """The run's problems now (LiveStats.problems, about once a second; `already_s`: how long the
        oldest of them has lasted, LiveStats.unwatched_s) to RoomWatch, and the alert it calls for raised;
        returns that alert, if one was. `now`: monotonic."""
        if self._room is None:
            return None
        asleep_since_start = time_asleep_s()
        asleep_s = asleep_since_start - self._asleep_at_last_watch
        self._asleep_at_last_watch = asleep_since_start
        if asleep_s >= ASLEEP_COUNTS_S:
            log.warning("%sthe computer slept for %.0f s: nothing watched the room meanwhile",
                        _where(self.config.room), asleep_s)
        found = self._room.observe(problems, time.monotonic() if now is None else now, already_s, asleep_s)
        if found is None:
            return None
        kind, unwatched_by, since, unwatched_s = found
        alert = RoomAlert(kind, unwatched_by, since, unwatched_s, time.time(), self.config.room)
        where = _where(alert.room)
        if kind == "room_unwatched":
            log.warning("ALERT: %sthe room has not been watched for %.0f s (%s): no alert can be raised "
                        "there until it is", where, unwatched_s, ", ".join(alert.problems))
        else:
            log.warning("ALERT: %sthe room is watched again (it was not for %.0f s)", where, unwatched_s)
        self.room_alerts.append(alert)
        del self.room_alerts[:-100]  # bounded: the log, the command and the endpoint have them all
        self._send(alert)
        return alert

    def _send(self, alert: Alert | RoomAlert) -> None:
        """To the endpoint (queued on disk first) and the command, after the log line."""
        self.raised += 1
        queued = self.delivery.submit(alert.to_json()) if self.delivery is not None else None
        self._run_hook(alert, queued)

    def _run_hook(self, alert: Alert | RoomAlert, queued: Queued | None) -> None:
        if self._command is None:
            return
        environment = alert.environment(queued)
        self._reap()
        paged = alert.describe()  # which page a failure lost
        # A group of its own: a hung command is stopped with whatever it started (a `curl` in a script).
        group = ({"start_new_session": True} if os.name == "posix"
                 else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP})
        variables = {name: _as_environment_takes(value) for name, value in environment.items()}
        try:
            child = subprocess.Popen(self._command, env={**environment_for_children(), **variables},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, **group)
        except (OSError, ValueError) as error:  # ValueError: a NUL in a value (a class name from a model)
            self.hook_failures += 1
            self.command_failing = True
            log.error("alert command %r could not start for %s: %s", self.config.command, paged, error)
            return
        self._children.append((child, time.monotonic(), None))
        self._paged[child] = paged

    def watch_commands(self) -> None:
        """Report alert commands that ended and stop hung ones: at every hop, and from the window's and the
        headless loop's own ticks, since no hop comes while nobody is in view (a patient who fell out of
        it), and a failed command must still be said then."""
        if self._children:
            self._reap()

    def _reap(self, hung_after_s: float | None = None) -> None:
        """Report hooks that ended; stop those running longer than `hung_after_s` (a hung hook per alert
        would otherwise pile up for as long as the app runs, and outlive it). Never waits: it runs on the
        window's thread too. A killed one is looked at again at the next call, and given up on (a process
        stuck in the kernel outlives SIGKILL a while) after KILLED_GIVE_UP_S."""
        hung_after_s = HOOK_TIMEOUT_S if hung_after_s is None else hung_after_s
        for entry in list(self._children):
            child, started, killed = entry
            code = child.poll()
            now = time.monotonic()
            if code is None and killed is None and now - started >= hung_after_s:
                # At the app's end (close) a command still running is stopped whatever its time.
                ending = " as the app ends" if hung_after_s == 0.0 else ""
                log.error("alert command %r for %s still running after %.0f s%s: stopped (pid %d and what it "
                          "started)", self.config.command, self._paged[child], now - started,
                          ending, child.pid)
                _stop_group(child)
                self._children[self._children.index(entry)] = (child, started, now)
                continue
            if code is None and killed is not None and os.name == "nt" and now - killed >= TASKKILL_WAIT_S:
                with contextlib.suppress(OSError):  # taskkill has had its time to find the tree
                    child.kill()
            if code is None and killed is not None and now - killed >= KILLED_GIVE_UP_S:
                log.error("alert command %r (pid %d) did not end when killed", self.config.command, child.pid)
                code = -signal.SIGKILL if os.name == "posix" else 1  # a failed run, not looked at again
            if code is not None:
                self._children.remove(entry)
                paged = self._paged.pop(child)
                self.command_failing = code != 0
                if code != 0:
                    self.hook_failures += 1
                    if killed is None:  # one stopped as hung was said then, not again as a signal's number
                        how = f"exited with {code}" if code > 0 else f"was ended by signal {-code}"
                        log.error("alert command %r for %s %s", self.config.command, paged, how)

    def report(self, summary: Summary) -> Summary:
        """After `close`: `summary` with what did not reach anyone among its errors (failed alert command
        runs, alerts the endpoint rejected or has not had yet), so the exit status says so (a service
        monitor watching it must not see success while the nurse got nothing)."""
        failed = []
        if self.hook_failures:
            failed.append(f"{self.hook_failures} run{'s' if self.hook_failures > 1 else ''} of the alert "
                          f"command {self.config.command!r} failed (the log says how)")
        delivery = self.delivery
        if delivery is not None:
            log.info("alerts: %d raised in this run; to %s: %d delivered, %d rejected, %d waiting",
                     self.raised, delivery.config.shown_url, delivery.delivered, delivery.rejected,
                     delivery.pending)
            if delivery.rejected:
                failed.append(f"{delivery.rejected} alert(s) rejected by {delivery.config.shown_url} (the "
                              "log says why); they will not be sent again")
            if waiting := delivery.pending - delivery.lost:
                failed.append(f"{waiting} alert(s) not delivered to {delivery.config.shown_url} yet; they "
                              f"wait in {delivery.config.queue_path} for the next start")
            if delivery.lost:
                failed.append(f"{delivery.lost} alert(s) not delivered to {delivery.config.shown_url} are "
                              f"lost: {delivery.config.queue_path} would not take them (the log says why)")
            queue = delivery.queue
            if queue.damaged_at_start:
                failed.append(f"{queue.damaged_at_start} damaged line(s) of {queue.path} skipped (an alert "
                              "waiting there may have been among them; the log says which) and moved to "
                              f"{queue.damaged_path}")
        return replace(summary, errors=(*summary.errors, *failed)) if failed else summary

    def close(self, timeout: float = 5.0, *, outage_ends_the_run: bool = False) -> None:
        """Wait (briefly) for running hooks so their exit codes are reported, then stop those still
        running; alerts still being delivered get their own `timeout` (what is left stays queued on disk
        for the next start). `outage_ends_the_run`: a stuck read or recognition ended it (RoomWatch.close)."""
        deadline = time.monotonic() + timeout
        for child, _, _ in self._children:
            try:
                child.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                pass
        self._reap(hung_after_s=0.0)  # those still running are killed
        given_up = time.monotonic() + KILLED_GIVE_UP_S
        while self._children and time.monotonic() < given_up:
            time.sleep(0.05)
            self._reap(hung_after_s=0.0)
        if self._room is not None:
            self._room.close(timeout, outage_ends_the_run=outage_ends_the_run)
        if self.delivery is not None:
            self.delivery.close(timeout)


TASKKILL_WAIT_S = 2.0  # Windows: how long taskkill may take to end an alert command's tree


def _stop_group(child: subprocess.Popen) -> None:
    """Kill an alert command and every process it started (its group of its own, `_run_hook`)."""
    if os.name == "posix":
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:  # ended meanwhile, with its group
            pass
        except OSError as error:  # a command become another account's (sudo): not this app's to stop
            log.error("alert command (pid %d) cannot be stopped: %s", child.pid, error.strerror or error)
    else:
        # taskkill finds the tree by the command's process id: killed at once, the command would be gone
        # before it looked, and its children (a script's curl) ran on. Not waited for (the window's
        # thread): `_reap` kills the command itself once taskkill has had TASKKILL_WAIT_S.
        with contextlib.suppress(OSError):
            subprocess.Popen(["taskkill", "/F", "/T", "/PID", str(child.pid)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# The computer an alert comes from, in every alert: a room watched by two sensors (a Kinect v2 is one to a
# computer) paged twice for one fall, and the two pages, each numbered by its own queue, could not be told
# apart or matched.
HOST = socket.gethostname()
STATUS_FILE_EVERY_S = 10.0  # --status-file: a monitor takes a file older than a few of these as a run gone
# When this process began, for --status-file's "started": a monitor tells a restart from a run going on.
PROCESS_STARTED = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
# This run, in every decision line: "STARTED/PID", the status file's "started" and "pid" joined, so that a
# monitor matches lines to the run its status file describes, and the lines of a service's restarts
# appended to one file tell apart (the pid alone repeats across reboots, the second alone across rooms).
RUN = f"{PROCESS_STARTED}/{os.getpid()}"


class EndedBy(str, enum.Enum):
    """What ended a run, as --status-file's "ended_by" says it: a key a monitor maps to a severity (its
    "why_ended" says the same in words, with the details)."""

    DURATION = "duration"  # --duration passed
    SOURCE_ENDED = "source_ended"  # a replay reached its end
    STOP_REQUESTED = "stop_requested"  # SIGTERM, Ctrl-C: the service manager or an operator
    STUCK = "stuck"  # a sensor read or a recognition step stuck: ended for the service manager to restart it
    ERROR = "error"  # the capture or recognition stopped on an error
    OUTPUT_READER_GONE = "output_reader_gone"  # the reader of standard output closed its end
    START_FAILED = "start_failed"  # a source, model or path that cannot start: exit 2, not restarted
    HELD_ELSEWHERE = "held_elsewhere"  # the alert queue is another running app's: exit 75, started again
    OUT_OF_MEMORY = "out_of_memory"  # the frame ring does not fit in the memory available: exit 75
    OPTIONS_REFUSED = "options_refused"  # the command line: exit 2
    CRASHED = "crashed"  # a bug: its traceback is in the log


@dataclass(frozen=True)
class Ending:
    """How a run ended, for --status-file."""

    why: str  # in words, for a person
    by: EndedBy
MODEL_FILE_CHECK_S = 10.0  # how often the model file's size and time are looked at (its bytes if they moved)


def alert_problems(alerts: AlertDispatcher) -> list[str]:
    """What is wrong with sending alerts now, as keys a monitor matches (--status-file)."""
    delivery = alerts.delivery
    found = {"alert_command_failing": alerts.command_failing}
    if delivery is not None:
        found |= {"alert_delivery_failing": delivery.failing,
                  "alert_endpoint_unreachable": delivery.unreachable is not None and not delivery.pending,
                  "alerts_not_saved": delivery.unsaved > 0,
                  "alert_queue_write_stuck": delivery.write_stuck_s is not None}
    return [key for key, wrong in found.items() if wrong]


@dataclass(frozen=True)
class AlertsWaiting:
    """The alerts --alert-url has not delivered yet, for --status-file: how many, and for how long the
    oldest has waited (None: none waits)."""

    count: int
    oldest_s: float | None

    @classmethod
    def of(cls, alerts: AlertDispatcher) -> AlertsWaiting | None:
        """None without --alert-url."""
        delivery = alerts.delivery
        return None if delivery is None else cls(*delivery.waiting())


def write_status_file(path: Path, stats: LiveStats | None, problems: list[str], room: str,
                      ending: Ending | None, source: str = "", waiting: AlertsWaiting | None = None) -> None:
    """The run's state for a monitor: {"time", "room", "source", "ok", "problems", "ended", "why_ended",
    "ended_by", "every_s", "started", "pid", "version", and figures of the status line}; `ending` None
    while it runs. `stats` None: the run is still starting (no figures yet; `source` names what it opens).
    Not synced: it is written again in seconds. A file that cannot be written is said by the caller, not
    allowed to stop the run."""
    ended = ending is not None
    state = {
        "time": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "room": room,
        "source": stats.source if stats is not None else source,
        "ok": not problems and not ended,
        "problems": problems,
        "ended": ended,
        "why_ended": None if ending is None else ending.why,
        "ended_by": None if ending is None else ending.by.value,
        "every_s": STATUS_FILE_EVERY_S,
        # A killed process writes nothing more: its file stops ageing (`time`) with "ok" as it was. These
        # tell a monitor on the machine whether its process is there, and one anywhere that it restarted.
        "started": PROCESS_STARTED,
        "pid": os.getpid(),
        "version": running_software()["version"],
        "commit": running_software()["commit"],  # a checkout's (pip install -e keeps its install's version)
        "fps": None if stats is None else round(stats.capture_fps, 1),
        "frames_dropped": 0 if stats is None else stats.dropped,
        "people": None if stats is None else stats.people,  # None: not known (nothing new is seen)
        "decisions": 0 if stats is None else stats.decisions,
        "hops_skipped": 0 if stats is None else stats.skipped_hops,
        "hops_failed": 0 if stats is None else stats.failed_hops,
        "latency_p95_ms": None if stats is None or stats.latency_p95_s is None
        else round(stats.latency_p95_s * 1000),
        # The alerts --alert-url has not delivered (null without it): "N falls undelivered for M minutes".
        "alerts_waiting": None if waiting is None else waiting.count,
        "oldest_alert_waiting_s": None if waiting is None or waiting.oldest_s is None
        else round(waiting.oldest_s),
        # Which model the room runs, by its checkpoint's bytes: a monitor can check every room against the
        # file a retraining handed over (`sha256sum model.pt`).
        "model_sha256": None if stats is None else stats.model_sha256 or None,
    }
    text = json.dumps(state, ensure_ascii=False) + "\n"
    write_then_rename(path, lambda f: f.write(text.encode("utf-8")), durable=False)


class StatusFileInUse(RuntimeError):
    """--status-file is another running app's: two runs' states in one file read as one room going and
    coming back."""


def hold_status_file(path: Path) -> IO[bytes]:
    """The lock of --status-file `path` (`path`.lock, core.locks.hold), held until the handle is closed (the
    process ending, even by a crash, lets go of it): a second run given the same file, a test by hand say,
    or one refused for its options, wrote its own state over the running room's, and a monitor saw that
    room end. StatusFileInUse where another process holds it (waited for as long as the alert queue's:
    Windows lets go of a dead process's lock late)."""
    try:
        # Private: a lock file others may read let any local account hold it (flock needs no write access)
        # and keep the room's service from starting.
        return hold(path.with_name(path.name + ".lock"), timeout_s=LOCK_WAIT_S, private=True)
    except TimeoutError:
        raise StatusFileInUse(f"--status-file {path} is written by another running app (another room's, or "
                              "this room's already running): give each run its own") from None


def _status_file(path: Path, stats: LiveStats | None, problems: list[str], room: str, ending: Ending | None,
                 failing: bool, source: str = "", waiting: AlertsWaiting | None = None) -> bool:
    """Write --status-file; whether it fails now (said once an episode: the log says the rest)."""
    try:
        write_status_file(path, stats, problems, room, ending, source, waiting)
    except OSError as error:
        if not failing:
            log.error("--status-file %s cannot be written (%s): a monitor reading it sees this run as "
                      "gone", path, error.strerror or error)
        return True
    if failing:
        log.info("--status-file %s written again", path)
    return False


class StartingStatusFile:
    """--status-file while a run starts, until its main loop writes it: the source and the model open in
    seconds, but a GPU's first TensorRT build takes minutes, during which the file kept the previous run's
    "ended" (or its "ok", after a crash) and then aged like a run that hangs. Written at once and every
    STATUS_FILE_EVERY_S by a thread of its own (the start blocks the main thread), with `starting` among
    its problems; a start that fails leaves it "ended" with the error. Every write is the thread's: a write
    of the caller's could land before one of the thread's still retrying its rename (Windows, while a
    monitor reads the file), and a failed start then read "starting" for good."""

    def __init__(self, path: Path, room: str, source: str) -> None:
        self.path, self.room, self.source = path, room, source
        self._stop = threading.Event()
        self._ending: Ending | None = None  # set before _stop where the start failed: the thread says it
        self._done = threading.Event()  # the thread's last write is done
        self._handed_over = False  # to the run's main loop, which writes "ended" itself
        self._thread = threading.Thread(target=self._write_until_stopped, name="status-file-starting",
                                        daemon=True)

    def start(self) -> StartingStatusFile:
        self._thread.start()
        return self

    def _write_until_stopped(self) -> None:
        try:
            failing = False
            while not self._stop.is_set():
                failing = _status_file(self.path, None, ["starting"], self.room, None, failing, self.source)
                self._stop.wait(STATUS_FILE_EVERY_S)
            if self._ending is not None:
                _status_file(self.path, None, ["starting"], self.room, self._ending, failing, self.source)
        finally:
            self._done.set()

    def _stop_writing(self, writes_left: int) -> None:
        """Stop the thread, and wait for its `writes_left` writes: each may retry its rename for up to
        REPLACE_RETRY_S (Windows, while a monitor reads the file). A write stuck for longer, on a share
        that hangs, is not waited for: the run goes on, or ends, without it."""
        self._stop.set()
        if self._thread.is_alive():
            wait_for_event_in_slices(self._done, writes_left * REPLACE_RETRY_S + 1.0)

    def started(self) -> None:
        """The run's main loop writes the file from now on (after the thread's write in progress, not
        to be written over by it)."""
        self._stop_writing(writes_left=1)
        self._handed_over = True

    def failed(self, why: str, by: EndedBy = EndedBy.START_FAILED) -> None:
        """The start failed (or was stopped): the file says it ended, and why, before the process ends
        (which would end the thread with it). Once the main loop has the file, what it wrote as it ended
        stays."""
        if self._handed_over:
            return
        self._ending = Ending(why, by)
        self._stop_writing(writes_left=2)  # the one in progress, then "ended"


def delivery_status(alerts: AlertDispatcher) -> list[str]:
    """The alerts not yet delivered, and a failing alert command, for a status line (headless, the
    window's): what a monitor reads while an endpoint is down (its first failure alone, hours earlier, is
    easy to miss)."""
    delivery, said = alerts.delivery, []
    waiting = delivery.pending if delivery is not None else 0
    count = f"{waiting} alert{'s' * (waiting != 1)}"
    if delivery is not None and delivery.failing:
        said.append(f"DELIVERY FAILING: {count} waiting")
    elif waiting:
        said.append(f"{count} being sent")
    elif delivery is not None and delivery.unreachable is not None:  # nothing to send: the idle check's
        said.append(f"ALERT ENDPOINT UNREACHABLE ({delivery.unreachable})")
    if delivery is not None and delivery.unsaved:
        said.append(f"{delivery.unsaved} NOT SAVED to {delivery.config.queue_path} (lost if the app stops)")
    if delivery is not None and (stuck_s := delivery.write_stuck_s) is not None:  # a share that hangs
        said.append(f"WRITING {delivery.config.queue_path} STUCK FOR {stuck_s:.0f} s (alerts still sent)")
    if alerts.command_failing:
        said.append("ALERT COMMAND FAILING")
    return said


class ModelFileWatch:
    """Says when the model file the run loaded is replaced or removed while it runs. The run goes on with
    the model it loaded (a running room is not changed under its alerts), and a restart loads what is there
    then: a new checkpoint copied over the old one was taken by nobody and said by nothing, and a file
    removed failed only the next restart, after a reboot say. `loaded`: the sha256 of the bytes the model
    was loaded from (the engine's, for a checkpoint); None (an ONNX file) takes the file's as it is now."""

    def __init__(self, path: Path, loaded: str | None = None) -> None:
        self.path = path
        # (size, time) at the last look; none yet: the first check looks (and says a file gone by then).
        self._stat: tuple[int, int] | None | str = "not looked at yet"
        if loaded is None:
            with contextlib.suppress(OSError):  # unreadable: the checks say what they find
                loaded = file_sha256(path)
        self.loaded = loaded
        self._said = loaded  # the last bytes said

    def _look(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def check(self) -> None:
        now = self._look()
        if now == self._stat:
            return
        self._stat = now
        said = self._said
        if now is None:
            self._said = None
            log.warning("model file %s is gone: this run goes on with the model it loaded, and a restart "
                        "would fail to start", self.path)
            return
        try:
            self._said = file_sha256(self.path)
        except OSError:  # replaced again while read: the next look says it
            self._stat = "not looked at yet"
            return
        if self._said == said:
            return
        if self._said == self.loaded:
            log.info("model file %s holds the model this run loaded again", self.path)
        else:
            log.warning("model file %s was replaced (sha256 %s; this run loaded %s): this run goes on with "
                        "the model it loaded, and a restart loads the new one", self.path, self._said[:12],
                        (self.loaded or "")[:12])


# The mounting is said again when the floor seen moves this far from what was said: a sensor knocked or
# re-aimed. The floor's refits scatter by a degree and a few centimetres (FloorTracker redraws the 3D panel
# from 1 degree and 2 cm).
MOUNTING_CHANGE_DEG = 5.0
MOUNTING_CHANGE_M = 0.15
# ... and only once the new floor has held this long (stream seconds). Right after a knock the feet kept
# from before and after it are fitted together, and on a simulated knock of 12 degrees five floors between
# the two were said, one 0.01 m under the sensor, before the new one; the first fits of a sensor pitched
# about 5 degrees can take it for level, 20 cm off, for some seconds.
MOUNTING_HELD_S = 30.0


class MountingReport:
    """Says in the log how the sensor is mounted (core.room.SensorMounting), once the feet of people
    standing in view have shown the floor (FloorTracker.settled) and it has held MOUNTING_HELD_S, and again
    when it changes by MOUNTING_CHANGE_DEG or MOUNTING_CHANGE_M and that holds as long: IT checks an install
    against the README's placement without the window's 3D panel, and a sensor knocked askew is said. Fed
    the newest frame from the run's main loop (the floor fit takes about a millisecond a refit; frames
    missed between two looks change nothing)."""

    def __init__(self, room: str) -> None:
        self.room = room
        self.floor = FloorTracker(KINECT_V2)  # every source's bodies are Kinect v2's (core/joint_maps.py)
        self.said: SensorMounting | None = None
        self._new: tuple[SensorMounting, float] | None = None  # a mounting not said yet, and since when
        self._sequence = -1

    def observe(self, frame: RingEntry | None) -> None:
        if frame is None or frame.sequence == self._sequence:
            return
        self._sequence = frame.sequence
        self.floor.observe(frame.bodies)
        if self.floor.floor is None or not self.floor.settled:
            return
        mounting = SensorMounting.of(self.floor.floor)
        if self.said is not None and not _mounting_changed(self.said, mounting):
            self._new = None
            return
        if self._new is None or _mounting_changed(self._new[0], mounting):
            self._new = (mounting, frame.timestamp)
            return
        if frame.timestamp - self._new[1] < MOUNTING_HELD_S:
            return
        if self.said is None:
            log.info("%sthe sensor stands %s (the floor seen from the feet of people standing in view)",
                     _where(self.room), mounting.text())
        else:
            log.warning("%sthe sensor now stands %s; it stood %s: it was moved or knocked, or the floor "
                        "first seen was a step or a low bed", _where(self.room), mounting.text(),
                        self.said.text())
        self.said, self._new = mounting, None


def _mounting_changed(was: SensorMounting, now: SensorMounting) -> bool:
    turned = max(abs(now.pitch_deg - was.pitch_deg), abs(now.roll_deg - was.roll_deg))
    return turned > MOUNTING_CHANGE_DEG or abs(now.height_m - was.height_m) > MOUNTING_CHANGE_M


@dataclass
class StuckSteps:
    """The stuck steps (recognition hops, or the source's reads) a headless run's once-a-second checks
    see, one episode per step: told apart by when the step began (`now - stuck_s`), so that a step that
    returned and a next one that stuck between two checks is a new episode, not the old one going on."""

    # What is stuck, and how it is said (`check`): "recognition has been stuck on one step for 61 s (an
    # engine call that does not return?): nothing is decided ..."
    what: str = "recognition"
    stuck_words: str = "has been stuck on one step"
    cause: str = "an engine call that does not return"
    unseen: str = "nothing is decided"
    began: float | None = None  # monotonic time the stuck step began; None: none is stuck
    first_seen_s: float = 0.0  # how long it had been stuck when a check first saw it

    def check(self, now: float, stuck_s: float | None) -> str | None:
        """One check, said in the log (an episode once, and its end); why the run ends, when it must."""
        over, new = self.observe(now, stuck_s)
        if over:
            log.info("%s works again", self.what)
        if new:  # ends_the_run: at STUCK_EXIT_S, or half of it after it was first seen, whichever is later
            ends_at = max(STUCK_EXIT_S, self.first_seen_s + STUCK_EXIT_S / 2)
            log.error("%s %s for %.0f s (%s?): %s and no alert can be raised; ending after %.0f s", self.what,
                      self.stuck_words, stuck_s, self.cause, self.unseen, ends_at)
        if self.ends_the_run(stuck_s):
            return f"{self.what} stuck for {stuck_s:.0f} s ({self.cause})"
        return None

    def observe(self, now: float, stuck_s: float | None) -> tuple[bool, bool]:
        """One check's reading (`LiveStats.recognition_stuck_s` or `source_stuck_s`) -> (the last episode
        is over, a new one began)."""
        began = None if stuck_s is None else now - stuck_s
        over = self.began is not None and (began is None or abs(began - self.began) > 1.0)
        if over:
            self.began = None
        new = self.began is None and began is not None
        if new:
            self.began, self.first_seen_s = began, stuck_s
        return over, new

    def ends_the_run(self, stuck_s: float | None) -> bool:
        """Stuck for STUCK_EXIT_S, and seen stuck by the checks for half that: a process frozen for a
        minute (a VM or a container paused) wakes with its step's clock a minute old, and is not stuck."""
        return (stuck_s is not None and stuck_s >= STUCK_EXIT_S
                and stuck_s - self.first_seen_s >= STUCK_EXIT_S / 2)


def _why_ending(
    pipeline: LivePipeline, stop: threading.Event, reader_gone: bool, duration_s: float | None,
    stuck: str | None,
) -> Ending:
    """Why a headless run shuts down, for whoever reads a service's log: an operator's stop or else.
    `stuck`: what was stuck, and how long, when that ended it (None: nothing was); `reader_gone`: the
    reader of standard output closing its end did."""
    if stop.is_set():
        return Ending("asked to stop (Ctrl-C or SIGTERM)", EndedBy.STOP_REQUESTED)
    if stuck is not None:
        return Ending(f"{stuck}; ending so that the service manager restarts it", EndedBy.STUCK)
    if reader_gone:
        return Ending("the output's reader is gone", EndedBy.OUTPUT_READER_GONE)
    if (failure := pipeline.failure) is not None:
        return Ending(failure, EndedBy.ERROR)
    if pipeline.ended:
        return Ending(f"{pipeline.source.name} ended", EndedBy.SOURCE_ENDED)
    return Ending(f"--duration {duration_s:g} s", EndedBy.DURATION)


def run_headless(
    pipeline: LivePipeline,
    config: HeadlessConfig,
    stop: threading.Event | None = None,
    duration_s: float | None = None,
    reopen: threading.Event | None = None,
    starting: StartingStatusFile | None = None,
) -> Summary:
    """Start the pipeline, write decisions / events / alerts until the source ends, `duration_s`
    passes, `stop` is set or Ctrl-C; then shut down in order and return the summary. `reopen` set
    (SIGHUP): the output files are opened again (a log rotated by moving them). `starting`: what writes
    --status-file until the pipeline has started (the caller's, which says a start that fails)."""
    stop = stop or threading.Event()
    model = pipeline.engine.metadata.checkpoint_sha256[:12]  # in every decision, event and alert
    alerts = AlertDispatcher(config.alerts, pipeline.inputs.class_names, model)  # first: it may refuse
    # A checkpoint's bytes are those the engine was loaded from (the first build of a TensorRT plan takes
    # minutes, in which a file replaced would be taken for the loaded one); an ONNX file's are read now.
    model_file = None
    if config.model_file is not None:
        checkpoint = config.model_file.suffix.lower() != ".onnx"
        model_file = ModelFileWatch(config.model_file,
                                    pipeline.engine.metadata.checkpoint_sha256 if checkpoint else None)
    writer = None
    try:  # the dispatcher's threads and queue lock are let go if an output file cannot be opened
        open_by = time.monotonic() + LineWriter.OPEN_WAIT_S  # one wait for both files, not one each
        writer = DecisionWriter(config.output, config.lossless, stop, config.alerts.room, open_by, model)
        events = EventLog(config.alerts.threshold, config.events, config.event_end_threshold, config.lossless,
                          stop, config.alerts.room, open_by, model)
    except BaseException:
        alerts.close(0.0)
        if writer is not None:
            writer.close()
        raise

    def handle(hops: list[Hop]) -> None:
        for hop in hops:
            alerts.update(hop)  # first: nothing written to a file may come before a nurse is called
            events.update(hop)
            writer.write_hop(hop)
        if hops and pipeline.tracks is not None:
            events.keep_only(set(pipeline.tracks.ids()))

    try:
        pipeline.start()
    except BaseException:  # start() closed the source; close what this run opened, then report
        alerts.close(0.0)
        events.close()
        writer.close()
        raise
    if starting is not None:
        starting.started()
    started = time.monotonic()
    service = ServiceManager()  # systemd's Type=notify: ready now, a watchdog from the loop
    service.notify("READY=1", wait_s=2.0)
    # Said once it runs: otherwise a room with nobody in view is silent until the first status line.
    log.info("running: decisions to %s, events to %s; a status line every %.0f s",
             config.output or "standard output", config.events or "this log", config.health_every_s)
    next_health = started + config.health_every_s
    next_check, stalled, undecided = started + 1.0, False, False
    next_status_file, status_file_failing = started, False
    next_model_check = started + MODEL_FILE_CHECK_S
    problems: list[str] = []  # the last status's: an ended run's file keeps what was wrong as it ended
    ending = Ending("an error (the log says which)", EndedBy.CRASHED)  # unless the loop ends, or Ctrl-C
    # Since when the computer is keeping up with the sensor's frames again after it was not (None: it was
    # not, or never stopped): "again" is said only once that has lasted, not each time the share crosses.
    missing, keeping_up_since = False, None
    late, on_time_since = False, None  # the same for decisions late (LATE_DECISIONS_S)
    hops = StuckSteps()
    # A read that never returns (a sensor driver that hangs) left the room unwatched for good: the stall
    # was said, and the run went on to its --duration, or for ever.
    reads = StuckSteps(f"reading from {pipeline.source.name}", "has not returned",
                       "a sensor driver that hangs", "nothing new is seen")
    mounting = MountingReport(config.alerts.room)
    ended_stuck: str | None = None  # what was stuck, and how long, when that ended the run
    hop_stuck = False  # recognition was
    # Alerts that reach a nurse by a way of their own go on when the reader of standard output (a bridge
    # program in a pipe) closes its end: ending the run ended them too, with exit 0 (no restart).
    alerts_elsewhere = config.alerts.command is not None or config.alerts.delivery is not None
    said_reader_gone = False
    try:
        while not stop.is_set():
            handle(pipeline.drain())
            mounting.observe(pipeline.latest_frame())
            if pipeline.ended or (writer.reader_gone and not alerts_elsewhere):
                break
            if writer.reader_gone and not said_reader_gone:
                said_reader_gone = True
                log.warning("the reader of standard output closed its end: no more decisions are written "
                            "there; alerts still go out (--alert-command / --alert-url), so the run goes on")
            now = time.monotonic()
            service.ping(now)
            if duration_s is not None and now - started >= duration_s:
                break
            if now >= next_health or (config.status_file is not None and now >= next_status_file):
                stats = pipeline.stats()
                not_written = [*writer.status(), *events.status()]
                disk_low = [*writer.disk_status(), *events.disk_status(), *_recording_disk_status(stats)]
                problems = [*stats.problems(), *alert_problems(alerts),
                            *(["output_not_written"] if not_written else []),
                            *(["disk_low"] if disk_low else [])]
            if now >= next_health:
                # The room first, as on ALERT lines: one log collector may hold several rooms' status lines.
                log.log(logging.WARNING if problems else logging.INFO, "%sstatus: %s",
                        _where(config.alerts.room),
                        ", ".join([stats.health(), *delivery_status(alerts), *not_written, *disk_low]))
                next_health = now + config.health_every_s
            if config.status_file is not None and now >= next_status_file:
                status_file_failing = _status_file(
                    config.status_file, stats, problems, config.alerts.room, None, status_file_failing,
                    waiting=AlertsWaiting.of(alerts))
                next_status_file = now + STATUS_FILE_EVERY_S
            if model_file is not None and now >= next_model_check:
                model_file.check()
                next_model_check = now + MODEL_FILE_CHECK_S
            if now >= next_check:  # a frozen sensor, no decisions, a stuck recognition: said once an episode
                next_check = now + 1.0
                alerts.watch_commands()
                stats = pipeline.stats()
                alerts.watch_room(stats.problems(), now, stats.unwatched_s)
                if (stats.stalled_s is not None) != stalled:
                    stalled = stats.stalled_s is not None
                    if stalled:
                        log.warning("no frames from %s for %.0f s although it says it is connected: nothing "
                                    "is recognised until they come back", pipeline.source.name,
                                    stats.stalled_s)
                    else:
                        log.info("frames from %s again", pipeline.source.name)
                if (stats.undecided_s is not None) != undecided:
                    undecided = stats.undecided_s is not None
                    if undecided:
                        log.error("no decision for anyone in view for %.0f s (the errors above say why): no "
                                  "alert can be raised until decisions come again", stats.undecided_s)
                    else:
                        log.info("decisions again")
                if stats.late_decisions_s is not None:
                    on_time_since = None
                    if not late:
                        late = True
                        log.warning("decisions come %.1f s after their frames (p95 of the last %.0f s): this "
                                    "computer is not keeping up with recognition, and alerts come that much "
                                    "later (fewer people per computer, --threads, or a GPU)",
                                    stats.late_decisions_s, LATE_OVER_S)
                elif late:  # said once it has lasted, as for the frames: a p95 about the line comes and goes
                    on_time_since = on_time_since or now
                    if now - on_time_since >= KEEPING_UP_AGAIN_S:
                        late, on_time_since = False, None
                        log.info("decisions on time again (or none to make)")
                # Said as it starts, as the window's banner shows it, not at the next status line.
                if stats.missing_frames is not None:
                    keeping_up_since = None
                    if not missing:
                        missing = True
                        # In lockstep (--fast) no frame is ever dropped here: the gaps are the recording's.
                        whose = ("the recording itself has gaps in its frame numbers"
                                 if stats.lockstep else "this computer is not keeping up")
                        log.warning("missing %.0f%% of the frames of %s: %s (the model sees a movement in "
                                    "fewer frames than it learnt from)", 100 * stats.missing_frames,
                                    pipeline.source.name, whose)
                elif missing and (not stats.connected or stats.stalled_s is not None):
                    keeping_up_since = None  # no frames at all (unplugged, stalled): not keeping up with them
                elif missing:
                    keeping_up_since = keeping_up_since or now
                    if now - keeping_up_since >= KEEPING_UP_AGAIN_S:
                        missing, keeping_up_since = False, None
                        log.info("keeping up with the frames of %s again", pipeline.source.name)
                if (ended_stuck := hops.check(now, stats.recognition_stuck_s)) is not None:
                    hop_stuck = True
                    break
                if (ended_stuck := reads.check(now, stats.source_stuck_s)) is not None:
                    break
            if reopen is not None and reopen.is_set():
                reopen.clear()
                log.info("reopening the output files (SIGHUP)")
                writer.reopen()
                events.reopen()
            stop.wait(0.05)
        reader_ended_it = writer.reader_gone and not alerts_elsewhere
        ending = _why_ending(pipeline, stop, reader_ended_it, duration_s, ended_stuck)
        log.info("shutting down: %s", ending.why)
    except KeyboardInterrupt:
        log.info("interrupted; shutting down")
        ending = Ending("interrupted", EndedBy.STOP_REQUESTED)
    finally:
        service.notify("STOPPING=1", wait_s=2.0)
        # Stuck: the last hop is not waited for again (a call that does not return holds the join too).
        summary = pipeline.stop(recognition_wait_s=1.0 if hop_stuck else None)
        if config.status_file is not None:  # "ended" before the alerts' close (seconds): stopped, not hung
            # What ended it, among the problems: the loop stops at a failure before a status takes it in.
            if pipeline.failure is not None and "stopped_by_error" not in problems:
                problems = [*problems, "stopped_by_error"]
            _status_file(config.status_file, pipeline.stats(), problems, config.alerts.room, ending,
                         status_file_failing, waiting=AlertsWaiting.of(alerts))
        handle(pipeline.drain())
        lost = events.close()
        alerts.close(outage_ends_the_run=ended_stuck is not None)
        writer.close()
        lost += writer.errors()
    if writer.reader_gone and alerts_elsewhere:  # however late it went (the drain, the close)
        lost.append(f"the reader of standard output closed its end; {writer.lost} decision lines not written")
    if ended_stuck is not None:  # an error even if the call returned meanwhile: exit 1, for a restart
        lost.append(ended_stuck)
    summary = alerts.report(summary)
    return replace(summary, errors=(*summary.errors, *lost)) if lost else summary
