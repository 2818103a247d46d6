"""The FP16 graph TensorRT builds from: I3Ds in FP16, the LSTM, softmax and logits in FP32, FP32 I/O;
and on real NTU crops it decides as the FP32 graph does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from model_files import random_checkpoint
from onnx import TensorProto

from core.engines import (
    EngineMetadata,
    Fp16Scope,
    GraphEngine,
    OnnxRuntimeGraph,
    example_inputs,
    export_onnx,
    file_sha256,
    read_onnx_metadata,
    to_fp16,
)
from core.engines.mixed_precision import PRECISION_KEY, fp16_nodes
from core.model import load_checkpoint, tiny
from training.export import FP16_TOP1_AGREEMENT, fp16_parity, ntu_windows

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def onnx_precision(model: onnx.ModelProto) -> dict | None:
    """The record `to_fp16` left in a file's metadata, or None for an FP32 export."""
    import json

    for prop in model.metadata_props:
        if prop.key == PRECISION_KEY:
            return json.loads(prop.value)
    return None
DEMO_CHECKPOINT = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "demo.pt"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fp16")
    checkpoint = random_checkpoint(folder / "tiny.pt", tiny(5), list("abcde"), varied_attention=True)
    loaded = load_checkpoint(checkpoint)
    metadata = EngineMetadata.from_checkpoint(loaded, file_sha256(checkpoint))
    return export_onnx(loaded.model, metadata, folder / "tiny.onnx")


def _input_types(model: onnx.ModelProto) -> dict[str, set[int]]:
    """op type -> element types of its floating inputs."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {
        v.name: v.type.tensor_type.elem_type for v in (*inferred.graph.input, *inferred.graph.value_info)
    }
    types.update({i.name: i.data_type for i in inferred.graph.initializer})
    by_op: dict[str, set[int]] = {}
    for node in inferred.graph.node:
        floats = {
            types[n] for n in node.input if n and types.get(n) in (TensorProto.FLOAT, TensorProto.FLOAT16)
        }
        by_op.setdefault(node.op_type, set()).update(floats)
    return by_op


def test_the_i3ds_are_fp16_and_what_fp16_harms_is_fp32(exported: Path) -> None:
    source = onnx.load(str(exported))
    converted = to_fp16(source)
    types = _input_types(converted)
    assert types["Conv"] == {TensorProto.FLOAT16} and types["MaxPool"] == {TensorProto.FLOAT16}
    for op in ("LSTM", "Softmax", "Gemm"):  # pose LSTM, attention softmax, attention layers + classifier
        assert types[op] == {TensorProto.FLOAT}, op
    graph = converted.graph
    for value in (*graph.input, *graph.output):  # FP32 in and out: callers feed it as the FP32 file
        assert value.type.tensor_type.elem_type == TensorProto.FLOAT, value.name
    assert [v.name for v in graph.output] == [v.name for v in source.graph.output]
    convs = sum(n.op_type == "Conv" for n in source.graph.node)
    assert len(fp16_nodes(source)) > convs  # convolutions, pads, pools, concatenations, pools
    assert onnx_precision(converted)["fp16"] == "i3ds" and onnx_precision(source) is None


def test_the_fp16_file_keeps_the_metadata_and_runs(exported: Path, tmp_path: Path) -> None:
    path = tmp_path / "tiny.fp16.onnx"
    onnx.save(to_fp16(onnx.load(str(exported))), str(path))
    metadata = read_onnx_metadata(path)
    assert metadata == read_onnx_metadata(exported)
    crops, skeleton = example_inputs(metadata, 3)
    half = GraphEngine(OnnxRuntimeGraph(path, threads=1), metadata).run(crops, skeleton)
    full = GraphEngine(OnnxRuntimeGraph(exported, threads=1), metadata).run(crops, skeleton)
    assert half[0].dtype == np.float32
    assert 0 < np.abs(half[0] - full[0]).max() < 2e-2  # FP16 rounding shows, and stays small
    np.testing.assert_array_equal(half[1], full[1])  # the attention never sees FP16


def test_whole_network_scope_converts_the_head_too(exported: Path) -> None:
    types = _input_types(to_fp16(onnx.load(str(exported)), Fp16Scope.WHOLE_NETWORK))
    assert types["LSTM"] == {TensorProto.FLOAT16} and types["Softmax"] == {TensorProto.FLOAT16}


def test_on_real_crops_the_fp16_graph_decides_as_fp32_does(shared_data: Path, tmp_path: Path) -> None:
    """The trained demo model (its decisions mean something) on 24 real windows of the NTU A001 clip."""
    loaded = load_checkpoint(DEMO_CHECKPOINT)
    metadata = EngineMetadata.from_checkpoint(loaded, file_sha256(DEMO_CHECKPOINT))
    path = export_onnx(loaded.model, metadata, tmp_path / "demo.onnx")
    crops, skeleton = ntu_windows(shared_data, metadata, count=24)
    report = fp16_parity(path, crops, skeleton, threads=1)
    assert report.windows == 24 and report.top1_agreement >= FP16_TOP1_AGREEMENT
    assert report.attention_error == 0.0 and 0 < report.logits_error < 0.05
    whole = fp16_parity(path, crops, skeleton, scope=Fp16Scope.WHOLE_NETWORK, threads=1)
    assert whole.attention_error > 0  # what keeping the head in FP32 saves
    assert "top-1 agreement 100.0%" in report.summary()


def test_i3ds_in_half_precision_feed_a_full_precision_head() -> None:
    """Engines may run the part I3Ds in a 16-bit type and the rest in FP32: crops are normalised in FP32,
    the I3D features reach the classifier in its own type, logits come out FP32 for every aggregation."""
    import torch

    from core.model import Aggregation, PartAttentionNetwork, with_aggregation

    for aggregation in (Aggregation.ATTENTION, Aggregation.SUM0, Aggregation.CONCAT0):
        torch.manual_seed(0)
        network = PartAttentionNetwork(with_aggregation(tiny(5), aggregation)).eval()
        c = network.config
        crops = torch.rand(2, 3, c.num_frames, c.crop_size, c.crop_size, 3) * 255
        skeleton = torch.randn(2, c.num_frames, c.num_bodies, c.num_joints, 3)
        with torch.no_grad():
            full, _ = network(crops, skeleton)
            network.parts.to(torch.bfloat16)
            mixed, attention = network(crops, skeleton)
        assert mixed.dtype == torch.float32 and attention.dtype == torch.float32, aggregation
        torch.testing.assert_close(mixed, full, atol=0.1 * full.abs().max().item(), rtol=0)
