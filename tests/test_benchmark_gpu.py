"""`python -m benchmarks.gpu`: parts time-boxed and failing soft, targets judged, a table and a JSON file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from benchmark_modules import load_benchmark

bench = load_benchmark("gpu")


def _row(profile: str, engine: str, people: int, p50: float) -> dict:
    return {"profile": profile, "backend": engine, "engine": engine, "people": people, "runs": 10,
            "crops_dtype": "float32", "p50_ms": p50, "p95_ms": p50 * 1.2,
            "windows_per_s": 1e3 * people / p50}  # fmt: skip


def test_targets_take_the_fastest_paper_backend_and_the_table_says_so() -> None:
    rows = [_row("paper", "pytorch-cuda", 1, 9.5), _row("paper", "eager", 1, 30.0),
            _row("paper", "pytorch-cuda", 6, 21.0), _row("lite", "pytorch-cuda", 1, 2.0)]  # fmt: skip
    report = {
        "cpu_smoke": False, "seconds": 300.0, "data": None,
        "parts": {"latency-gpu": {"measurements": rows},
                  "live": {"errors": ["timed out after 90 s (results so far kept)"],
                           "log_tail": "line 1\nboom"},
                  "compile": {"skipped": "no time left (3 s of the budget)"}},
    }  # fmt: skip
    report["targets"] = bench.judge_targets(report)
    one, six = report["targets"]
    assert (one["met"], one["value_ms"], one["backend"]) == (True, 9.5, "pytorch-cuda")
    assert (six["met"], six["value_ms"]) == (False, 21.0)
    table = bench.format_report(report)
    assert "target MET: paper profile, one person's window: p50 <= 17 ms (9.50 ms on pytorch-cuda)" in table
    assert "target MISSED: paper profile, six people in one call" in table
    assert "[live] error: timed out after 90 s" in table and "[live]   | boom" in table
    assert "[compile] skipped: no time left" in table
    assert "not found (random crops, simulated room)" in table


def test_variants_are_shown_against_the_defaults_with_where_the_time_goes() -> None:
    part = {
        "measurements": [_row("paper", "pytorch-cuda", 6, 30.0),
                         _row("paper", "pytorch-cuda+unfolded-batch-norm", 6, 33.0)],
        "agreement": [{"backend": "pytorch-cuda+unfolded-batch-norm", "people": 6, "logits_error": 0.012,
                       "top1_agreement": 1.0}],
        "where_the_time_goes": {"people": 6, "inputs_in_ms": 2.5, "graph_replay_ms": 23.9, "kernels_ms": 24.0,
                                "top_kernels": [{"kernel": "max_pool3d", "ms": 6.1, "calls": 39,
                                                 "share": 0.254}]},
    }  # fmt: skip
    lines = bench._format_variants(part)
    assert "pytorch-cuda's defaults, each undone (paper, uint8 crops, against the defaults)" in lines
    (unfolded,) = [line for line in lines if "unfolded" in line]
    assert unfolded.split()[1:] == ["6", "33.00", "+10%", "1.20e-02", "100.0%"]
    assert any("inputs in 2.50 ms, graph replay 23.90 ms" in line for line in lines)
    assert any(line.split() == ["25%", "6.10", "ms", "39", "calls", "max_pool3d"] for line in lines)
    assert bench._format_variants({}) == []


def test_without_measurements_the_targets_are_unmeasured() -> None:
    targets = bench.judge_targets({"parts": {}})
    assert [t["met"] for t in targets] == [None, None]


def test_a_part_past_its_time_box_is_killed_and_says_so(tmp_path: Path) -> None:
    args = argparse.Namespace(cpu_smoke=True, data_found=None)
    record = bench.run_part(bench.Part.SETUP, 0.5, args, tmp_path)  # importing torch alone takes longer
    assert record["errors"] == ["timed out after 0 s (results so far kept)"]
    assert record["seconds"] < 10 and record["time_box_s"] == 0.5


def test_parts_are_named_on_the_command_line_and_setup_always_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = bench.parse_args(["--parts", "ddp", "latency-gpu"])
    assert args.parts == [bench.Part.SETUP, bench.Part.DDP, bench.Part.LATENCY_GPU]
    assert all(callable(part.worker) and part.gpu_box_s >= part.smoke_box_s > 0 for part in bench.Part)
    with pytest.raises(SystemExit):
        bench.parse_args(["--parts", "warp-drive"])
    assert "invalid" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--help"])
    help_text = capsys.readouterr().out
    assert "see above" not in help_text and "$SHARED_DATA" in help_text and "simulated room" in help_text


def test_pytorch_cuda_and_fp32_eager_are_measured_before_tensorrt() -> None:
    from core.engines import Backend

    plan = bench.latency_plan(("paper", "lite"), {Backend.TENSORRT, Backend.ONNXRUNTIME_CUDA})
    assert plan == [
        ("paper", Backend.PYTORCH_CUDA, False), ("paper", Backend.PYTORCH_CUDA, True),
        ("lite", Backend.PYTORCH_CUDA, False), ("lite", Backend.PYTORCH_CUDA, True),
        ("paper", Backend.ONNXRUNTIME_CUDA, False), ("lite", Backend.ONNXRUNTIME_CUDA, False),
        ("paper", Backend.TENSORRT, False), ("lite", Backend.TENSORRT, False),
    ]  # fmt: skip
    assert bench.latency_plan(("tiny",), set()) == [("tiny", Backend.PYTORCH_CUDA, False),
                                                    ("tiny", Backend.PYTORCH_CUDA, True)]  # fmt: skip


def test_real_data_is_found_only_where_the_clip_is(tmp_path: Path, shared_data: Path) -> None:
    assert bench.find_data(shared_data) == shared_data
    (tmp_path / "ntu" / "skeletons").mkdir(parents=True)
    assert bench.find_data(tmp_path) != tmp_path  # no A001 clip there: looked for elsewhere


@pytest.mark.slow
def test_cpu_smoke_runs_parts_end_to_end_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    out = tmp_path / "gpu.json"
    command = ["--cpu-smoke", "--parts", "ddp", "live", "rewrites", "--out", str(out),
               "--work-dir", str(tmp_path / "w"), "--data", str(shared_data)]
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "tiny.pt").write_bytes(b"a trained model")  # its random weights went over it
    assert bench.main(command) == 0
    assert (tmp_path / "w" / "tiny.pt").read_bytes() == b"a trained model"
    report = json.loads(out.read_text(encoding="utf-8"))
    # setup always runs: it makes the checkpoints
    assert list(report["parts"]) == ["setup", "rewrites", "live", "ddp"]
    # The real clip with its video (kept apart in the shared data): the RGB model runs on it.
    live = report["parts"]["live"]
    assert live["errors"] == [] and "skeleton + 1080p RGB video" in live["source"], live
    # then the crowded simulated room, its hops grouped by the people decided for
    assert live["crowded"]["decisions"] and live["crowded"]["by_people"][0]["people"] == 1, live["crowded"]
    assert report["parts"]["ddp"]["ok"] is True and report["parts"]["ddp"]["backend"] == "gloo"
    assert report["parts"]["setup"]["environment"]["torch"]
    rewrites = report["parts"]["rewrites"]
    assert rewrites["errors"] == [], rewrites
    variants = ["pytorch-cuda"] + [f"pytorch-cuda+{label}" for label, _ in bench.ENGINE_VARIANTS]
    assert [(m["backend"], m["people"]) for m in rewrites["measurements"]] == [
        (name, people) for name in variants for people in (1, 2)
    ]
    assert [(a["backend"], a["people"]) for a in rewrites["agreement"]] == [
        (name, people) for name in variants[1:] for people in (1, 2)
    ]
    assert all(a["top1_agreement"] == 1.0 and a["logits_error"] < 0.05 for a in rewrites["agreement"])
    assert [o["engine"].endswith("BatchNorm folded)") for o in rewrites["open_s"]] == [True, True, False]
    printed = capsys.readouterr().out
    assert "DDP one process (gloo): ok" in printed and f"wrote {out}" in printed
    assert "pytorch-cuda's defaults, each undone (tiny, uint8 crops, against the defaults)" in printed


def test_a_run_for_a_gpu_where_there_is_none_or_data_that_is_not_there_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --cpu-smoke on a machine with no GPU its parts ran their GPU sizes on the CPU (minutes,
    then timed out, exit 0); a --data without the NTU clip was put aside for the default folders."""
    import torch

    with pytest.raises(SystemExit) as refused:
        bench.main(["--data", str(tmp_path), "--out", str(tmp_path / "gpu.json")])
    assert refused.value.code == 2
    assert f"--data {tmp_path}: no ntu/skeletons/" in capsys.readouterr().err
    if torch.cuda.is_available():
        return
    assert bench.main(["--out", str(tmp_path / "gpu.json")]) == 2
    assert "no CUDA GPU here" in capsys.readouterr().err and not (tmp_path / "gpu.json").exists()
