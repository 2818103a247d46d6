"""Everything a GPU can show, in one command: `python -m benchmarks.gpu` (from the repository root).

    python -m benchmarks.gpu                      # a GPU machine: at most ~8 minutes, JSON path printed
    python -m benchmarks.gpu --out gpu.json       # the JSON file where you want it
    python -m benchmarks.gpu --cpu-smoke          # tiny sizes on a CPU: the whole command checked end to end

Parts, in this order (each in a fresh process with a time box; one that fails or runs out of time
records its error and the rest still run; the whole run keeps within --budget-s):

    setup         versions (Python, torch, CUDA, cuDNN, GPU, onnx, onnxruntime, TensorRT, OpenCV), and
                  random-weight checkpoints of the paper and lite profiles (latency does not depend on
                  the weights)
    latency-gpu   every profile on pytorch-cuda (FP16 I3Ds, CUDA graphs; crops fed as float32 and as
                  uint8) and PyTorch FP32 eager on the GPU first (their rows judge the targets), then ONNX
                  Runtime CUDA, then TensorRT last (where installed: a paper-profile build can take
                  minutes; crops as float32 and uint8); 1 and 6 people: p50 / p95 per call, windows/s
    rewrites      pytorch-cuda's defaults against each of its measured choices undone (page-locked
                  staging, BatchNorm folded), uint8 crops, with how far the logits move; where the
                  six-person call goes (copy in, graph replay, top kernels)
    parity        FP16 vs FP32 on real NTU crops (the A001 clip and its video): top-1 agreement, max
                  logits and attention differences, for the trained demo model and the random profiles;
                  pytorch-cuda (FP16 I3Ds) and a whole-network FP16 copy vs FP32 on the GPU, and the FP16
                  ONNX graph vs FP32 on ONNX Runtime's CPU provider
    live          `python -m live --headless` replaying the A001 clip (looped, real time) on the GPU
                  engine: frame-to-decision latency p50 / p95, inference p50 / p95; then the simulated
                  room with up to six people at once: frame to decision by people decided for per hop
    training      an AMP training step per stage of Algorithm 1 (parts, pose, attention, finetune):
                  windows/s, peak GPU memory
    ddp           a one-process NCCL DistributedDataParallel step (gloo on a CPU)
    latency-cpu   ONNX Runtime (CPU) per profile, 1 and 6 people (the GPU machine's CPU, for scale)
    compile       pytorch-cuda with torch.compile before capture (lite), 1 and 6 people

Targets judged on the run: paper profile <= 17 ms per window for one person (the paper's GTX 1080 Ti
figure) and six people in one call <= 17 ms.

Imports: this file needs only the standard library; each part imports what it uses (torch, onnx,
onnxruntime, cv2 ...) inside its own process, so a machine without one of them loses that part only.
Run from the repository root with or without `pip install -e . --no-deps`. Real data: see --data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import functools
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from core.atomic import replace_atomically
from recordings.argument_types import json_file, output_folder, positive_float

REPO_ROOT = Path(__file__).resolve().parents[1]
NTU_CLIP = "S001C001P001R001A001"
PAPER_BUDGET_MS = 17.0  # the paper: 17 ms per frame for the whole network on a GTX 1080 Ti
DEFAULT_BUDGET_S = 450.0  # the whole command, within the 8 minutes a borrowed GPU gives
DEMO_CHECKPOINT = REPO_ROOT / "training" / "checkpoints" / "demo.pt"

MIN_PART_S = 15.0  # a part with less time than this left is skipped, not started


# ================================================================================= the orchestrator


def find_data(explicit: Path | None) -> Path | None:
    """The shared data folder holding the NTU A001 clip (skeleton + RGB video), or None."""
    candidates = [explicit] if explicit else []
    if os.environ.get("SHARED_DATA"):
        candidates.append(Path(os.environ["SHARED_DATA"]))
    candidates += [REPO_ROOT / "shared" / "data", REPO_ROOT.parent / "shared" / "data"]
    for folder in candidates:
        if folder and (folder / "ntu" / "skeletons" / f"{NTU_CLIP}.skeleton").is_file():
            return folder
    return None


def run_part(part: Part, seconds: float, args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    """One part in a fresh Python process (its own process group, killed whole at the time box)."""
    name = part.value
    result_path = work_dir / f"{name}.json"
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.gpu", "--worker", name, "--work-dir", str(work_dir)]
    if args.cpu_smoke:
        command.append("--cpu-smoke")
    if args.data_found:
        command += ["--data", str(args.data_found)]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    log_path = work_dir / f"{name}.log"
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode: int | None = process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGKILL)  # its session: whatever it started too
            else:
                process.kill()
            process.wait()
            returncode = None
    record: dict[str, Any] = {}
    if result_path.is_file():
        try:
            record = json.loads(result_path.read_text(encoding="utf-8"))
        except ValueError:
            record = {}
    record["part"] = name
    record["seconds"] = round(time.monotonic() - started, 1)
    record["time_box_s"] = round(seconds, 1)
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    if returncode is None:
        record.setdefault("errors", []).append(f"timed out after {seconds:.0f} s (results so far kept)")
        record["log_tail"] = tail
    elif returncode != 0:
        record.setdefault("errors", []).append(f"exited with status {returncode}")
        record["log_tail"] = tail
    return record


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    budget_end = time.monotonic() + args.budget_s
    started = time.monotonic()
    args.data_found = find_data(args.data)
    report: dict[str, Any] = {
        "command": "python -m benchmarks.gpu" + (" --cpu-smoke" if args.cpu_smoke else ""),
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": sys.version.split()[0],
        "cpu_smoke": args.cpu_smoke,
        "data": str(args.data_found) if args.data_found else None,
        "budget_s": args.budget_s,
        "parts": {},
    }
    wanted = set(args.parts) if args.parts else set(Part)
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as scratch:
        work_dir = Path(args.work_dir) if args.work_dir else Path(scratch)
        work_dir.mkdir(parents=True, exist_ok=True)
        for part in Part:  # in their order of priority
            if part not in wanted:
                continue
            name = part.value
            left = budget_end - time.monotonic()
            box = min(part.smoke_box_s if args.cpu_smoke else part.gpu_box_s, left)
            if box < MIN_PART_S:
                report["parts"][name] = {
                    "part": name,
                    "skipped": f"no time left ({left:.0f} s of the budget)",
                }
                print(f"[{name}] skipped: {left:.0f} s of the budget left", flush=True)
                continue
            print(f"[{name}] running (time box {box:.0f} s) ...", flush=True)
            record = run_part(part, box, args, work_dir)
            report["parts"][name] = record
            status = "; ".join(record.get("errors", [])) or "ok"
            print(f"[{name}] {record['seconds']:.0f} s: {status}", flush=True)
            _save(report, args.out)  # after every part: a run cut short still leaves what it measured
    report["seconds"] = round(time.monotonic() - started, 1)
    report["targets"] = judge_targets(report)
    return report


def judge_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = report["parts"].get("latency-gpu", {}).get("measurements", [])
    fastest: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row.get("profile") == "paper" and row.get("p50_ms") is not None:
            people = row["people"]
            if people not in fastest or row["p50_ms"] < fastest[people]["p50_ms"]:
                fastest[people] = row
    targets = []
    for people, what in ((1, "one person's window"), (6, "six people in one call")):
        row = fastest.get(people)
        targets.append(
            {
                "target": f"paper profile, {what}: p50 <= {PAPER_BUDGET_MS:g} ms",
                "value_ms": None if row is None else row["p50_ms"],
                "backend": None if row is None else row["engine"],
                "met": None if row is None else row["p50_ms"] <= PAPER_BUDGET_MS,
            }
        )
    return targets


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def _format_variants(part: dict[str, Any]) -> list[str]:
    """The rewrites part: each variant's p50 against the defaults' (same process, same windows), how far
    its logits are from theirs, and where the defaults' largest call goes."""
    rows = part.get("measurements", [])
    if not rows:
        return []
    base = {m["people"]: m["p50_ms"] for m in rows if m["backend"] == "pytorch-cuda"}
    agreement = {(a["backend"], a["people"]): a for a in part.get("agreement", [])}
    title = f"pytorch-cuda's defaults, each undone ({rows[0]['profile']}, uint8 crops, against the defaults)"
    lines = ["", title,
             f"  {'variant':<30} {'people':>6} {'p50 ms':>8} {'vs defaults':>11} {'logits max diff':>15} "
             f"{'top-1 agree':>11}"]  # fmt: skip
    for m in rows:
        match = agreement.get((m["backend"], m["people"]))
        change = "" if m["backend"] == "pytorch-cuda" or m["people"] not in base else (
            f"{m['p50_ms'] / base[m['people']] - 1:+.0%}")  # fmt: skip
        lines.append(
            f"  {m['backend']:<30} {m['people']:>6} {_ms(m['p50_ms']):>8} {change:>11} "
            + (f"{match['logits_error']:>15.2e} {match['top1_agreement']:>11.1%}" if match else "")
        )
    split = part.get("where_the_time_goes")
    if split:
        replay = split.get("graph_replay_ms")
        lines += ["", f"where {split['people']} people's call goes (defaults): inputs in "
                      f"{split['inputs_in_ms']:.2f} ms, graph replay {_ms(replay)} ms; the kernels of one "
                      f"eager forward, {split['kernels_ms']:.2f} ms:"]  # fmt: skip
        lines += [f"  {k['share']:>5.0%} {k['ms']:>8.2f} ms {k['calls']:>5} calls  {k['kernel']}"
                  for k in split["top_kernels"]]  # fmt: skip
    return lines


