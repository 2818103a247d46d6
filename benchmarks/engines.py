"""Engine latency per backend, profile and number of people; and the sweep that sized the `lite` profile.

    python -m benchmarks.engines [--profiles paper lite] [--backends onnxruntime-cpu pytorch-cpu]
                                 [--people 1 2 3 4 5 6] [--threads 2] [--json out/engines.json]
    python -m benchmarks.engines --sweep [--sweep-crops 64 80 96 112] [--sweep-widths 0.25 0.375 0.5]
                                 [--sweep-frames 8 12 16 20] [--threads 2]

For each profile a network with random weights (latency does not depend on them) is saved as a
checkpoint, exported once, and opened on every backend present, each in a fresh process so that its
peak memory is its own. For each number of people: warm-up runs (excluded), then timed runs of
`engine.run` on the same inputs for every backend, until --seconds have passed (at least --min-runs,
at most --max-runs). Reported: p50 / p95 latency per window batch, throughput (windows per second),
peak resident memory (and GPU memory where a GPU backend ran), the time to open the engine
(export / TensorRT build included when not cached). Then the issue's targets, checked on this run:

    lite,  onnxruntime-cpu, 1 person:  p50 <= 100 ms and >= 1.3x faster than pytorch-cpu
    paper, tensorrt (FP16), 1 person:  p50 <= 17 ms (the paper's figure; unmeasured without a GPU)
    skeleton-only network (the profile, or a --checkpoint of one), onnxruntime-cpu, 6 people:
                                       p50 <= 20 ms (issue 15), and <= 10 ms (issue 13: the
                                       skeleton-only decision for six people)

Numbers from a machine shared with other work are noisy: say so when quoting them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.atomic import replace_atomically
from core.engines import (
    AUTO_ORDER,
    MAX_PEOPLE,
    Backend,
    EngineMetadata,
    GraphEngine,
    OnnxRuntimeGraph,
    TorchEngine,
    example_inputs,
    export_onnx,
    open_engine,
    profile_name,
    unavailable_reason,
    usable_cores,
)
from core.engines.cpu_batching import cpu_model
from core.model import (
    PROFILES,
    NetworkConfig,
    PartAttentionNetwork,
    Preprocessing,
    lite,
    load_checkpoint,
    save_checkpoint,
)
from core.model.cost import network_cost
from recordings.argument_types import (
    existing_path,
    integer_in,
    json_file,
    non_negative_float,
    positive_float,
)

CLASSES = 60  # NTU RGB+D 60: the class count only changes the last layer
LITE_TARGET_MS = 100.0
LITE_SPEEDUP_TARGET = 1.3
PAPER_GPU_TARGET_MS = 17.0
SKELETON_TARGET_MS = 20.0  # skeleton-only profile, six people's windows in one call
SKELETON_DECISION_TARGET_MS = 10.0


@dataclass
class Measurement:
    profile: str
    backend: str  # the Backend asked for
    engine: str  # what ran (engine.name)
    people: int
    runs: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    cpu_p50_ms: float  # process CPU time per call, all threads (see time_runs)
    windows_per_s: float
    open_s: float  # opening the engine: loading, exporting / building where not cached
    peak_rss_mb: float  # process peak resident memory while opening and running this backend
    rss_before_mb: float  # resident memory before opening (imports, inputs)
    gpu_mb: float | None  # GPU memory taken while this backend ran (None: no GPU)
    gmacs: float  # per window


# ------------------------------------------------------------------------------------------ memory


def _rss_mb(field: str) -> float:
    """VmRSS / VmHWM of this process in MB (Linux); ru_maxrss where /proc is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource  # POSIX only
    except ImportError:  # Windows: not measured
        return float("nan")
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def _reset_peak_rss() -> None:
    """Start VmHWM afresh (Linux >= 4.0), so a later peak is this backend's, not the imports'."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass  # the peak then includes what came before; each backend runs in its own process anyway


def _gpu_used_mb() -> float | None:
    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return (total - free) / 2**20


# ---------------------------------------------------------------------------------------- measuring


def time_runs(
    run: Any,
    crops: np.ndarray,
    skeleton: np.ndarray,
    *,
    warmup: int,
    seconds: float,
    min_runs: int,
    max_runs: int,
) -> np.ndarray:
    """(wall seconds, process CPU seconds) per call of run(crops, skeleton), warm-up calls excluded.

    CPU time is the steadier figure on a busy machine: with one thread it is close to the wall time
    the same run takes on an idle core (with more, it also counts the threads' spin-waiting)."""
    for _ in range(warmup):
        run(crops, skeleton)
    times: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - started < seconds):
        t0, c0 = time.perf_counter(), time.process_time()
        run(crops, skeleton)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return np.asarray(times), np.asarray(cpu)


