"""Running figures for the status line and the summary, in fixed memory (the app runs for days)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque

import numpy as np


class LatencyHistogram:
    """Percentiles of durations, in fixed memory: 1 ms bins up to `max_s`, and a recent window.

    `percentile` covers the whole run (the summary); `recent_percentile` the last `recent` values
    (the status line, which should follow changes in load); `percentile_within` those of the last seconds
    among them (a warning, which must not go on saying a load that has gone).
    """

    def __init__(self, max_s: float = 10.0, resolution_s: float = 0.001, recent: int = 300) -> None:
        self._resolution = resolution_s
        self._counts = np.zeros(int(np.ceil(max_s / resolution_s)) + 1, np.int64)
        self._recent: deque[tuple[float, float]] = deque(maxlen=recent)  # (time.monotonic(), value)
        self._lock = threading.Lock()
        self.count = 0
        self.max_s = 0.0

    def add(self, seconds: float) -> None:
        index = min(int(max(seconds, 0.0) / self._resolution), len(self._counts) - 1)
        with self._lock:
            self._counts[index] += 1
            self._recent.append((time.monotonic(), seconds))
            self.count += 1
            self.max_s = max(self.max_s, seconds)

    def percentile(self, q: float) -> float | None:
        """q in [0, 100] over every value added (to the bin's upper edge); None before the first value."""
        with self._lock:
            if self.count == 0:
                return None
            cumulative = np.cumsum(self._counts)
            index = int(np.searchsorted(cumulative, q / 100.0 * self.count, side="left"))
        return min((index + 1) * self._resolution, self.max_s)

    def recent_percentile(self, q: float) -> float | None:
        with self._lock:
            if not self._recent:
                return None
            return float(np.percentile([value for _, value in self._recent], q))

    def percentile_within(self, q: float, window_s: float, at_least: int) -> float | None:
        """q over the recent values added in the last `window_s` seconds; None where fewer than `at_least`
        were (nobody in view, a run paused or ended: not a figure of the load before)."""
        now = time.monotonic()
        with self._lock:
            values = [value for at, value in self._recent if now - at <= window_s]
        return float(np.percentile(values, q)) if len(values) >= at_least else None


class RateMeter:
    """Events per second over the last `window_s` seconds (capture fps)."""

    def __init__(self, window_s: float = 1.0, clock=time.monotonic) -> None:
        self._window = window_s
        self._times: deque[float] = deque(maxlen=1000)
        self._clock = clock
        self._lock = threading.Lock()

    def tick(self, at: float | None = None) -> None:
        with self._lock:
            self._times.append(self._clock() if at is None else at)

    def rate(self) -> float:
        now = self._clock()
        with self._lock:
            while self._times and now - self._times[0] > self._window:
                self._times.popleft()
            if len(self._times) < 2:
                return 0.0
            span = max(now - self._times[0], self._times[-1] - self._times[0])
            return (len(self._times) - 1) / span if span > 0 else 0.0


def available_memory_bytes() -> int | None:
    """Memory this process can still take without swapping: the machine's available memory (Linux's
    MemAvailable, Windows' available physical memory), or less where its cgroup (a systemd unit's
    MemoryMax=, a container's limit) leaves less. None where neither can be read (macOS)."""
    found: list[int] = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    if (left := _cgroup_memory_left()) is not None:
        found.append(left)
    if sys.platform == "win32":
        found += [left] if (left := _windows_available_memory()) is not None else []
    return min(found, default=None)


def _cgroup_memory_left(root: str = "/sys/fs/cgroup", membership: str = "/proc/self/cgroup") -> int | None:
    """What this process's cgroup may still use: its limit less its use, the page cache it can drop not
    counted as used (what a kernel reclaims before it kills: a service that has just written video holds
    gigabytes of it). cgroup v2's memory.max, memory.current and memory.stat's inactive_file; v1's
    memory.limit_in_bytes, memory.usage_in_bytes and total_inactive_file. None without a limit."""
    try:
        with open(membership) as cgroup:
            groups = dict(line.strip().split(":", 2)[1:] for line in cgroup if line.count(":") >= 2)
    except (OSError, ValueError):
        return None
    for controller, folder, limit_file, usage_file, cache_key in (
            ("", root, "memory.max", "memory.current", "inactive_file"),
            ("memory", os.path.join(root, "memory"), "memory.limit_in_bytes", "memory.usage_in_bytes",
             "total_inactive_file")):
        if controller not in groups:
            continue
        # The process's own group; in a container without a cgroup namespace (Docker on cgroup v1) the
        # host's path to it is not there, and the container's group is the mount's root.
        own = os.path.join(folder, groups[controller].lstrip("/"))
        where = own if os.path.isdir(own) else folder
        try:
            with open(os.path.join(where, limit_file)) as limit:
                most = limit.read().strip()
            if most == "max" or int(most) >= 1 << 60:  # no limit (v1 says it with a huge number)
                return None
            with open(os.path.join(where, usage_file)) as usage:
                used = int(usage.read())
            cache = 0
            with contextlib.suppress(OSError), open(os.path.join(where, "memory.stat")) as stat:
                cache = next((int(line.split()[1]) for line in stat if line.split()[:1] == [cache_key]), 0)
            return max(0, int(most) - max(0, used - cache))
        except (OSError, ValueError, IndexError):
            continue
    return None


def _windows_available_memory() -> int | None:
    import ctypes

    class MemoryStatus(ctypes.Structure):  # MEMORYSTATUSEX
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong),
                    *((name, ctypes.c_ulonglong) for name in (
                        "total_physical", "available_physical", "total_page_file", "available_page_file",
                        "total_virtual", "available_virtual", "available_extended"))]

    status = MemoryStatus()
    status.length = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return None
    return int(status.available_physical)


def resident_memory_bytes() -> int | None:
    """This process's resident set size: Linux /proc, else the peak from getrusage; None on Windows."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource  # POSIX only
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere
