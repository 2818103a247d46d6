from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
from benchmark_modules import load_benchmark
from model_files import random_checkpoint

from core.engines import (
    AUTO_ORDER,
    Backend,
    BackendUnavailable,
    CudaOptions,
    EngineError,
    EngineInputError,
    EngineMetadata,
    GraphEngine,
    OnnxMetadataError,
    OnnxRuntimeGraph,
    PerBatchEngine,
    SplitEngine,
    TorchCudaEngine,
    TorchEngine,
    cached_engine,
    example_inputs,
    export_onnx,
    file_sha256,
    open_engine,
    read_onnx_metadata,
    split_onnx,
    unavailable_reason,
)
from core.engines.metadata import exported_metadata_props
from core.model import (
    Aggregation,
    load_checkpoint,
    tiny,
    with_aggregation,
)

CLASSES = 5


bench = load_benchmark("engines")


def make_checkpoint(path: Path, seed: int = 0, aggregation: Aggregation = Aggregation.ATTENTION) -> Path:
    return random_checkpoint(
        path,
        with_aggregation(tiny(CLASSES), aggregation),
        [f"action {i}" for i in range(CLASSES)],
        varied_attention=True,  # a trained head: attention that depends on the pose, not 1/3 each
        seed=seed,
        extra={"profile": "tiny"},
    )


# Export traces a forward pass: on a machine shared by many jobs one PyTorch thread is much faster.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(scope="module")
def checkpoint(workdir: Path) -> Path:
    return make_checkpoint(workdir / "tiny.pt")


@pytest.fixture(scope="module")
def onnx_path(checkpoint: Path, workdir: Path) -> Path:
    loaded = load_checkpoint(checkpoint)
    metadata = EngineMetadata.from_checkpoint(loaded, file_sha256(checkpoint))
    return export_onnx(loaded.model, metadata, workdir / "tiny.onnx")


@pytest.fixture(scope="module")
def reference(checkpoint: Path, workdir: Path) -> TorchEngine:
    engine = open_engine(checkpoint, Backend.PYTORCH_CPU, cache_dir=workdir / "cache")
    assert isinstance(engine, TorchEngine)
    return engine


def test_metadata_travels_inside_the_onnx_file(checkpoint: Path, onnx_path: Path) -> None:
    metadata = read_onnx_metadata(onnx_path)
    expected = EngineMetadata.from_checkpoint(load_checkpoint(checkpoint), file_sha256(checkpoint))
    assert metadata == expected
    assert metadata.class_names == tuple(f"action {i}" for i in range(CLASSES))
    assert metadata.profile == "tiny"
    assert (metadata.crop_size, metadata.window_frames, metadata.window_seconds) == (32, 8, 2.0)
    props = {p.key: json.loads(p.value) for p in onnx.load(str(onnx_path)).metadata_props}
    # Plain keys, readable without this code.
    assert props["window_frames"] == 8 and props["crop_size"] == 32 and props["window_seconds"] == 2.0
    assert (
        props["normalisation"]["scale"] == pytest.approx(1 / 127.5) and props["normalisation"]["offset"] == -1
    )
    assert props["checkpoint_sha256"] == file_sha256(checkpoint)
    assert props["parts"] == ["left_hand", "right_hand", "full_body"]


def test_onnx_graph_has_a_dynamic_batch_and_fixed_window(onnx_path: Path) -> None:
    graph = onnx.load(str(onnx_path)).graph

    def dims(values: list[onnx.ValueInfoProto]) -> dict[str, list[str | int]]:
        return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    assert dims(graph.input) == {"crops": ["people", 3, 8, 32, 32, 3], "skeleton": ["people", 8, 2, 25, 3]}
    outputs = dims(graph.output)
    assert outputs["logits"] == ["people", CLASSES] and outputs["attention"] == ["people", 3]
    assert "part_features" in outputs
    # No packed sequences; the LSTM gets an explicit initial state (TensorRT's parser wants both).
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    assert lstms and all(len(n.input) >= 6 and n.input[5] for n in lstms)
    # "Same" padding baked for the fixed shape: every Pad takes constant pads, nothing computes them.
    initializers = {i.name for i in graph.initializer}
    pads = [n for n in graph.node if n.op_type == "Pad"]
    assert pads and all(n.input[1] in initializers for n in pads)
    assert not any(n.op_type == "Constant" for n in graph.node)


