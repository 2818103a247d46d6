"""The TensorRT build path against stand-ins of TensorRT 8.6, 10.x and 11.x (tests/tensorrt_standins.py):
strong typing where the version has it, the FP16 graph's precisions kept, no API a version lacks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from model_files import random_checkpoint
from tensorrt_standins import VERSIONS, make_tensorrt

from core.engines import (
    EngineMetadata,
    Typing,
    build_tensorrt_plan,
    export_onnx,
    file_sha256,
    network_typing,
    split_onnx,
)
from core.engines.tensorrt_graph import TensorRtBuildError
from core.model import load_checkpoint, tiny

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tensorrt")
    checkpoint = random_checkpoint(folder / "tiny.pt", tiny(4), ["a", "b", "c", "d"], varied_attention=True)
    loaded = load_checkpoint(checkpoint)
    return export_onnx(loaded.model, EngineMetadata.from_checkpoint(loaded, file_sha256(checkpoint)),
                       folder / "tiny.onnx")  # fmt: skip


def _install(monkeypatch: pytest.MonkeyPatch, version: str):
    trt = make_tensorrt(version)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    return trt


def _plan(version: str, onnx_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs) -> dict:
    trt = _install(monkeypatch, version)
    # The FP16 graph is written beside the source once per source hash and reused by the other builds.
    plan = build_tensorrt_plan(onnx_path, graph_dir=onnx_path.parent, **kwargs)
    assert trt.standin_log == []
    return json.loads(plan)


def _precisions(plan: dict, op: str) -> set[str]:
    return {layer["precision"] for layer in plan["layers"].values() if layer["op"] == op}


@pytest.mark.parametrize("version", VERSIONS)
def test_fp16_engine_keeps_the_lstm_softmax_and_logits_in_fp32(
    version: str, onnx_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(version, onnx_path, tmp_path, monkeypatch)
    assert _precisions(plan, "Conv") == {"float16"}  # the I3Ds: nearly all the arithmetic
    for op in ("LSTM", "Softmax", "Gemm"):  # pose LSTM, attention softmax, attention + classifier layers
        assert _precisions(plan, op) == {"float32"}, op
    assert {t["dtype"] for t in plan["io"]} == {"float32"}  # FP32 in and out
    assert plan["profiles"][0]["crops"] == [[1, 3, 8, 32, 32, 3], [1, 3, 8, 32, 32, 3], [6, 3, 8, 32, 32, 3]]
    assert plan["workspace"] == 4 << 30


@pytest.mark.parametrize("version", ["10.13.0", "11.4.0"])
def test_versions_with_strong_typing_build_strongly_typed_without_precision_flags(
    version: str, onnx_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(version, onnx_path, tmp_path, monkeypatch)
    assert plan["strongly_typed"] and plan["flags"] == []


def test_tensorrt_without_strong_typing_uses_the_fp16_flag_with_every_layer_pinned(
    onnx_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan("8.6.1", onnx_path, tmp_path, monkeypatch)
    assert not plan["strongly_typed"] and plan["explicit_batch"]
    assert plan["flags"] == ["FP16", "OBEY_PRECISION_CONSTRAINTS"]
    assert not any("choice" in layer["precision"] for layer in plan["layers"].values())


@pytest.mark.parametrize("version", VERSIONS)
def test_fp32_engine_has_no_fp16_layer(
    version: str, onnx_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(version, onnx_path, tmp_path, monkeypatch, fp16=False)
    assert plan["flags"] == [] and _precisions(plan, "Conv") == {"float32"}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_split_i3d_graph_builds_in_fp16_too(
    version: str, onnx_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts_path, _ = split_onnx(onnx_path, tmp_path)
    plan = _plan(version, parts_path, tmp_path, monkeypatch)
    assert _precisions(plan, "Conv") == {"float16"}
    assert [(t["name"], t["dtype"]) for t in plan["io"]] == [
        ("crops", "float32"),
        ("part_features", "float32"),
    ]


def test_the_built_plan_loads_with_fp32_io_tensors(
    onnx_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trt = _install(monkeypatch, "11.4.0")
    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(
        build_tensorrt_plan(onnx_path, graph_dir=tmp_path)
    )
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    assert names == ["crops", "skeleton", "logits", "attention", "part_features"]
    assert {engine.get_tensor_dtype(n) for n in names} == {trt.float32}
    assert [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT] == ["crops", "skeleton"]


def test_typing_follows_what_the_version_has() -> None:
    assert [network_typing(make_tensorrt(v)) for v in VERSIONS] == [
        Typing.WEAK_FP16_FLAG,
        Typing.STRONG,
        Typing.STRONG,
    ]


def test_the_standins_refuse_what_each_version_lacks() -> None:
    """The stand-ins are strict where it matters: the pre-11 way of asking for FP16 fails on them."""
    trt11, trt10, trt8 = (make_tensorrt(v) for v in ("11.4.0", "10.13.0", "8.6.1"))
    for name in ("FP16", "INT8", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO"):
        assert not hasattr(trt11.BuilderFlag, name) and hasattr(trt10.BuilderFlag, name)
    assert not hasattr(trt11.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH")
    assert not hasattr(trt8.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
    assert not hasattr(trt11.Builder(None), "platform_has_fast_fp16")
    assert hasattr(trt10.Builder(None), "platform_has_fast_fp16")
    assert not hasattr(trt11.Builder(None).create_builder_config(), "int8_calibrator")
    assert not hasattr(trt8, "int64") and hasattr(trt10, "int64")


def _build_the_old_way(trt, onnx_path: Path) -> bytes | None:
    """What core/engines did before TensorRT 11: a default network, the FP16 builder flag."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    trt.OnnxParser(network, logger).parse_from_file(str(onnx_path))
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    return builder.build_serialized_network(network, config)