def measure_backend(
    checkpoint: str,
    backend: str,
    people: list[int],
    *,
    cache_dir: str,
    gmacs: float,
    threads: int,
    warmup: int,
    seconds: float,
    min_runs: int,
    max_runs: int,
) -> list[dict[str, Any]]:
    """One backend on one checkpoint for each number of people (run in a fresh process)."""
    torch.set_num_threads(threads)  # PyTorch eager gets the same cores as ONNX Runtime
    gpu_before = _gpu_used_mb()
    rss_before = _rss_mb("VmRSS")
    _reset_peak_rss()
    started = time.perf_counter()
    engine = open_engine(checkpoint, Backend(backend), cache_dir=cache_dir, threads=threads)
    open_s = time.perf_counter() - started
    metadata = engine.metadata
    gpu_peak = gpu_before
    results = []
    for count in people:
        crops, skeleton = example_inputs(metadata, count, seed=count)  # the same inputs for every backend
        times, cpu = time_runs(
            engine.run, crops, skeleton, warmup=warmup, seconds=seconds, min_runs=min_runs, max_runs=max_runs
        )
        used = _gpu_used_mb()
        if used is not None and gpu_peak is not None:
            gpu_peak = max(gpu_peak, used)
        results.append(
            dataclasses.asdict(
                Measurement(
                    profile=metadata.profile,
                    backend=backend,
                    engine=engine.name,
                    people=count,
                    runs=len(times),
                    p50_ms=float(np.percentile(times, 50) * 1e3),
                    p95_ms=float(np.percentile(times, 95) * 1e3),
                    mean_ms=float(times.mean() * 1e3),
                    cpu_p50_ms=float(np.percentile(cpu, 50) * 1e3),
                    windows_per_s=float(count * len(times) / times.sum()),
                    open_s=open_s,
                    peak_rss_mb=_rss_mb("VmHWM"),
                    rss_before_mb=rss_before,
                    gpu_mb=None if gpu_before is None else gpu_peak - gpu_before,
                    gmacs=gmacs,
                )
            )
        )
    return results


def random_checkpoint(config: NetworkConfig, path: Path, profile: str) -> Path:
    """A checkpoint of `config` with random weights (attention made non-uniform, as after training)."""
    torch.manual_seed(0)
    network = PartAttentionNetwork(config).eval()
    if network.attention is not None:
        with torch.no_grad():
            network.attention.score.weight.normal_(0, 0.1)
    save_checkpoint(
        path,
        network,
        class_names=[f"class {i + 1}" for i in range(config.num_classes)],
        preprocessing=Preprocessing.matching(
            config, layout="kinect_v2" if config.num_joints == 25 else "kinect_v1"
        ),
        extra={"profile": profile},
    )
    return path


