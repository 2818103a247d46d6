"""The engine cache keeps what was used lately: each file it hands out again is marked used, and what was
not used for UNUSED_DAYS (or a write left unfinished a day ago) is removed when a run opens the cache.
Only names the engines write are ever removed."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from model_files import random_checkpoint

from core.engines import Backend, cached_engine, open_engine, split_onnx
from core.engines.cache import UNFINISHED_DAYS, UNUSED_DAYS, remove_unused
from core.engines.cpu_batching import cached_measurement
from core.engines.export import exporter_fingerprint
from core.engines.tensorrt_graph import fp16_onnx
from core.model import tiny

DAY = 86400.0
SHA, CODE = "0123456789abcdef", "89abcdef"


def _age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def _days_old(path: Path) -> float:
    return (time.time() - path.stat().st_mtime) / DAY


def test_what_was_not_used_for_the_period_is_removed_and_nothing_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ours = [
        f"demo-{SHA}-{CODE}.onnx", f"demo-{SHA}-{CODE}.onnx.sha256",        # an export and its checksum
        f"demo-{SHA}-{CODE}-{SHA}-{CODE}.fp16.onnx",                         # its FP16 graph
        f"demo-{SHA}-{CODE}-{SHA}.parts.onnx", f"demo-{SHA}-{CODE}-{SHA}.head.onnx",  # its split graphs
        f"demo-{SHA}-{CODE}.fp16.plan", f"demo-{SHA}-{CODE}.fp16.plan.json",  # a TensorRT plan, its key
        f"my model-{SHA}.parts.fp32.plan",                                    # a user's ONNX, split
        f"cpu-batching-{SHA}-2t.json",                                        # a CPU measurement
    ]
    theirs = ["model.onnx", "notes.txt", f"demo-{SHA}.pt", "cpu-batching.json", f".{ours[0]}.swp"]
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"x" * 1000)
        _age(tmp_path / name, UNUSED_DAYS + 1)
    (tmp_path / "a folder.fp16.plan").mkdir()
    _age(tmp_path / "a folder.fp16.plan", UNUSED_DAYS + 1)
    recent = tmp_path / f"pku-{SHA}-{CODE}.onnx"
    recent.write_bytes(b"x")
    _age(recent, UNUSED_DAYS - 1)

    with caplog.at_level(logging.INFO, logger="core.engines.cache"):
        remove_unused(tmp_path)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {*theirs, "a folder.fp16.plan", recent.name}
    assert [r.getMessage() for r in caplog.records] == [
        f"engine cache {tmp_path}: removed {len(ours)} file(s), 0.0 MB, unused for {UNUSED_DAYS} days or "
        "left unfinished (each is made again if a model needs it)"
    ]
    caplog.clear()
    remove_unused(tmp_path)  # nothing to remove: nothing said
    assert not caplog.records


def test_a_write_left_unfinished_is_removed_after_a_day(tmp_path: Path) -> None:
    final = f"demo-{SHA}-{CODE}.fp16.plan"
    old, fresh = tmp_path / f".{final}.123.partial", tmp_path / f".{final}.456.partial"
    not_ours = tmp_path / ".notes.txt.123.partial"
    for path in (old, fresh, not_ours):
        path.write_bytes(b"x")
        _age(path, UNFINISHED_DAYS + 0.5)
    _age(fresh, UNFINISHED_DAYS - 0.5)  # a build of another run still going
    remove_unused(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {fresh.name, not_ours.name}


def test_a_cache_that_cannot_be_read_is_left_alone(tmp_path: Path) -> None:
    remove_unused(tmp_path / "absent")  # no error: the engines say what is wrong with the folder


def test_a_run_marks_the_export_it_reuses_and_removes_one_no_run_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
    cache = tmp_path / "cache"
    open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache)
    export = next(cache.glob(f"tiny-*-{exporter_fingerprint()[:8]}.onnx"))
    digest = export.with_name(export.name + ".sha256")
    # An export of the same model by an older version of the code, which no run of this one opens.
    superseded = export.with_name(export.name.replace(exporter_fingerprint()[:8], "00000000"))
    superseded.write_bytes(export.read_bytes())
    for path in (export, digest, superseded):
        _age(path, UNUSED_DAYS + 1)

    with caplog.at_level(logging.INFO):
        open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache)
    assert not superseded.exists()
    assert _days_old(export) < 1 and _days_old(digest) < 1
    assert not any("exporting" in r.getMessage() for r in caplog.records)  # reused, not made again


def test_each_cached_file_handed_out_again_is_marked_used(tmp_path: Path) -> None:
    checkpoint = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
    engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=tmp_path / "cache")
    onnx_path = Path(engine.graph.path)
    made = [*split_onnx(onnx_path, tmp_path), fp16_onnx(onnx_path, tmp_path)]
    cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, lambda: b"plan")
    measurement = tmp_path / f"cpu-batching-{SHA}-2t.json"
    seconds = {Backend.ONNXRUNTIME_CPU: {1: 0.01}, Backend.PYTORCH_CPU: {1: 0.02}}
    cached_measurement(measurement, {"threads": 2}, lambda: seconds)
    made += [tmp_path / "net.fp16.plan", tmp_path / "net.fp16.plan.json", measurement]
    for path in made:
        _age(path, UNUSED_DAYS + 1)

    assert split_onnx(onnx_path, tmp_path) == tuple(made[:2])
    assert fp16_onnx(onnx_path, tmp_path) == made[2]
    assert cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, lambda: b"other") == (b"plan", False)
    assert cached_measurement(measurement, {"threads": 2}, lambda: {}) == (seconds, False)
    assert [round(_days_old(path)) for path in made] == [0] * len(made)


def test_a_plan_whose_write_is_interrupted_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(source: os.PathLike, target: os.PathLike) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("core.engines.tensorrt_graph.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, lambda: b"plan" * 1000)
    assert list(tmp_path.iterdir()) == []