def test_the_old_weakly_typed_build_fails_on_tensorrt_11(onnx_path: Path) -> None:
    with pytest.raises(AttributeError, match="FP16"):
        _build_the_old_way(make_tensorrt("11.4.0"), onnx_path)


def test_precision_flags_on_a_strongly_typed_10x_network_fail_the_build(onnx_path: Path) -> None:
    trt = make_tensorrt("10.13.0")
    builder = trt.Builder(trt.Logger())
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    assert trt.OnnxParser(network, trt.Logger()).parse_from_file(str(onnx_path))
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    assert builder.build_serialized_network(network, config) is None
    assert "strongly typed" in trt.standin_log[0]


def test_a_parser_failure_names_the_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, "11.4.0")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx file")
    with pytest.raises(TensorRtBuildError, match="broken.onnx: TensorRT's ONNX parser failed"):
        build_tensorrt_plan(broken, fp16=False)


def test_a_skeleton_only_model_is_built_in_fp32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FP16 is for the I3Ds; the default model on real sources has none, and asking for its FP16 graph
    failed the start-up (`--engine tensorrt`) with an error about a missing I3D."""
    import torch

    from core.engines import Backend, open_engine
    from core.model.profiles import pose_only

    _install(monkeypatch, "11.4.0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the build needs no GPU in the stand-in
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H200 (stand-in)")
    checkpoint = random_checkpoint(tmp_path / "pose.pt", pose_only(tiny(3)), ["a", "b", "c"])
    with pytest.raises(RuntimeError, match="the stand-in does not run engines"):  # built, then loaded
        open_engine(checkpoint, Backend.TENSORRT, cache_dir=tmp_path / "cache")
    (key,) = (tmp_path / "cache").glob("*.plan.json")
    assert json.loads(key.read_text())["precision"] == "fp32"
    assert not list((tmp_path / "cache").glob("*fp16*"))


def test_the_graph_is_read_by_python_not_opened_by_tensorrt(onnx_path: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A file name TensorRT opens itself was reported to fail on Windows outside the system's code page
    # (NVIDIA/TensorRT#4240): a site's checkpoint under C:\Users\Müller would not build.
    trt = _install(monkeypatch, "10.13.0")

    def opened_by_tensorrt(self, model: str) -> bool:
        raise AssertionError(f"parse_from_file({model!r})")

    monkeypatch.setattr(trt.OnnxParser, "parse_from_file", opened_by_tensorrt)
    folder = tmp_path / "Müller"
    folder.mkdir()
    (folder / "tiny.onnx").write_bytes(onnx_path.read_bytes())
    plan = json.loads(build_tensorrt_plan(folder / "tiny.onnx", graph_dir=folder))
    assert _precisions(plan, "Conv") == {"float16"} and trt.standin_log == []


def test_tensorrt_that_cannot_start_cuda_is_an_engine_error(
    onnx_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver older than the wheel's CUDA: pybind11's TypeError from trt.Builder stopped `auto` instead
    of letting it try the next backend (it passes over EngineErrors only), and said nothing useful."""
    from core.engines import EngineError

    trt = _install(monkeypatch, "11.4.0")

    def no_cuda(logger):
        raise TypeError("pybind11::init(): factory function returned nullptr")

    monkeypatch.setattr(trt, "Builder", no_cuda)
    with pytest.raises(EngineError, match="11.4.0 could not start CUDA .*driver new enough") as raised:
        build_tensorrt_plan(onnx_path, fp16=False)
    assert not isinstance(raised.value, TensorRtBuildError)  # not a graph TensorRT refused: no split engine