def test_an_exports_record_is_read_alike_without_the_onnx_package(onnx_path: Path, tmp_path: Path) -> None:
    """A cached export's record is read from its protobuf fields at the app's start (the onnx package's
    import costs half a second): the same record onnx.load gives, and a file that is not protobuf refused."""
    record = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert exported_metadata_props(onnx_path) == record
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not protobuf at all\xff" * 10)
    with pytest.raises(ValueError):
        exported_metadata_props(garbage)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(onnx_path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="past its message's end"):
        exported_metadata_props(cut)


def test_read_onnx_metadata_rejects_foreign_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.onnx"
    x, y = (onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1]) for n in "xy")
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "plain", [x], [y])
    onnx.save(onnx.helper.make_model(graph), str(plain))
    with pytest.raises(OnnxMetadataError, match="plain.onnx.*no where-to-focus metadata"):
        read_onnx_metadata(plain)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not protobuf at all\xff" * 10)
    with pytest.raises(OnnxMetadataError, match="garbage.onnx"):
        read_onnx_metadata(garbage)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        read_onnx_metadata(tmp_path / "missing.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(OnnxMetadataError, match=r"empty\.onnx: the file is empty"):
        read_onnx_metadata(tmp_path / "empty.onnx")


def test_a_graph_that_is_not_the_network_under_our_metadata_is_refused_when_it_opens(
    onnx_path: Path, tmp_path: Path
) -> None:
    model = onnx.load(str(onnx_path))
    x, y = (onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1]) for n in "xy")
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "other", [x], [y])
    # The exported file's IR version: onnx's newest may be past what the installed ONNX Runtime reads.
    other = onnx.helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    other.metadata_props.extend(model.metadata_props)
    path = tmp_path / "other.onnx"
    onnx.save(other, str(path))
    with pytest.raises(EngineError, match=r"other\.onnx: not the network its metadata describes"):
        open_engine(path, Backend.ONNXRUNTIME_CPU)


def test_another_models_metadata_on_this_graph_is_refused_when_it_opens(
    onnx_path: Path, tmp_path: Path
) -> None:
    model = onnx.load(str(onnx_path))
    (skeleton,) = [i for i in model.graph.input if i.name == "skeleton"]
    frames = skeleton.type.tensor_type.shape.dim[1].dim_value
    skeleton.type.tensor_type.shape.dim[1].dim_value = frames + 10  # as another model's graph would take
    path = tmp_path / "mixed.onnx"
    onnx.save(model, str(path))
    says = rf"mixed\.onnx: its graph takes skeleton of {frames + 10}x.* per person, and its metadata"
    with pytest.raises(OnnxMetadataError, match=says + " .*export the checkpoint again"):
        open_engine(path, Backend.ONNXRUNTIME_CPU)


@pytest.mark.parametrize("people", [1, 2, 3])
def test_onnxruntime_matches_pytorch_for_any_number_of_people(
    onnx_path: Path, reference: TorchEngine, people: int
) -> None:
    engine = open_engine(onnx_path, Backend.ONNXRUNTIME_CPU, threads=1)
    crops, skeleton = example_inputs(engine.metadata, people, seed=people)
    logits, attention = engine.run(crops, skeleton)
    want_logits, want_attention = reference.run(crops, skeleton)
    assert logits.shape == (people, CLASSES) and attention.shape == (people, 3)
    assert logits.dtype == np.float32 and attention.dtype == np.float32
    np.testing.assert_allclose(attention.sum(1), 1.0, atol=1e-6)
    assert np.ptp(attention) > 1e-3  # the check is not on uniform 1/3 attention
    np.testing.assert_allclose(logits, want_logits, atol=1e-3, rtol=0)
    np.testing.assert_allclose(attention, want_attention, atol=1e-4, rtol=0)


