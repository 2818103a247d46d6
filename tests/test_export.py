from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from model_files import random_checkpoint

from core.engines import (
    ATTENTION_TOLERANCE,
    LOGITS_TOLERANCE,
    EngineMetadata,
    Fp16Scope,
    GraphEngine,
    OnnxRuntimeGraph,
    TorchEngine,
    example_inputs,
    read_onnx_metadata,
)
from core.model import PROFILES, load_checkpoint
from training.export import (
    ExportMismatchError,
    ExportReport,
    check_parity,
    export_checkpoint,
    main,
    ntu_windows,
)

CLASSES = 60
REPO = Path(__file__).resolve().parents[1]


# Export traces a forward pass: on a machine shared by many jobs one PyTorch thread is much faster.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def trained_looking_checkpoint(path: Path, profile: str, seed: int = 0) -> Path:
    """Random weights, but attention that varies with the pose (a fresh head gives exactly 1/3)."""
    return random_checkpoint(
        path,
        PROFILES[profile](CLASSES),
        [f"A{i + 1:03d}" for i in range(CLASSES)],
        varied_attention=True,
        seed=seed,
        extra={"profile": profile},
    )


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_looking_checkpoint(tmp_path_factory.mktemp("export") / "tiny.pt", "tiny")


@pytest.fixture(scope="module")
def tiny_report(tiny_checkpoint: Path) -> ExportReport:
    """Exported and checked on generated inputs (no data needed)."""
    return export_checkpoint(tiny_checkpoint, tiny_checkpoint.with_name("generated.onnx"), people=3)


def _check_file(path: Path) -> None:
    onnx.checker.check_model(str(path), full_check=True)


def test_onnx_runtime_matches_pytorch_on_real_crops(
    tiny_checkpoint: Path, shared_data: Path, tmp_path: Path
) -> None:
    report = export_checkpoint(
        tiny_checkpoint, tmp_path / "tiny.onnx", data_dir=shared_data, people=2, split=True
    )
    assert report.inputs.startswith("real NTU windows")
    assert report.logits_error <= LOGITS_TOLERANCE and report.attention_error <= ATTENTION_TOLERANCE
    for path in (report.onnx_path, *report.split_paths):
        _check_file(path)
    # The check ran on what the glimpse sensor cut (not black frames) and on attention that is not uniform.
    metadata = read_onnx_metadata(report.onnx_path)
    crops, skeleton = ntu_windows(shared_data, metadata, count=2)
    assert crops.shape == (2, 3, 8, 32, 32, 3) and 40 < crops.mean() < 220 and crops.std() > 20
    assert np.abs(skeleton).max() > 0.1
    _, attention = GraphEngine(OnnxRuntimeGraph(report.onnx_path, threads=1), metadata).run(crops, skeleton)
    assert np.ptp(attention) > 1e-3


@pytest.mark.slow
def test_lite_profile_matches_on_real_crops(shared_data: Path, tmp_path: Path) -> None:
    checkpoint = trained_looking_checkpoint(tmp_path / "lite.pt", "lite")
    report = export_checkpoint(checkpoint, data_dir=shared_data, people=1)
    assert report.onnx_path == tmp_path / "lite.onnx"
    assert report.logits_error <= LOGITS_TOLERANCE and report.attention_error <= ATTENTION_TOLERANCE
    assert report.metadata.profile == "lite"


def test_export_without_data_checks_on_generated_inputs(tiny_report: ExportReport) -> None:
    report = tiny_report
    assert report.inputs == "random crops and skeletons" and report.people == 3
    assert report.logits_error <= LOGITS_TOLERANCE and report.attention_error <= ATTENTION_TOLERANCE
    _check_file(report.onnx_path)
    summary = report.summary()
    assert "ONNX checker passed" in summary and report.metadata.checkpoint_sha256 in summary
    assert "crops 32 px of left_hand, right_hand, full_body" in summary


def test_export_writes_and_checks_the_fp16_graph_when_asked(tiny_checkpoint: Path, tmp_path: Path) -> None:
    report = export_checkpoint(tiny_checkpoint, tmp_path / "tiny.onnx", people=1, fp16=True, fp16_windows=6)
    assert report.fp16 is not None and report.fp16.path.is_file() and report.fp16.windows == 6
    assert report.fp16.scope is Fp16Scope.I3DS
    assert report.fp16.top1_agreement == 1.0 and report.fp16.attention_error == 0.0
    assert "FP16 graph (i3ds in FP16) vs FP32 on 6 windows" in report.summary()
    assert read_onnx_metadata(report.fp16.path) == report.metadata


