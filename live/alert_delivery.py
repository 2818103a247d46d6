"""Alerts that are never lost: an append-only queue on disk, and a thread that POSTs them in order.

    AlertDispatcher (headless loop / GUI thread) --submit(payload)--> in-memory hand-off, never blocks,
                      to both threads at once
      journal thread  appends {"op": "queued", ...} to the queue file, flush + fsync: the alert is on
                      disk within milliseconds, whatever the endpoint is doing; and, after it, each
                      alert's "delivered" / "rejected" line: the only thread that writes the file
      sender thread   the oldest undelivered alert first, written or not (a share that hangs for minutes
                      holds back no POST), except that alerts raised in the last FRESH_FIRST_S go
                      before an older backlog (an outage's): POST JSON with an Idempotency-Key header (and
                      the Authorization header of --alert-auth-file, read_authorization)
                        2xx                 -> {"op": "delivered"}; the next one
                        no answer, refused, no whole answer within timeout_s, 5xx, 408, 425, 429
                                            -> wait (backoff_s, doubling up to max_backoff_s, +-jitter)
                                               and send the same alert again
                        3xx                 -> not followed (urllib would re-send a 301/302/303 as a
                                               bodiless GET): a wrong --alert-url, an ERROR line naming
                                               the Location, and retried like a failure until fixed
                        401, 403, 404, 405, 407, 410
                                            -> the endpoint refuses the URL or the credentials, not this
                                               alert (a receiver deployed wrong, a proxy's login): an
                                               ERROR line, retried like a failure until fixed; rejecting
                                               them dropped a whole backlog of falls for good
                        any other 4xx       -> the endpoint will never take this alert: {"op": "rejected"}
                                               and an ERROR line, then the next one (retrying for ever
                                               would hold back every later alert); it stays in the file
                    while it fails, a WARNING every OUTAGE_REMINDER_S with how many alerts wait (the
                    first failure alone, hours earlier, is easy to miss in a service's log)
    restart         the queue file is read back: alerts neither delivered nor rejected are sent first,
                    in the order they were raised (after any raised in the last FRESH_FIRST_S)

A crash between a successful POST and its "delivered" line sends that alert again after the restart,
with the same Idempotency-Key (and "id" in the body), so the receiver can drop the duplicate. The
queue file is locked while a process uses it (a second one is refused with a clear error). A last
line cut short by a crash is dropped when the file is read back (that alert was never fully on disk),
damaged lines (not JSON, or records without their fields) are reported by file and line number and
skipped. Once every alert is settled and the file is over `compact_bytes` it is rewritten (atomically)
to one record that carries the next sequence number, so sequences keep increasing across restarts;
rejected alerts are first appended to `<queue>.rejected.jsonl` (delivered ones are in the log and the
receiver).

Only the standard library (urllib): one POST at a time needs no HTTP client dependency.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import http.client
import json
import logging
import math
import os
import queue
import random
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO, Any

from core.atomic import replace_atomically, sync_directory
from core.locks import HELD_ELSEWHERE, held_by_another, lock_exclusive
from recordings.atomic import drop_cut_last_line, why_not_writable
from recordings.stop_signals import join_in_slices, wait_in_slices

log = logging.getLogger(__name__)

DEFAULT_QUEUE = Path("runs") / "alerts" / "queue.jsonl"  # runs/ is ignored by git
RETRY_STATUSES = frozenset({408, 425, 429})  # 4xx that mean "later", not "never"
# 4xx about the URL or the credentials, whatever the alert: --alert-url or the receiver is set up wrong.
MISCONFIGURED_STATUSES = frozenset({401, 403, 404, 405, 407, 410})
OUTAGE_REMINDER_S = 300.0  # while delivery keeps failing, a WARNING this often
# With no alert to send, the endpoint (or its proxy) is connected to this often, and at start: a wrong
# URL or a receiver down was found only by the first fall, in a quiet room days later.
REACHABLE_EVERY_S = 60.0
REACHABLE_TIMEOUT_S = 5.0
# Alerts queued this recently are sent before older ones still waiting, in the order raised among
# themselves; the backlog follows, in order. After an outage of an hour (390 alerts of a busy room), a fall
# raised as the endpoint came back was paged last, 10 s later at 20 ms a POST; after a weekend, minutes.
FRESH_FIRST_S = 60.0
# Records handed to the journal thread and not yet written (alerts, and the sender's delivered / rejected
# lines). Alerts are rate limited (one per person, or pair, and episode), so this fills only when the disk
# has hung for a long time; then submit keeps the alert in memory for the sender rather than block its caller
# (the GUI thread) or drop it, and a delivered line not written means one more POST after a restart.
SUBMITTED_BACKLOG = 256
WRITE_STUCK_S = 2.0  # a write to the queue file (write + fsync: milliseconds) running this long is said


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")  # a receiver on this machine: http:// stays on it


@dataclass(frozen=True)
class DeliveryConfig:
    url: str  # http:// or https:// endpoint that takes one alert per POST
    queue_path: Path = DEFAULT_QUEUE
    timeout_s: float = 5.0  # one POST: an endpoint that has not answered by then has failed
    backoff_s: float = 1.0  # wait after the first failure; doubles with each failure in a row
    max_backoff_s: float = 60.0
    jitter: float = 0.1  # +-10% on each wait: rooms restarted together do not retry in lockstep
    compact_bytes: int = 1 << 20
    disk_timeout_s: float = 10.0  # close(): a write + fsync still running after this is a hung disk
    # The Authorization header of every POST ("Bearer ...", "Basic ..."; --alert-auth-file), kept out of
    # reprs and logs; None: none sent.
    authorization: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"--alert-url {self.url!r}: expected an http:// or https:// URL")
        try:
            parts = urllib.parse.urlsplit(self.url)
            host = parts.hostname
            parts.port  # noqa: B018 (raises for a port that is not a number)
        except ValueError as error:
            raise ValueError(f"--alert-url {self.url!r}: {error}") from None
        if not host:  # refused now, not found out when a patient falls
            raise ValueError(f"--alert-url {self.url!r}: no host in it (e.g. https://nurse-call.example/alerts)")
        if parts.username is not None:  # never sent (urllib ignores it), and shown by ps and in every log
            raise ValueError(f"--alert-url: a user name or password in the URL is not sent; give the "
                             f"endpoint's credentials with --alert-auth-file (host {host})")
        if self.timeout_s <= 0 or self.backoff_s <= 0 or self.max_backoff_s < self.backoff_s:
            raise ValueError(f"invalid alert delivery timing {self}")
        if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
            # Whoever is on the way can read them, and answer 200 in the receiver's place: alerts then
            # counted delivered never arrive.
            what = ("--alert-auth-file: the credentials" if self.authorization is not None
                    else "--alert-url: alerts")
            log.warning("%s go to %s unencrypted (http://): anyone on the network between can read them, "
                        "or answer in the receiver's place; use https://", what, self.shown_url)

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)


def shown_url(url: str) -> str:
    """A URL as logs and screens show it: without its query, which may hold a key (?token=...), nor its
    path past the first part, where webhooks keep theirs (/hooks/T0/B0/<secret>), nor a part's
    parameters (;jsessionid=...): every log line, and the log collector, would otherwise keep them."""
    parts = urllib.parse.urlsplit(url)
    first, _, rest = parts.path.lstrip("/").partition("/")
    first, semicolon, _ = first.partition(";")
    path = f"/{first}" + (";…" if semicolon else "") + ("/…" if rest else "") if parts.path else ""
    user, at, host = parts.netloc.rpartition("@")  # a redirect's Location may carry user:password@
    netloc = f"…@{host}" if at else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, "…" if parts.query else "", ""))


def read_authorization(path: Path) -> str:
    """The Authorization header's value from `path`'s first line ("Bearer <token>", "Basic <base64>"):
    a file, not an option, so that the secret is not shown by `ps` nor written to the service's unit.
    Refused where the file is missing, empty or holds more than one line; said where others may read it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--alert-auth-file {path}: cannot be read ({error})") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ValueError(f"--alert-auth-file {path}: expected one line, the Authorization header's value "
                         f"(e.g. 'Bearer <token>'), found {len(lines)}")
    if not (lines[0].isascii() and lines[0].isprintable()):  # HTTP sends headers as Latin-1 at most
        raise ValueError(f"--alert-auth-file {path}: only printable ASCII can go into a header (a dash or "
                         "quote pasted from a document?)")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("--alert-auth-file %s can be read by other users of this machine (chmod 600 it)", path)
    return lines[0]


