"""Engines: one interface to run the network, whatever runs it.

    crops    float32 (B, P, T, S, S, 3) RGB 0..255 --+
                                                      +--> engine.run --> logits (B, C), attention (B, P)
    skeleton float32 (B, T, M, J, 3) normalised     --+

B is the number of people in view (a Kinect v2 tracks up to MAX_PEOPLE = 6), one window each.

    backend            runs                                     from
    pytorch-cpu/cuda   PyTorch eager                            a checkpoint (.pt)
    onnxruntime-cpu    ONNX Runtime                             an ONNX file (exported from a
    onnxruntime-cuda   ONNX Runtime, CUDA provider                checkpoint on the fly, cached)
    tensorrt           TensorRT FP16 engine, cached on disk     the ONNX file
                       (if TensorRT rejects the pose LSTM: I3Ds on TensorRT, LSTM + attention on
                       ONNX Runtime, from the same file split in two at `part_features`)

`open_engine(path, Backend.AUTO)` picks the fastest backend present and says which and why in
`engine.reason` (the live app prints it). Every engine carries `EngineMetadata`: classes, profile,
window, crop size, parts, normalisation and the source checkpoint's hash, so a file alone says how
to feed it. An exported ONNX file holds the same record in its `metadata_props`.

Heavy runtimes (onnx, onnxruntime, tensorrt) are imported when first needed: a machine without
TensorRT or a GPU can use everything else.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from core.model.checkpoint import Checkpoint, Preprocessing, load_checkpoint
from core.model.i3d import global_average
from core.model.network import PartAttentionNetwork
from core.model.profiles import PROFILES, Aggregation, NetworkConfig

MAX_PEOPLE = 6  # bodies a Kinect v2 tracks at once: the largest batch an engine is built for
ONNX_OPSET = 17
INPUT_NAMES = ("crops", "skeleton")
OUTPUT_NAMES = ("logits", "attention")
PART_FEATURES = "part_features"  # (B, P, D) pooled I3D features: where the graph splits for TensorRT
BATCH_AXIS = "people"
METADATA_FORMAT = "where-to-focus.engine/1"
# ONNX Runtime matches PyTorch within these on real crops (tests/test_export.py, `python -m training export`).
LOGITS_TOLERANCE = 1e-3
ATTENTION_TOLERANCE = 1e-4


class EngineError(RuntimeError):
    """An engine that cannot be built or opened (export, parse, build or session creation failed)."""


class BackendUnavailable(EngineError):
    """The backend's runtime or device is not present on this machine."""


class EngineInputError(ValueError):
    """Crops or skeletons that do not have the shape the engine's network takes."""


class OnnxMetadataError(ValueError):
    """An ONNX file without (or with a broken) where-to-focus metadata record."""


class Backend(enum.Enum):
    AUTO = "auto"
    TENSORRT = "tensorrt"
    ONNXRUNTIME_CUDA = "onnxruntime-cuda"
    ONNXRUNTIME_CPU = "onnxruntime-cpu"
    PYTORCH_CUDA = "pytorch-cuda"
    PYTORCH_CPU = "pytorch-cpu"


# Fastest first. On a GPU: TensorRT FP16, then ONNX Runtime's CUDA provider, then PyTorch CUDA (faster
# than anything on the CPU). On a CPU, ONNX Runtime beats PyTorch eager (benchmarks/engines.py).
AUTO_ORDER = (
    Backend.TENSORRT,
    Backend.ONNXRUNTIME_CUDA,
    Backend.PYTORCH_CUDA,
    Backend.ONNXRUNTIME_CPU,
    Backend.PYTORCH_CPU,
)
_WHY_PICKED = {
    Backend.TENSORRT: "TensorRT FP16 is the fastest backend on an NVIDIA GPU",
    Backend.ONNXRUNTIME_CUDA: "a GPU with ONNX Runtime's CUDA provider (TensorRT unusable)",
    Backend.PYTORCH_CUDA: "a GPU, but neither TensorRT nor ONNX Runtime's CUDA provider",
    Backend.ONNXRUNTIME_CPU: "no usable GPU backend; ONNX Runtime beats PyTorch eager on a CPU",
    Backend.PYTORCH_CPU: "no faster backend could be opened",
}