def test_metadata_carries_everything_a_live_system_needs(
    tiny_checkpoint: Path, tiny_report: ExportReport
) -> None:
    report = tiny_report
    props = {p.key: json.loads(p.value) for p in onnx.load(str(report.onnx_path)).metadata_props}
    for key in (
        "class_names",
        "profile",
        "window_seconds",
        "window_frames",
        "crop_size",
        "normalisation",
        "checkpoint_sha256",
    ):
        assert key in props, key
    assert props["class_names"][:2] == ["A001", "A002"] and len(props["class_names"]) == CLASSES
    assert props["profile"] == "tiny" and props["skeleton"]["layout"] == "kinect_v2"
    checkpoint = load_checkpoint(tiny_checkpoint)
    assert read_onnx_metadata(report.onnx_path).preprocessing == checkpoint.preprocessing


def test_a_graph_that_computes_something_else_is_caught(
    tiny_checkpoint: Path, tiny_report: ExportReport
) -> None:
    report = tiny_report
    other = load_checkpoint(tiny_checkpoint).model
    with torch.no_grad():
        other.classifier.bias.add_(1e-2)  # a small change, ten times the logits tolerance
    metadata: EngineMetadata = report.metadata
    crops, skeleton = example_inputs(metadata, 2)
    graph = GraphEngine(OnnxRuntimeGraph(report.onnx_path, threads=1), metadata)
    with pytest.raises(ExportMismatchError, match=r"logits \(allowed 0.001\)"):
        check_parity(TorchEngine(other, metadata), graph, crops, skeleton, "good.onnx")



def test_a_graph_that_overflows_to_nan_is_caught(tiny_checkpoint: Path, tiny_report: ExportReport) -> None:
    """NaN is never greater than a tolerance: an FP16 overflow would pass a check of `error > tolerance`."""
    metadata: EngineMetadata = tiny_report.metadata
    crops, skeleton = example_inputs(metadata, 2)
    graph = GraphEngine(OnnxRuntimeGraph(tiny_report.onnx_path, threads=1), metadata)

    class Overflowing:
        name = "overflowing"

        def run(self, crops, skeleton):
            logits, attention = graph.run(crops, skeleton)
            return np.where(np.arange(logits.shape[-1]) == 0, np.nan, logits), attention

    reference = TorchEngine(load_checkpoint(tiny_checkpoint).model, metadata)
    with pytest.raises(ExportMismatchError, match=r"overflowing differs from PyTorch by inf in the logits"):
        check_parity(reference, Overflowing(), crops, skeleton, "m.onnx")


def test_export_command(tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.onnx"
    assert main([str(tiny_checkpoint), "-o", str(out), "--people", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "tiny profile, 60 classes" in printed
    assert read_onnx_metadata(out).profile == "tiny"
    # -o naming another model's export replaced it without a word: replaced (a retrained model goes over
    # its last export), and said.
    sha = read_onnx_metadata(out).checkpoint_sha256[:12]
    other = trained_looking_checkpoint(tmp_path / "other.pt", "tiny", seed=1)
    assert main([str(other), "-o", str(out), "--people", "1"]) == 0
    assert (f"replacing the export of other weights (tiny profile, 60 classes, checkpoint sha256 {sha}...)"
            in capsys.readouterr().out)
    assert main([str(other), "-o", str(out), "--people", "1"]) == 0  # the same weights again
    assert "replacing" not in capsys.readouterr().out


def test_export_command_names_a_missing_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "absent.pt")]) == 2
    assert "absent.pt" in capsys.readouterr().err