class QueueInUse(RuntimeError):
    """Another process delivers from this queue file."""


# Windows lets go of a dead process's file lock "after a delay" (LockFile's documentation): a service
# restarted at once would find its own queue in use. POSIX lets go when the process ends.
LOCK_WAIT_S = 10.0 if os.name == "nt" else 0.0


def _lock(handle: IO[bytes], path: Path) -> None:
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            lock_exclusive(handle)
            return
        except OSError as error:
            if error.errno not in HELD_ELSEWHERE:  # not another's hold: waiting, or "in use", would not help
                why = (f"cannot be locked ({error.strerror}); the alert queue needs a lock: give "
                       "--alert-queue a folder on a local disk")
                raise OSError(error.errno, why, str(path)) from None
            if time.monotonic() >= deadline:
                raise QueueInUse(_in_use(path)) from error
            time.sleep(0.1)


SEQUENCE_OP = "sequence"  # the record a compacted file starts with: {"op": "sequence", "next": N}


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _record_problem(record: Any) -> str:
    """What is wrong with one parsed queue-file line ("" when nothing): the sender relies on these fields."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    op = record.get("op")
    if op == SEQUENCE_OP:
        return "" if _is_int(record.get("next")) else '"next" is not an integer'
    if op not in ("queued", "delivered", "rejected"):
        return f'unknown "op" {op!r}'
    if not isinstance(record.get("id"), str):
        return '"id" is missing or not a string'
    if op == "queued":
        if not isinstance(record.get("alert"), dict):
            return '"alert" is missing or not an object'
        if not _is_int(record.get("sequence")):
            return '"sequence" is missing or not an integer'
        queued_at = record.get("queued_at", 0.0)  # absent in queues of earlier versions
        number = isinstance(queued_at, int | float) and not isinstance(queued_at, bool)
        if not number or not math.isfinite(queued_at):
            return '"queued_at" is not a finite number'
    return ""


def _parsed(line: bytes) -> tuple[Any, str]:
    """One queue-file line: (its record, what is wrong with it; "" when nothing)."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return None, str(error)
    return record, _record_problem(record)


def refuse_other_files(path: Path) -> None:
    """A file with lines, none of them a queue record, is not a queue (--alert-queue given the decisions
    file, say): alerts must not be appended into it, nor every line of it logged as damaged."""
    if not path.is_file():
        return
    complete = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n") or not line.strip():
                continue  # a last line a crash cut short (dropped when read back), or an empty one
            complete += 1
            if not _parsed(line)[1]:
                return
    if not complete:
        return
    raise ValueError(f"{path}: not an alert queue (no line of it is a queue record); give --alert-queue a "
                     "new file or one an earlier run wrote")


def _append_synced(path: Path, lines: list[bytes]) -> None:
    if lines:
        with open(path, "ab") as f:
            f.write(b"".join(lines))
            f.flush()
            os.fsync(f.fileno())


def _open_unbuffered(path: Path) -> IO[bytes]:
    return open(path, "ab", buffering=0)  # noqa: SIM115 - closed in AlertQueue.close()


def _read_queue(data: bytes, damaged: Callable[[int, str], None]) -> tuple[list[dict[str, Any]], int]:
    """A queue file's bytes -> (the alerts queued and not settled, in sequence order; the next sequence
    number). `damaged(line number, what is wrong)` for each line that is not a record."""
    queued: dict[str, dict[str, Any]] = {}
    next_sequence = 1
    for number, line in enumerate(data.splitlines(), start=1):
        record, problem = _parsed(line)
        if problem:
            damaged(number, problem)
            continue
        op = record["op"]
        if op == SEQUENCE_OP:
            next_sequence = max(next_sequence, record["next"])
        elif op == "queued":
            queued[record["id"]] = record
            next_sequence = max(next_sequence, record["sequence"] + 1)
        else:
            queued.pop(record["id"], None)
    return sorted(queued.values(), key=lambda r: r["sequence"]), next_sequence


def queue_held(path: Path) -> bool | None:
    """Whether a running app holds the queue file `path` now (True), none does (False), or it cannot be
    told (None: its lock file cannot be opened). Nothing is written."""
    return held_by_another(path.with_name(path.name + ".lock"))