def benchmark(args: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    if args.checkpoint:
        configs = {args.checkpoint: load_checkpoint(args.checkpoint).config}
    else:
        configs = {
            # Named as no trained model is: --cache-dir may be a folder of them (demo.pt was replaced).
            random_checkpoint(PROFILES[name](CLASSES), cache_dir / f"random-{name}.pt", name): PROFILES[name](
                CLASSES
            )
            for name in args.profiles
        }
    backends = [Backend(b) for b in args.backends] if args.backends else [b for b in AUTO_ORDER]
    skipped = {}
    measurements: list[dict[str, Any]] = []
    for checkpoint, config in configs.items():
        gmacs = network_cost(config).gmacs  # counted once here, not in every backend's process
        for backend in backends:
            why_not = unavailable_reason(backend)
            if why_not:
                skipped[backend.value] = why_not
                continue
            kwargs = {
                "cache_dir": str(cache_dir),
                "gmacs": gmacs,
                "threads": args.threads,
                "warmup": args.warmup,
                "seconds": args.seconds,
                "min_runs": args.min_runs,
                "max_runs": args.max_runs,
            }
            print(f"  {checkpoint.stem} on {backend.value} ...", file=sys.stderr, flush=True)
            if args.in_process:
                rows = measure_backend(str(checkpoint), backend.value, args.people, **kwargs)
            else:
                # A fresh process per backend: its peak memory is its own, and no runtime's threads
                # linger while the next one is timed.
                with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                    rows = pool.submit(
                        measure_backend, str(checkpoint), backend.value, args.people, **kwargs
                    ).result()
            # The skeleton targets are about any network without part crops: the profile's random one, or a
            # trained checkpoint's (the README's pku_interactions.pt row, which printed UNMEASURED).
            measurements.extend({**row, "skeleton_only": not config.parts} for row in rows)
    return {
        "machine": machine_description(args.threads),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "skipped_backends": skipped,
        "measurements": measurements,
        "targets": check_targets(measurements, skipped),
    }


def check_targets(measurements: list[dict[str, Any]], skipped: dict[str, str]) -> list[dict[str, Any]]:
    """The issue's latency targets, judged on this run's measurements (None where not measured)."""

    def p50(profile: str | None, backend: Backend, people: int = 1) -> float | None:
        """`profile` None: any skeleton-only network's (a trained checkpoint's is profile "custom")."""
        for m in measurements:
            network = m.get("skeleton_only") if profile is None else m["profile"] == profile
            if network and m["backend"] == backend.value and m["people"] == people:
                return m["p50_ms"]
        return None

    ort, eager = p50("lite", Backend.ONNXRUNTIME_CPU), p50("lite", Backend.PYTORCH_CPU)
    trt = p50("paper", Backend.TENSORRT)
    speedup = eager / ort if ort and eager else None
    # The `skeleton` profile where it was measured (with `--profiles skeleton_lstm skeleton` the first
    # skeleton-only row is the LSTM's), else a trained skeleton-only checkpoint's.
    skeleton = p50("skeleton", Backend.ONNXRUNTIME_CPU, 6) or p50(None, Backend.ONNXRUNTIME_CPU, 6)
    return [
        {
            "target": f"lite, onnxruntime-cpu, 1 person: p50 <= {LITE_TARGET_MS:g} ms",
            "value": ort,
            "unit": "ms",
            "met": None if ort is None else ort <= LITE_TARGET_MS,
        },
        {
            "target": f"lite, onnxruntime-cpu >= {LITE_SPEEDUP_TARGET:g}x faster than pytorch-cpu "
            "(p50, 1 person)",
            "value": speedup,
            "unit": "x",
            "met": None if speedup is None else speedup >= LITE_SPEEDUP_TARGET,
        },
        {
            "target": f"paper, tensorrt FP16, 1 person: p50 <= {PAPER_GPU_TARGET_MS:g} ms",
            "value": trt,
            "unit": "ms",
            "met": None if trt is None else trt <= PAPER_GPU_TARGET_MS,
            "note": skipped.get(Backend.TENSORRT.value, ""),
        },
        *(
            {
                "target": f"skeleton-only network, onnxruntime-cpu, 6 people: p50 <= {limit:g} ms",
                "value": skeleton,
                "unit": "ms",
                "met": None if skeleton is None else skeleton <= limit,
            }
            for limit in (SKELETON_TARGET_MS, SKELETON_DECISION_TARGET_MS)
        ),
    ]


def machine_description(threads: int) -> dict[str, Any]:
    description: dict[str, Any] = {
        "cpu": cpu_model(),
        "usable_cores": usable_cores(),
        "threads": threads,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    for module in ("onnxruntime", "tensorrt"):
        try:
            description[module] = __import__(module).__version__
        except ImportError:
            description[module] = None
    return description


# -------------------------------------------------------------------------------------------- sweep


def sweep(args: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    """ONNX Runtime latency (1 person) over crop size x width x frames around the lite profile; PyTorch
    eager too with --sweep-eager. In one process: the numbers are comparable with each other."""
    torch.set_num_threads(args.threads)
    base = lite(CLASSES)
    rows = []
    for crop in args.sweep_crops:
        for width in args.sweep_widths:
            for frames in args.sweep_frames:
                config = dataclasses.replace(base, crop_size=crop, width=width, num_frames=frames)
                network = PartAttentionNetwork(config).eval()
                metadata = EngineMetadata(
                    class_names=tuple(f"class {i + 1}" for i in range(CLASSES)),
                    profile=profile_name(config),
                    config=config,
                    preprocessing=Preprocessing.matching(config),
                    checkpoint_sha256="0" * 64,
                )
                path = export_onnx(network, metadata, cache_dir / f"sweep-{crop}-{width}-{frames}.onnx")
                crops, skeleton = example_inputs(metadata, 1)
                timing = {
                    "warmup": args.warmup,
                    "seconds": args.seconds,
                    "min_runs": args.min_runs,
                    "max_runs": args.max_runs,
                }
                ort_engine = GraphEngine(OnnxRuntimeGraph(path, threads=args.threads), metadata)
                ort_times, ort_cpu = time_runs(ort_engine.run, crops, skeleton, **timing)
                row = {
                    "crop_size": crop,
                    "width": width,
                    "frames": frames,
                    "gmacs": network_cost(config).gmacs,
                    "parameters_m": sum(p.numel() for p in network.parameters()) / 1e6,
                    "onnxruntime_p50_ms": float(np.percentile(ort_times, 50) * 1e3),
                    "onnxruntime_p95_ms": float(np.percentile(ort_times, 95) * 1e3),
                    "onnxruntime_cpu_p50_ms": float(np.percentile(ort_cpu, 50) * 1e3),
                }
                if args.sweep_eager:
                    eager_times, _ = time_runs(TorchEngine(network, metadata).run, crops, skeleton, **timing)
                    row["pytorch_p50_ms"] = float(np.percentile(eager_times, 50) * 1e3)
                rows.append(row)
                print(_sweep_line(row), file=sys.stderr, flush=True)
                path.unlink()
    return {"machine": machine_description(args.threads), "base": base.to_dict(), "sweep": rows}


def _sweep_line(row: dict[str, Any]) -> str:
    eager = f" {row['pytorch_p50_ms']:>12.1f}" if "pytorch_p50_ms" in row else ""
    return (
        f"{row['crop_size']:>5} {row['width']:>6.3f} {row['frames']:>6} {row['gmacs']:>7.2f} "
        f"{row['parameters_m']:>8.2f} {row['onnxruntime_p50_ms']:>10.1f} "
        f"{row['onnxruntime_p95_ms']:>10.1f} {row['onnxruntime_cpu_p50_ms']:>10.1f}{eager}"
    )


# -------------------------------------------------------------------------------------------- output


def format_table(result: dict[str, Any]) -> str:
    if "sweep" in result:
        eager = " eager p50 ms" if result["sweep"] and "pytorch_p50_ms" in result["sweep"][0] else ""
        header = (
            f"{'crop':>5} {'width':>6} {'frames':>6} {'GMAC':>7} {'params M':>8} {'ORT p50 ms':>10} "
            f"{'ORT p95 ms':>10} {'ORT cpu ms':>10}{eager}"
        )
        lines = [header, "-" * len(header), *(_sweep_line(row) for row in result["sweep"])]
        return "\n".join(lines)
    header = (
        f"{'profile':<8} {'backend':<17} {'people':>6} {'runs':>5} {'p50 ms':>9} {'p95 ms':>9} {'cpu ms':>8} "
        f"{'win/s':>7} {'peak MB':>8} {'GPU MB':>7} {'open s':>7} {'GMAC':>7}"
    )
    lines = [header, "-" * len(header)]
    for m in result["measurements"]:
        gpu = "-" if m["gpu_mb"] is None else f"{m['gpu_mb']:.0f}"
        lines.append(
            f"{m['profile']:<8} {m['backend']:<17} {m['people']:>6} {m['runs']:>5} {m['p50_ms']:>9.1f} "
            f"{m['p95_ms']:>9.1f} {m['cpu_p50_ms']:>8.1f} {m['windows_per_s']:>7.2f} "
            f"{m['peak_rss_mb']:>8.0f} {gpu:>7} {m['open_s']:>7.1f} {m['gmacs']:>7.2f}"
        )
    engines = sorted({(m["backend"], m["engine"]) for m in result["measurements"]})
    lines.append("")
    lines += [f"{backend}: ran as {engine}" for backend, engine in engines]
    lines += [f"{backend}: not measured ({why})" for backend, why in result["skipped_backends"].items()]
    machine = result["machine"]
    load = " ".join(f"{minutes:.2f}" for minutes in machine["load_average"] or ()) or "unknown"
    lines.append(
        f"machine: {machine['cpu']}, {machine['threads']} threads of {machine['usable_cores']} cores, "
        f"GPU {machine['gpu'] or 'none'}, load average {load}"
    )
    for target in result["targets"]:
        verdict = {True: "MET", False: "MISSED", None: "UNMEASURED"}[target["met"]]
        value = "" if target["value"] is None else f" (measured {target['value']:.2f} {target['unit']})"
        note = f" — {target['note']}" if target.get("note") and target["met"] is None else ""
        lines.append(f"target {verdict}: {target['target']}{value}{note}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines",
                                     description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--profiles", nargs="+", default=["paper", "lite"], choices=sorted(PROFILES))
    parser.add_argument("--checkpoint", type=existing_path,
                        help="benchmark this checkpoint instead of the profiles")
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=[b.value for b in (*AUTO_ORDER, Backend.AUTO)],
        help="default: every backend present on this machine (auto: what open_engine picks, on a CPU "
        "ONNX Runtime or PyTorch per number of people)",
    )
    parser.add_argument("--people", nargs="+", type=integer_in(1, MAX_PEOPLE), default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--threads", type=integer_in(1), default=usable_cores(),
                        help="CPU threads for ORT and PyTorch")
    parser.add_argument("--warmup", type=integer_in(0), default=3, help="untimed runs before timing")
    parser.add_argument("--seconds", type=non_negative_float, default=5.0,
                        help="time each case for about this long")
    parser.add_argument("--min-runs", type=integer_in(1), default=5)
    parser.add_argument("--max-runs", type=integer_in(1), default=200)
    parser.add_argument(
        "--cache-dir", type=Path,
        help="where checkpoints, ONNX files and engines go (default: a temporary folder, removed at the end)"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="no process per backend (peak memory shared)"
    )
    parser.add_argument("--json", type=json_file, help="also write the results here (a .json file)")
    parser.add_argument("--sweep", action="store_true", help="size the lite profile: ORT latency over a grid")
    parser.add_argument("--sweep-crops", nargs="+", type=integer_in(1), default=[64, 80, 96, 112])
    parser.add_argument("--sweep-widths", nargs="+", type=positive_float, default=[0.25, 0.375, 0.5])
    parser.add_argument("--sweep-frames", nargs="+", type=integer_in(1), default=[8, 12, 16, 20])
    parser.add_argument("--sweep-eager", action="store_true", help="time PyTorch eager in the sweep too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    with contextlib.ExitStack() as scratch:
        cache_dir = args.cache_dir
        if cache_dir is None:  # a temporary one: its exports (MBs, a paper profile's 100s of MB) go with it
            cache_dir = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="engine-bench-")))
        result = sweep(args, cache_dir) if args.sweep else benchmark(args, cache_dir)
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(args.json, json.dumps(result, indent=1).encode("utf-8"))
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    from recordings.argument_types import run_command

    run_command(main, "python -m benchmarks.engines")