def test_uint8_crops_are_accepted_as_cut(onnx_path: Path) -> None:
    engine = open_engine(onnx_path, Backend.ONNXRUNTIME_CPU, threads=1)
    crops, skeleton = example_inputs(engine.metadata, 1)
    as_cut = crops.round().astype(np.uint8)
    np.testing.assert_array_equal(
        engine.run(as_cut, skeleton)[0], engine.run(as_cut.astype(np.float32), skeleton)[0]
    )


def test_wrong_shapes_name_what_was_expected(reference: TorchEngine) -> None:
    crops, skeleton = example_inputs(reference.metadata, 2)
    with pytest.raises(
        EngineInputError, match=r"crops \(B, 3, 8, 32, 32, 3\).*got crops \(2, 3, 8, 32, 31, 3\)"
    ):
        reference.run(crops[..., :31, :], skeleton)
    with pytest.raises(EngineInputError, match="same B"):
        reference.run(crops, skeleton[:1])
    with pytest.raises(EngineInputError, match="B >= 1"):  # nobody to decide: not the runtime's problem
        reference.run(crops[:0], skeleton[:0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_skeleton_that_is_not_all_numbers_is_refused(
    reference: TorchEngine, onnx_path: Path, bad: float
) -> None:
    # It gave all-NaN logits and no error, on every backend.
    crops, skeleton = example_inputs(reference.metadata, 2)
    skeleton[1, 3, 0, 7, 2] = bad
    for engine in (reference, open_engine(onnx_path, Backend.ONNXRUNTIME_CPU, threads=1)):
        with pytest.raises(EngineInputError, match=r"NaN or infinity in 1 of its \d+ values \(the first at "
                                                   r"person 1, frame 3, body 0, joint 7\)"):
            engine.run(crops, skeleton)


def test_auto_picks_the_fastest_present_backend_and_says_why(checkpoint: Path, workdir: Path) -> None:
    engine = open_engine(checkpoint, Backend.AUTO, cache_dir=workdir / "cache")
    present = [b for b in AUTO_ORDER if unavailable_reason(b) is None]
    picked = present[0]
    assert engine.reason.startswith(f"auto picked {picked.value}")
    if isinstance(engine, PerBatchEngine):  # a CPU: ONNX Runtime or PyTorch per number of people
        assert picked is Backend.ONNXRUNTIME_CPU and set(engine.engines) == {picked, Backend.PYTORCH_CPU}
    else:
        assert engine.name.startswith(picked.value.split("-")[0])
    for skipped in AUTO_ORDER[: AUTO_ORDER.index(picked)]:
        assert f"{skipped.value}: {unavailable_reason(skipped)}" in engine.reason
    crops, skeleton = example_inputs(engine.metadata, 1)
    assert engine.run(crops, skeleton)[0].shape == (1, CLASSES)


def test_auto_on_an_onnx_file_never_needs_pytorch(onnx_path: Path) -> None:
    engine = open_engine(onnx_path)
    assert "pytorch" not in engine.name
    with pytest.raises(BackendUnavailable, match="need the checkpoint"):
        open_engine(onnx_path, Backend.PYTORCH_CPU)


def test_checkpoint_export_is_cached_per_checkpoint_content(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path / "model.pt", seed=1)
    cache = tmp_path / "cache"
    first = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
    (exported,) = cache.glob("*.onnx")
    inode = exported.stat().st_ino  # an export is renamed into place: a new file (its time marks use)
    open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
    assert exported.stat().st_ino == inode  # reused, not exported again

    make_checkpoint(checkpoint, seed=2)  # retrained in place: new weights, new hash, new export
    second = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
    assert len(list(cache.glob("*.onnx"))) == 2
    crops, skeleton = example_inputs(first.metadata, 1)
    assert not np.allclose(first.run(crops, skeleton)[0], second.run(crops, skeleton)[0])
    assert second.metadata.checkpoint_sha256 == file_sha256(checkpoint)


def test_a_cached_export_whose_bytes_changed_on_disk_is_exported_again(tmp_path: Path, caplog) -> None:
    checkpoint = make_checkpoint(tmp_path / "model.pt", seed=1)
    cache = tmp_path / "cache"
    engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
    crops, skeleton = example_inputs(engine.metadata, 1)
    want = engine.run(crops, skeleton)[0]
    (exported,) = cache.glob("*.onnx")
    # Bit rot in the largest weight, same size: the file still parses, with its metadata intact.
    weights = max(onnx.load(str(exported)).graph.initializer, key=lambda t: len(t.raw_data)).raw_data
    damaged = bytearray(exported.read_bytes())
    at = damaged.find(weights) + len(weights) // 2
    damaged[at : at + 64] = bytes(b ^ 0x10 for b in damaged[at : at + 64])
    exported.write_bytes(bytes(damaged))
    again = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
    assert "its bytes changed since it was exported" in caplog.text
    np.testing.assert_allclose(again.run(crops, skeleton)[0], want, atol=1e-6)


def test_a_cached_export_is_not_reused_once_the_exporting_code_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Same checkpoint, same metadata: only the fingerprint of the network's and exporter's code tells an
    # export made before an update from one made after it.
    from core.engines import selection

    checkpoint = make_checkpoint(tmp_path / "model.pt", seed=1)
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="core.engines.selection"):
        open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
        assert "exporting model.pt to ONNX" in caplog.text and "code changed" not in caplog.text
        monkeypatch.setattr(selection, "exporter_fingerprint", lambda: "0123456789abcdef")
        open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
    # The log says why the start after an upgrade took seconds longer.
    assert "the exporting code changed since its last export" in caplog.text
    # Made again for its damaged bytes, the older code's export beside it: that, not the code, is why.
    (current,) = cache.glob("model-*-01234567.onnx")
    current.write_bytes(current.read_bytes()[:-64] + bytes(64))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="core.engines.selection"):
        open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
    assert "exporting model.pt to ONNX" in caplog.text and "code changed" not in caplog.text
    names = sorted(p.name for p in cache.glob("*.onnx"))  # the older code's export stays (60 days unused)
    # One export per fingerprint; which sorts first depends on the real one (a hash of today's code).
    assert len(names) == 2 and sum(name.endswith("-01234567.onnx") for name in names) == 1