def refuse_a_held_queue(path: Path) -> None:
    """QueueInUse where another app holds the queue file now: said at start-up, before the source and the
    model load (seconds of CPU, in a service restarted every few seconds beside the room that holds the
    queue). Waited for as the queue's own lock is (LOCK_WAIT_S: Windows lets go of a dead process's lock
    late)."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while queue_held(path):
        if time.monotonic() >= deadline:
            raise QueueInUse(_in_use(path))
        time.sleep(0.1)


def _in_use(path: Path) -> str:
    return (f"alert queue {path} is in use by another process (another `python -m live` delivering "
            "alerts?); give each one its own --alert-queue")


def undelivered_in(path: Path) -> int:
    """How many alerts the queue file `path` holds undelivered, for a run without --alert-url, which does
    not send them: 0 where it cannot be read, or where a running app holds it (it is sending them; a room
    beside it from the same folder would have said they were an earlier run's). Nothing is written."""
    if queue_held(path) is not False:
        return 0
    try:
        data = path.read_bytes()
    except OSError:
        return 0
    return len(_read_queue(data, lambda number, problem: None)[0])


def _a_folder(path: Path) -> str:
    return f"--alert-queue {path}: a folder; give the queue's file (e.g. {path / 'queue.jsonl'})"


def _in_the_way(path: Path) -> str:
    return f"--alert-queue {path}: {path.parent} cannot be made a folder (a file of that name is in the way)"


def queue_problem(path: Path) -> str | None:
    """Why `path` cannot be the alert queue, found before anything is opened or made (the app asks at
    start-up, before the model loads: a service account that could not write it was refused seconds
    later, at every restart of its unit); None where it can. The queue file and its lock beside it are
    each written where they are, or made in their folder (a site may make both for the service account in
    a folder it cannot write)."""
    if path.is_dir():
        return _a_folder(path)
    if any(folder.is_file() for folder in path.parents):
        return _in_the_way(path)
    for file in (path, path.with_name(path.name + ".lock")):
        if file.is_file():
            why = None if os.access(file, os.W_OK) else _not_ours_to_write(file)
        else:
            why = why_not_writable(file.parent)
        if why is not None:
            return f"--alert-queue {path}: cannot be written ({why})"
    return None


def _retry_after_s(value: str | None) -> float | None:
    """A Retry-After header's seconds from now (RFC 9110: delay-seconds or an HTTP date); None where absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # (str.isdigit takes '²', which float() refuses)
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None  # 309 digits and more: infinite
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # asctime's form ("Sun Nov  6 08:49:37 1994"), which is GMT as every HTTP date
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())


def _one_line(text: str) -> str:
    """`text` with what is not printable escaped (control characters, NEL, the line and paragraph
    separators): an endpoint's reply quoted in a log line cannot break it into two, or forge one."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _not_ours_to_write(file: Path) -> str:
    """Why this account may not write `file`: another account's (made by a run as root, say, or by IT for
    the service account), which "read-only" sent the reader to its mode bits, or read-only."""
    try:
        owner = file.stat().st_uid if hasattr(os, "getuid") else None
    except OSError:  # removed meanwhile: what it was is all there is to say
        owner = None
    if owner is not None and owner != os.getuid():
        return f"{file} belongs to another account (uid {owner}), which this one may not write"
    return f"{file} is read-only"


class AlertQueue:
    """The queue file: JSON lines appended and fsync'd, read back on open. Not thread-safe by itself
    (AlertDelivery serialises appends)."""

    def __init__(self, path: Path | str, compact_bytes: int = 1 << 20) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise OSError(_a_folder(self.path))
        refuse_other_files(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file where a folder of the path should be
            raise OSError(_in_the_way(self.path)) from None
        except OSError as error:  # no permission, a read-only or missing mount
            raise OSError(f"--alert-queue {self.path}: cannot make its folder {self.path.parent} "
                          f"({error.strerror or error})") from None
        try:
            self._lock_file = open(self.path.with_name(self.path.name + ".lock"), "a+b")  # noqa: SIM115
        except OSError as error:
            raise OSError(f"--alert-queue {self.path}: cannot be written ({error.strerror or error})"
                          ) from None
        self.compact_bytes = compact_bytes
        # Damaged lines found at open (a queued alert may have been among them): an error of this run, and
        # set aside at once so that they are not every later run's as well.
        self.damaged_at_start = 0
        self.pending: list[dict[str, Any]] = []  # queued records not delivered / rejected, in order
        # Ids queued in the file without their delivered / rejected line (a set, not a count: an alert
        # kept in memory only is settled too, and must not count against the ones in the file).
        self.unsettled: set[str] = set()
        self.next_sequence = 1
        try:
            _lock(self._lock_file, self.path)
            self._read_back()
            if self.damaged_at_start:
                self._set_damaged_aside()
            self._file = _open_unbuffered(self.path)
        except BaseException:  # the queue is let go for the next run (or for this one, retried)
            self._lock_file.close()
            raise

    def _read_back(self) -> None:
        if not self.path.exists():
            return
        end, dropped = drop_cut_last_line(self.path)
        if dropped:  # a crash cut the last line short: that record never fully reached the disk
            log.warning("%s: byte %d: dropping an incomplete last line (%d bytes) left by an interrupted "
                        "write", self.path, end, dropped)

        def damaged(number: int, problem: str) -> None:
            self.damaged_at_start += 1
            log.error("%s: line %d is damaged (%s); skipping it", self.path, number, problem)

        self.pending, self.next_sequence = _read_queue(self.path.read_bytes(), damaged)
        self.unsettled = {record["id"] for record in self.pending}

    def append(self, record: dict[str, Any]) -> None:
        """One record written and fsync'd; OSError with the file as it was (a full disk). Unbuffered, and
        cut back on failure: a buffered record that failed stayed in the buffer, wrote itself half at the
        next append (a damaged line) and made close() raise ENOSPC, ending the run with exit 2."""
        fd = self._file.fileno()
        size = os.fstat(fd).st_size
        try:
            rest = memoryview(_line(record))
            while rest:
                rest = rest[os.write(fd, rest):]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)  # no half line for the next record to be glued to
            raise
        if record["op"] == "queued":
            self.unsettled.add(record["id"])
        elif record["op"] != SEQUENCE_OP:
            self.unsettled.discard(record["id"])

    def was_deleted(self) -> bool:
        """Whether the file was deleted under the open queue (a clean-up script): what is written to it
        goes nowhere."""
        return os.fstat(self._file.fileno()).st_nlink == 0

    def start_again(self, next_sequence: int, undelivered: list[dict[str, Any]]) -> None:
        """A new file in the deleted one's place, holding what it must: the next sequence number and the
        undelivered alerts' queued records. OSError where it cannot be made (its folder went too)."""
        new = _open_unbuffered(self.path)  # first: where it cannot be made, the old one stays open
        self._file.close()
        self._file = new
        self.unsettled = set()
        self.append({"op": SEQUENCE_OP, "next": next_sequence})
        for record in undelivered:
            self.append(record)

    @property
    def rejected_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".rejected.jsonl")

    @property
    def damaged_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".damaged.txt")

    def compact_if_done(self, next_sequence: int) -> bool:
        """When every alert in the file is settled and it has grown past compact_bytes: append the
        rejected alerts to `rejected_path`, then rewrite the file to one record holding `next_sequence`."""
        if self.unsettled or os.fstat(self._file.fileno()).st_size < self.compact_bytes:
            return False
        # Both written while the queue file stays open: a full disk fails here, and the file goes on
        # taking the next alerts as it was (closed, every later alert would be in memory only).
        self._keep_rejected()
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(_line({"op": SEQUENCE_OP, "next": next_sequence}))
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        self._file.close()  # closed before the rename: Windows renames no open file
        try:
            os.replace(tmp, self.path)
            # The rename on the disk too: after a power cut the old file came back, and alerts appended
            # to the new one since (each fsync'd) were gone with it.
            sync_directory(self.path.parent)
        finally:  # renamed or not, the queue is open again for the next alert
            self._file = _open_unbuffered(self.path)
        return True

    def _keep_rejected(self) -> None:
        """Each rejected alert, as its queued record plus the rejection, to `rejected_path` (fsync'd before
        the queue file is rewritten: a crash in between keeps them twice, never loses them). Damaged lines
        were set aside at open (`_set_damaged_aside`); this process writes none."""
        queued: dict[str, dict[str, Any]] = {}
        rejected: list[dict[str, Any]] = []
        for line in self.path.read_bytes().splitlines():
            record, _ = _parsed(line)
            if record["op"] == "queued":
                queued[record["id"]] = record
            elif record["op"] == "rejected":
                rejected.append({**queued.get(record["id"], {}), **record})
        _append_synced(self.rejected_path, [_line(record) for record in rejected])

    def _set_damaged_aside(self) -> None:
        """Damaged lines appended to `damaged_path` (fsync'd first: a crash keeps them twice, never loses
        them), then the queue file rewritten without them, every other line as it was."""
        kept, damaged = [], []
        for line in self.path.read_bytes().splitlines():
            (damaged if _parsed(line)[1] else kept).append(line + b"\n")
        _append_synced(self.damaged_path, damaged)
        replace_atomically(self.path, b"".join(kept))
        log.warning("%s: %d damaged line(s) moved to %s", self.path, len(damaged), self.damaged_path)

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._lock_file.close()  # releases the lock


