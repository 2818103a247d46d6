"""The fast PyTorch engine's logic that runs without a GPU: batching onto captured sizes, static buffers,
the inference rewrites of the I3Ds, half-precision I3Ds with an FP32 head. CUDA graphs themselves need a
GPU (`python -m benchmarks.gpu`; tests/test_engines.py's pytorch-cuda test where one is)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from core.engines import (
    CudaOptions,
    EngineInputError,
    EngineMetadata,
    TorchCudaEngine,
    TorchEngine,
    batch_chunks,
    example_inputs,
    profile_name,
)
from core.engines.torch_engine import StaticBatch, fold_batch_norms
from core.model import PartAttentionNetwork, Preprocessing, tiny
from core.model.i3d import Unit3D

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def network() -> PartAttentionNetwork:
    torch.manual_seed(0)
    network = PartAttentionNetwork(tiny(5)).eval()
    with torch.no_grad():
        network.attention.score.weight.normal_(0, 1.0)  # attention that depends on the pose
    return network


@pytest.fixture(scope="module")
def metadata(network: PartAttentionNetwork) -> EngineMetadata:
    config = network.config
    return EngineMetadata(
        class_names=tuple(f"class {i}" for i in range(config.num_classes)),
        profile=profile_name(config),
        config=config,
        preprocessing=Preprocessing.matching(config),
        checkpoint_sha256="0" * 64,
    )


@pytest.fixture(scope="module")
def reference(network: PartAttentionNetwork, metadata: EngineMetadata) -> TorchEngine:
    return TorchEngine(network, metadata)


def test_a_batch_runs_on_the_smallest_captured_size_that_holds_it() -> None:
    sizes = (1, 2, 4, 6)
    assert batch_chunks(1, sizes) == [(0, 1, 1)]
    assert batch_chunks(3, sizes) == [(0, 3, 4)]
    assert batch_chunks(6, sizes) == [(0, 6, 6)]
    assert batch_chunks(8, sizes) == [(0, 6, 6), (6, 8, 2)]  # more people than the largest: chunks
    assert batch_chunks(13, (1, 2, 3, 4, 5, 6)) == [(0, 6, 6), (6, 12, 6), (12, 13, 1)]
    with pytest.raises(ValueError):
        batch_chunks(0, sizes)


def test_graph_batch_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="increasing"):
        CudaOptions(graph_batches=(4, 2))
    with pytest.raises(ValueError, match=">= 1"):
        CudaOptions(graph_batches=(0, 2))


def test_static_buffers_hold_this_calls_windows_and_zero_padding(metadata: EngineMetadata) -> None:
    buffers = StaticBatch(metadata, 4, torch.device("cpu"))
    crops, skeleton = example_inputs(metadata, 4, seed=1)
    buffers.load(crops, skeleton, 4)
    fewer_crops, fewer_skeleton = example_inputs(metadata, 3, seed=2)
    buffers.load(fewer_crops.round().astype(np.uint8), fewer_skeleton, 4)  # crops as cut: uint8
    view_crops, view_skeleton = buffers.view(4)
    np.testing.assert_array_equal(view_crops[:3].numpy(), fewer_crops.round())
    np.testing.assert_array_equal(view_skeleton[:3].numpy(), fewer_skeleton)
    assert not view_crops[3].any() and not view_skeleton[3].any()  # the earlier 4th window is gone
    with pytest.raises(ValueError, match="do not fit"):
        buffers.load(crops, skeleton, 2)


def test_uint8_crops_go_through_the_page_locked_buffer_or_say_why_not(
    metadata: EngineMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This machine has no GPU to lock memory for: the host buffer stands in for it (same copies).
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda tensor: tensor)
    buffers = StaticBatch(metadata, 4, torch.device("cpu"), pinned=True)
    assert buffers.note == ""
    for people, seed in ((4, 1), (2, 2)):
        crops, skeleton = example_inputs(metadata, people, seed=seed)
        buffers.load(crops.round().astype(np.uint8), skeleton, 4)
        np.testing.assert_array_equal(buffers._host_uint8[:people].numpy(), crops.round())  # went through it
        np.testing.assert_array_equal(buffers.view(4)[0][:people].numpy(), crops.round())
    assert not buffers.view(4)[0][2:].any()

    def refuse(tensor: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("locked-memory limit reached")

    monkeypatch.setattr(torch.Tensor, "pin_memory", refuse)
    buffers = StaticBatch(metadata, 2, torch.device("cpu"), pinned=True)  # slower, still works
    assert "page-locked staging unavailable (locked-memory limit reached)" in buffers.note
    crops, skeleton = example_inputs(metadata, 2, seed=3)
    buffers.load(crops.round().astype(np.uint8), skeleton, 2)
    np.testing.assert_array_equal(buffers.view(2)[0].numpy(), crops.round())


@pytest.mark.parametrize("people", [1, 3, 5, 7])
def test_padded_and_chunked_batches_compute_what_eager_does(
    network: PartAttentionNetwork, metadata: EngineMetadata, reference: TorchEngine, people: int
) -> None:
    engine = TorchCudaEngine(
        network, metadata, "cpu", options=CudaOptions(half=False, graph_batches=(2, 4), warmup_runs=1)
    )
    crops, skeleton = example_inputs(metadata, people, seed=people)
    logits, attention = engine.run(crops, skeleton)
    want_logits, want_attention = reference.run(crops, skeleton)
    assert logits.shape == (people, 5) and attention.shape == (people, 3) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, want_logits, atol=1e-5, rtol=0)
    np.testing.assert_allclose(attention, want_attention, atol=1e-6, rtol=0)
    assert np.ptp(attention) > 1e-3


def test_folded_batch_norms_compute_what_the_network_does(metadata: EngineMetadata) -> None:
    torch.manual_seed(1)
    network = PartAttentionNetwork(tiny(5)).eval()
    with torch.no_grad():  # BatchNorms as after training, so that folding them changes the weights
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.running_mean.normal_(0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.2)
    folded = copy.deepcopy(network)
    assert fold_batch_norms(folded)
    units = [m for m in folded.modules() if isinstance(m, Unit3D)]
    assert units and all(unit.bn is None for unit in units)
    crops, skeleton = (torch.from_numpy(a) for a in example_inputs(metadata, 3, seed=4))
    with torch.inference_mode():
        want, got = network(crops, skeleton), folded(crops, skeleton)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-4, rtol=1e-4)
    weight = folded.parts[0].Conv3d_1a_7x7.conv3d.weight
    assert not torch.allclose(weight, network.parts[0].Conv3d_1a_7x7.conv3d.weight)  # the BN was not a no-op
    assert not fold_batch_norms(folded)  # nothing left to fold


def test_the_cuda_engine_folds_batch_norms_unless_told_not_to(
    network: PartAttentionNetwork, metadata: EngineMetadata, reference: TorchEngine
) -> None:
    crops, skeleton = example_inputs(metadata, 2, seed=9)
    for fold in (True, False):
        options = CudaOptions(half=False, graph_batches=(2,), warmup_runs=1, fold_batch_norm=fold)
        engine = TorchCudaEngine(network, metadata, "cpu", options=options)
        assert engine.name.endswith(", BatchNorm folded)") == fold, engine.name
        assert (engine.network.parts[0].Conv3d_1a_7x7.bn is None) == fold
        for got, want in zip(engine.run(crops, skeleton), reference.run(crops, skeleton), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert network.parts[0].Conv3d_1a_7x7.bn is not None  # the caller's network is untouched


def test_uint8_crops_give_what_float_crops_give(
    network: PartAttentionNetwork, metadata: EngineMetadata
) -> None:
    engine = TorchCudaEngine(network, metadata, "cpu", options=CudaOptions(half=False, warmup_runs=1))
    crops, skeleton = example_inputs(metadata, 2)
    as_cut = crops.round().astype(np.uint8)
    for got, want in zip(
        engine.run(as_cut, skeleton), engine.run(as_cut.astype(np.float32), skeleton), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(EngineInputError, match="same B"):
        engine.run(crops, skeleton[:1])
    skeleton[0, 0, 0, 0, 0] = np.nan  # refused, not all-NaN logits
    with pytest.raises(EngineInputError, match="skeleton has NaN or infinity in 1 of its"):
        engine.run(as_cut, skeleton)


def test_half_precision_i3ds_with_an_fp32_head(
    network: PartAttentionNetwork, metadata: EngineMetadata, reference: TorchEngine
) -> None:
    engine = TorchCudaEngine(network, metadata, "cpu", options=CudaOptions(warmup_runs=1))
    assert engine.half and "FP16 I3Ds + FP32 head" in engine.name and "eager" in engine.name
    assert engine.network.parts[0].Conv3d_1a_7x7.conv3d.weight.dtype == torch.float16
    assert engine.network.pose.lstm.weight_ih_l0.dtype == torch.float32
    assert engine.network.attention.score.weight.dtype == torch.float32
    assert engine.network.classifier.weight.dtype == torch.float32
    assert network.parts[0].Conv3d_1a_7x7.conv3d.weight.dtype == torch.float32  # the caller's is untouched
    crops, skeleton = example_inputs(metadata, 3)
    logits, attention = engine.run(crops, skeleton)
    want_logits, want_attention = reference.run(crops, skeleton)
    np.testing.assert_allclose(logits, want_logits, atol=2e-2, rtol=0)
    np.testing.assert_array_equal(attention, want_attention)  # the attention never sees FP16