# ---------------------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class EngineMetadata:
    """What a network file says about itself: how to feed it and what its outputs mean."""

    class_names: tuple[str, ...]
    profile: str  # "paper", "lite", "tiny", ... or "custom"
    config: NetworkConfig
    preprocessing: Preprocessing
    checkpoint_sha256: str  # of the checkpoint file the weights came from

    @property
    def window_seconds(self) -> float:
        return self.preprocessing.window.duration_s

    @property
    def window_frames(self) -> int:
        return self.config.num_frames

    @property
    def crop_size(self) -> int:
        return self.config.crop_size

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.config.parts)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def crops_shape(self, people: int) -> tuple[int, ...]:
        size = self.crop_size
        return (people, len(self.parts), self.window_frames, size, size, 3)

    def skeleton_shape(self, people: int) -> tuple[int, ...]:
        return (people, self.window_frames, self.config.num_bodies, self.config.num_joints, 3)

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, checkpoint_sha256: str) -> EngineMetadata:
        profile = checkpoint.extra.get("profile")
        return cls(
            class_names=tuple(checkpoint.class_names),
            profile=str(profile) if profile else profile_name(checkpoint.config),
            config=checkpoint.config,
            preprocessing=checkpoint.preprocessing,
            checkpoint_sha256=checkpoint_sha256,
        )

    def to_onnx_props(self) -> dict[str, str]:
        """Key -> JSON text. The plain keys are for any reader (netron, other tools); `network_config`
        and `preprocessing` are the full records this module rebuilds the metadata from."""
        p = self.preprocessing
        values: dict[str, Any] = {
            "format": METADATA_FORMAT,
            "class_names": list(self.class_names),
            "profile": self.profile,
            "window_seconds": self.window_seconds,
            "window_frames": self.window_frames,
            "crop_size": self.crop_size,
            "parts": list(self.parts),
            "skeleton": {
                "layout": p.layout,
                "bodies": self.config.num_bodies,
                "joints": self.config.num_joints,
                "normalisation": p.skeleton_normalisation,
            },
            "normalisation": {
                "input": "crops float32 RGB 0..255, the graph maps x -> x * scale + offset",
                "color_order": p.color_order,
                "scale": p.pixel_scale,
                "offset": p.pixel_offset,
            },
            "checkpoint_sha256": self.checkpoint_sha256,
            "network_config": self.config.to_dict(),
            "preprocessing": p.to_dict(),
        }
        return {key: json.dumps(value) for key, value in values.items()}

    @classmethod
    def from_onnx_props(cls, props: Mapping[str, str], *, source: str) -> EngineMetadata:
        if props.get("format") != json.dumps(METADATA_FORMAT):
            raise OnnxMetadataError(
                f"{source}: no where-to-focus metadata (metadata_props 'format' is "
                f"{props.get('format')!r}, expected {json.dumps(METADATA_FORMAT)}); "
                "export the file with `python -m training export`"
            )
        try:
            values = {key: json.loads(props[key]) for key in props}
            config = NetworkConfig.from_dict(values["network_config"], source=source)
            preprocessing = Preprocessing.from_dict(values["preprocessing"], source=source)
            metadata = cls(
                class_names=tuple(values["class_names"]),
                profile=str(values["profile"]),
                config=config,
                preprocessing=preprocessing,
                checkpoint_sha256=str(values["checkpoint_sha256"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise OnnxMetadataError(f"{source}: broken metadata_props record ({error!r})") from error
        if len(metadata.class_names) != config.num_classes:
            raise OnnxMetadataError(
                f"{source}: {len(metadata.class_names)} class names for {config.num_classes} logits"
            )
        return metadata


def profile_name(config: NetworkConfig) -> str:
    """The preset a config equals (ignoring its class count), or "custom"."""
    for name, preset in PROFILES.items():
        if preset(config.num_classes) == config:
            return name
    return "custom"


def read_onnx_metadata(path: str | os.PathLike) -> EngineMetadata:
    """The metadata record of an ONNX file written by `export_onnx` (weights are not loaded)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf raises DecodeError and others: all mean "not an ONNX file"
        raise OnnxMetadataError(f"{path}: cannot read as ONNX ({type(error).__name__}: {error})") from error
    return EngineMetadata.from_onnx_props({p.key: p.value for p in model.metadata_props}, source=str(path))


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------ export


class _ExportGraph(nn.Module):
    """The network's forward as one traceable graph, plus the pooled part features as a third output.

    For the attention network this restates PartAttentionNetwork.forward (Eq. 2-4) so that the point
    between the I3Ds and the pose/attention head is a named tensor, where the ONNX file can be split
    when TensorRT cannot take the LSTM. The export test checks it against forward itself.
    """

    def __init__(self, network: PartAttentionNetwork) -> None:
        super().__init__()
        self.network = network
        self.splittable = network.config.aggregation is Aggregation.ATTENTION

    def forward(self, crops: torch.Tensor, skeleton: torch.Tensor) -> tuple[torch.Tensor, ...]:
        network = self.network
        if not self.splittable:
            return network(crops, skeleton)
        pooled = torch.stack([global_average(f) for f in network.part_features(crops)], dim=1)  # (B, P, D)
        _, hidden = network.pose(skeleton)
        attention = network.attention(hidden)
        fused = (attention.unsqueeze(-1) * pooled).sum(dim=1)
        logits = network.classifier(network.classifier_dropout(fused))
        return logits, attention, pooled


def example_inputs(metadata: EngineMetadata, people: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random crops (0..255) and skeletons of the right shapes, for tracing and timing."""
    rng = np.random.default_rng(seed)
    crops = rng.uniform(0, 255, metadata.crops_shape(people)).astype(np.float32)
    skeleton = rng.normal(0, 0.5, metadata.skeleton_shape(people)).astype(np.float32)
    return crops, skeleton


def export_onnx(
    network: PartAttentionNetwork,
    metadata: EngineMetadata,
    path: str | os.PathLike,
    *,
    opset: int = ONNX_OPSET,
) -> Path:
    """Write the whole network as ONNX: fixed window and crop size, dynamic batch (people).

    Inputs `crops`, `skeleton`; outputs `logits`, `attention` and, for the attention network,
    `part_features` (where `split_onnx` cuts). `metadata` goes into `metadata_props`. The file is
    checked by the ONNX checker and written to a temporary name first, so a failed export leaves no
    half-written file. Uses the TorchScript exporter, which handles nn.LSTM robustly.
    """
    import onnx

    path = Path(path)
    network = network.eval()
    device = next(network.parameters()).device
    graph = _ExportGraph(network).eval()
    crops, skeleton = example_inputs(metadata, people=2)
    outputs = (*OUTPUT_NAMES, PART_FEATURES) if graph.splittable else OUTPUT_NAMES
    dynamic_axes = {name: {0: BATCH_AXIS} for name in (*INPUT_NAMES, *outputs)}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")  # per process: exports may race
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The exporter warns that it is the legacy one and about traced shape checks (the network
            # raises on wrong shapes; shapes are fixed here, batch aside): neither matters for us.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                (torch.from_numpy(crops).to(device), torch.from_numpy(skeleton).to(device)),
                str(temporary),
                dynamo=False,
                opset_version=opset,
                input_names=list(INPUT_NAMES),
                output_names=list(outputs),
                dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )
        model = onnx.load(str(temporary))
        model.producer_name = "where-to-focus"
        model.doc_string = (
            f"Part attention network ({metadata.profile} profile, {len(metadata.class_names)} classes): "
            f"crops {list(metadata.crops_shape(1))[1:]} RGB 0..255 + skeleton "
            f"{list(metadata.skeleton_shape(1))[1:]} -> logits, attention; batch = people"
        )
        bake_constants(model)
        del model.metadata_props[:]
        for key, value in metadata.to_onnx_props().items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(temporary))
        os.replace(temporary, path)
    except Exception as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, EngineError):
            raise
        raise EngineError(f"{path}: ONNX export failed ({type(error).__name__}: {error})") from error
    return path


# Ops the TorchScript exporter chains between constants to build F.pad's `pads` (ConstantOfShape ->
# Concat -> Reshape -> Slice -> Transpose -> Reshape -> Cast). Only these are evaluated: a whitelist
# keeps the pass from ever copying weights through a folded Identity or running a convolution.
_FOLDABLE_OPS = frozenset(
    {"ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Cast", "Unsqueeze", "Squeeze"}
)


def bake_constants(model: Any) -> int:
    """Replace shape arithmetic on constants by its value, in place; returns the number of nodes removed.

    The network's pads are static, but the exporter still emits them as a small computation; after
    this pass every Pad takes a constant `pads` initializer ("baked" pads, which TensorRT's parser
    handles without shape-tensor evaluation)."""
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    values: dict[str, np.ndarray] = {}
    folded: set[int] = set()
    for index, node in enumerate(graph.node):
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            folded.add(index)
        elif node.op_type in _FOLDABLE_OPS and all(name in values for name in node.input if name):
            outputs = ReferenceEvaluator(node).run(None, {name: values[name] for name in node.input if name})
            values.update(zip(node.output, (np.asarray(o) for o in outputs), strict=True))
            folded.add(index)
    kept = [node for index, node in enumerate(graph.node) if index not in folded]
    needed = {name for node in kept for name in node.input} | {o.name for o in graph.output}
    removed = len(graph.node) - len(kept)
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(
        numpy_helper.from_array(values[name], name) for name in sorted(needed & values.keys())
    )
    return removed


def split_onnx(onnx_path: str | os.PathLike, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Cut an exported attention network at `part_features` into two ONNX files:

        parts: crops -> part_features                           (the I3Ds: TensorRT takes these)
        head:  part_features, skeleton -> logits, attention     (pose LSTM + attention + classifier)

    Both keep the metadata. Files are named after the source's hash and reused when present.
    """
    import onnx
    from onnx.utils import Extractor

    onnx_path = Path(onnx_path)
    out_dir = Path(out_dir)
    digest = file_sha256(onnx_path)[:16]
    parts_path = out_dir / f"{onnx_path.stem}-{digest}.parts.onnx"
    head_path = out_dir / f"{onnx_path.stem}-{digest}.head.onnx"
    if parts_path.is_file() and head_path.is_file():
        return parts_path, head_path
    model = onnx.load(str(onnx_path))
    if PART_FEATURES not in {o.name for o in model.graph.output}:
        raise EngineError(
            f"{onnx_path}: no '{PART_FEATURES}' output to split at (only the attention network has one; "
            "re-export with this version)"
        )
    extractor = Extractor(onnx.shape_inference.infer_shapes(model))
    out_dir.mkdir(parents=True, exist_ok=True)
    for target, inputs, outputs in (
        (parts_path, [INPUT_NAMES[0]], [PART_FEATURES]),
        (head_path, [PART_FEATURES, INPUT_NAMES[1]], list(OUTPUT_NAMES)),
    ):
        piece = extractor.extract_model(inputs, outputs)
        piece.metadata_props.extend(model.metadata_props)
        piece.metadata_props.add(key="graph_piece", value=json.dumps(target.suffixes[-2].lstrip(".")))
        onnx.checker.check_model(piece, full_check=True)
        _save_atomically(piece, target)
    return parts_path, head_path


def _save_atomically(model: Any, path: Path) -> None:
    import onnx

    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")  # per process: exports may race
    onnx.save(model, str(temporary))
    os.replace(temporary, path)


# ---------------------------------------------------------------------------------------- engines


class Engine(Protocol):
    """Runs the network: crops + skeletons in, logits + attention out, all numpy."""

    name: str  # the backend as run, e.g. "onnxruntime-cpu (2 threads)"
    reason: str  # why this backend (auto says which it picked and why)
    metadata: EngineMetadata

    def run(self, crops: np.ndarray, skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """crops float32 (B, P, T, S, S, 3) RGB 0..255, skeleton float32 (B, T, M, J, 3) normalised
        -> logits float32 (B, C), attention float32 (B, P)."""
        ...


def check_inputs(
    crops: np.ndarray, skeleton: np.ndarray, metadata: EngineMetadata
) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous float32 copies (or views) of the inputs; EngineInputError where a shape is wrong."""
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    skeleton = np.ascontiguousarray(skeleton, dtype=np.float32)
    people = skeleton.shape[0] if skeleton.ndim else 0
    expected_crops = metadata.crops_shape(people)
    expected_skeleton = metadata.skeleton_shape(people)
    if not metadata.parts:  # the pose-only network takes no crops
        expected_crops = crops.shape
    if crops.shape != expected_crops or skeleton.shape != expected_skeleton or people < 1:
        crops_text = ", ".join(map(str, expected_crops[1:]))
        skeleton_text = ", ".join(map(str, expected_skeleton[1:]))
        raise EngineInputError(
            f"engine for the {metadata.profile} profile takes crops (B, {crops_text}) and skeleton "
            f"(B, {skeleton_text}) with the same B >= 1; got crops {crops.shape}, skeleton {skeleton.shape}"
        )
    return crops, skeleton


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


class Graph(Protocol):
    """One ONNX graph on some runtime: named numpy arrays in, named numpy arrays out."""

    name: str
    input_names: tuple[str, ...]

    def run(self, feeds: Mapping[str, np.ndarray], outputs: tuple[str, ...]) -> list[np.ndarray]: ...


def usable_cores() -> int:
    """CPU cores this process may run on (respects taskset / container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class OnnxRuntimeGraph:
    """An ONNX Runtime session: all graph optimisations, intra-op threads = usable cores by default."""

    def __init__(self, path: str | os.PathLike, *, cuda: bool = False, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise BackendUnavailable("onnxruntime is not installed") from error
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.threads = threads or usable_cores()
        options.intra_op_num_threads = self.threads
        # One window at a time: operators run one after another, each using all threads.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: ORT warns about every unused initializer
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as error:  # ORT raises its own Fail / InvalidGraph types
            raise EngineError(
                f"{path}: ONNX Runtime cannot load it ({type(error).__name__}: {error})"
            ) from error
        if cuda and self.session.get_providers()[0] != "CUDAExecutionProvider":
            raise BackendUnavailable(f"{path}: ONNX Runtime fell back from its CUDA provider to the CPU")
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        self.name = "onnxruntime-cuda" if cuda else f"onnxruntime-cpu ({self.threads} threads)"

    def run(self, feeds: Mapping[str, np.ndarray], outputs: tuple[str, ...]) -> list[np.ndarray]:
        # A graph ignores inputs its network does not use (the pose-only network has no crops input).
        return self.session.run(list(outputs), {k: v for k, v in feeds.items() if k in self.input_names})


class GraphEngine:
    """The whole network as one ONNX graph, on ONNX Runtime or TensorRT."""

    def __init__(self, graph: Graph, metadata: EngineMetadata, *, reason: str = "") -> None:
        self.graph = graph
        self.metadata = metadata
        self.name = graph.name
        self.reason = reason

    def run(self, crops: np.ndarray, skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        crops, skeleton = check_inputs(crops, skeleton, self.metadata)
        logits, attention = self.graph.run(
            dict(zip(INPUT_NAMES, (crops, skeleton), strict=True)), OUTPUT_NAMES
        )
        return logits, attention


class SplitEngine:
    """The network in two graphs (see `split_onnx`): the I3Ds on one runtime, the head on another."""

    def __init__(self, parts: Graph, head: Graph, metadata: EngineMetadata, *, reason: str = "") -> None:
        self.parts = parts
        self.head = head
        self.metadata = metadata
        self.name = f"{parts.name} (I3Ds) + {head.name} (pose LSTM, attention)"
        self.reason = reason

    def run(self, crops: np.ndarray, skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        crops, skeleton = check_inputs(crops, skeleton, self.metadata)
        (features,) = self.parts.run({INPUT_NAMES[0]: crops}, (PART_FEATURES,))
        logits, attention = self.head.run({PART_FEATURES: features, INPUT_NAMES[1]: skeleton}, OUTPUT_NAMES)
        return logits, attention


# --------------------------------------------------------------------------------------- TensorRT


def _import_tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError as error:
        raise BackendUnavailable(
            "TensorRT is not installed (pip install 'where-to-focus[tensorrt]')"
        ) from error
    return tensorrt


def tensorrt_cache_key(onnx_bytes_sha256: str, *, fp16: bool, max_batch: int) -> dict[str, Any]:
    """What a built TensorRT engine depends on: the model, the GPU, TensorRT's version, the build flags.
    An engine built for another GPU or TensorRT version does not load (or runs slower), so any change
    means a rebuild."""
    trt = _import_tensorrt()
    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT needs a CUDA GPU; torch.cuda.is_available() is False")
    major, minor = torch.cuda.get_device_capability()
    return {
        "onnx_sha256": onnx_bytes_sha256,
        "gpu": torch.cuda.get_device_name(),
        "compute_capability": f"{major}.{minor}",
        "tensorrt": trt.__version__,
        "precision": "fp16" if fp16 else "fp32",
        "max_batch": max_batch,
    }


def cached_engine(
    cache_dir: str | os.PathLike, name: str, key: Mapping[str, Any], build: Callable[[], bytes]
) -> tuple[bytes, bool]:
    """The bytes of `cache_dir/name.plan` if its stored key equals `key`; otherwise `build()` them, store
    them with the key and return them. Returns (bytes, rebuilt)."""
    cache_dir = Path(cache_dir)
    plan_path = cache_dir / f"{name}.plan"
    key_path = cache_dir / f"{name}.plan.json"
    expected = json.dumps(dict(key), sort_keys=True)
    if plan_path.is_file() and key_path.is_file():
        try:
            stored = json.dumps(json.loads(key_path.read_text(encoding="utf-8")), sort_keys=True)
        except (OSError, ValueError):
            stored = None
        if stored == expected:
            return plan_path.read_bytes(), False
    plan = build()
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Plan first, key last: a crash in between leaves a stale key, which means a rebuild, never a
    # mismatched plan accepted.
    key_path.unlink(missing_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=f".{name}.", delete=False) as f:
        f.write(plan)
    os.replace(f.name, plan_path)
    key_path.write_text(json.dumps(dict(key), indent=1, sort_keys=True), encoding="utf-8")
    return plan, True


class TensorRtBuildError(EngineError):
    """TensorRT's ONNX parser rejected the graph or the builder failed (for this network: the LSTM is
    the usual suspect)."""


def _parser_error_text(error: Any) -> str:
    try:
        return f"node {error.node()} ({error.code()}): {error.desc()}"
    except AttributeError:  # another TensorRT version's error object: its own text
        return str(error)


def build_tensorrt_plan(
    onnx_path: str | os.PathLike, *, fp16: bool = True, max_batch: int = MAX_PEOPLE, workspace_gib: float = 4
) -> bytes:
    """Parse the ONNX file and build a serialized engine with one optimisation profile, batch 1..max_batch
    (optimised for 1: one person in view is the common case and the latency budget is per window)."""
    trt = _import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # TensorRT 10 networks are always explicit-batch (the flag is deprecated); 8.x needs the flag.
    flags = (
        0
        if int(trt.__version__.split(".")[0]) >= 10
        else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    )
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [_parser_error_text(parser.get_error(i)) for i in range(parser.num_errors)]
        raise TensorRtBuildError(f"{onnx_path}: TensorRT's ONNX parser failed: " + " | ".join(errors))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        dims = tuple(tensor.shape)
        if any(d < 0 for d in dims[1:]):
            raise EngineError(f"{onnx_path}: input {tensor.name} {dims} has a dynamic axis besides the batch")
        profile.set_shape(tensor.name, (1, *dims[1:]), (1, *dims[1:]), (max_batch, *dims[1:]))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise TensorRtBuildError(f"{onnx_path}: TensorRT could not build an engine (see its log above)")
    return bytes(plan)


class TensorRtGraph:
    """One ONNX graph as a TensorRT engine (FP16 by default), built once and cached on disk.

    Device memory is torch CUDA tensors (no pycuda); the engine runs on a CUDA stream of its own.
    Batches larger than the engine's profile run in chunks.
    """

    def __init__(
        self,
        onnx_path: str | os.PathLike,
        cache_dir: str | os.PathLike,
        *,
        fp16: bool = True,
        max_batch: int = MAX_PEOPLE,
    ) -> None:
        trt = _import_tensorrt()
        onnx_path = Path(onnx_path)
        key = tensorrt_cache_key(file_sha256(onnx_path), fp16=fp16, max_batch=max_batch)
        self.cache_name = f"{onnx_path.stem}.{key['precision']}"
        plan, self.rebuilt = cached_engine(
            cache_dir,
            self.cache_name,
            key,
            lambda: build_tensorrt_plan(onnx_path, fp16=fp16, max_batch=max_batch),
        )
        self._trt = trt
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise EngineError(f"{onnx_path}: TensorRT could not load the cached engine in {cache_dir}")
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self.input_names = tuple(
            n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT
        )
        self.output_names = tuple(n for n in names if n not in self.input_names)
        self.max_batch = max_batch
        self.device = torch.device("cuda", torch.cuda.current_device())
        # A stream of its own: TensorRT on the default stream adds synchronisations of its own.
        self._stream = torch.cuda.Stream(self.device)
        self.key = key
        self.name = f"tensorrt-{key['precision']}"

    def _torch_dtype(self, name: str) -> torch.dtype:
        trt = self._trt
        dtype = self._engine.get_tensor_dtype(name)
        table = {
            trt.float32: torch.float32,
            trt.float16: torch.float16,
            trt.int32: torch.int32,
            trt.int8: torch.int8,
            trt.bool: torch.bool,
        }
        if hasattr(trt, "int64"):
            table[trt.int64] = torch.int64
        return table[dtype]

    def run(self, feeds: Mapping[str, np.ndarray], outputs: tuple[str, ...]) -> list[np.ndarray]:
        batch = next(iter(feeds.values())).shape[0]
        if batch > self.max_batch:
            chunks = [
                self.run({k: v[start : start + self.max_batch] for k, v in feeds.items()}, outputs)
                for start in range(0, batch, self.max_batch)
            ]
            return [np.concatenate(pieces) for pieces in zip(*chunks, strict=True)]
        with torch.cuda.stream(self._stream):  # inputs, outputs and the engine all on the engine's stream
            inputs, results = self._enqueue(feeds, batch)
        # Wait before the input tensors go out of scope: the engine reads them asynchronously.
        self._stream.synchronize()
        del inputs
        return [results[name].float().cpu().numpy() for name in outputs]

    def _enqueue(
        self, feeds: Mapping[str, np.ndarray], batch: int
    ) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        context = self._context
        inputs = []
        for name in self.input_names:
            tensor = torch.from_numpy(np.ascontiguousarray(feeds[name])).to(
                self.device, self._torch_dtype(name)
            )
            context.set_input_shape(name, tuple(tensor.shape))
            context.set_tensor_address(name, tensor.data_ptr())
            inputs.append(tensor)
        results = {}
        for name in self.output_names:
            shape = tuple(context.get_tensor_shape(name))
            tensor = torch.empty(shape, dtype=self._torch_dtype(name), device=self.device)
            context.set_tensor_address(name, tensor.data_ptr())
            results[name] = tensor
        if not context.execute_async_v3(self._stream.cuda_stream):
            raise EngineError(f"TensorRT engine {self.cache_name} failed to run (batch {batch})")
        return inputs, results


# ------------------------------------------------------------------------------------- open_engine


def default_cache_dir() -> Path:
    """Where exported ONNX files and TensorRT engines are kept ($WHERE_TO_FOCUS_CACHE or ~/.cache)."""
    override = os.environ.get("WHERE_TO_FOCUS_CACHE")
    if override:
        return Path(override)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "where-to-focus" / "engines"


def unavailable_reason(backend: Backend) -> str | None:
    """Why `backend` cannot run on this machine, or None if its runtime and device are present."""
    if backend is Backend.AUTO or backend is Backend.PYTORCH_CPU:
        return None
    cuda = torch.cuda.is_available()
    no_gpu = f"no CUDA GPU (torch {torch.__version__}: torch.cuda.is_available() is False)"
    if backend is Backend.PYTORCH_CUDA:
        return None if cuda else no_gpu
    if backend is Backend.TENSORRT:
        try:
            _import_tensorrt()
        except BackendUnavailable as error:
            return str(error)
        return None if cuda else no_gpu
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime is not installed"
    if backend is Backend.ONNXRUNTIME_CUDA and "CUDAExecutionProvider" not in ort.get_available_providers():
        return f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (install onnxruntime-gpu)"
    return None


class _Source:
    """A checkpoint or an ONNX file, with what each backend needs derived lazily (and once)."""

    def __init__(self, path: Path, cache_dir: Path) -> None:
        self.path = path
        self.cache_dir = cache_dir
        self.is_onnx = path.suffix.lower() == ".onnx"
        self._checkpoint: Checkpoint | None = None
        self._metadata: EngineMetadata | None = None
        self._onnx: Path | None = path if self.is_onnx else None

    def checkpoint(self) -> Checkpoint:
        if self.is_onnx:
            raise BackendUnavailable(
                f"{self.path}: PyTorch backends need the checkpoint (.pt), not an ONNX file"
            )
        if self._checkpoint is None:
            self._checkpoint = load_checkpoint(self.path)
        return self._checkpoint

    def metadata(self) -> EngineMetadata:
        if self._metadata is None:
            if self.is_onnx:
                self._metadata = read_onnx_metadata(self.path)
            else:
                self._metadata = EngineMetadata.from_checkpoint(self.checkpoint(), file_sha256(self.path))
        return self._metadata

    def onnx(self) -> Path:
        """The ONNX file: the source itself, or the checkpoint exported into the cache (once per hash)."""
        if self._onnx is None:
            metadata = self.metadata()
            target = self.cache_dir / f"{self.path.stem}-{metadata.checkpoint_sha256[:16]}.onnx"
            if not target.is_file() or _stale_export(target, metadata):
                export_onnx(self.checkpoint().model, metadata, target)
            self._onnx = target
        return self._onnx


def _stale_export(onnx_path: Path, metadata: EngineMetadata) -> bool:
    try:
        return read_onnx_metadata(onnx_path) != metadata
    except (OSError, OnnxMetadataError):
        return True


def _open(backend: Backend, source: _Source, *, threads: int | None, reason: str) -> Engine:
    why_not = unavailable_reason(backend)
    if why_not:
        raise BackendUnavailable(f"{backend.value}: {why_not}")
    if backend in (Backend.PYTORCH_CPU, Backend.PYTORCH_CUDA):
        checkpoint = source.checkpoint()
        device = "cuda" if backend is Backend.PYTORCH_CUDA else "cpu"
        return TorchEngine(checkpoint.model, source.metadata(), device, reason=reason)
    metadata = source.metadata()
    onnx_path = source.onnx()
    if backend is not Backend.TENSORRT:
        graph = OnnxRuntimeGraph(onnx_path, cuda=backend is Backend.ONNXRUNTIME_CUDA, threads=threads)
        return GraphEngine(graph, metadata, reason=reason)
    try:
        return GraphEngine(TensorRtGraph(onnx_path, source.cache_dir), metadata, reason=reason)
    except TensorRtBuildError as error:
        if metadata.config.aggregation is not Aggregation.ATTENTION:
            raise
        # TensorRT could not take the LSTM: I3Ds (nearly all the work) on TensorRT, the small pose
        # head on ONNX Runtime — on its CUDA provider where present.
        parts_path, head_path = split_onnx(onnx_path, source.cache_dir)
        parts = TensorRtGraph(parts_path, source.cache_dir)
        head_on_cuda = unavailable_reason(Backend.ONNXRUNTIME_CUDA) is None
        head = OnnxRuntimeGraph(head_path, cuda=head_on_cuda, threads=threads)
        first_error = str(error).split(" | ")[0]
        return SplitEngine(
            parts,
            head,
            metadata,
            reason=f"{reason}; TensorRT could not take the whole graph ({first_error}), so the I3Ds run "
            f"on TensorRT and the pose LSTM + attention on {head.name}",
        )


def open_engine(
    path: str | os.PathLike,
    backend: Backend | str = Backend.AUTO,
    *,
    cache_dir: str | os.PathLike | None = None,
    threads: int | None = None,
    accept: Callable[[EngineMetadata], object] | None = None,
) -> Engine:
    """An engine for a checkpoint (.pt) or an exported ONNX file on `backend`.

    AUTO tries AUTO_ORDER (fastest first), skipping backends that are absent or fail to open, and
    records in `engine.reason` what it picked, why, and why each faster backend was passed over.
    ONNX files exported from a checkpoint and TensorRT engines are cached in `cache_dir`
    (default_cache_dir()). `threads`: ONNX Runtime's intra-op threads (default: usable cores).
    `accept` sees the model's metadata before any backend opens and may raise to refuse the model: a
    model the caller cannot feed is then said before minutes of TensorRT build.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint or ONNX file")
    backend = Backend(backend)
    source = _Source(path, Path(cache_dir) if cache_dir is not None else default_cache_dir())
    if accept is not None:
        accept(source.metadata())
    if backend is not Backend.AUTO:
        return _open(backend, source, threads=threads, reason=f"{backend.value} was asked for")
    passed_over: list[str] = []
    for candidate in AUTO_ORDER:
        if source.is_onnx and candidate in (Backend.PYTORCH_CUDA, Backend.PYTORCH_CPU):
            passed_over.append(f"{candidate.value}: needs the checkpoint, got an ONNX file")
            continue
        why_not = unavailable_reason(candidate)
        if why_not:
            passed_over.append(f"{candidate.value}: {why_not}")
            continue
        reason = f"auto picked {candidate.value}: {_WHY_PICKED[candidate]}"
        if passed_over:
            reason += " (passed over: " + "; ".join(passed_over) + ")"
        try:
            return _open(candidate, source, threads=threads, reason=reason)
        except (EngineError, OSError, RuntimeError) as error:
            # An absent runtime is filtered above; this is one that is present but failed (a TensorRT
            # build, a CUDA provider without a driver): fall back to the next backend, and say so.
            passed_over.append(f"{candidate.value} failed: {error}")
    raise EngineError(f"{path}: no backend could open it: " + "; ".join(passed_over))


def describe(engine: Engine) -> str:
    """One line for logs and the live app's status bar."""
    m = engine.metadata
    return (
        f"{engine.name} | {m.profile} profile, {len(m.class_names)} classes, {m.crop_size} px crops, "
        f"{m.window_frames} frames / {m.window_seconds:g} s | {engine.reason}"
    )


__all__ = [
    "ATTENTION_TOLERANCE",
    "AUTO_ORDER",
    "Backend",
    "BackendUnavailable",
    "Engine",
    "EngineError",
    "EngineInputError",
    "EngineMetadata",
    "GraphEngine",
    "LOGITS_TOLERANCE",
    "MAX_PEOPLE",
    "OnnxMetadataError",
    "OnnxRuntimeGraph",
    "SplitEngine",
    "TensorRtGraph",
    "TensorRtBuildError",
    "TorchEngine",
    "bake_constants",
    "build_tensorrt_plan",
    "cached_engine",
    "check_inputs",
    "default_cache_dir",
    "describe",
    "example_inputs",
    "export_onnx",
    "file_sha256",
    "open_engine",
    "profile_name",
    "read_onnx_metadata",
    "split_onnx",
    "tensorrt_cache_key",
    "unavailable_reason",
]