class Outcome(Enum):
    """What one POST came to."""

    DELIVERED = "delivered"  # 2xx; also the "op" of its line in the queue file
    REJECTED = "rejected"  # a 4xx that will never change (or a record that cannot be sent at all)
    RETRY = "retry"  # no answer, refused, timeout, 5xx, 408/425/429
    MISCONFIGURED = "misconfigured"  # a 3xx, 401/403/404/...: the URL or the receiver; retried until fixed


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib re-sends a POST redirected by 301/302/303 as a GET without its
    body (the alert would be lost yet counted delivered) and refuses 307/308 for a POST."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201, PLR0913
        return None  # urllib then raises HTTPError(code), Location in its headers


class _PostDeadline:
    """One POST, ended once `timeout_s` of it have passed: urllib's timeout bounds each read, not the
    POST, and an endpoint (or a proxy) sending a header line every 2 s held that alert, and every later
    one, for as long as it went on, with no failure counted to say so.

    urllib opens the POST's connections through `connection_class`; `enforce` (its watchdog thread) shuts
    their sockets down when the time is up, which wakes the sender's read, and again every
    WATCHDOG_TICK_S until the POST has finished (a connection made meanwhile); one made after it is
    refused. (A TLS handshake that trickles is ended by the socket's own timeout: CPython's ssl bounds
    the whole handshake by it.) Each POST has its own: a watchdog that woke as its POST was answered
    must not cut the next one."""

    WATCHDOG_TICK_S = 0.5

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        # Each connection's socket as it connected: urllib lets go of it (connection.sock = None) once the
        # headers are read, and the response reads the body through a file of its own on that socket.
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._returned = threading.Event()

    def connection_class(self, http_class: type[http.client.HTTPConnection]) -> Callable[..., Any]:
        def connection(host: str, **options: Any) -> http.client.HTTPConnection:
            with self._lock:
                if self._expired:
                    raise TimeoutError("the POST's time is up")
                made = http_class(host, **options)
                self._connections.append(made)
            connect = made.connect

            def connect_and_keep() -> None:
                connect()
                with self._lock:
                    self._sockets.append(made.sock)
                    if self._expired:
                        raise TimeoutError("the POST's time is up")

            made.connect = connect_and_keep  # type: ignore[method-assign]
            return made

        return connection

    def finish(self) -> bool:
        """The POST has returned (the sender's thread): the watchdog ends. True when its time was up
        first, and what it read may be cut short (a socket shut down ends the headers, or the body, it was
        reading)."""
        with self._lock:
            self._returned.set()
            return self._expired

    def enforce(self) -> None:
        if self._returned.wait(self.timeout_s):
            return
        while True:
            with self._lock:
                if self._returned.is_set():  # answered as the time ran out: not cut
                    return
                self._expired = True
                sockets = [*self._sockets, *(c.sock for c in self._connections if c.sock is not None)]
            for sock in sockets:
                with contextlib.suppress(OSError):  # closed meanwhile, or not yet connected
                    # socket.socket's own: an SSLSocket's would unwrap it under the sender's read.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            if self._returned.wait(self.WATCHDOG_TICK_S):
                return


class _DeadlineOpen:
    """urllib's do_open, its connections those of the POST under way (`delivery._post_deadline`)."""

    def __init__(self, delivery: AlertDelivery) -> None:
        super().__init__()
        self.delivery = delivery

    def do_open(self, http_class, req, **options):  # noqa: ANN001, ANN003, ANN201
        return super().do_open(self.delivery._post_deadline.connection_class(http_class), req, **options)


class _DeadlineHTTP(_DeadlineOpen, urllib.request.HTTPHandler):
    pass


class _DeadlineHTTPS(_DeadlineOpen, urllib.request.HTTPSHandler):
    pass


@dataclass(frozen=True)
class Queued:
    """An alert as AlertDelivery.submit queued it: its idempotency key (the POST's Idempotency-Key and "id")
    and its number in the order raised (the POST's "sequence"), for the command's page to carry too."""

    id: str
    sequence: int