def test_a_build_that_failed_is_not_tried_again_at_every_start(tmp_path: Path) -> None:
    from core.engines import cached_engine

    builds = []

    def failing() -> bytes:
        builds.append(1)
        raise TensorRtBuildError("net.onnx: TensorRT 11.4.0 could not build an engine")

    for _ in range(2):
        with pytest.raises(TensorRtBuildError, match="could not build an engine") as raised:
            cached_engine(tmp_path, "net.fp16", {"gpu": "H200", "tensorrt": "11.4.0"}, failing)
    assert len(builds) == 1 and "net.fp16.failed.json keeps that for a day" in str(raised.value)
    # Another GPU sharing the folder builds its own plan, and leaves this one's record alone.
    assert cached_engine(tmp_path, "net.fp16", {"gpu": "L4", "tensorrt": "11.4.0"}, lambda: b"L4") == (
        b"L4", True)
    with pytest.raises(TensorRtBuildError, match="keeps that for a day"):
        cached_engine(tmp_path, "net.fp16", {"gpu": "H200", "tensorrt": "11.4.0"}, failing)
    assert len(builds) == 1 and (tmp_path / "net.fp16.plan").read_bytes() == b"L4"
    # A day on, it is tried again (the GPU's memory may have been taken by another program that time).
    marker = tmp_path / "net.fp16.failed.json"
    os.utime(marker, (marker.stat().st_atime, marker.stat().st_mtime - 25 * 3600))
    assert cached_engine(tmp_path, "net.fp16", {"gpu": "H200", "tensorrt": "11.4.0"}, lambda: b"plan") == (
        b"plan", True)
    assert not marker.exists()  # built: nothing to remember
    # A record dated ahead (a clock set wrong when it was written) is not believed: tried again.
    with pytest.raises(TensorRtBuildError):
        cached_engine(tmp_path, "net.fp16", {"gpu": "H200", "tensorrt": "11.6.0"}, failing)
    os.utime(marker, (marker.stat().st_atime, marker.stat().st_mtime + 23 * 3600))
    with pytest.raises(TensorRtBuildError):
        cached_engine(tmp_path, "net.fp16", {"gpu": "H200", "tensorrt": "11.6.0"}, failing)
    assert len(builds) == 3
    # Another TensorRT (or GPU, or graph) is tried.
    assert cached_engine(tmp_path, "net.fp16", {"gpu": "H200", "tensorrt": "11.5.0"}, lambda: b"plan") == (
        b"plan", True)


