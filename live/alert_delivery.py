"""Alerts that are never lost: an append-only queue on disk, and a thread that POSTs them in order.

    AlertDispatcher (headless loop / GUI thread) --submit(payload)--> in-memory hand-off, never blocks
      journal thread  appends {"op": "queued", ...} to the queue file, flush + fsync: the alert is on
                      disk within milliseconds, whatever the endpoint is doing
      sender thread   the oldest undelivered alert first: POST JSON with an Idempotency-Key header
                        2xx                 -> {"op": "delivered"}; the next one
                        no answer, refused, timeout, 5xx, 408, 425, 429
                                            -> wait (backoff_s, doubling up to max_backoff_s, +-jitter)
                                               and send the same alert again
                        any other 4xx       -> the endpoint will never take it: {"op": "rejected"} and an
                                               ERROR line, then the next one (retrying for ever would hold
                                               back every later alert); it stays in the file
    restart         the queue file is read back: alerts neither delivered nor rejected are sent first,
                    in the order they were raised

A crash between a successful POST and its "delivered" line sends that alert again after the restart,
with the same Idempotency-Key (and "id" in the body), so the receiver can drop the duplicate. The
queue file is locked while a process uses it (a second one is refused with a clear error). A last
line cut short by a crash is dropped when the file is read back (that alert was never fully on disk),
damaged lines are reported by line number and skipped, and once every alert is delivered a file over
`compact_bytes` is rewritten empty (atomically): delivered alerts are in the log and the receiver.

Only the standard library (urllib): one POST at a time needs no HTTP client dependency.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

DEFAULT_QUEUE = Path("runs") / "alerts" / "queue.jsonl"  # runs/ is ignored by git
RETRY_STATUSES = frozenset({408, 425, 429})  # 4xx that mean "later", not "never"


@dataclass(frozen=True)
class DeliveryConfig:
    url: str  # http:// or https:// endpoint that takes one alert per POST
    queue_path: Path = DEFAULT_QUEUE
    timeout_s: float = 5.0  # one POST: an endpoint that has not answered by then has failed
    backoff_s: float = 1.0  # wait after the first failure; doubles with each failure in a row
    max_backoff_s: float = 60.0
    jitter: float = 0.1  # +-10% on each wait: rooms restarted together do not retry in lockstep
    compact_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"--alert-url {self.url!r}: expected an http:// or https:// URL")
        if self.timeout_s <= 0 or self.backoff_s <= 0 or self.max_backoff_s < self.backoff_s:
            raise ValueError(f"invalid alert delivery timing {self}")


class QueueInUse(RuntimeError):
    """Another process delivers from this queue file."""


def _lock(handle: IO[bytes], path: Path) -> None:
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        raise QueueInUse(f"alert queue {path} is in use by another process (another `python -m live` "
                         f"delivering alerts?); give each one its own --alert-queue") from error


class AlertQueue:
    """The queue file: JSON lines appended and fsync'd, read back on open. Not thread-safe by itself
    (AlertDelivery serialises appends)."""

    def __init__(self, path: Path | str, compact_bytes: int = 1 << 20) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.path.with_name(self.path.name + ".lock"), "a+b")  # noqa: SIM115
        try:
            _lock(self._lock_file, self.path)
        except QueueInUse:
            self._lock_file.close()
            raise
        self.compact_bytes = compact_bytes
        self.damaged_lines = 0
        self.pending: list[dict[str, Any]] = []  # queued records not delivered / rejected, in order
        self.unsettled = 0  # queued records in the file without their delivered / rejected line
        self.next_sequence = 1
        self._read_back()
        self._file = open(self.path, "ab")  # noqa: SIM115 - closed in close()

    def _read_back(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a crash cut the last line short: that record never fully reached the disk
            log.warning("%s: byte %d: dropping an incomplete last line (%d bytes) left by an interrupted "
                        "write", self.path, end, len(data) - end)
            with open(self.path, "r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        queued: dict[str, dict[str, Any]] = {}
        for number, line in enumerate(data[:end].splitlines(), start=1):
            try:
                record = json.loads(line)
                op, alert_id = record["op"], record["id"]
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as error:
                self.damaged_lines += 1
                log.error("%s: line %d is damaged (%s); skipping it", self.path, number, error)
                continue
            if op == "queued":
                queued[alert_id] = record
                self.next_sequence = max(self.next_sequence, int(record.get("sequence", 0)) + 1)
            elif op in ("delivered", "rejected"):
                queued.pop(alert_id, None)
        self.pending = sorted(queued.values(), key=lambda r: r.get("sequence", 0))
        self.unsettled = len(self.pending)

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.unsettled += 1 if record["op"] == "queued" else -1

    def compact_if_done(self) -> bool:
        """Rewrite the file empty when every alert in it is settled and it has grown past compact_bytes."""
        if self.unsettled or self.damaged_lines or self._file.tell() < self.compact_bytes:
            return False
        self._file.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._file = open(self.path, "ab")  # noqa: SIM115
        return True

    def close(self) -> None:
        self._file.close()
        self._lock_file.close()  # releases the lock


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
        self._submitted: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._file_lock = threading.Lock()
        self._pending: deque[dict[str, Any]] = deque(self.queue.pending)
        self._condition = threading.Condition()
        self._journaled = 0
        self._submitted_count = 0
        self._stop = threading.Event()
        self._closed = False  # the queue file is closed: nothing more is written to it
        if self._pending:
            log.warning("%d alerts from an earlier run were not delivered; sending them first (%s)",
                        len(self._pending), config.queue_path)
        self._journal = threading.Thread(target=self._journal_loop, name="alert-journal", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="alert-sender", daemon=True)
        self._journal.start()
        self._sender.start()

    # ---- producer side ---------------------------------------------------------------------------

    def submit(self, payload: dict[str, Any]) -> str:
        """Queue one alert (a JSON-able dict); returns its idempotency key. Never blocks."""
        alert_id = uuid.uuid4().hex
        with self._condition:
            self._submitted_count += 1
        self._submitted.put({"op": "queued", "id": alert_id, "alert": payload,
                             "queued_at": round(time.time(), 3)})
        return alert_id

    @property
    def pending(self) -> int:
        """Alerts journaled and not yet delivered or rejected."""
        with self._condition:
            return len(self._pending)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted alert is on disk; False after `timeout`."""
        with self._condition:
            return self._condition.wait_for(lambda: self._journaled >= self._submitted_count, timeout)

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until nothing is pending (every submitted alert journaled and delivered or rejected)."""
        with self._condition:
            return self._condition.wait_for(
                lambda: self._journaled >= self._submitted_count and not self._pending, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what can be delivered within `timeout`, then stop; the rest stays queued on disk."""
        self.wait_delivered(timeout)
        self._stop.set()
        self._submitted.put(None)
        with self._condition:
            self._condition.notify_all()
        self._journal.join(10.0)  # disk only: it finishes the alerts already handed over
        # A POST still in flight is not waited for: its alert is on disk, and if the endpoint did take
        # it, the next start sends it again with the same key.
        self._sender.join(1.0)
        left = self.pending
        if left:
            log.warning("%d alerts not delivered to %s yet; they stay in %s and are sent on the next start",
                        left, self.config.url, self.config.queue_path)
        with self._file_lock:
            self.queue.close()
            self._closed = True

    # ---- journal thread: disk only ----------------------------------------------------------------

    def _journal_loop(self) -> None:
        while True:
            record = self._submitted.get()
            if record is None:
                if self._submitted.empty():
                    return
                continue
            try:
                with self._file_lock:
                    record["sequence"] = self.queue.next_sequence
                    self.queue.next_sequence += 1
                    self.queue.append(record)
            except Exception as error:  # the disk is full or gone: still try to send it from memory
                log.error("alert %s could not be written to %s (%s); it is only in memory until sent",
                          record["id"], self.config.queue_path, error)
            with self._condition:
                self._pending.append(record)
                self._journaled += 1
                self._condition.notify_all()

    # ---- sender thread: network only, one alert at a time, in order ------------------------------

    def _send_loop(self) -> None:
        streak = 0  # failures in a row
        failing_since = 0.0
        while not self._stop.is_set():
            with self._condition:
                self._condition.wait_for(lambda: self._pending or self._stop.is_set())
                if self._stop.is_set():
                    return
                record = self._pending[0]
            outcome, detail = self._post(record)
            if outcome == "retry":
                self.failures += 1
                streak += 1
                delay = min(self.config.backoff_s * 2 ** (streak - 1), self.config.max_backoff_s)
                delay *= 1.0 + self.config.jitter * (2.0 * random.random() - 1.0)
                self.current_backoff_s = delay
                if streak == 1:
                    failing_since = time.monotonic()
                    log.warning("alert delivery to %s failed (%s); retrying with backoff, %d waiting",
                                self.config.url, detail, self.pending)
                else:
                    log.debug("alert delivery failed again (%s); next try in %.2f s", detail, delay)
                self._stop.wait(delay)
                continue
            if streak:
                log.info("alert delivery to %s works again after %d failed tries (%.0f s)", self.config.url,
                         streak, time.monotonic() - failing_since)
                streak = 0
            self.current_backoff_s = 0.0
            self._settle(record, outcome, detail)

    def _settle(self, record: dict[str, Any], outcome: str, status: int) -> None:
        """Mark the oldest pending alert delivered or rejected (on disk, then in memory)."""
        if outcome == "rejected":
            log.error("alert %s (sequence %s) was rejected by %s with HTTP %s; it will not be sent again "
                      "(kept in %s)", record["id"], record.get("sequence"), self.config.url, status,
                      self.config.queue_path)
        mark = {"op": outcome, "id": record["id"], "sequence": record.get("sequence"), "status": status,
                "at": round(time.time(), 3)}
        try:
            with self._file_lock:
                if self._closed:  # answered after close(): it is sent (again, same key) after a restart
                    return
                self.queue.append(mark)
        except OSError as error:  # sent anyway: at worst it is sent once more after a restart
            log.error("could not mark alert %s %s in %s: %s", record["id"], outcome, self.config.queue_path,
                      error)
        with self._condition:
            self._pending.popleft()
            if outcome == "delivered":
                self.delivered += 1
            else:
                self.rejected += 1
            left = len(self._pending)
            self._condition.notify_all()
        if not left:
            with self._file_lock:
                if not self._closed:
                    self.queue.compact_if_done()

    def _post(self, record: dict[str, Any]) -> tuple[str, Any]:
        """One POST: ("delivered", status), ("rejected", status) or ("retry", why)."""
        body = {**record["alert"], "id": record["id"], "sequence": record.get("sequence")}
        request = urllib.request.Request(
            self.config.url, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": record["id"],
                     "User-Agent": "where-to-focus-live"})
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                response.read(65536)
                return "delivered", response.status
        except urllib.error.HTTPError as error:
            status = error.code
            error.close()
            if status >= 500 or status in RETRY_STATUSES:
                return "retry", f"HTTP {status}"
            return "rejected", status
        except (OSError, ValueError) as error:  # refused, reset, timed out, DNS; URLError is an OSError
            reason = getattr(error, "reason", error)
            return "retry", f"{type(reason).__name__}: {reason}"