def format_report(report: dict[str, Any]) -> str:
    parts = report["parts"]
    kind = "CPU smoke: checks that every part runs; its times say nothing of a GPU" if report["cpu_smoke"] \
        else "GPU"
    lines = [f"benchmarks.gpu ({kind}), {report['seconds']:.0f} s"]
    setup = parts.get("setup", {})
    env = setup.get("environment", {})
    if env:
        lines.append(
            f"  {env.get('gpu') or 'no GPU'} | torch {env.get('torch')} CUDA {env.get('cuda')} cuDNN "
            f"{env.get('cudnn')} | onnxruntime {env.get('onnxruntime')} | TensorRT {env.get('tensorrt')} | "
            f"{env.get('cpu_count')} CPUs"
        )
    lines.append(f"  real NTU data: {report['data'] or 'not found (random crops, simulated room)'}")
    latency = [*parts.get("latency-gpu", {}).get("measurements", []),
               *parts.get("latency-cpu", {}).get("measurements", []),
               *parts.get("compile", {}).get("measurements", [])]  # fmt: skip
    if latency:
        header = (
            f"  {'profile':<7} {'backend':<28} {'crops':<7} {'people':>6} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'win/s':>8}"
        )
        lines += ["", "latency (numpy in -> numpy out, per call)", header]
        for m in latency:
            lines.append(
                f"  {m['profile']:<7} {m['backend'][:28]:<28} {m.get('crops_dtype', 'float32'):<7} "
                f"{m['people']:>6} {_ms(m['p50_ms']):>8} {_ms(m['p95_ms']):>8} {m['windows_per_s']:>8.1f}"
            )
        # How each engine runs (graphs captured, compiled, or why not): the reason, not only the name.
        opened = [o for name in ("latency-gpu", "rewrites", "latency-cpu", "compile")
                  for o in parts.get(name, {}).get("open_s", [])]  # fmt: skip
        lines += ["", "engines opened"] + [
            f"  {o['profile']} {o['backend']}: {o['seconds']:.1f} s to open; {o.get('engine', '')}"
            + (f"; {o['reason']}" if o.get("reason") else "") for o in opened
        ]
    lines += _format_variants(parts.get("rewrites", {}))
    parity = parts.get("parity", {}).get("comparisons", [])
    if parity:
        lines += ["", "FP16 vs FP32 (" + parts["parity"].get("inputs", "?") + ")"]
        lines.append(
            f"  {'model':<22} {'comparison':<52} {'windows':>7} {'top-1 agree':>11} {'logits max':>10} "
            f"{'attn max':>9}"
        )
        for c in parity:
            lines.append(
                f"  {c['model']:<22} {c['comparison'][:52]:<52} {c['windows']:>7} "
                f"{c['top1_agreement']:>11.1%} {c['logits_error']:>10.2e} {c['attention_error']:>9.2e}"
            )
    live = parts.get("live", {})
    if live.get("decisions"):
        lines += [
            "",
            f"live --headless, {live.get('source')} on {live.get('engine')}: {live['decisions']} decisions, "
            f"frame->decision p50 {_ms(live.get('latency_p50_ms'))} ms, "
            f"p95 {_ms(live.get('latency_p95_ms'))} ms; "
            f"inference p50 {live.get('inference_p50_ms', '-')} ms, "
            f"p95 {live.get('inference_p95_ms', '-')} ms",
        ]
    crowded = live.get("crowded", {})
    if crowded.get("decisions"):
        lines.append(f"live --headless, {crowded['source']} on {crowded.get('engine')}: frame->decision "
                     "by the people decided for in one hop (the hop's last decision)")
        for row in crowded["by_people"]:
            who = "1 person" if row["people"] == 1 else f"{row['people']} people"
            lines.append(f"  {who:>8}: {row['hops']:>4} hops, p50 {_ms(row['p50_ms'])} ms, "
                         f"p95 {_ms(row['p95_ms'])} ms")
    training = parts.get("training", {}).get("steps", [])
    if training:
        lines += ["", f"training step ({'AMP FP16' if training[0].get('amp') else 'FP32'})"]
        for s in training:
            memory = "" if s.get("peak_gpu_mb") is None else f", {s['peak_gpu_mb']:.0f} MiB allocated at most"
            lines.append(
                f"  {s['profile']:<7} {s['stage']:<9} batch {s['batch']:>3}: "
                f"{s['windows_per_s']:>8.1f} windows/s ({s['step_ms']:.1f} ms per step{memory})"
            )
    ddp = parts.get("ddp", {})
    if "backend" in ddp:
        lines += [
            "",
            f"DDP one process ({ddp['backend']}): {'ok' if ddp.get('ok') else 'FAILED'}, "
            f"{ddp.get('detail', '')}",
        ]
    lines.append("")
    for target in report.get("targets", []):
        verdict = {True: "MET", False: "MISSED", None: "UNMEASURED"}[target["met"]]
        value = "" if target["value_ms"] is None else f" ({target['value_ms']:.2f} ms on {target['backend']})"
        lines.append(f"target {verdict}: {target['target']}{value}")
    for name, record in parts.items():
        for error in record.get("errors", []):
            lines.append(f"[{name}] error: {error}")
        if record.get("errors") and record.get("log_tail"):  # the JSON has more; the screen may be all we get
            lines += [f"[{name}]   | {line}" for line in record["log_tail"].strip().splitlines()[-6:]]
        if record.get("skipped"):
            lines.append(f"[{name}] skipped: {record['skipped']}")
        for note in record.get("notes", []):
            lines.append(f"[{name}] note: {note}")
    return "\n".join(lines)


