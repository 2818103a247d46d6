"""On a CPU, the faster of ONNX Runtime and PyTorch eager for each number of people, by measurement.

Neither wins everywhere. ONNX Runtime has less overhead per call and wins for one person (lite, 2
threads: 58 vs 92 ms); PyTorch's oneDNN convolutions batch better, and on an idle machine eager wins
from 2 people up (README's engine figures). Which one is faster for a batch depends on the CPU, the
threads and the profile, so `open_engine(..., AUTO)` measures both on the model it opens:

    warm-up, then `runs` timed calls of each backend at 1 and MAX_PEOPLE people, interleaved
        --> seconds per call, a line through the two sizes per backend --> per batch size, the lower line
        --> PerBatchEngine: each call goes to the backend chosen for its number of people

The measurement is cached beside the engines (cpu-batching-<model>.json), keyed by CPU, threads and
runtime versions, so it costs a few seconds on the first open only (and once more where that open found
the machine busy and a later one finds it quiet: BUSY_LOAD_PER_CORE). A model too slow to measure within
`budget_s` (the paper profile on a laptop) is measured at one person only, and that backend runs all.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable, Mapping
from importlib import metadata as distributions
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import write_then_rename
from core.engines.cache import making, mark_used
from core.engines.export import example_inputs
from core.engines.interface import MAX_PEOPLE, Backend, Engine, check_shapes
from core.engines.metadata import EngineMetadata
from core.engines.onnxruntime_graph import usable_cores

log = logging.getLogger(__name__)

CALIBRATION_FORMAT = "where-to-focus.cpu-batching/1"
# A measurement taken while the machine was busy (the 1-minute load average per core at or above BUSY) is
# taken again at a start that finds it quiet (below QUIET): a service started with the computer measured
# amid everything else starting, and kept what it found for good. Interleaving the two backends evens out
# a burst of load, not hours of it from a program that has since stopped.
BUSY_LOAD_PER_CORE = 0.5
QUIET_LOAD_PER_CORE = 0.25
# How long a start waits for another process measuring the same model on this machine (about 20 s).
MEASURE_WAIT_S = 120.0


def choose_per_batch(seconds: Mapping[Backend, Mapping[int, float]], max_batch: int) -> dict[int, Backend]:
    """For each batch size 1..max_batch, the backend with the lowest time per call, each backend's time
    taken linear between the sizes it was measured at (constant beyond them). Ties go to the first."""
    plan = {}
    for people in range(1, max_batch + 1):
        estimates = {backend: _interpolate(times, people) for backend, times in seconds.items()}
        plan[people] = min(estimates, key=lambda backend: estimates[backend])
    return plan


def _interpolate(times: Mapping[int, float], people: int) -> float:
    sizes = sorted(times)
    return float(np.interp(people, sizes, [times[s] for s in sizes]))


def describe_plan(plan: Mapping[int, Backend]) -> str:
    """'onnxruntime-cpu for 1 person, pytorch-cpu for 2-6 people'."""
    runs: list[list[Any]] = []  # [backend, first, last]
    for people in sorted(plan):
        if runs and runs[-1][0] is plan[people] and runs[-1][2] == people - 1:
            runs[-1][2] = people
        else:
            runs.append([plan[people], people, people])
    parts = []
    for backend, first, last in runs:
        count = str(first) if first == last else f"{first}-{last}"
        parts.append(f"{backend.value} for {count} {'person' if first == last == 1 else 'people'}")
    return ", ".join(parts)


def measure(
    engines: Mapping[Backend, Engine],
    metadata: EngineMetadata,
    *,
    runs: int = 3,
    budget_s: float = 20.0,
    max_batch: int = MAX_PEOPLE,
) -> dict[Backend, dict[int, float]]:
    """Median seconds per call of each engine at 1 and `max_batch` people (module docstring)."""
    seconds: dict[Backend, dict[int, float]] = {backend: {} for backend in engines}
    for people in (1, max_batch):
        crops, skeleton = example_inputs(metadata, people, seed=people)
        for engine in engines.values():
            engine.run(crops, skeleton)  # warm-up: allocations, thread pools, oneDNN primitives
        times: dict[Backend, list[float]] = {backend: [] for backend in engines}
        for _ in range(runs):
            for backend, engine in engines.items():  # interleaved: a burst of load hits both alike
                started = time.perf_counter()
                engine.run(crops, skeleton)
                times[backend].append(time.perf_counter() - started)
        for backend in engines:
            seconds[backend][people] = float(np.median(times[backend]))
        if people == 1:
            projected = sum(seconds[b][1] for b in engines) * max_batch * (runs + 1)
            if projected > budget_s:
                break  # too slow to measure a full batch: the one-person figures decide
    return seconds


def cpu_model() -> str:
    """The CPU's model name ("Intel(R) Xeon(R) ..." from /proc/cpuinfo; platform's guess elsewhere)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return cpu