def test_split_graphs_compute_what_the_whole_graph_does(onnx_path: Path, tmp_path: Path) -> None:
    parts_path, head_path = split_onnx(onnx_path, tmp_path)
    parts, head = onnx.load(str(parts_path)).graph, onnx.load(str(head_path)).graph
    assert [i.name for i in parts.input] == ["crops"] and [o.name for o in parts.output] == ["part_features"]
    assert {i.name for i in head.input} == {"part_features", "skeleton"}
    assert not any(n.op_type == "LSTM" for n in parts.node) and any(n.op_type == "LSTM" for n in head.node)
    assert read_onnx_metadata(head_path) == read_onnx_metadata(onnx_path)

    metadata = read_onnx_metadata(onnx_path)
    whole = GraphEngine(OnnxRuntimeGraph(onnx_path, threads=1), metadata)
    split = SplitEngine(
        OnnxRuntimeGraph(parts_path, threads=1), OnnxRuntimeGraph(head_path, threads=1), metadata
    )
    crops, skeleton = example_inputs(metadata, 2, seed=7)
    for got, want in zip(split.run(crops, skeleton), whole.run(crops, skeleton), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert split_onnx(onnx_path, tmp_path) == (parts_path, head_path)  # reused
    # The name the status line shows: "1 thread", not "1 threads".
    assert whole.name == "onnxruntime-cpu (1 thread)"


def test_ablations_export_and_run_but_do_not_split(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path / "sum0.pt", aggregation=Aggregation.SUM0)
    engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=tmp_path, threads=1)
    crops, skeleton = example_inputs(engine.metadata, 2)
    logits, attention = engine.run(crops, skeleton)
    want = TorchEngine(load_checkpoint(checkpoint).model, engine.metadata).run(crops, skeleton)
    np.testing.assert_allclose(logits, want[0], atol=1e-4, rtol=0)
    np.testing.assert_allclose(attention, 1 / 3, atol=1e-6)
    (exported,) = tmp_path.glob("*.onnx")
    with pytest.raises(EngineError, match="no 'part_features' output"):
        split_onnx(exported, tmp_path / "pieces")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        open_engine(tmp_path / "nothing.pt")


