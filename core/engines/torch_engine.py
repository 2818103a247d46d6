"""PyTorch engines: eager on the CPU, and the fast CUDA one (half precision, cuDNN autotuning, CUDA graphs).

    TorchEngine        eager, FP32, any device (the reference every other backend is checked against)
    TorchCudaEngine    numpy in --> StaticBatch (fixed device buffers, padded to a captured batch size)
                           --> replay the CUDA graph captured for that size --> numpy out

TorchCudaEngine, step by step (the paper's budget is 17 ms per window; on an H200 one person's paper-profile
window took 6.2 ms a call, six people 23.5 ms: README, Figures):
  - each BatchNorm folded into its convolution (below);
  - the I3Ds in FP16 (`network.parts.half()`), the pose LSTM, attention and classifier in FP32: the
    network converts where the two meet (`PartAttentionNetwork._in_head_precision`);
  - cudnn.benchmark: each convolution's fastest algorithm is found once, during the warm-up runs;
  - one CUDA graph per batch size (1..MAX_PEOPLE by default), captured after the warm-up: a whole
    forward is one launch. A graph reads fixed addresses, so inputs are copied into static buffers
    (`StaticBatch`) and a batch of b people runs the graph of the smallest captured size >= b, the
    rows past b zeroed and their outputs dropped; more people than the largest size run in chunks;
  - uint8 crops copied to the GPU through page-locked memory;
  - optionally torch.compile (fused kernels) before capture.
Where capture or compile fails, the engine runs the same static buffers eagerly and says so in `reason`.

Each BatchNorm is folded into its convolution (`fold_batch_norms`, the same function): a six-person
paper-profile forward on an H200 spent a quarter of its 24 ms in elementwise kernels, one per
convolution (torch.profiler, 2026-12-04), and folding took one person's call from 8.1 to 6.2 ms, six
people's from 27.0 to 23.5 ms (benchmarks.gpu, its rewrites part; a first run gave 8.1 to 6.6 and 27.7
to 24.2). Two other exact rewrites were timed in that first run and dropped: the first convolution
over 8 channels instead of RGB's 3 (+1% / +6%) and max-pools one axis at a time (+12% / +13%).

On a machine without a GPU the same class runs on the CPU (device="cpu", no graphs), which is how the
batching, padding, copying, the folding and the FP16/FP32 split are tested. The CUDA path (graph capture
and replay, cuDNN autotuning) ran on an NVIDIA H200 on 2026-12-04: `python -m benchmarks.gpu`, figures in
the README.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval

from core.engines.interface import MAX_PEOPLE, check_inputs, check_shapes
from core.engines.metadata import EngineMetadata
from core.model.i3d import Unit3D
from core.model.network import PartAttentionNetwork


class TorchEngine:
    """PyTorch eager, on the CPU or a CUDA device (threads: PyTorch's own setting)."""

    def __init__(
        self,
        network: PartAttentionNetwork,
        metadata: EngineMetadata,
        device: str = "cpu",
        *,
        reason: str = "",
    ) -> None:
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.metadata = metadata
        self.name = f"pytorch-{self.device.type}"
        self.reason = reason

    def run(self, crops: np.ndarray, skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        crops, skeleton = check_inputs(crops, skeleton, self.metadata)
        with torch.inference_mode():
            logits, attention = self.network(
                torch.from_numpy(crops).to(self.device), torch.from_numpy(skeleton).to(self.device)
            )
        return logits.float().cpu().numpy(), attention.float().cpu().numpy()


@dataclass(frozen=True)
class CudaOptions:
    """How TorchCudaEngine runs the network (defaults: everything that makes it fast)."""

    half: bool = True  # I3Ds in FP16 (the head stays FP32)
    pinned_staging: bool = True  # uint8 crops copied to the GPU from page-locked memory (GPU only)
    fold_batch_norm: bool = True  # each BatchNorm folded into its convolution: module docstring
    cuda_graphs: bool = True
    graph_batches: tuple[int, ...] = tuple(range(1, MAX_PEOPLE + 1))  # batch sizes with a captured graph
    compile: bool = False  # torch.compile before capture (minutes for the paper profile on first use)
    cudnn_benchmark: bool = True
    warmup_runs: int = 3  # per batch size, before capture: autotuning and lazy init stay out of the graph

    def __post_init__(self) -> None:
        if not self.graph_batches or min(self.graph_batches) < 1:
            raise ValueError(f"graph_batches must be batch sizes >= 1, got {self.graph_batches}")
        if tuple(sorted(set(self.graph_batches))) != self.graph_batches:
            raise ValueError(f"graph_batches must be increasing and distinct, got {self.graph_batches}")


def batch_chunks(people: int, sizes: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """How `people` windows run on graphs captured for `sizes` (increasing): (start, stop, size) per call,
    each the smallest size that holds its rows; more people than the largest size run in chunks of it.

    batch_chunks(3, (1, 2, 4, 6)) == [(0, 3, 4)]; batch_chunks(8, (1, 2, 4, 6)) == [(0, 6, 6), (6, 8, 2)]
    """
    if people < 1:
        raise ValueError(f"people must be >= 1, got {people}")
    largest = sizes[-1]
    chunks = []
    for start in range(0, people, largest):
        rows = min(largest, people - start)
        size = next(s for s in sizes if s >= rows)
        chunks.append((start, start + rows, size))
    return chunks


def fold_batch_norms(network: PartAttentionNetwork) -> bool:
    """Each BatchNorm of an eval-mode network's I3Ds folded into its convolution, in place and in FP32
    (before any conversion to FP16): the same function, one kernel fewer per convolution. Whether any
    was folded."""
    folded = False
    for module in network.modules():
        if isinstance(module, Unit3D) and module.bn is not None:
            module.conv3d = fuse_conv_bn_eval(module.conv3d, module.bn)
            module.bn = None
            folded = True
    return folded


class StaticBatch:
    """Fixed input buffers on the engine's device, largest batch size, that graphs are captured on.

    `load` copies a chunk of windows into the first rows and zeroes the rows up to the graph's size, so
    a replay reads this call's windows (and finite padding), never another call's."""

    def __init__(
        self, metadata: EngineMetadata, max_batch: int, device: torch.device, *, pinned: bool = False
    ) -> None:
        self.device = device
        self.crops = torch.zeros(metadata.crops_shape(max_batch), dtype=torch.float32, device=device)
        self.skeleton = torch.zeros(metadata.skeleton_shape(max_batch), dtype=torch.float32, device=device)
        # Crops as cut are uint8: a quarter of the bytes to copy to the GPU; widened there.
        self._crops_uint8 = torch.zeros(metadata.crops_shape(max_batch), dtype=torch.uint8, device=device)
        # Copied through page-locked memory, the GPU reads them at full speed: six people's paper-profile
        # crops (54 MB) took 3.8 ms from numpy's pageable memory on an H200, 0.7 + 1.0 ms this way.
        self._host_uint8: torch.Tensor | None = None
        self.note = ""  # why page-locked staging was asked for and not used ("" otherwise)
        if pinned and self._crops_uint8.numel():  # (the pose-only network takes no crops)
            try:
                self._host_uint8 = torch.zeros(self._crops_uint8.shape, dtype=torch.uint8).pin_memory()
            except RuntimeError as error:  # a container's locked-memory limit: slower, not broken
                self.note = f"page-locked staging unavailable ({error}); crops copied from pageable memory"

    def load(self, crops: np.ndarray, skeleton: np.ndarray, size: int) -> None:
        rows = skeleton.shape[0]
        if not 1 <= rows <= size <= self.skeleton.shape[0]:
            raise ValueError(
                f"{rows} windows do not fit a batch of {size} (buffers hold {self.skeleton.shape[0]})"
            )
        if self.crops.shape[1] == 0:  # the pose-only network takes no crops
            pass
        elif crops.dtype == np.uint8:
            staging = self._crops_uint8[:rows]
            source = torch.from_numpy(np.ascontiguousarray(crops))
            if self._host_uint8 is not None:
                # The last call's copy out of this buffer has finished: its outputs were read (.cpu()).
                source = self._host_uint8[:rows].copy_(source)
            staging.copy_(source, non_blocking=True)
            self.crops[:rows].copy_(staging)
        else:
            self.crops[:rows].copy_(
                torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32)), non_blocking=True
            )
        self.skeleton[:rows].copy_(
            torch.from_numpy(np.ascontiguousarray(skeleton, dtype=np.float32)), non_blocking=True
        )
        if rows < size:
            self.crops[rows:size].zero_()
            self.skeleton[rows:size].zero_()

    def view(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.crops[:size], self.skeleton[:size]


Forward = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class TorchCudaEngine:
    """The network on a CUDA device, fast (module docstring). `device="cpu"` runs the same code without
    graphs or half precision (tests; CPU-only machines use ONNX Runtime or TorchEngine)."""

    def __init__(
        self,
        network: PartAttentionNetwork,
        metadata: EngineMetadata,
        device: str = "cuda",
        *,
        options: CudaOptions | None = None,
        reason: str = "",
    ) -> None:
        options = options or CudaOptions()
        self.device = torch.device(device)
        on_gpu = self.device.type == "cuda"
        self.metadata = metadata
        self.options = options
        self.sizes = options.graph_batches
        # A copy: half precision and the move to the GPU change a module in place, and the caller's
        # network may still serve another engine (auto falls back to the CPU with the same checkpoint).
        network = copy.deepcopy(network).to(self.device).eval()
        folded = options.fold_batch_norm and fold_batch_norms(network)
        self.half = options.half and bool(network.parts)  # (on a CPU: slow, for tests)
        if self.half:
            # The I3Ds (nearly all the arithmetic) in FP16; the LSTM, attention and classifier in FP32.
            network.parts.half()
            if network.shared is not None:
                network.shared.half()
        for module in network.modules():
            if isinstance(module, torch.nn.RNNBase):
                # One contiguous weight block for cuDNN's LSTM, once (a copied module has lost it), instead
                # of a re-layout with a warning on every call.
                module.flatten_parameters()
        self.network = network
        if on_gpu and options.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True  # process-wide: the fastest convolution algorithms
        self.inputs = StaticBatch(
            metadata, self.sizes[-1], self.device, pinned=on_gpu and options.pinned_staging
        )
        notes: list[str] = [self.inputs.note] if self.inputs.note else []
        self._forward: Forward = network
        if options.compile:
            self._forward = self._compiled(notes)
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, tuple[torch.Tensor, torch.Tensor]]] = {}
        self._warm_up(notes)
        if options.cuda_graphs and on_gpu:
            self._capture(notes)
        features = [
            "FP16 I3Ds + FP32 head" if self.half else "FP32",
            f"CUDA graphs for batch {','.join(map(str, sorted(self._graphs)))}" if self._graphs else "eager",
        ]
        if options.compile and self._forward is not network:
            features.append("torch.compile")
        if folded:
            features.append("BatchNorm folded")
        self.name = f"pytorch-{self.device.type} ({', '.join(features)})"
        self.reason = "; ".join([reason, *notes]) if notes else reason

    def _compiled(self, notes: list[str]) -> Forward:
        try:
            # The default mode: fused pointwise kernels, convolutions left to cuDNN. (max-autotune takes
            # many minutes for three I3Ds; the graphs are ours, captured after compilation.)
            return torch.compile(self.network, dynamic=False)
        except Exception as error:  # no compiler toolchain, unsupported Python: run uncompiled
            notes.append(f"torch.compile unavailable ({type(error).__name__}: {error}); runs uncompiled")
            return self.network

    def _warm_up(self, notes: list[str]) -> None:
        """A few runs of every batch size: cuDNN autotunes, lazy CUDA init and compilation happen here.
        A failing compiled forward falls back to the plain one (said in `reason`)."""
        on_gpu = self.device.type == "cuda"
        # On a side stream, as PyTorch's CUDA graph notes ask: capture then starts from a quiet stream.
        side = torch.cuda.Stream(self.device) if on_gpu else None
        if side is not None:
            side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
            for size in self.sizes:
                crops, skeleton = self.inputs.view(size)
                for _ in range(self.options.warmup_runs):
                    try:
                        with torch.inference_mode():
                            self._forward(crops, skeleton)
                    except Exception as error:
                        if self._forward is self.network:
                            raise
                        # torch.compile compiles on first use: its failure shows here, not in _compiled.
                        notes.append(
                            f"torch.compile failed ({type(error).__name__}: {error}); runs uncompiled"
                        )
                        self._forward = self.network
                        with torch.inference_mode():
                            self._forward(crops, skeleton)
        if side is not None:
            torch.cuda.current_stream(self.device).wait_stream(side)
            torch.cuda.synchronize(self.device)

    def _capture(self, notes: list[str]) -> None:
        """One graph per batch size, sharing one memory pool (replays never overlap). Largest first, so
        the smaller graphs fit in the memory the largest already took."""
        pool = torch.cuda.graph_pool_handle()
        try:
            for size in sorted(self.sizes, reverse=True):
                crops, skeleton = self.inputs.view(size)
                graph = torch.cuda.CUDAGraph()
                with torch.inference_mode(), torch.cuda.graph(graph, pool=pool):
                    outputs = self._forward(crops, skeleton)
                self._graphs[size] = (graph, outputs)
        except Exception as error:  # an op that cannot be captured: run the same buffers eagerly
            self._graphs.clear()
            notes.append(f"CUDA graph capture failed ({type(error).__name__}: {error}); runs eagerly")

    def run(self, crops: np.ndarray, skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Crops as cut (uint8) go to the device as they are, a quarter of the bytes; anything else as float32.
        crops = np.asarray(crops)
        crops = np.ascontiguousarray(crops, dtype=np.uint8 if crops.dtype == np.uint8 else np.float32)
        skeleton = np.ascontiguousarray(skeleton, dtype=np.float32)
        people = check_shapes(crops, skeleton, self.metadata)
        logits, attention = [], []
        for start, stop, size in batch_chunks(people, self.sizes):
            self.inputs.load(crops[start:stop], skeleton[start:stop], size)
            if size in self._graphs:
                graph, (out_logits, out_attention) = self._graphs[size]
                graph.replay()
            else:
                with torch.inference_mode():
                    out_logits, out_attention = self._forward(*self.inputs.view(size))
            rows = stop - start
            # .cpu() waits for the replay; the outputs are copied out before the next chunk reuses them.
            logits.append(out_logits[:rows].float().cpu().numpy())
            attention.append(out_attention[:rows].float().cpu().numpy())
        if len(logits) == 1:
            return logits[0], attention[0]
        return np.concatenate(logits), np.concatenate(attention)