# ====================================================================================== the workers


class Result:
    """A worker's record, written after every change so a part killed at its time box keeps what it had."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"errors": [], "notes": []}
        self.save()

    def save(self) -> None:
        replace_atomically(self.path, json.dumps(self.data, indent=1, default=str).encode("utf-8"))

    def add(self, key: str, value: Any) -> None:
        self.data.setdefault(key, []).append(value)
        self.save()

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def error(self, what: str, error: BaseException) -> None:
        self.add("errors", f"{what}: {type(error).__name__}: {error}")
        traceback.print_exc()

    def note(self, text: str) -> None:
        self.add("notes", text)


def _profiles(smoke: bool) -> tuple[str, ...]:
    return ("tiny",) if smoke else ("paper", "lite")


def _people(smoke: bool) -> tuple[int, ...]:
    return (1, 2) if smoke else (1, 6)


def _checkpoint(work_dir: Path, profile: str) -> Path:
    return work_dir / f"random-{profile}.pt"  # as no trained model is named: --work-dir may hold some


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1e3

    return {
        "p50_ms": statistics.median(ordered) * 1e3,
        "p95_ms": pick(0.95),
        "mean_ms": statistics.fmean(ordered) * 1e3,
    }


def _time_calls(
    run: Any, crops: Any, skeleton: Any, *, warmup: int, seconds: float, max_runs: int
) -> list[float]:
    for _ in range(warmup):
        run(crops, skeleton)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < 3 or time.perf_counter() - started < seconds):
        t0 = time.perf_counter()
        run(crops, skeleton)
        times.append(time.perf_counter() - t0)
    return times


def _measure(
    result: Result,
    engine: Any,
    profile: str,
    backend: str,
    people: int,
    *,
    smoke: bool,
    crops_dtype: str = "float32",
    seconds: float | None = None,
    warmup: int = 3,
) -> None:
    from core.engines import example_inputs

    crops, skeleton = example_inputs(engine.metadata, people, seed=people)
    if crops_dtype == "uint8":
        crops = crops.round().astype("uint8")
    times = _time_calls(engine.run, crops, skeleton, warmup=1 if smoke else warmup,
                        seconds=seconds if seconds is not None else (0.3 if smoke else 3.0),
                        max_runs=5 if smoke else 300)  # fmt: skip
    stats = _percentiles(times)
    result.add(
        "measurements",
        {"profile": profile, "backend": backend, "engine": engine.name, "people": people, "runs": len(times),
         "crops_dtype": crops_dtype, **stats, "windows_per_s": people * len(times) / sum(times)},
    )  # fmt: skip


def worker_setup(result: Result, args: argparse.Namespace) -> None:
    import importlib

    env: dict[str, Any] = {"python": sys.version.split()[0], "cpu_count": os.cpu_count()}
    for module in ("numpy", "torch", "onnx", "onnxruntime", "tensorrt", "cv2", "yaml", "tqdm"):
        try:
            env[module] = getattr(importlib.import_module(module), "__version__", "present")
        except Exception as error:  # absent or broken: the parts that need it say so
            env[module] = None
            result.note(f"{module} not importable ({type(error).__name__}: {error})")
    import torch

    env["cuda_available"] = torch.cuda.is_available()
    env["cuda"] = torch.version.cuda
    env["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        env["gpu"] = properties.name
        env["gpu_memory_gib"] = round(properties.total_memory / 2**30, 1)
        env["compute_capability"] = f"{properties.major}.{properties.minor}"
        try:
            version = torch.cuda.nccl.version()
            env["nccl"] = ".".join(map(str, version)) if isinstance(version, tuple) else str(version)
        except Exception as error:  # a build without NCCL: the ddp part says so
            env["nccl"] = None
            result.note(f"NCCL version unknown ({type(error).__name__}: {error})")
        env["gpu_count"] = torch.cuda.device_count()
    else:
        env["gpu"] = None
    try:
        from core.engines.onnxruntime_graph import import_onnxruntime

        env["onnxruntime_providers"] = import_onnxruntime().get_available_providers()
    except Exception:  # noqa: S110 (recorded as absent above)
        pass
    result.set("environment", env)

    from core.model import PROFILES, PartAttentionNetwork, Preprocessing, save_checkpoint

    for profile in _profiles(args.cpu_smoke):
        config = PROFILES[profile](60)
        torch.manual_seed(0)
        network = PartAttentionNetwork(config).eval()
        with torch.no_grad():  # attention that depends on the pose, as after training
            network.attention.score.weight.normal_(0, 0.1)
        save_checkpoint(_checkpoint(args.work_dir, profile), network,
                        class_names=[f"A{i + 1:03d}" for i in range(60)],
                        preprocessing=Preprocessing.matching(config, layout="kinect_v2"),
                        extra={"profile": profile})  # fmt: skip
        result.add("checkpoints", str(_checkpoint(args.work_dir, profile)))


def latency_plan(profiles: Sequence[str], present: Collection[Any]) -> list[tuple[str, Any, bool]]:
    """(profile, core.engines.Backend, FP32 eager) in the order latency-gpu measures them.

    pytorch-cuda and PyTorch FP32 eager on every profile first: their rows judge the 17 ms targets. Then
    ONNX Runtime CUDA and, last, TensorRT, where `present`: a TensorRT build of the paper profile can take
    minutes, and measured first it could use up the time box before pytorch-cuda ever ran.
    """
    from core.engines import Backend

    plan = [(profile, Backend.PYTORCH_CUDA, eager) for profile in profiles for eager in (False, True)]
    for backend in (Backend.ONNXRUNTIME_CUDA, Backend.TENSORRT):
        if backend in present:
            plan += [(profile, backend, False) for profile in profiles]
    return plan


def worker_latency_gpu(result: Result, args: argparse.Namespace) -> None:
    import torch

    from core.engines import (
        Backend,
        CudaOptions,
        EngineMetadata,
        TorchCudaEngine,
        TorchEngine,
        open_engine,
        unavailable_reason,
    )
    from core.model import load_checkpoint

    smoke = args.cpu_smoke
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not smoke:
        result.note("no CUDA GPU: nothing to measure here (use --cpu-smoke on a CPU)")
        return
    present = set()
    for backend in (Backend.ONNXRUNTIME_CUDA, Backend.TENSORRT):
        why_not = unavailable_reason(backend)
        if why_not:
            result.note(f"{backend.value} not measured: {why_not}")
        else:
            present.add(backend)
    loaded = {profile: load_checkpoint(_checkpoint(args.work_dir, profile)) for profile in _profiles(smoke)}
    for profile, backend, fp32_eager in latency_plan(_profiles(smoke), present):
        checkpoint = _checkpoint(args.work_dir, profile)
        metadata = EngineMetadata.from_checkpoint(loaded[profile], loaded[profile].sha256)
        label = f"{backend.value}-fp32-eager" if fp32_eager else backend.value
        if fp32_eager:
            opener = functools.partial(TorchEngine, loaded[profile].model, metadata, device)
        elif backend is Backend.PYTORCH_CUDA:
            # Graphs for the sizes measured only: each other size costs autotuning and a capture.
            options = CudaOptions(warmup_runs=1 if smoke else 3, graph_batches=_people(smoke))
            opener = functools.partial(
                TorchCudaEngine, loaded[profile].model, metadata, device, options=options
            )
        else:
            opener = functools.partial(open_engine, checkpoint, backend, cache_dir=args.work_dir / "cache")
        # uint8 crops too where the engine converts on the GPU (what the live app feeds it).
        on_gpu = backend in (Backend.PYTORCH_CUDA, Backend.TENSORRT) and not fp32_eager
        feeds = ("float32", "uint8") if on_gpu else ("float32",)
        _time_engine(result, profile, label, opener, feeds, smoke=smoke)
        if device == "cuda":
            torch.cuda.empty_cache()


def _time_engine(
    result: Result, profile: str, label: str, opener: Callable[[], Any], feeds: Sequence[str], *, smoke: bool
) -> None:
    """Open one engine and time it for each number of people and crop dtype; an error is recorded."""
    try:
        started = time.perf_counter()
        engine = opener()
        opened = {"profile": profile, "backend": label, "seconds": time.perf_counter() - started}
        result.add("open_s", {**opened, "engine": engine.name, "reason": engine.reason})
        for people in _people(smoke):
            for crops_dtype in feeds:
                _measure(result, engine, profile, label, people, smoke=smoke, crops_dtype=crops_dtype)
    except Exception as error:
        result.error(f"{profile} on {label}", error)


# pytorch-cuda's defaults that a GPU run decided (core/engines/torch_engine.py), each undone: page-locked
# staging (pageable: +6-24% / +14-20% for 1 / 6 people in two runs on an H200) and folded BatchNorms
# (unfolded: +23-30% / +15%). Kept so that another GPU or driver can show whether they still hold.
ENGINE_VARIANTS: tuple[tuple[str, dict[str, bool]], ...] = (
    ("pageable-staging", {"pinned_staging": False}),
    ("unfolded-batch-norm", {"fold_batch_norm": False}),
)


def worker_rewrites(result: Result, args: argparse.Namespace) -> None:
    """pytorch-cuda with its defaults and with each of ENGINE_VARIANTS, all in this one process, on the
    largest profile, fed uint8 crops as the live app feeds them: p50 per call, and each variant's logits
    against the defaults' on the same windows (each computes the same function; FP16 rounds
    differently). On a GPU also where the defaults' largest call goes: copying the inputs in, replaying
    the graph, and the top kernels of one forward (torch.profiler)."""
    import numpy as np
    import torch

    from core.engines import CudaOptions, EngineMetadata, TorchCudaEngine, example_inputs
    from core.model import load_checkpoint

    smoke = args.cpu_smoke
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not smoke:
        result.note("no CUDA GPU: nothing to measure here (use --cpu-smoke on a CPU)")
        return
    profile = _profiles(smoke)[0]
    checkpoint = _checkpoint(args.work_dir, profile)
    loaded = load_checkpoint(checkpoint)
    metadata = EngineMetadata.from_checkpoint(loaded, loaded.sha256)
    windows = {}
    for people in _people(smoke):
        crops, skeleton = example_inputs(metadata, people, seed=people)
        windows[people] = (crops.round().astype(np.uint8), skeleton)  # as _measure feeds them
    reference: dict[int, np.ndarray] = {}
    for label, settings in (("defaults", {}), *ENGINE_VARIANTS):
        name = f"pytorch-cuda+{label}" if settings else "pytorch-cuda"
        options = CudaOptions(warmup_runs=1 if smoke else 3, graph_batches=_people(smoke), **settings)
        try:
            started = time.perf_counter()
            engine = TorchCudaEngine(loaded.model, metadata, device, options=options)
            opened = {"profile": profile, "backend": name, "seconds": time.perf_counter() - started}
            result.add("open_s", {**opened, "engine": engine.name, "reason": engine.reason})
            for people, (crops, skeleton) in windows.items():
                _measure(result, engine, profile, name, people, smoke=smoke, crops_dtype="uint8")
                logits = engine.run(crops, skeleton)[0]
                if not settings:
                    reference[people] = logits
                elif people in reference:
                    result.add("agreement", {
                        "backend": name, "people": people,
                        "logits_error": float(np.abs(logits - reference[people]).max()),
                        "top1_agreement": float((logits.argmax(1) == reference[people].argmax(1)).mean()),
                    })  # fmt: skip
            if not settings and device == "cuda":
                result.set("where_the_time_goes", _where_the_time_goes(engine, *windows[max(windows)]))
            del engine
        except Exception as error:
            result.error(f"{profile} on {name}", error)
        if device == "cuda":
            torch.cuda.empty_cache()


def _where_the_time_goes(engine: Any, crops: Any, skeleton: Any) -> dict[str, Any]:
    """One call of `engine` (a TorchCudaEngine on a GPU) taken apart: the median time to copy the inputs
    into its buffers and to replay its graph, and the top GPU kernels of one eager forward."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    people = len(skeleton)

    def median_ms(call: Callable[[], Any]) -> float:
        for _ in range(3):
            call()
        torch.cuda.synchronize()
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            call()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e3

    split: dict[str, Any] = {"people": people, "engine": engine.name,
                             "inputs_in_ms": median_ms(lambda: engine.inputs.load(crops, skeleton, people))}
    graphs = engine._graphs  # the benchmark looks inside: no engine API needs to expose its graphs
    if people in graphs:
        split["graph_replay_ms"] = median_ms(graphs[people][0].replay)
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CUDA]) as profiler:
        engine.network(*engine.inputs.view(people))
        torch.cuda.synchronize()
    kernels = sorted(((event.key, event.self_device_time_total, event.count)
                      for event in profiler.key_averages()), key=lambda k: -k[1])  # fmt: skip
    total_us = sum(us for _, us, _ in kernels) or 1.0
    split["kernels_ms"] = total_us / 1e3
    split["top_kernels"] = [{"kernel": key[:90], "ms": us / 1e3, "calls": calls, "share": us / total_us}
                            for key, us, calls in kernels[:8]]  # fmt: skip
    return split