def load_per_core() -> float | None:
    """The 1-minute load average per usable core (None where the system keeps none: Windows)."""
    try:
        return os.getloadavg()[0] / usable_cores()
    except (AttributeError, OSError):
        return None


def machine_key(threads: int) -> dict[str, Any]:
    """What the measurement depends on besides the model. PyTorch's version is read without importing it:
    a start whose stored measurement gives it no number of people never loads it."""
    from core.engines.onnxruntime_graph import import_onnxruntime

    onnxruntime = import_onnxruntime()  # onnxruntime or onnxruntime-gpu, whichever is installed
    return {
        "format": CALIBRATION_FORMAT,
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "threads": threads,
        "torch": distributions.version("torch"),
        "onnxruntime": onnxruntime.__version__,
    }


def cached_measurement(
    path: Path,
    key: Mapping[str, Any],
    measure_now: Callable[[], dict[Backend, dict[int, float]]],
) -> tuple[dict[Backend, dict[int, float]], bool]:
    """The measurement stored in `path` under `key`, or `measure_now()` stored there. (seconds, measured)

    A stored record that does not parse, is for another key or holds no usable figures is measured
    again, as is one taken on a busy machine at a start that finds it quiet (BUSY_LOAD_PER_CORE); one
    that cannot be stored is used for this run and the next start measures again. One process measures
    at a time (rooms started together measured against each other, and stored it as a quiet machine's):
    the others wait, then take its figures."""
    mark_used(path)  # before reading it: no other run removes it meanwhile
    if (stored := _stored(path, key, load_per_core(), say=False)) is not None:
        return stored, False
    with making(path, MEASURE_WAIT_S):
        load = load_per_core()
        if (stored := _stored(path, key, load)) is not None:  # measured by the process waited for
            return stored, False
        seconds = measure_now()
        record = {
            "key": dict(key),
            "seconds": {b.value: {str(p): s for p, s in t.items()} for b, t in seconds.items()},
            "load_per_core": None if load is None else round(load, 2),  # before measuring: the others' load
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_then_rename(path, lambda f: f.write(json.dumps(record, indent=1).encode("utf-8")))
        except OSError as error:
            log.warning("%s: could not store the CPU measurement (%s); the next start measures again",
                        path, error)
    return seconds, True


def _stored(path: Path, key: Mapping[str, Any], load: float | None, *, say: bool = True
            ) -> dict[Backend, dict[int, float]] | None:
    """The measurement stored in `path` under `key`, where it can be used at a start that finds the
    machine at `load` (cached_measurement); None: measure again (`say`: why, where it is there)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored["key"] == dict(key):
            seconds = {
                Backend(name): {int(people): float(s) for people, s in times.items()}
                for name, times in stored["seconds"].items()
            }
            # None: a system without a load average. Absent: measured by a version that did not look,
            # perhaps at a busy start (measured again once, at a quiet one).
            busy = stored.get("load_per_core", BUSY_LOAD_PER_CORE) or 0.0
            if not _usable(seconds, key.get("backends")):
                if say:
                    log.warning("%s: the stored CPU measurement has no usable figures; measuring again",
                                path)
            elif busy >= BUSY_LOAD_PER_CORE and load is not None and load < QUIET_LOAD_PER_CORE:
                if say:
                    log.info("%s: measured while the machine was busy (load %.2f a core); measuring again "
                             "now that it is quiet (%.2f)", path, busy, load)
            else:
                return seconds
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # absent, unreadable or for another machine: measure again
    return None


def _usable(seconds: Mapping[Backend, Mapping[int, float]], backends: Any) -> bool:
    """The backends measured (`backends`, their values, where the key names them; else any two or
    more), each with a finite positive time at one person."""
    names = sorted(backend.value for backend in seconds)
    return (names == backends if backends is not None else len(names) >= 2) and all(
        1 in times and all(np.isfinite(s) and s > 0 for s in times.values()) for times in seconds.values()
    )


class PerBatchEngine:
    """Several engines for one model; each call runs on the one chosen for its number of people."""

    def __init__(
        self,
        engines: Mapping[Backend, Engine],
        plan: Mapping[int, Backend],
        metadata: EngineMetadata,
        *,
        reason: str = "",
    ) -> None:
        missing = {backend for backend in plan.values() if backend not in engines}
        if missing or not plan:
            raise ValueError(f"plan {dict(plan)} names backends without an engine: {missing}")
        self.engines = dict(engines)
        self.plan = dict(plan)
        self.metadata = metadata
        self.reason = reason
        names = {backend: engine.name for backend, engine in engines.items()}
        used = sorted(set(plan.values()), key=list(engines).index)
        if len(used) == 1:
            self.name = names[used[0]]
        else:
            self.name = " | ".join(names[b] for b in used) + f" ({describe_plan(plan)})"

    def engine_for(self, people: int) -> Engine:
        return self.engines[self.plan[min(people, max(self.plan))]]

    def run(self, crops: np.ndarray, skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        people = check_shapes(np.asarray(crops), np.asarray(skeleton), self.metadata)
        return self.engine_for(people).run(crops, skeleton)
