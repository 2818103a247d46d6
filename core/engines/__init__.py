"""Engines: one interface to run the network, whatever runs it.

    crops    uint8 as cut, or float32 (B, P, T, S, S, 3) RGB 0..255 --+
                                                                       +--> engine.run --> logits (B, C),
    skeleton float32 (B, T, M, J, 3) normalised                      --+                  attention (B, P)

B is the number of people in view (a Kinect v2 tracks up to MAX_PEOPLE = 6), one window each.

    backend            runs                                          from
    pytorch-cpu        PyTorch eager (the FP32 reference)            a checkpoint (.pt)
    pytorch-cuda       FP16 I3Ds + FP32 head, CUDA graphs per batch  a checkpoint (.pt)
    onnxruntime-cpu    ONNX Runtime                                  an ONNX file (exported from a
    onnxruntime-cuda   ONNX Runtime, CUDA provider                     checkpoint on the fly, cached)
    tensorrt           TensorRT from the FP16 graph, cached on disk  the ONNX file
                       (if TensorRT rejects the pose LSTM: I3Ds on TensorRT, LSTM + attention on
                       ONNX Runtime, from the same file split in two at `part_features`)

`open_engine(path, Backend.AUTO)` picks the fastest backend present and says which and why in
`engine.reason` (the live app prints it). Every engine carries `EngineMetadata`: classes, profile,
window, crop size, parts, normalisation and the source checkpoint's hash, so a file alone says how
to feed it. An exported ONNX file holds the same record in its `metadata_props`.

One module per concern:
    interface         Engine / Graph protocols, Backend, errors, input checks, graph engines
    metadata          EngineMetadata and the ONNX metadata record
    export            the network as ONNX (the network's own forward), constant baking, the split
    mixed_precision   the FP16 graph TensorRT builds from (I3Ds FP16, head FP32, FP32 I/O)
    onnxruntime_graph ONNX Runtime sessions
    tensorrt_graph    TensorRT 8.6 / 10 / 11 builds (strongly typed where the version has it), engine cache
    torch_engine      PyTorch eager, and the fast CUDA engine (half precision, CUDA graphs)
    cpu_batching      on a CPU, ONNX Runtime or PyTorch per number of people, by measurement
    selection         open_engine, AUTO's order and reasons
    cache             what the cache keeps: files used lately; the rest removed after 60 days

Heavy runtimes (onnx, onnxruntime, tensorrt) are imported when first needed: a machine without
TensorRT or a GPU can use everything else.
"""

from core.engines.cpu_batching import PerBatchEngine, choose_per_batch
from core.engines.export import (
    ATTENTION_TOLERANCE,
    LOGITS_TOLERANCE,
    ONNX_OPSET,
    bake_constants,
    example_inputs,
    export_onnx,
    split_onnx,
)
from core.engines.interface import (
    BATCH_AXIS,
    INPUT_NAMES,
    MAX_PEOPLE,
    OUTPUT_NAMES,
    PART_FEATURES,
    Backend,
    BackendUnavailable,
    Engine,
    EngineError,
    EngineInputError,
    Graph,
    GraphEngine,
    SplitEngine,
    check_inputs,
)
from core.engines.metadata import (
    METADATA_FORMAT,
    EngineMetadata,
    OnnxMetadataError,
    file_sha256,
    profile_name,
    read_onnx_metadata,
)
from core.engines.mixed_precision import Fp16Scope, to_fp16
from core.engines.onnxruntime_graph import OnnxRuntimeGraph, usable_cores
from core.engines.selection import (
    AUTO_ORDER,
    default_cache_dir,
    describe,
    open_engine,
    unavailable_reason,
)
from core.engines.tensorrt_graph import (
    TensorRtBuildError,
    TensorRtGraph,
    Typing,
    build_tensorrt_plan,
    cached_engine,
    network_typing,
    tensorrt_cache_key,
)
from core.engines.torch_engine import CudaOptions, TorchCudaEngine, TorchEngine, batch_chunks

__all__ = [
    "ATTENTION_TOLERANCE",
    "AUTO_ORDER",
    "BATCH_AXIS",
    "Backend",
    "BackendUnavailable",
    "CudaOptions",
    "Engine",
    "EngineError",
    "EngineInputError",
    "EngineMetadata",
    "Graph",
    "GraphEngine",
    "INPUT_NAMES",
    "LOGITS_TOLERANCE",
    "MAX_PEOPLE",
    "METADATA_FORMAT",
    "ONNX_OPSET",
    "OUTPUT_NAMES",
    "OnnxMetadataError",
    "OnnxRuntimeGraph",
    "PART_FEATURES",
    "PerBatchEngine",
    "Fp16Scope",
    "SplitEngine",
    "TensorRtBuildError",
    "TensorRtGraph",
    "TorchCudaEngine",
    "TorchEngine",
    "Typing",
    "bake_constants",
    "batch_chunks",
    "build_tensorrt_plan",
    "cached_engine",
    "check_inputs",
    "choose_per_batch",
    "default_cache_dir",
    "describe",
    "example_inputs",
    "export_onnx",
    "file_sha256",
    "network_typing",
    "open_engine",
    "profile_name",
    "read_onnx_metadata",
    "split_onnx",
    "tensorrt_cache_key",
    "to_fp16",
    "unavailable_reason",
    "usable_cores",
]