def test_a_cached_plan_that_does_not_load_is_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from core.engines import Backend, open_engine
    from core.model.profiles import pose_only

    _install(monkeypatch, "11.4.0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the build needs no GPU in the stand-in
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H200 (stand-in)")
    checkpoint = random_checkpoint(tmp_path / "pose.pt", pose_only(tiny(3)), ["a", "b", "c"])
    with pytest.raises(RuntimeError, match="the stand-in does not run engines"):
        open_engine(checkpoint, Backend.TENSORRT, cache_dir=tmp_path / "cache")
    (plan,) = (tmp_path / "cache").glob("*.plan")
    plan.write_bytes(b"damaged")  # its key still matches
    with pytest.raises(RuntimeError, match="the stand-in does not run engines"):  # loaded, once built again
        open_engine(checkpoint, Backend.TENSORRT, cache_dir=tmp_path / "cache")
    assert plan.read_bytes() != b"damaged"
    # A plan that does not load even when just built (a driver TensorRT cannot use): said at the next
    # start at once, not built again at every start.
    import core.engines.tensorrt_graph as tensorrt_graph
    from core.engines import EngineError

    trt = sys.modules["tensorrt"]
    monkeypatch.setattr(trt.Runtime, "deserialize_cuda_engine", lambda self, plan: None)
    builds, build = [], tensorrt_graph.build_tensorrt_plan
    monkeypatch.setattr(tensorrt_graph, "build_tensorrt_plan",
                        lambda *args, **kwargs: builds.append(1) or build(*args, **kwargs))
    with pytest.raises(EngineError, match="could not load the engine it built"):
        open_engine(checkpoint, Backend.TENSORRT, cache_dir=tmp_path / "cache")
    with pytest.raises(EngineError, match="could not load the engine it built .*keeps that for a day"):
        open_engine(checkpoint, Backend.TENSORRT, cache_dir=tmp_path / "cache")
    assert len(builds) == 1 and not plan.exists()
    # Nor does a network with an LSTM go on to the split engine: TensorRT did not refuse its graph.
    import core.engines.selection as selection

    splits = []
    monkeypatch.setattr(selection, "split_onnx", lambda *args, **kwargs: splits.append(1))
    attention = random_checkpoint(tmp_path / "attention.pt", tiny(3), ["a", "b", "c"])
    for _ in range(2):
        with pytest.raises(EngineError, match="could not load the engine it built") as raised:
            open_engine(attention, Backend.TENSORRT, cache_dir=tmp_path / "cache")
        assert not isinstance(raised.value, TensorRtBuildError)
    assert splits == [] and len(builds) == 2


def test_machines_with_other_gpus_sharing_a_cache_keep_a_plan_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache folder on a share that two machines mount, one with an H200 and one with an L4: with one
    plan name for both, each start built over the other's plan (minutes each time)."""
    import torch

    import core.engines.tensorrt_graph as tensorrt_graph
    from core.engines import Backend, open_engine
    from core.model.profiles import pose_only

    _install(monkeypatch, "11.4.0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the build needs no GPU in the stand-in
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    builds, build = [], tensorrt_graph.build_tensorrt_plan
    monkeypatch.setattr(tensorrt_graph, "build_tensorrt_plan",
                        lambda *args, **kwargs: builds.append(1) or build(*args, **kwargs))
    checkpoint = random_checkpoint(tmp_path / "pose.pt", pose_only(tiny(3)), ["a", "b", "c"])
    for gpu in ("NVIDIA H200", "NVIDIA L4", "NVIDIA H200", "NVIDIA L4"):
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, gpu=gpu: gpu)
        with pytest.raises(RuntimeError, match="the stand-in does not run engines"):  # built, then loaded
            open_engine(checkpoint, Backend.TENSORRT, cache_dir=tmp_path / "cache")
    assert len(builds) == 2
    plans = sorted(p.name.split(".", 1)[1] for p in (tmp_path / "cache").glob("*.plan"))
    assert plans == ["nvidia-h200.fp32.plan", "nvidia-l4.fp32.plan"]


def test_an_empty_binding_gets_real_memory() -> None:
    """A skeleton-only model's attention output is (people, 0): PyTorch gives an empty tensor address 0,
    and TensorRT needs real memory for every binding, so it is bound at a kept one-element stand-in."""
    import torch

    from core.engines.tensorrt_graph import bindable_address

    keep: list[torch.Tensor] = []
    attention, logits = torch.empty((2, 0)), torch.zeros((2, 5))
    assert attention.data_ptr() == 0
    address = bindable_address(attention, keep)
    assert address != 0 and [t.data_ptr() for t in keep] == [address] and keep[0].dtype == attention.dtype
    assert bindable_address(logits, keep) == logits.data_ptr() and len(keep) == 1