def test_split_of_a_skeleton_only_model_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--split cuts the I3Ds off; a pose-only model has none (it used to fail at the end, after the
    export, with advice to re-export)."""
    out = tmp_path / "pose.onnx"
    assert main([str(REPO / "training" / "checkpoints" / "nucla_pose.pt"), "-o", str(out), "--split"]) == 2
    err = capsys.readouterr().err
    assert "nucla_pose.pt: --split cuts the I3Ds" in err and "export it without --split" in err
    assert not out.exists()
    # --fp16 converts the I3Ds only: the same (it used to fail after writing the FP32 export).
    assert main([str(REPO / "training" / "checkpoints" / "nucla_pose.pt"), "-o", str(out), "--fp16"]) == 2
    assert "export it without --fp16" in capsys.readouterr().err and not out.exists()


@pytest.mark.usefixtures("tensorrt_without_lstm")
def test_export_tensorrt_falls_back_to_the_split_engine_as_live_does(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    report = export_checkpoint(tiny_checkpoint, tmp_path / "tiny.onnx", tensorrt=True, cache_dir=tmp_path)
    assert report.tensorrt_error is not None and report.tensorrt_error < 1e-4
    assert "I3Ds run on TensorRT" in report.tensorrt_engine
    assert "TensorRT engine: " in report.summary()


def test_export_tensorrt_without_tensorrt_says_so(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from core.engines import Backend, unavailable_reason

    if unavailable_reason(Backend.TENSORRT) is None:
        pytest.skip("TensorRT is installed here: the export builds a real engine instead")
    with pytest.raises(ValueError, match=r"--tensorrt: TensorRT is not installed .*\(nothing written"):
        export_checkpoint(tiny_checkpoint, tmp_path / "tiny.onnx", tensorrt=True, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # checked first: no ONNX file left without its engine


def test_export_without_the_onnx_package_says_what_to_install_and_writes_nothing(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "onnx" else find_spec(name, *rest))
    with pytest.raises(ValueError, match=r"^the onnx package is not installed \(pip install onnx\) \(nothi"):
        export_checkpoint(tiny_checkpoint, tmp_path / "out" / "tiny.onnx", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_export_never_writes_over_the_checkpoint_or_into_a_folder_name(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tiny_checkpoint.read_bytes()
    assert main([str(tiny_checkpoint), "-o", str(tiny_checkpoint)]) == 2
    assert "must end in .onnx (nothing written)" in capsys.readouterr().err
    assert tiny_checkpoint.read_bytes() == before
    assert main([str(tiny_checkpoint), "-o", str(tmp_path)]) == 2
    assert f"-o {tmp_path}: a folder; give the ONNX file to write, e.g. {tmp_path / 'tiny.onnx'}" in (
        capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_export_command_refuses_an_output_it_cannot_write_naming_it_not_its_temporary_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Under a file it was "[Errno 20] Not a directory: '.../.m.onnx.checking'" (exit 1), in /proc an export
    # failure naming ..m.onnx.checking.PID.partial: the temporary names, not the -o given.
    (tmp_path / "afile").write_text("")
    checkpoint = str(REPO / "training" / "checkpoints" / "demo.pt")
    for out, message in ((tmp_path / "afile" / "m.onnx", f"{tmp_path / 'afile'} is a file, not a folder"),
                         (Path("/proc/m.onnx"), "cannot be written (/proc")):
        with pytest.raises(SystemExit) as stop:
            main([checkpoint, "-o", str(out)])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and f"argument -o/--output: {out}: {message}" in err
        assert ".checking" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_export_beside_a_checkpoint_in_a_read_only_checkout_is_refused_before_it_exports(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default output, beside the checkpoint, in a checkout IT installed read-only: seconds to minutes
    of export, then "ONNX export failed (PermissionError...)", with no word of -o. Root writes anywhere: a
    folder that refuses stands in."""
    import training.export as export

    monkeypatch.setattr(export, "why_not_writable", lambda folder: f"{folder}: Read-only file system")
    monkeypatch.setattr(export, "load_checkpoint", lambda path: pytest.fail("exported"))
    assert main([str(tiny_checkpoint)]) == 2
    assert (f"{tiny_checkpoint.with_suffix('.onnx')}: cannot be written ({tiny_checkpoint.parent}: Read-only "
            "file system); -o names another file (nothing written)") in capsys.readouterr().err


def test_a_failed_check_leaves_no_onnx_file(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import training.export as export

    def mismatch(*args, **kwargs):
        raise ExportMismatchError("cli.onnx: differs")

    monkeypatch.setattr(export, "check_parity", mismatch)
    out = tmp_path / "cli.onnx"
    assert main([str(tiny_checkpoint), "-o", str(out), "--people", "1"]) == 1
    assert "export check failed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the file nor its unchecked temporary


@pytest.mark.parametrize("name", ["pku_interactions.pt", "nucla_pose.pt"])
def test_skeleton_only_models_are_checked_on_real_skeletons(
    name: str, shared_data: Path, tmp_path: Path
) -> None:
    report = export_checkpoint(REPO / "training" / "checkpoints" / name, tmp_path / "pose.onnx",
                               data_dir=shared_data, people=2)
    assert report.inputs == "real skeleton windows"
    assert report.logits_error <= LOGITS_TOLERANCE
    assert "skeleton only (no crops)" in report.summary() and " px" not in report.summary()
    checkpoint = REPO / "training" / "checkpoints" / name
    without_data = export_checkpoint(checkpoint, tmp_path / "pose2.onnx", people=1)
    assert without_data.inputs == "random skeletons"


def test_an_onnx_file_is_refused_as_the_source(
    tiny_report: ExportReport, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tiny_report.onnx_path)]) == 2
    assert "an ONNX file is already exported" in capsys.readouterr().err