def worker_latency_cpu(result: Result, args: argparse.Namespace) -> None:
    from core.engines import Backend, open_engine, usable_cores

    for profile in ("tiny",) if args.cpu_smoke else ("lite", "paper"):
        try:
            checkpoint = _checkpoint(args.work_dir, profile)
            started = time.perf_counter()
            threads = 1 if args.cpu_smoke else usable_cores()
            engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=args.work_dir / "cache",
                                 threads=threads)  # fmt: skip
            result.add("open_s", {"profile": profile, "backend": "onnxruntime-cpu", "engine": engine.name,
                                  "seconds": time.perf_counter() - started})  # fmt: skip
            for people in _people(args.cpu_smoke):
                _measure(result, engine, profile, "onnxruntime-cpu", people, smoke=args.cpu_smoke,
                         seconds=None if args.cpu_smoke else 5.0, warmup=1)  # fmt: skip
        except Exception as error:
            result.error(f"{profile} on onnxruntime-cpu", error)


def worker_compile(result: Result, args: argparse.Namespace) -> None:
    import torch

    from core.engines import CudaOptions, EngineMetadata, TorchCudaEngine
    from core.model import load_checkpoint

    if not torch.cuda.is_available():
        result.note("torch.compile timed on a GPU only (skipped without one)")
        return
    profile = "lite"
    checkpoint = _checkpoint(args.work_dir, profile)
    loaded = load_checkpoint(checkpoint)
    metadata = EngineMetadata.from_checkpoint(loaded, loaded.sha256)
    started = time.perf_counter()
    # Two sizes: each compiles the network again (dynamic=False), within the part's time box.
    engine = TorchCudaEngine(loaded.model, metadata, "cuda",
                             options=CudaOptions(compile=True, graph_batches=_people(False)))
    result.add("open_s", {"profile": profile, "backend": "pytorch-cuda+compile",
                          "seconds": time.perf_counter() - started, "reason": engine.reason})  # fmt: skip
    for people in _people(False):
        _measure(result, engine, profile, "pytorch-cuda+compile", people, smoke=False)