class AlertDelivery:
    """Journals submitted alerts to `config.queue_path` and POSTs them to `config.url` (two threads).

    `submit` returns at once. `close(timeout)` gives the sender up to `timeout` to empty the queue, then
    stops both threads; what is left stays in the file for the next start.
    """

    def __init__(self, config: DeliveryConfig) -> None:
        self.config = config
        self.queue = AlertQueue(config.queue_path, config.compact_bytes)
        self.delivered = 0
        self.rejected = 0
        self.failures = 0  # failed attempts (each retried)
        self.current_backoff_s = 0.0  # the wait after the latest failure; 0 while deliveries succeed
        self._asked_to_wait_s: float | None = None  # a 429 / 503's Retry-After, for the next wait
        # The POST under way's (the sender thread's, each POST its own), read by the handlers' do_open.
        self._post_deadline: _PostDeadline | None = None
        handlers = [_RefuseRedirects, _DeadlineHTTP(self), _DeadlineHTTPS(self)]
        parts = urllib.parse.urlsplit(config.url)
        proxy = None
        if parts.hostname in LOOPBACK_HOSTS:
            # A proxy setting (http_proxy) sent a receiver on this machine its alerts, and the credentials
            # of --alert-auth-file, through the proxy, in clear.
            handlers.append(urllib.request.ProxyHandler({}))
        elif (proxy := urllib.request.getproxies().get(parts.scheme)) and not urllib.request.proxy_bypass(
                parts.hostname):
            log.info("alerts go to %s through the proxy %s (%s_proxy; no_proxy lists hosts that it does "
                     "not serve)", config.shown_url, shown_url(proxy), parts.scheme)
        else:
            proxy = None  # none, or one this host bypasses
        self._opener = urllib.request.build_opener(*handlers)
        # Where a connection goes first, for the idle check (`_check_reachable`): the proxy, where one
        # serves the URL ("host:port" as urllib takes it, with no scheme, too).
        # A port left out is 443 where either the URL or the proxy is https:// (urllib's own rule).
        try:
            via = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}") if proxy else parts
            port = via.port or (443 if "https" in (parts.scheme, via.scheme) else 80)
        except ValueError:  # a proxy setting that is no address (a port that is no number): the POST says
            via, port = parts, None
        self._first_hop = None if port is None or not via.hostname else (via.hostname, port)
        # Where the idle check also shakes hands in TLS (an https:// URL reached directly): a certificate
        # this machine does not trust failed only the first fall's POST, the room said "ok" until then.
        self._tls_host = parts.hostname if parts.scheme == "https" and not proxy else None
        self._answered = 0  # POSTs answered: an idle check begun before one does not undo what it showed
        self.unreachable: str | None = None  # why the idle check could not connect, while it cannot
        self._submitted: queue.Queue[dict[str, Any]] = queue.Queue(SUBMITTED_BACKLOG)
        self._file_lock = threading.Lock()
        self._pending: deque[dict[str, Any]] = deque(self.queue.pending)  # submitted, not yet settled
        self._condition = threading.Condition()
        self._next_sequence = self.queue.next_sequence  # guarded by _condition
        self._journaled = 0
        self._submitted_count = 0
        self._streak = 0  # failed attempts in a row (sender thread only)
        self._failing_since = 0.0
        self._reminded_at = 0.0  # when the last WARNING about a running outage was written
        self._said_problems: set[str] = set()  # the ERRORs written during this outage: each once
        self._stop = threading.Event()
        self._closed = False  # the queue file is closed: nothing more is written to it
        # The journal has ended (close()): delivered / rejected lines go to _marks_waiting, for close() to
        # write, not to a hand-off nobody reads. It and _closed change under _unwritten_lock.
        self._journal_ended = False
        # Alerts the queue file did not take (a full disk, or past the hand-off of a disk that hangs), by
        # id: written when it takes one again, or at close; until then they are in memory only, and a stop
        # loses those not yet delivered.
        self._unwritten: dict[str, dict[str, Any]] = {}
        self._unwritten_lock = threading.Lock()  # never held over a disk write: submit() takes it too
        # Ids of pending alerts whose queued line is in the file (under _unwritten_lock): the others are
        # in memory only, waiting for the journal or not taken by the disk.
        self._on_disk: set[str] = {record["id"] for record in self._pending}
        # Delivered / rejected lines the journal's full hand-off did not take (a disk hung for long):
        # written once it has written everything handed to it before them (under _unwritten_lock).
        self._marks_waiting: list[dict[str, Any]] = []
        self._write_began: float | None = None  # monotonic time the journal's write now running began
        # This run's pending alerts' ids -> the monotonic time each was raised (under _condition): which
        # are fresh (FRESH_FIRST_S) is judged by it, not by queued_at, which an NTP step moves.
        self._raised_at: dict[str, float] = {}
        self.lost = 0  # after close(): undelivered alerts the queue file never took, gone with this run
        if self._pending:
            log.warning("%d alert(s) from an earlier run were not delivered; sending them first (%s)",
                        len(self._pending), config.queue_path)
        self._journal = threading.Thread(target=self._journal_loop, name="alert-journal", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="alert-sender", daemon=True)
        # A thread of its own: a connection that takes its 5 s to fail held back, in the sender, a fall
        # raised meanwhile. Not joined at close: it only connects, and ends at its next wait.
        self._reachability = threading.Thread(target=self._reachability_loop, name="alert-reachability",
                                              daemon=True)
        self._journal.start()
        self._sender.start()
        self._reachability.start()

    # ---- producer side ---------------------------------------------------------------------------

    def submit(self, payload: dict[str, Any]) -> Queued:
        """Queue one alert (a JSON-able dict); returns its idempotency key and sequence number. Never
        blocks."""
        record = {"op": "queued", "id": uuid.uuid4().hex, "alert": payload,
                  "queued_at": round(time.time(), 3)}
        with self._condition:
            self._submitted_count += 1
            record["sequence"] = self._next_sequence  # numbered here: the order raised, whatever happens
            self._next_sequence += 1
            try:  # to the journal first: its queued line goes into the file before any line settling it
                self._submitted.put_nowait(record)
            except queue.Full:  # the journal has not written for SUBMITTED_BACKLOG records: the disk hangs
                log.error("alert %s: %d record(s) are waiting to be written to %s (is the disk hung?); this "
                          "one is kept in memory only until it is sent", record["id"], SUBMITTED_BACKLOG,
                          self.config.queue_path)
                with self._unwritten_lock:  # written with the next record the disk takes, or at close
                    self._unwritten[record["id"]] = record
                self._journaled += 1  # as far as the journal goes: not to be waited for
            # To the sender at once, not once written: a share that hung for minutes held every POST back.
            self._pending.append(record)
            self._raised_at[record["id"]] = time.monotonic()
            self._condition.notify_all()
        return Queued(record["id"], record["sequence"])

    @property
    def failing(self) -> bool:
        """The last try failed and the alert is being retried (the endpoint down, refusing, misdirected)."""
        return self._streak > 0

    @property
    def unsaved(self) -> int:
        """Undelivered alerts the queue file did not take (a full disk, or past the hand-off of a disk
        that hangs): in memory only until sent or written."""
        with self._condition:
            undelivered = {record["id"] for record in self._pending}
        with self._unwritten_lock:
            return sum(key in undelivered for key in self._unwritten)

    @property
    def write_stuck_s(self) -> float | None:
        """How long a write to the queue file has been running, past WRITE_STUCK_S (a share that hangs:
        alerts are sent meanwhile, and lost if the app stops before they are)."""
        began = self._write_began
        running = time.monotonic() - began if began is not None else 0.0
        return running if running >= WRITE_STUCK_S else None

    def _not_on_disk(self) -> tuple[int, int]:
        """(Undelivered alerts, those of them whose queued line is not in the file: lost if this process
        ends now), of one moment: a POST answered between two looks made "-1 not delivered"."""
        with self._condition:
            undelivered = [record["id"] for record in self._pending]
        with self._unwritten_lock:
            return len(undelivered), sum(key not in self._on_disk for key in undelivered)

    @property
    def pending(self) -> int:
        """Alerts submitted and not yet delivered or rejected."""
        with self._condition:
            return len(self._pending)

    def waiting(self) -> tuple[int, float | None]:
        """(Alerts not yet delivered or rejected, seconds the oldest of them has waited; None for none).
        This run's by the monotonic clock, an earlier run's by its queued_at (as _next_to_send)."""
        now, wall = time.monotonic(), time.time()
        with self._condition:
            if not self._pending:
                return 0, None
            ages = [now - raised if (raised := self._raised_at.get(record["id"])) is not None
                    else wall - record.get("queued_at", wall) for record in self._pending]
            return len(self._pending), max(0.0, *ages)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted alert has been written, or found that the disk would not take it
        (`unsaved`); False after `timeout`."""
        with self._condition:
            return self._condition.wait_for(lambda: self._journaled >= self._submitted_count, timeout)

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until nothing is pending (every submitted alert delivered or rejected, written or not)."""
        def delivered() -> bool:  # under the condition's lock
            return not self._pending  # written or not: the disk's wait is close()'s

        def wait(seconds: float) -> None:
            with self._condition:
                self._condition.wait_for(delivered, seconds)

        def done() -> bool:
            with self._condition:
                return delivered()

        return wait_in_slices(wait, done, timeout)  # slices: a second Ctrl-C gets in (stop_signals)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what can be delivered within `timeout`, then stop; the rest stays queued on disk.
        Returns within about `timeout` + 2 x `config.disk_timeout_s` + 1 s even when the disk hangs (the
        journal and the file each waited for at most that long, the sender 1 s)."""
        self.wait_delivered(timeout)
        self._stop.set()  # the journal ends once the hand-off is empty, the sender at its next wait
        with self._condition:
            self._condition.notify_all()
        # Each wait below in slices of 0.2 s (recordings.stop_signals.wait_in_slices): a second Ctrl-C on
        # Windows, where a lock's or a join's wait is not interrupted by signals, gets in between them.
        # Disk only: the journal finishes the alerts handed over.
        join_in_slices(self._journal, self.config.disk_timeout_s)
        # A POST still in flight is not waited for: its alert is on disk (or said lost below), and if the
        # endpoint did take it, the next start sends it again with the same key.
        join_in_slices(self._sender, 1.0)
        # A write + fsync that never returns holds _file_lock: closing would wait for ever.
        locked: list[bool] = []

        def lock(seconds: float) -> None:
            if self._file_lock.acquire(timeout=seconds):
                locked.append(True)

        if not wait_in_slices(lock, lambda: bool(locked), self.config.disk_timeout_s):
            # What is not on disk is lost with this process: those it did not take, and those still
            # waiting to be written (the one the hung write holds among them).
            _, self.lost = self._not_on_disk()
            log.error("a write to %s has not finished in %.0f s (is the disk hung?); the file stays open "
                      "and locked until this process ends, and %d undelivered alert(s) not written to it "
                      "are lost unless the write finishes before then", self.config.queue_path,
                      self.config.disk_timeout_s, self.lost)
            return
        try:
            # What the journal did not get to (a delivered line the sender settled after it ended, or all
            # it had left when the disk answered again too late), then what the disk did not take before,
            # if it has room again: the next start sends it. The journal writes nothing once it has the
            # lock again (_closed).
            with self._unwritten_lock:  # from now on a POST still answered is marked here
                self._journal_ended = True
            self._keep_what_the_journal_left()
            try:
                self._write_unwritten()
                self._write_marks_waiting(last=True)
            except OSError as error:  # still full, or gone: those stay in memory, and count below
                log.error("%s does not take the records left to write at the stop: %s",
                          self.config.queue_path, error)
            pending, self.lost = self._not_on_disk()
            lost = self.lost
            if left := pending - lost:
                log.warning("%d alert(s) not delivered to %s yet; they stay in %s and are sent on the next "
                            "start", left, self.config.shown_url, self.config.queue_path)
            if lost:
                log.error("%d alert(s) not delivered to %s are lost: %s would not take them (the errors "
                          "above say why)", lost, self.config.shown_url, self.config.queue_path)
            with self._unwritten_lock:
                self._closed = True
            self.queue.close()
        finally:
            self._file_lock.release()

    def _keep_what_the_journal_left(self) -> None:
        """Records handed over that the journal did not write (a delivered line the sender settled after
        it ended, or all it held when the disk answered too late) joined to those the disk did not take,
        for close() to write in order: queued lines first. Under _file_lock."""
        while True:
            try:
                record = self._submitted.get_nowait()
            except queue.Empty:
                return
            with self._condition:
                pending = record["op"] == "queued" and any(r["id"] == record["id"] for r in self._pending)
            with self._unwritten_lock:
                if pending:
                    self._unwritten.setdefault(record["id"], record)
                elif record["op"] != "queued":
                    self._marks_waiting.append(record)

    def _append(self, record: dict[str, Any]) -> None:
        """One record to the queue file, made again first where it was deleted under the app. Under
        _file_lock."""
        self._made_again_if_deleted()
        self.queue.append(record)

    def _made_again_if_deleted(self) -> None:
        """The queue file made again where it was deleted under the app (the alerts would be said to wait
        in a file that is gone), with the undelivered alerts. Under _file_lock."""
        if self.queue.was_deleted():
            with self._condition:
                undelivered, next_sequence = list(self._pending), self._next_sequence
            with self._unwritten_lock:  # not on disk while the new file is made (a write there may hang)
                self._on_disk.difference_update(record["id"] for record in undelivered)
            try:
                self.queue.start_again(next_sequence, undelivered)
            except OSError:  # its folder went too: what the deleted file held is in memory only now
                with self._unwritten_lock:
                    for lost in undelivered:
                        self._unwritten.setdefault(lost["id"], lost)
                raise
            with self._unwritten_lock:  # in the new file now
                for written in undelivered:
                    self._unwritten.pop(written["id"], None)
                    self._on_disk.add(written["id"])
            log.error("%s was deleted while the app ran (a clean-up script?); made again with the %d "
                      "undelivered alert(s)", self.config.queue_path, len(undelivered))

    def _write_unwritten(self) -> int:
        """Write the alerts the queue file did not take, those still undelivered; how many it still does
        not take. Under _file_lock."""
        try:  # first: a file made again holds them all already
            self._made_again_if_deleted()
        except OSError:  # deleted, folder and all: nowhere to write them
            with self._unwritten_lock:
                return len(self._unwritten)
        with self._condition:
            undelivered = {record["id"] for record in self._pending}
        with self._unwritten_lock:
            unwritten = list(self._unwritten.items())
        for key, record in unwritten:
            if key in undelivered:
                try:
                    self.queue.append(record)
                except OSError:
                    break  # still full (or gone): the next ones fail too
                log.info("alert %s is written to %s after all", key, self.config.queue_path)
            with self._unwritten_lock:  # written, or sent meanwhile: nothing to keep
                self._unwritten.pop(key, None)
                if key in undelivered:
                    self._on_disk.add(key)
        with self._unwritten_lock:
            return len(self._unwritten)

    # ---- journal thread: disk only ----------------------------------------------------------------

    def _journal_loop(self) -> None:
        while True:
            try:  # once close() has asked it to stop: what is in the hand-off now, then no more waiting
                record = self._submitted.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        """One record handed over (an alert's queued line, or its delivered / rejected line) into the
        file, then what the disk did not take before; the queued alert counted on disk or in memory."""
        queued, written = record["op"] == "queued", False
        try:
            with self._file_lock:
                if self._closed:  # close() went on without this thread (a disk that hung): counted there
                    return
                self._write_began = time.monotonic()
                try:
                    self._append(record)
                    written = True
                    if queued:  # on disk before the file is let go: close() counts it so
                        self._settle_on_disk(record)
                    if self._unwritten:  # the disk takes alerts again: the ones it did not take too
                        self._write_unwritten()
                    if self._marks_waiting and self._submitted.empty():  # after their alerts' lines
                        self._write_marks_waiting()
                finally:
                    self._write_began = None
        except Exception as error:
            if written:  # this record is in; what the disk did not take before stays in memory
                log.error("%s still does not take the records it did not take before: %s",
                          self.config.queue_path, error)
            elif queued:  # the disk is full or gone: the sender has it in memory
                log.error("alert %s could not be written to %s (%s); it is only in memory until sent, "
                          "and lost if the app stops before", record["id"], self.config.queue_path, error)
            else:  # sent anyway: at worst it is sent once more after a restart
                log.error("could not mark alert %s %s in %s: %s", record["id"], record["op"],
                          self.config.queue_path, error)
        if queued:
            with self._condition:
                still_pending = any(r["id"] == record["id"] for r in self._pending)
                if still_pending and not written:  # settled meanwhile: nothing to keep
                    with self._unwritten_lock:
                        self._unwritten.setdefault(record["id"], record)
                self._journaled += 1
                self._condition.notify_all()
        else:
            self._compact_if_done()

    def _settle_on_disk(self, record: dict[str, Any]) -> None:
        """A queued line just written: its alert, if still undelivered, is on disk. Under _file_lock."""
        with self._condition:
            still_pending = any(r["id"] == record["id"] for r in self._pending)
            with self._unwritten_lock:
                if still_pending:
                    self._on_disk.add(record["id"])

    def _write_marks_waiting(self, last: bool = False) -> None:
        """The delivered / rejected lines the hand-off did not take, in order. Under _file_lock. `last`
        (close()): any line settled after these is one of a closed file."""
        with self._unwritten_lock:
            marks, self._marks_waiting = self._marks_waiting, []
            self._closed = self._closed or last
        for written, mark in enumerate(marks):
            try:
                self._append(mark)
            except OSError:
                with self._unwritten_lock:  # kept for the next write the disk takes
                    self._marks_waiting[:0] = marks[written:]
                raise

    def _compact_if_done(self) -> None:
        """After an alert's delivered / rejected line: the file rewritten short once nothing waits."""
        with self._condition:
            if self._pending:
                return
            next_sequence = self._next_sequence
        try:
            with self._file_lock:
                if not self._closed:
                    self._write_began = time.monotonic()  # a rewrite that hangs is said as a write is
                    try:
                        self.queue.compact_if_done(next_sequence)
                    finally:
                        self._write_began = None
        except Exception as error:  # any failure: the journal must go on writing (the file grows)
            log.error("could not compact %s: %s", self.config.queue_path, error)

    # ---- sender thread: network only, one alert at a time, in order (the fresh ones first) --------

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._send_next():
                    return
            except Exception:  # the sender outlives an error of its own: no alert would go out again
                log.exception("the alert sender failed; it goes on in %g s", self.config.max_backoff_s)
                self._stop.wait(self.config.max_backoff_s)

    def _send_next(self) -> bool:
        """Send the next alert waiting, or wait to send it again; False once asked to stop."""
        with self._condition:
            self._condition.wait_for(lambda: self._pending or self._stop.is_set())
            if self._stop.is_set():
                return False
            record = self._next_to_send()
        try:
            outcome, status, detail = self._post(record)
        except Exception as error:  # a record that cannot even be sent must not stop the ones after it
            log.exception("alert %s (sequence %s) cannot be sent; setting it aside", record.get("id"),
                          record.get("sequence"))
            outcome, status, detail = Outcome.REJECTED, None, f"{type(error).__name__}: {error}"
        if outcome in (Outcome.RETRY, Outcome.MISCONFIGURED):
            self._back_off(outcome, detail)
            return True
        if self._streak:
            log.info("alert delivery to %s works again after %d failed tries (%.0f s)",
                     self.config.shown_url, self._streak, time.monotonic() - self._failing_since)
            self._streak = 0
            self._said_problems.clear()
        self.current_backoff_s = 0.0
        self.unreachable = None  # answered: reached, whatever the last idle check found
        self._answered += 1
        self._settle(record, outcome, status, detail)
        return True

    def _reachability_loop(self) -> None:
        """At start (a wrong URL is said as the service starts) and every REACHABLE_EVERY_S while no alert
        is being sent: an alert's own POST says more, and sooner."""
        while not self._stop.is_set():
            if not self.pending:
                self._check_reachable()
            self._stop.wait(REACHABLE_EVERY_S)

    def _check_reachable(self) -> None:
        """Connect to the endpoint (or its proxy) and hang up: no request is made, so a receiver that pages
        on every POST pages nobody. Said once when it fails, and when it works again; an alert's own POST
        says the rest (a refused login, a wrong path)."""
        if self._first_hop is None:
            return
        host, port = self._first_hop
        answered = self._answered
        try:
            with socket.create_connection((host, port), timeout=REACHABLE_TIMEOUT_S) as connection:
                if self._tls_host is not None:  # the handshake alone: still no request
                    tls = ssl.create_default_context()  # as urllib's POST checks the certificate
                    tls.wrap_socket(connection, server_hostname=self._tls_host).close()
        except ssl.SSLCertVerificationError as error:
            why = (f"{host}:{port}: its certificate is not trusted here ({error.verify_message}): the POST "
                   "would fail; point SSL_CERT_FILE at the hospital's certificate authority (Windows: add it "
                   "to the machine's certificate store)")
            if self.unreachable is None and self._answered == answered:
                log.warning("the alert endpoint %s answers, but %s; checked again every %.0f s while no "
                            "alert is being sent", self.config.shown_url, why, REACHABLE_EVERY_S)
            self.unreachable = why
            return
        except Exception as error:  # OSError; also UnicodeError, for a name such as x..y that no DNS takes
            why = f"{host}:{port}: {getattr(error, 'strerror', None) or error}"
            if self._answered != answered:  # a POST was answered meanwhile: reached after all
                return
            if self.unreachable is None:
                log.warning("the alert endpoint %s cannot be reached (%s): an alert now would wait; checked "
                            "again every %.0f s while no alert is being sent", self.config.shown_url, why,
                            REACHABLE_EVERY_S)
            self.unreachable = why
            return
        if self.unreachable is not None:
            log.info("the alert endpoint %s can be reached again", self.config.shown_url)
        self.unreachable = None

    def _next_to_send(self) -> dict[str, Any]:
        """The oldest of the alerts raised in the last FRESH_FIRST_S, else the oldest waiting (under
        _condition). Fresh ones are the newest, at the end: only they are looked at, not a backlog.
        This run's alerts are timed by the monotonic clock: by queued_at, an NTP step of a second back
        (or a minute ahead) during an outage sent a fall raised just before it after the whole backlog."""
        now, wall = time.monotonic(), time.time()
        record = self._pending[0]
        for newer in reversed(self._pending):
            raised = self._raised_at.get(newer["id"])
            # An earlier run's: by the wall clock, the only one it shares with this run. Dated ahead (the
            # clock stepped back since): not fresh, or a backlog would go first again.
            age_s = now - raised if raised is not None else wall - newer.get("queued_at", 0.0)
            if not 0.0 <= age_s <= FRESH_FIRST_S:
                break
            record = newer
        return record

    def _back_off(self, outcome: Outcome, detail: str) -> None:
        """Wait before sending the same alert again: backoff_s doubling up to max_backoff_s, +-jitter."""
        self.failures += 1
        self._streak += 1
        # (The doubling stops counting long after max_backoff_s: 2.0 ** 1024 overflowed after some 17 hours
        # of a receiver down, and the exception ended the sender: no alert was sent again until a restart.)
        doubled = self.config.backoff_s * 2.0 ** min(self._streak - 1, 64)
        delay = min(doubled, self.config.max_backoff_s)
        delay *= 1.0 + self.config.jitter * (2.0 * random.random() - 1.0)
        if self._asked_to_wait_s is not None:  # the receiver's Retry-After, as far as max_backoff_s
            delay = max(delay, min(self._asked_to_wait_s, self.config.max_backoff_s))
            self._asked_to_wait_s = None
        self.current_backoff_s = delay
        now = time.monotonic()
        if self._streak == 1:
            self._failing_since = self._reminded_at = now
        if outcome is Outcome.MISCONFIGURED and detail not in self._said_problems:
            self._said_problems.add(detail)
            why = ("redirects are not followed (a redirected POST would arrive as a GET without the alert): "
                   "set --alert-url to where it should go" if "redirect" in detail else
                   "the endpoint refuses this URL or these credentials, not this alert: fix --alert-url, "
                   "--alert-auth-file or the receiver")
            log.error("alert delivery to %s: %s; %s. %d alert(s) wait in %s, tried again every %s",
                      self.config.shown_url, detail, why, self.pending, self.config.queue_path,
                      self._retry_span)
        elif self._streak == 1:
            log.warning("alert delivery to %s failed (%s); tried again every %s, %d alert(s) waiting in %s",
                        self.config.shown_url, detail, self._retry_span, self.pending, self.config.queue_path)
        elif now - self._reminded_at >= OUTAGE_REMINDER_S:
            self._reminded_at = now
            # An ERROR by now: alerts have not reached the nurses for minutes.
            log.error("alert delivery to %s still failing after %.0f min (%s); %d alert(s) waiting in %s",
                        self.config.shown_url, (now - self._failing_since) / 60, detail, self.pending,
                        self.config.queue_path)
        else:
            log.debug("alert delivery failed again (%s); next try in %.2f s", detail, delay)
        self._stop.wait(delay)

    @property
    def _retry_span(self) -> str:
        return f"{self.config.backoff_s:g}-{self.config.max_backoff_s:g} s"

    def _settle(self, record: dict[str, Any], outcome: Outcome, status: int | None, detail: str) -> None:
        """Mark the pending alert `record` delivered or rejected (on disk, then in memory)."""
        if outcome is Outcome.REJECTED:
            log.error("alert %s (sequence %s) was rejected (%s by %s); it will not be sent again "
                      "(kept in %s, then in %s)", record["id"], record.get("sequence"), detail,
                      self.config.shown_url, self.config.queue_path, self.queue.rejected_path)
        mark = {"op": outcome.value, "id": record["id"], "sequence": record.get("sequence"), "status": status,
                "at": round(time.time(), 3)}
        if status is None:
            mark["reason"] = detail
        with self._condition:
            self._pending.remove(record)
            self._raised_at.pop(record["id"], None)
            if outcome is Outcome.DELIVERED:
                self.delivered += 1
            else:
                self.rejected += 1
            self._condition.notify_all()
            with self._unwritten_lock:  # settled: not to be written after its own mark
                self._on_disk.discard(record["id"])
                self._unwritten.pop(record["id"], None)
        # Written by the journal, after the alert's own queued line (the same queue, in order): this
        # thread never waits on the disk. (Also for one the file never took: what became of it is kept.)
        with self._unwritten_lock:
            if self._closed:  # answered after close(): sent again, same key, after a restart
                return
            try:
                if self._journal_ended:
                    raise queue.Full
                self._submitted.put_nowait(mark)
            except queue.Full:  # the disk hangs, or the journal has ended: written after the lines before
                self._marks_waiting.append(mark)

    def _post(self, record: dict[str, Any]) -> tuple[Outcome, int | None, str]:
        """One POST within its deadline: (outcome, HTTP status or None, what happened)."""
        body = {**record["alert"], "id": record["id"], "sequence": record.get("sequence")}
        request = urllib.request.Request(
            self.config.url, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": record["id"],
                     "User-Agent": "where-to-focus-live",
                     **({"Authorization": self.config.authorization} if self.config.authorization else {})})
        post = self._post_deadline = _PostDeadline(self.config.timeout_s)
        watchdog = threading.Thread(target=post.enforce, name="alert-post-deadline", daemon=True)
        try:
            watchdog.start()
        except RuntimeError as error:  # no thread to be had: tried again, as any failure
            return Outcome.RETRY, None, f"no thread for the POST's deadline ({error})"
        try:
            answer = self._answer(request)
        finally:
            cut = post.finish()
            watchdog.join(1.0)  # it ends at once: its POST has finished
        if cut:  # what it read may be a shut socket's end: a status line, and nothing whole after it
            # Sent again, in order: a receiver always slower than this holds back every later alert.
            return Outcome.RETRY, None, (f"no whole answer within {self.config.timeout_s:g} s "
                                         "(--alert-timeout; later alerts wait behind this one)")
        return answer

    def _answer(self, request: urllib.request.Request) -> tuple[Outcome, int | None, str]:
        """What the endpoint answered `request`: (outcome, HTTP status or None, what happened)."""
        try:
            with self._opener.open(request, timeout=self.config.timeout_s) as response:
                response.read(65536)
            return Outcome.DELIVERED, response.status, f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            status = error.code
            headers = error.headers if error.headers is not None else {}
            location, retry_after = headers.get("Location"), headers.get("Retry-After")
            error.close()
            if 300 <= status < 400:
                # Shown as the alert URL is: a proxy moving http:// to https:// keeps the URL's key.
                where = "(no Location)"
                if location:
                    where = shown_url(urllib.parse.urljoin(self.config.url, location))
                return Outcome.MISCONFIGURED, status, f"HTTP {status} redirect to {where}"
            if status in MISCONFIGURED_STATUSES:
                return Outcome.MISCONFIGURED, status, f"HTTP {status}"
            if status >= 500 or status in RETRY_STATUSES:
                # A receiver rate-limiting (429) or overloaded (503) says when to come back: kept to, up to
                # max_backoff_s (a fall must not wait longer than any other retry makes it).
                later = self._asked_to_wait_s = _retry_after_s(retry_after)
                asked = ""
                if later is not None:  # (an HTTP date's is a wait of fractions: whole seconds said)
                    asked = f", asked to try again in {later:.0f} s" if later >= 1 else (
                        f", asked to try again in {later:.1f} s")
                    if later > self.config.max_backoff_s:  # (+-jitter, as every wait)
                        asked += (f" (waits about {self.config.max_backoff_s:g} s, the longest wait between "
                                  "tries)")
                return Outcome.RETRY, status, f"HTTP {status}{asked}"
            return Outcome.REJECTED, status, f"HTTP {status}"
        # Refused, reset, timed out, DNS (URLError is an OSError); a reply cut off or not HTTP at all (a
        # proxy restarting: http.client.HTTPException) is no answer either, not a rejection.
        except (OSError, ValueError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            # An https:// URL through a proxy: the proxy's own answer to CONNECT comes as an OSError
            # (http.client: "Tunnel connection failed: 407 Proxy Authentication Required"), its login
            # refused as surely as a 407 to a plain POST.
            tunnel = re.match(r"Tunnel connection failed: (\d{3})", str(reason))
            if tunnel and int(tunnel.group(1)) in MISCONFIGURED_STATUSES:
                return Outcome.MISCONFIGURED, int(tunnel.group(1)), f"the proxy answered {reason}"
            # The endpoint's own bytes (not HTTP: "SSH-2.0-OpenSSH_9.0\r\n") in one log line, escaped.
            return Outcome.RETRY, None, _one_line(f"{type(reason).__name__}: {reason}")