def test_tensorrt_engine_cache_rebuilds_only_when_stale(tmp_path: Path) -> None:
    builds: list[int] = []

    def build() -> bytes:
        builds.append(1)
        return b"plan %d" % len(builds)

    key = {"onnx_sha256": "ab" * 32, "gpu": "NVIDIA H100", "compute_capability": "9.0", "tensorrt": "10.3.0"}
    assert cached_engine(tmp_path, "net.fp16", key, build) == (b"plan 1", True)
    assert cached_engine(tmp_path, "net.fp16", dict(key), build) == (b"plan 1", False)
    for change in (
        {"gpu": "NVIDIA L4", "compute_capability": "8.9"},
        {"tensorrt": "10.4.0"},
        {"onnx_sha256": "cd"},
    ):
        plan, rebuilt = cached_engine(tmp_path, "net.fp16", {**key, **change}, build)
        assert rebuilt and plan == b"plan %d" % len(builds)
    (tmp_path / "net.fp16.plan.json").write_text("{broken", encoding="utf-8")
    assert cached_engine(tmp_path, "net.fp16", key, build)[1]
    assert len(builds) == 5 and (tmp_path / "net.fp16.plan").read_bytes() == b"plan 5"


@pytest.mark.usefixtures("tensorrt_without_lstm")
def test_tensorrt_without_lstm_runs_the_i3ds_alone_and_says_so(
    onnx_path: Path, reference: TorchEngine, tmp_path: Path
) -> None:
    engine = open_engine(onnx_path, Backend.TENSORRT, cache_dir=tmp_path)
    assert isinstance(engine, SplitEngine)
    assert engine.parts.name == "tensorrt-fp16" and engine.head.name.startswith("onnxruntime")
    assert "I3Ds run on TensorRT and the pose LSTM + attention on onnxruntime" in engine.reason
    assert "UNSUPPORTED_NODE" in engine.reason
    crops, skeleton = example_inputs(engine.metadata, 2)
    for got, want in zip(engine.run(crops, skeleton), reference.run(crops, skeleton), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    # Crops as cut go to TensorRT as they are: widened on the GPU, not into a float32 copy on the CPU.
    as_cut = crops.round().astype(np.uint8)
    for got, want in zip(engine.run(as_cut, skeleton), reference.run(as_cut, skeleton), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert engine.parts.fed == {"crops": np.uint8}


def _skip_unless(backend: Backend) -> None:
    why_not = unavailable_reason(backend)
    if why_not:
        pytest.skip(f"{backend.value} not available here: {why_not}")


def test_unavailable_backends_say_why() -> None:
    for backend in AUTO_ORDER:
        why_not = unavailable_reason(backend)
        assert why_not is None or len(why_not) > 10
    assert (
        unavailable_reason(Backend.PYTORCH_CPU) is None
        and unavailable_reason(Backend.ONNXRUNTIME_CPU) is None
    )


def test_tensorrt_fp16_engine_is_built_cached_and_close(
    onnx_path: Path, reference: TorchEngine, tmp_path: Path
) -> None:
    _skip_unless(Backend.TENSORRT)
    engine = open_engine(onnx_path, Backend.TENSORRT, cache_dir=tmp_path)
    assert engine.name.startswith("tensorrt")
    assert list(tmp_path.glob("*.plan")) and list(tmp_path.glob("*.plan.json"))
    for people in (1, 4, 7):  # 7 > MAX_PEOPLE runs in chunks
        crops, skeleton = example_inputs(engine.metadata, people, seed=people)
        for got, want in zip(engine.run(crops, skeleton), reference.run(crops, skeleton), strict=True):
            np.testing.assert_allclose(got, want, atol=5e-2, rtol=0)
    again = open_engine(onnx_path, Backend.TENSORRT, cache_dir=tmp_path)
    tensorrt_graph = again.graph if isinstance(again, GraphEngine) else again.parts
    assert tensorrt_graph.rebuilt is False  # loaded from the cache


def test_onnxruntime_cuda_matches_pytorch(onnx_path: Path, reference: TorchEngine) -> None:
    _skip_unless(Backend.ONNXRUNTIME_CUDA)
    engine = open_engine(onnx_path, Backend.ONNXRUNTIME_CUDA)
    crops, skeleton = example_inputs(engine.metadata, 2)
    # cuDNN may use TF32 on recent GPUs: a sanity bound; exact parity is checked on the CPU.
    for got, want in zip(engine.run(crops, skeleton), reference.run(crops, skeleton), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-2, rtol=0)


def test_pytorch_cuda_matches_cpu(checkpoint: Path, reference: TorchEngine) -> None:
    _skip_unless(Backend.PYTORCH_CUDA)
    engine = open_engine(checkpoint, Backend.PYTORCH_CUDA)
    assert "CUDA graphs for batch 1,2,3,4,5,6" in engine.name and "FP16 I3Ds" in engine.name, engine.reason
    assert "BatchNorm folded" in engine.name, engine.name
    unfolded = TorchCudaEngine(reference.network, engine.metadata, "cuda",
                               options=CudaOptions(fold_batch_norm=False))  # fmt: skip
    assert not unfolded.reason, unfolded.reason  # graphs captured, nothing fell back
    # A captured size, another, and more people than the largest (chunks: the page-locked buffer is
    # reused within one call). Crops as the live app feeds them (uint8), and once as float32.
    for people, dtype in ((1, np.uint8), (3, np.float32), (7, np.uint8)):
        crops, skeleton = example_inputs(engine.metadata, people, seed=people)
        crops = crops.round().astype(dtype)
        want_logits, want_attention = reference.run(crops, skeleton)
        for tested in (engine, unfolded):
            logits, attention = tested.run(crops, skeleton)
            # FP16 I3Ds: a sanity bound (parity on real crops is benchmarks/gpu.py's); the head is FP32.
            np.testing.assert_allclose(logits, want_logits, atol=5e-2, rtol=0, err_msg=tested.name)
            np.testing.assert_allclose(attention, want_attention, atol=1e-2, rtol=0, err_msg=tested.name)


def test_benchmark_reports_percentiles_and_targets(
    checkpoint: Path, workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    result = bench.main(
        [
            "--checkpoint", str(checkpoint), "--backends", "onnxruntime-cpu", "pytorch-cpu",
            "--people", "1", "2", "--threads", "1", "--warmup", "1", "--seconds", "0", "--min-runs", "3",
            "--in-process", "--cache-dir", str(workdir / "cache"), "--json", str(out),
        ]
    )  # fmt: skip
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["measurements"] == json.loads(json.dumps(result["measurements"]))
    cases = {(m["backend"], m["people"]) for m in written["measurements"]}
    assert cases == {(b, p) for b in ("onnxruntime-cpu", "pytorch-cpu") for p in (1, 2)}
    for m in written["measurements"]:
        assert m["runs"] == 3 and 0 < m["p50_ms"] <= m["p95_ms"] and m["windows_per_s"] > 0
        assert m["peak_rss_mb"] > 0 and m["profile"] == "tiny"
    targets = {t["target"]: t for t in written["targets"]}
    assert any("17 ms" in name for name in targets)
    table = capsys.readouterr().out
    assert "p50 ms" in table and "onnxruntime-cpu" in table and "target" in table


def test_onnx_runtime_opened_through_the_engines_writes_no_telemetry(checkpoint: Path, tmp_path: Path):
    """ONNX Runtime starts telemetry when it is imported (a device id and a queue of events about the process
    under ~/.cache/Microsoft, for Microsoft's collector): nothing of it from a patient-room machine."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), TMPDIR=str(home / "tmp"))
    script = ("import sys; from core.engines import open_engine; "
              "engine = open_engine(sys.argv[1], 'onnxruntime-cpu'); print(engine.name)")
    done = subprocess.run([sys.executable, "-c", script, str(checkpoint)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert "onnxruntime-cpu" in done.stdout
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert not [p for p in written if "Microsoft" in p or p.endswith(".ses")], written