def worker_parity(result: Result, args: argparse.Namespace) -> None:
    import copy

    import numpy as np
    import torch

    from core.engines import (
        CudaOptions,
        EngineMetadata,
        Fp16Scope,
        TorchCudaEngine,
        TorchEngine,
        example_inputs,
        export_onnx,
    )
    from core.model import load_checkpoint
    from training.export import fp16_parity, ntu_windows

    smoke = args.cpu_smoke
    device = "cuda" if torch.cuda.is_available() else "cpu"
    windows = 8 if smoke else 32
    models = [("demo (trained)", DEMO_CHECKPOINT)] + [
        (f"{p} (random weights)", _checkpoint(args.work_dir, p)) for p in _profiles(smoke)
    ]
    result.set("inputs", f"real NTU {NTU_CLIP} windows" if args.data else "random crops (no NTU data found)")

    def compare(model: str, comparison: str, got: tuple, want: tuple) -> None:
        result.add("comparisons", {
            "model": model, "comparison": comparison, "windows": int(len(want[0])),
            "top1_agreement": float(np.mean(got[0].argmax(1) == want[0].argmax(1))),
            "logits_error": float(np.abs(got[0] - want[0]).max()),
            "logits_scale": float(np.abs(want[0]).max()),
            "attention_error": float(np.abs(got[1] - want[1]).max()),
        })  # fmt: skip

    def batched(engine: Any, crops: Any, skeleton: Any, batch: int = 4) -> tuple:
        pieces = [
            engine.run(crops[i : i + batch], skeleton[i : i + batch]) for i in range(0, len(skeleton), batch)
        ]
        return tuple(np.concatenate(p) for p in zip(*pieces, strict=True))

    for model, checkpoint in models:
        try:
            loaded = load_checkpoint(checkpoint)
            metadata = EngineMetadata.from_checkpoint(loaded, loaded.sha256)
            if args.data:
                crops, skeleton = ntu_windows(args.data, metadata, count=windows)
            else:
                crops, skeleton = example_inputs(metadata, windows)
            if device == "cuda":
                fp32_gpu = TorchEngine(copy.deepcopy(loaded.model), metadata, "cuda")
                want = batched(fp32_gpu, crops, skeleton)
                if "paper" not in model:  # the paper profile on a CPU: too slow for the budget
                    reference_cpu = batched(
                        TorchEngine(copy.deepcopy(loaded.model), metadata), crops, skeleton
                    )
                    compare(model, "pytorch-cuda FP32 (TF32 allowed) vs CPU FP32", want, reference_cpu)
                one_size = CudaOptions(graph_batches=(4,))  # `batched` feeds 4 windows a call
                fast = TorchCudaEngine(loaded.model, metadata, "cuda", options=one_size)
                compare(model, f"{fast.name} vs CUDA FP32", batched(fast, crops, skeleton), want)
                whole = copy.deepcopy(loaded.model).cuda().half().eval()  # everything FP16, LSTM too

                def whole_half(c: Any, s: Any, network: Any = whole) -> tuple:
                    with torch.inference_mode():
                        out = network(torch.from_numpy(c).cuda().half(), torch.from_numpy(s).cuda().half())
                    return tuple(o.float().cpu().numpy() for o in out)

                pieces = [whole_half(crops[i : i + 4], skeleton[i : i + 4]) for i in range(0, windows, 4)]
                compare(model, "whole network FP16 (LSTM, softmax too) vs CUDA FP32",
                        tuple(np.concatenate(p) for p in zip(*pieces, strict=True)), want)  # fmt: skip
                del fast, fp32_gpu, whole
                torch.cuda.empty_cache()
            if "paper" in model:
                continue  # the paper profile on ONNX Runtime's CPU provider: minutes, not worth the budget
            onnx_path = export_onnx(loaded.model, metadata, args.work_dir / f"parity-{checkpoint.stem}.onnx")
            for scope in Fp16Scope:
                report = fp16_parity(onnx_path, crops, skeleton, scope=scope)
                result.add("comparisons", {
                    "model": model, "comparison": f"FP16 ONNX graph ({scope.value}) vs FP32, onnxruntime-cpu",
                    "windows": report.windows, "top1_agreement": report.top1_agreement,
                    "logits_error": report.logits_error, "logits_scale": report.logits_scale,
                    "attention_error": report.attention_error,
                })  # fmt: skip
        except Exception as error:
            result.error(model, error)