def test_the_export_fingerprint_covers_every_module_of_core_the_network_imports() -> None:
    """Cached exports are named by it: a module the forward pass reads but the fingerprint leaves out
    would let an edit to it run a stale graph (one it covers needlessly re-exports on unrelated edits)."""
    import ast

    from core.engines.export import NETWORK_IMPORTS

    model = Path(__file__).resolve().parents[1] / "core" / "model"
    imported = set()
    for source in model.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core."):
                imported.add(node.module.split(".")[1])
    assert imported - {"model", "engines"} == set(NETWORK_IMPORTS)


def test_an_fp16_graph_that_decides_otherwise_is_refused_and_removed(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The FP16 graph TensorRT builds from must pick the FP32 graph's top class on >= 99% of windows: one
    that does not is an error, and its file is not left beside the model to be deployed."""
    import dataclasses

    import training.export as export

    real = export.fp16_parity

    def disagreeing(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), top1_agreement=0.9)

    monkeypatch.setattr(export, "fp16_parity", disagreeing)
    with pytest.raises(ExportMismatchError, match=r"top-1 agreement 90\.0% \(>= 99%\)"):
        export_checkpoint(tiny_checkpoint, tmp_path / "tiny.onnx", people=1, fp16=True, fp16_windows=2)
    assert not list(tmp_path.glob("*fp16*"))


def test_an_fp16_graph_is_put_in_place_only_once_checked(
    tiny_report: ExportReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export stopped during the FP16 check (Ctrl-C, systemd) left the unchecked FP16 graph under its
    final name, and a killed one a torn file there, which TensorRT would build from."""
    import os
    import time

    import training.export as export
    from core.engines import example_inputs

    crops, skeleton = example_inputs(tiny_report.metadata, 2)
    out = tmp_path / "tiny[v2].fp16-i3ds.onnx"  # "[" is no glob pattern in the leftovers' names

    def stopped(*args):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(export, "_max_error", stopped)
        with pytest.raises(KeyboardInterrupt):
            export.fp16_parity(tiny_report.onnx_path, crops, skeleton, out_path=out, threads=1)
    assert list(tmp_path.iterdir()) == []  # neither the graph nor its temporary file
    refused = export.fp16_parity(tiny_report.onnx_path, crops, skeleton, out_path=out, threads=1,
                                 min_top1_agreement=1.01)
    assert refused.top1_agreement == 1.0 and list(tmp_path.iterdir()) == []
    export.fp16_parity(tiny_report.onnx_path, crops, skeleton, out_path=out, threads=1)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    # What a killed export left (a day old), and one still checking now (another export's): the first
    # removed by the next export of that graph, the second left alone.
    killed, running = (tmp_path / f".{out.name}.{pid}-0a1b2c3d.checking" for pid in (111, 222))
    for left in (killed, running):
        left.write_bytes(b"half a graph")
    os.utime(killed, (time.time() - export.LEFT_BY_A_KILLED_CHECK_S - 60,) * 2)
    export.fp16_parity(tiny_report.onnx_path, crops, skeleton, out_path=out, threads=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, running.name])


def test_split_pieces_that_fail_their_check_are_removed(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--split's two pieces are checked as the whole graph is: pieces that compute something else are
    not left where live would open them."""
    import training.export as export

    real = export.check_parity

    def pieces_differ(reference, engine, crops, skeleton, name):
        if "+" in name:  # the split engine's check: "PIECE + PIECE"
            raise ExportMismatchError(f"{name}: differs")
        return real(reference, engine, crops, skeleton, name)

    monkeypatch.setattr(export, "check_parity", pieces_differ)
    with pytest.raises(ExportMismatchError, match=r"\+ .*: differs"):
        export_checkpoint(tiny_checkpoint, tmp_path / "tiny.onnx", people=1, split=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]  # the whole graph passed its check
