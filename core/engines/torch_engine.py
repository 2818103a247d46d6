"""PyTorch engines: eager on the CPU, and the fast CUDA one (half precision, cuDNN autotuning, CUDA graphs).

    TorchEngine        eager, FP32, any device (the reference every other backend is checked against)
    TorchCudaEngine    numpy in --> StaticBatch (fixed device buffers, padded to a captured batch size)
                           --> replay the CUDA graph captured for that size --> numpy out

TorchCudaEngine, step by step (the paper's budget is 17 ms per window; on an H200 one person's paper-profile
window took 7.7 ms a call, six people 29.9 ms: README, Figures):
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

Where a six-person paper-profile forward spent its 24 ms on an H200 (torch.profiler, 2026-12-04): 27% in
cuDNN's kernel for the first convolution (for 3 FP16 input channels it picked a slow implicit-GEMM
variant), 25% in PyTorch's 3-D max-pool (27 reads per output, int64 indices written), 26% in elementwise
kernels, likely the BatchNorm after each of the 171 convolutions (the busiest ran 171 times). Three
exact rewrites aim at these (`for_inference`: BatchNorm folded into its convolution, the first
convolution over 8 channels, max-pools one axis at a time). Each targets kernels that took about a
quarter of the replay; what each saves is not known yet, so they are off by default (no GPU was left to
time them). `python -m benchmarks.gpu` times each (its rewrites part); those it shows faster should
become CudaOptions' defaults (there is no command-line switch).

On a machine without a GPU the same class runs on the CPU (device="cpu", no graphs), which is how the
batching, padding, copying, the rewrites and the FP16/FP32 split are tested. The CUDA path (graph capture
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
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from core.engines.interface import MAX_PEOPLE, check_inputs, check_shapes
from core.engines.metadata import EngineMetadata
from core.model.i3d import MaxPool3dSame, Unit3D
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
    # The exact inference rewrites of the I3Ds (for_inference), untimed on a GPU so far: module docstring.
    fold_batch_norm: bool = False
    pad_first_conv: bool = False
    separable_max_pool: bool = False
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


TENSOR_CORE_CHANNELS = 8  # cuDNN's FP16 tensor-core kernels want channel counts that are multiples of this


class ChannelPaddedConv3d(nn.Conv3d):
    """A convolution over few input channels (RGB's 3) as one over `channels`, the extra weights zero.

    For RGB's 3 channels in FP16 cuDNN picked a kernel that took 27% of a six-person paper-profile forward
    on an H200. The same function: the zero channels meet zero weights."""

    def __init__(self, conv: nn.Conv3d, channels: int = TENSOR_CORE_CHANNELS) -> None:
        if conv.groups != 1 or conv.dilation != (1, 1, 1) or conv.padding_mode != "zeros":
            raise ValueError(f"only plain convolutions are padded, got {conv}")
        super().__init__(
            channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
            bias=conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype,
        )  # fmt: skip
        self.extra_channels = channels - conv.in_channels
        with torch.no_grad():
            self.weight.zero_()
            self.weight[:, : conv.in_channels].copy_(conv.weight)
            if conv.bias is not None:
                self.bias.copy_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, 0, 0, 0, 0, 0, self.extra_channels))  # last axis first: W, H, T, then channels
        # Channels last, the layout cuDNN's tensor-core kernels read: the engine's crops already are (they
        # arrive (T, H, W, RGB)) and F.pad keeps that, so this costs nothing there; other inputs are laid out.
        return super().forward(x.contiguous(memory_format=torch.channels_last_3d))


def separable_max_pool_of(pool: nn.MaxPool3d) -> nn.Sequential:
    """The same max-pool as one pool per axis (time, height, width): a maximum over a box is the maximum
    over each axis in turn, with the same padding and strides. 3 + 3 + 3 reads per output instead of 27,
    but three passes, each writing its output and PyTorch's int64 indices: whether that is faster is for a
    GPU to say (benchmarks.gpu)."""
    if pool.ceil_mode or pool.dilation not in (1, (1, 1, 1)):
        raise ValueError(f"only plain max-pools are split by axis, got {pool}")
    kernel, stride, padding = (
        tuple(v) if isinstance(v, tuple) else (v,) * 3 for v in (pool.kernel_size, pool.stride, pool.padding)
    )
    axes = []
    for axis in range(3):
        if kernel[axis] == 1 and stride[axis] == 1:
            continue  # nothing to do along this axis
        one_kernel, one_stride, one_padding = [1, 1, 1], [1, 1, 1], [0, 0, 0]
        one_kernel[axis], one_stride[axis], one_padding[axis] = kernel[axis], stride[axis], padding[axis]
        axes.append(nn.MaxPool3d(tuple(one_kernel), tuple(one_stride), padding=tuple(one_padding)))
    return nn.Sequential(*axes)


def for_inference(
    network: PartAttentionNetwork, *, fold_batch_norm: bool, pad_first_conv: bool, separable_max_pool: bool
) -> list[str]:
    """The chosen rewrites of an eval-mode network's I3Ds, in place, each computing what it replaces:
    each BatchNorm folded into its convolution (in FP32, before any conversion to FP16), the first
    convolution over 8 channels (ChannelPaddedConv3d), each max-pool one axis at a time. Returns the
    names of those made (for the engine's name)."""
    made: set[str] = set()
    for module in network.modules():
        if isinstance(module, Unit3D):
            if fold_batch_norm and module.bn is not None:
                module.conv3d = fuse_conv_bn_eval(module.conv3d, module.bn)
                module.bn = None
                made.add("BatchNorm folded")
            if pad_first_conv and module.conv3d.in_channels < TENSOR_CORE_CHANNELS:
                module.conv3d = ChannelPaddedConv3d(module.conv3d)
                made.add("8-channel conv1")
        elif separable_max_pool and isinstance(module, MaxPool3dSame):
            module.pool = separable_max_pool_of(module.pool)
            made.add("separable max-pools")
    return sorted(made)


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
        rewrites = for_inference(
            network,
            fold_batch_norm=options.fold_batch_norm,
            pad_first_conv=options.pad_first_conv,
            separable_max_pool=options.separable_max_pool,
        )
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
        features += rewrites
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