def worker_live(result: Result, args: argparse.Namespace) -> None:
    """Two headless runs of the app on the GPU engine: the real A001 clip with its video (one person;
    the simulated room where the data is absent), then a crowded simulated room (up to six people at
    once), whose hops are grouped by how many people they decided for."""
    import torch

    smoke = args.cpu_smoke
    engine = "pytorch-cuda" if torch.cuda.is_available() else "auto"
    profile = "tiny" if smoke else "paper"
    checkpoint = _checkpoint(args.work_dir, profile)
    if args.data:
        # A clip is its files side by side; the shared data keeps skeletons and videos apart: links.
        clip = args.work_dir / "ntu_clip"
        clip.mkdir(parents=True, exist_ok=True)
        for name, where in ((f"{NTU_CLIP}.skeleton", "skeletons"), (f"{NTU_CLIP}_rgb.avi", "rgb")):
            (clip / name).unlink(missing_ok=True)
            (clip / name).symlink_to((args.data / "ntu" / where / name).resolve())
        source_args = ["--source", str(clip / f"{NTU_CLIP}.skeleton"), "--loop"]
        result.set("source", f"real NTU {NTU_CLIP} (skeleton + 1080p RGB video), looped in real time")
    else:
        source_args = ["--source", "sim", "--people", "1"]
        result.set("source", "simulated room (no NTU data found)")
        result.note("NTU A001 clip not found: replayed the simulated room instead")
    record = _live_run(args.work_dir, "clip", [*source_args, "--checkpoint", str(checkpoint)], engine,
                       duration=8 if smoke else 15)  # fmt: skip
    for key, value in record.items():
        result.set(key, value)
    # Seed 1 of the simulated room has six people at once for about a third of its first 40 s.
    crowded_args = ["--source", "sim", "--people", "6", "--seed", "1", "--checkpoint", str(checkpoint)]
    crowded = _live_run(args.work_dir, "crowded", crowded_args, engine, duration=12 if smoke else 40)
    result.set("crowded", {"source": "simulated room, up to 6 people at once (seed 1)", **crowded})
    if "failure" in crowded:
        result.add("errors", f"crowded room: {crowded['failure']}")
    if "failure" in record:
        raise RuntimeError(record["failure"])


