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

Heavy runtimes (torch, onnx, onnxruntime, tensorrt) are imported when first needed: a machine without
TensorRT or a GPU can use everything else, and a CPU start on a cached export runs ONNX Runtime without
ever importing PyTorch (selection.py). So are this package's modules, by the names below.
"""

import importlib

# Each name and the module that holds it, imported when first asked for (torch_engine and tensorrt_graph
# import PyTorch).
_WHERE = {
    "choose_per_batch": "cpu_batching", "PerBatchEngine": "cpu_batching",
    "ATTENTION_TOLERANCE": "export", "bake_constants": "export", "example_inputs": "export",
    "export_onnx": "export", "LOGITS_TOLERANCE": "export", "ONNX_OPSET": "export", "split_onnx": "export",
    "Backend": "interface", "BackendUnavailable": "interface", "BATCH_AXIS": "interface",
    "check_inputs": "interface", "Engine": "interface", "EngineError": "interface",
    "EngineInputError": "interface", "Graph": "interface", "GraphEngine": "interface",
    "INPUT_NAMES": "interface", "MAX_PEOPLE": "interface", "OUTPUT_NAMES": "interface",
    "PART_FEATURES": "interface", "SplitEngine": "interface",
    "EngineMetadata": "metadata", "file_sha256": "metadata", "METADATA_FORMAT": "metadata",
    "OnnxMetadataError": "metadata", "profile_name": "metadata", "read_onnx_metadata": "metadata",
    "Fp16Scope": "mixed_precision", "to_fp16": "mixed_precision",
    "OnnxRuntimeGraph": "onnxruntime_graph", "usable_cores": "onnxruntime_graph",
    "AUTO_ORDER": "selection", "default_cache_dir": "selection", "describe": "selection",
    "open_engine": "selection", "unavailable_reason": "selection",
    "build_tensorrt_plan": "tensorrt_graph", "cached_engine": "tensorrt_graph",
    "network_typing": "tensorrt_graph", "tensorrt_cache_key": "tensorrt_graph",
    "TensorRtBuildError": "tensorrt_graph", "TensorRtGraph": "tensorrt_graph", "Typing": "tensorrt_graph",
    "batch_chunks": "torch_engine", "CudaOptions": "torch_engine", "TorchCudaEngine": "torch_engine",
    "TorchEngine": "torch_engine",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'core.engines' has no attribute {name!r}")
    return getattr(importlib.import_module(f"core.engines.{_WHERE[name]}"), name)