def _live_run(work_dir: Path, name: str, source_args: list[str], engine: str, *, duration: float
              ) -> dict[str, Any]:  # fmt: skip
    """One `python -m live --headless` run: its command, engine, inference and frame-to-decision
    latency (p50 / p95), overall and by the number of people decided for in one hop (`by_people`).
    An error of the run is in `failure`; what it decided until then still counts."""
    decisions = work_dir / f"decisions-{name}.jsonl"
    decisions.unlink(missing_ok=True)
    command = [sys.executable, "-m", "live", "--headless", *source_args, "--engine", engine, "--duration",
               str(duration), "--output", str(decisions)]  # fmt: skip
    env = dict(os.environ, WHERE_TO_FOCUS_CACHE=str(work_dir / "cache"))
    # --duration counts from the pipeline's start: importing, loading the paper network and opening its
    # engine (autotuning, six graph captures) come on top, so the limit leaves a minute for them.
    limit_s = duration + 60
    record: dict[str, Any] = {"command": " ".join(command)}
    try:
        completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                   timeout=limit_s)  # fmt: skip
        returncode, stderr = completed.returncode, completed.stderr
    except subprocess.TimeoutExpired as timed_out:
        returncode = None
        stderr = timed_out.stderr.decode(errors="replace") if isinstance(timed_out.stderr, bytes) else (
            timed_out.stderr or "")
    record["stderr_tail"] = stderr[-2500:]
    match = re.search(r", engine (.+), ran ", stderr)  # the headless summary's first line
    record["engine"] = match.group(1) if match else engine
    inference = re.search(r"inference p50 (\S+) ms, p95 (\S+) ms", stderr)
    if inference:
        record["inference_p50_ms"], record["inference_p95_ms"] = inference.group(1), inference.group(2)
    by_hop: dict[float, list[float]] = {}  # a hop's decisions share its stream time
    if decisions.is_file():
        for line in decisions.read_text(encoding="utf-8").splitlines():
            try:
                decision = json.loads(line)
                by_hop.setdefault(float(decision["stream_time"]), []).append(decision["latency_ms"] / 1e3)
            except (ValueError, KeyError, TypeError):
                continue
    latencies = [seconds for hop in by_hop.values() for seconds in hop]
    record["decisions"] = len(latencies)
    if latencies:
        stats = _percentiles(latencies)
        record["latency_p50_ms"], record["latency_p95_ms"] = stats["p50_ms"], stats["p95_ms"]
    by_people: dict[int, list[float]] = {}
    for hop in by_hop.values():
        by_people.setdefault(len(hop), []).append(max(hop))  # a hop is done when its last person is
    record["by_people"] = [{"people": people, "hops": len(hops), **_percentiles(hops)}
                           for people, hops in sorted(by_people.items())]  # fmt: skip
    if returncode is None:
        record["failure"] = f"python -m live did not end within {limit_s} s: {stderr[-400:]}"
    elif returncode != 0:
        record["failure"] = f"python -m live exited with {returncode}: {stderr[-400:]}"
    elif not latencies:
        record["failure"] = "python -m live made no decision"
    return record


def _stage_step_seconds(network: Any, stage: str, batch: dict[str, Any], *, amp: bool, steps: int) -> float:
    """Seconds per optimiser step of `stage` (AMP FP16 where `amp`), after warm-up steps."""
    import torch

    from training.config import TrainConfig
    from training.stages import STAGE_NAMES, StageObjective, stage_loss

    device = batch["skeleton"].device
    network.set_stage(STAGE_NAMES[stage])
    network.train()
    objective = StageObjective(network, stage)
    optimizer = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    config = TrainConfig()
    crops = batch["crops"] if stage != "pose" else None

    def step() -> None:
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            logits, attention = objective(crops, batch["skeleton"])
        loss = stage_loss(network, stage, logits, attention, batch["label"], config)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(max(1, steps // 3)):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def worker_training(result: Result, args: argparse.Namespace) -> None:
    import torch

    from core.model import PROFILES, PartAttentionNetwork
    from training.stages import stages_for

    smoke = args.cpu_smoke
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda"
    if amp:
        torch.backends.cudnn.benchmark = True
    for profile, size in (("tiny", 2),) if smoke else (("lite", 32), ("paper", 8)):
        config = PROFILES[profile](60)
        network = PartAttentionNetwork(config).to(device)
        shape = (size, len(config.parts), config.num_frames, config.crop_size, config.crop_size, 3)
        batch = {
            "crops": torch.rand(shape, device=device) * 255,
            "skeleton": torch.randn(
                size, config.num_frames, config.num_bodies, config.num_joints, 3, device=device
            ),
            "label": torch.randint(0, 60, (size,), device=device),
        }
        for stage in stages_for(config):
            try:
                seconds = _stage_step_seconds(network, stage, batch, amp=amp, steps=1 if smoke else 8)
                peak = torch.cuda.max_memory_allocated() / 2**20 if amp else None
                result.add("steps", {"profile": profile, "stage": stage, "batch": size, "amp": amp,
                                     "step_ms": seconds * 1e3, "windows_per_s": size / seconds,
                                     "peak_gpu_mb": peak})  # fmt: skip
            except Exception as error:
                result.error(f"{profile} stage {stage}", error)
        if amp:
            torch.cuda.empty_cache()


def worker_ddp(result: Result, args: argparse.Namespace) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from core.model import PROFILES, PartAttentionNetwork, Stage

    on_gpu = torch.cuda.is_available()
    backend = "nccl" if on_gpu else "gloo"
    result.set("backend", backend)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0"
    )
    device = torch.device("cuda", 0) if on_gpu else torch.device("cpu")
    if on_gpu:
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    try:
        config = PROFILES["tiny" if args.cpu_smoke else "lite"](60)
        network = PartAttentionNetwork(config).to(device)
        network.set_stage(Stage.JOINT)  # as training does: what forward does not use is frozen
        network.train()
        model = DistributedDataParallel(network, device_ids=[0] if on_gpu else None)
        crops = torch.rand(2, len(config.parts), config.num_frames, config.crop_size, config.crop_size, 3,
                           device=device) * 255  # fmt: skip
        skeleton = torch.randn(2, config.num_frames, config.num_bodies, config.num_joints, 3, device=device)
        logits, _ = model(crops, skeleton)
        logits.float().logsumexp(1).mean().backward()
        flag = torch.ones(1, device=device)
        dist.all_reduce(flag)
        ok = flag.item() == 1.0 and all(p.grad is not None for p in network.classifier.parameters())
        result.set("ok", bool(ok))
        result.set("detail", f"init_process_group({backend!r}), DDP forward/backward, all_reduce on {device}")
    finally:
        dist.destroy_process_group()


class Part(enum.Enum):
    """The parts, in the order they run (later ones get what is left of the budget): each with its worker
    and its time box in seconds on a GPU and in --cpu-smoke. The value is its name on the command line."""

    SETUP = ("setup", worker_setup, 90, 60)
    LATENCY_GPU = ("latency-gpu", worker_latency_gpu, 150, 60)
    REWRITES = ("rewrites", worker_rewrites, 90, 30)
    PARITY = ("parity", worker_parity, 110, 90)
    LIVE = ("live", worker_live, 160, 70)
    TRAINING = ("training", worker_training, 90, 60)
    DDP = ("ddp", worker_ddp, 45, 30)
    LATENCY_CPU = ("latency-cpu", worker_latency_cpu, 90, 60)
    COMPILE = ("compile", worker_compile, 120, 30)

    def __new__(cls, name: str, worker: Callable[[Result, argparse.Namespace], None], gpu_box_s: float,
                smoke_box_s: float) -> Part:  # fmt: skip
        part = object.__new__(cls)
        part._value_ = name
        part.worker = worker
        part.gpu_box_s = gpu_box_s
        part.smoke_box_s = smoke_box_s
        return part

    def __str__(self) -> str:  # argparse shows the choices by it
        return self.value


def run_worker(args: argparse.Namespace) -> int:
    args.work_dir = Path(args.work_dir)
    part: Part = args.worker
    result = Result(args.work_dir / f"{part.value}.json")
    try:
        if part is not Part.SETUP and not any(args.work_dir.glob("*.pt")):
            raise RuntimeError("no benchmark checkpoints: the setup part did not finish")
        import torch

        # A CPU smoke run shares its machine: one thread. A GPU machine's cores feed the GPU and ORT.
        torch.set_num_threads(1 if args.cpu_smoke else max(1, min(os.cpu_count() or 1, 8)))
        part.worker(result, args)
    except Exception as error:
        result.error(part.value, error)
        return 1
    return 0


# ============================================================================================ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu",
                                     description=(__doc__ or "").partition("\n")[0])
    parser.add_argument(
        "--out", type=json_file, help="JSON file to write (default: runs/gpu-benchmark-<time>.json)"
    )
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="tiny sizes on a CPU: check the command end to end"
    )
    parser.add_argument(
        "--data",
        type=Path,
        help=f"shared data folder holding ntu/skeletons/{NTU_CLIP}.skeleton and its RGB video (default: the "
        "first of $SHARED_DATA, shared/data in the repository and shared/data beside it that has it; "
        "without one the parity part uses random crops and the live part the simulated room, and says so)",
    )
    parser.add_argument("--budget-s", type=positive_float, default=DEFAULT_BUDGET_S,
                        help="seconds for the whole run")
    parser.add_argument("--parts", nargs="+", type=Part, choices=list(Part), help="only these parts")
    parser.add_argument(
        "--work-dir", type=output_folder,
        help="keep checkpoints, logs and part results here (default: temporary)"
    )
    parser.add_argument("--worker", type=Part, choices=list(Part), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.data is not None and args.worker is None and find_data(args.data) != args.data:
        # (the default folders were looked in instead, said as "real NTU data: <another folder>")
        parser.error(f"--data {args.data}: no ntu/skeletons/{NTU_CLIP}.skeleton there (give the shared data "
                     "folder, the one that holds ntu/)")
    if args.parts and Part.SETUP not in args.parts:
        args.parts = [Part.SETUP, *args.parts]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    if not args.cpu_smoke:
        import torch

        if not torch.cuda.is_available():  # its parts would run their GPU sizes on the CPU for minutes
            print(f"python -m benchmarks.gpu: error: no CUDA GPU here (torch {torch.__version__}: "
                  "torch.cuda.is_available() is False); --cpu-smoke checks the command end to end on a CPU",
                  file=sys.stderr)
            return 2
    args.out = args.out or REPO_ROOT / "runs" / f"gpu-benchmark-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    report = orchestrate(args)
    _save(report, args.out)
    print()
    print(format_report(report))
    print(f"\nwrote {args.out}")
    return 0


def _save(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(out, json.dumps(report, indent=1, default=str).encode("utf-8"))  # never half of one


if __name__ == "__main__":
    sys.exit(main())
