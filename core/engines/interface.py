"""What every engine is: crops + skeletons in, logits + attention out; and engines made of ONNX graphs.

crops    (B, P, T, S, S, 3) RGB 0..255 --+
                                          +--> Engine.run --> logits (B, C), attention (B, P)
skeleton (B, T, M, J, 3) normalised     --+

GraphEngine:  one graph (ONNX Runtime or TensorRT) computes everything
SplitEngine:  parts graph (crops -> part_features) then head graph (part_features, skeleton -> ...)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from core.engines.metadata import EngineMetadata

MAX_PEOPLE = 6  # bodies a Kinect v2 tracks at once: the largest batch an engine is built for
INPUT_NAMES = ("crops", "skeleton")
OUTPUT_NAMES = ("logits", "attention")
PART_FEATURES = "part_features"  # (B, P, D) pooled I3D features: where the graph splits for TensorRT
BATCH_AXIS = "people"


class Backend(enum.Enum):
    AUTO = "auto"
    TENSORRT = "tensorrt"
    ONNXRUNTIME_CUDA = "onnxruntime-cuda"
    ONNXRUNTIME_CPU = "onnxruntime-cpu"
    PYTORCH_CUDA = "pytorch-cuda"
    PYTORCH_CPU = "pytorch-cpu"


class EngineError(RuntimeError):
    """An engine that cannot be built or opened (export, parse, build or session creation failed)."""


class BackendUnavailable(EngineError):
    """The backend's runtime or device is not present on this machine."""


class EngineInputError(ValueError):
    """Crops or skeletons that do not have the shape the engine's network takes, or a skeleton that holds
    NaN or infinity."""


class Engine(Protocol):
    """Runs the network: crops + skeletons in, logits + attention out, all numpy."""

    name: str  # the backend as run, e.g. "onnxruntime-cpu (2 threads)"
    reason: str  # why this backend (auto says which it picked and why)
    metadata: EngineMetadata

    def run(self, crops: np.ndarray, skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """crops (B, P, T, S, S, 3) RGB 0..255 (uint8 as cut, or float32), skeleton float32
        (B, T, M, J, 3) normalised -> logits float32 (B, C), attention float32 (B, P)."""
        ...


def check_shapes(crops: np.ndarray, skeleton: np.ndarray, metadata: EngineMetadata) -> int:
    """The batch size (people) of the inputs; EngineInputError where a shape is wrong or the skeleton is
    not all finite numbers."""
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
    # A NaN or infinity in the skeleton gave all-NaN logits and no error. Only the skeleton is checked:
    # a few thousand numbers (microseconds for six people), where the crops are megabytes.
    finite = np.isfinite(skeleton)
    if not finite.all():
        person, frame, body, joint, _ = np.argwhere(~finite)[0]
        raise EngineInputError(
            f"skeleton has NaN or infinity in {int((~finite).sum())} of its {skeleton.size} values (the "
            f"first at person {person}, frame {frame}, body {body}, joint {joint}); give joints not seen "
            f"as 0 0 0 and normalise the window with core.skeleton.normalize_window (its numbers are finite)"
        )
    return people


def check_inputs(
    crops: np.ndarray, skeleton: np.ndarray, metadata: EngineMetadata, *, crops_as_cut: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous float32 copies (or views) of the inputs, uint8 crops kept as they are where
    `crops_as_cut` (a GPU graph widens them there); EngineInputError where a shape is wrong or the
    skeleton is not all finite numbers."""
    as_cut = crops_as_cut and crops.dtype == np.uint8
    crops = np.ascontiguousarray(crops, dtype=np.uint8 if as_cut else np.float32)
    skeleton = np.ascontiguousarray(skeleton, dtype=np.float32)
    check_shapes(crops, skeleton, metadata)
    return crops, skeleton


class Graph(Protocol):
    """One ONNX graph on some runtime: named numpy arrays in, named numpy arrays out."""

    name: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    # Takes uint8 crops as cut and widens them on its device: a quarter of the bytes to copy there, and
    # no float32 copy made on the CPU first.
    widens_crops: bool

    def run(self, feeds: Mapping[str, np.ndarray], outputs: tuple[str, ...]) -> list[np.ndarray]: ...


class GraphEngine:
    """The whole network as one ONNX graph, on ONNX Runtime or TensorRT."""

    def __init__(self, graph: Graph, metadata: EngineMetadata, *, reason: str = "") -> None:
        # An ONNX file whose metadata is ours but whose graph is not the network (edited, or another
        # model's graph under this record): said when it opens, not as a feed error at the first window.
        # (Which inputs it has depends on the network: a skeleton-only one has no crops, an ablation
        # without the pose stream no skeleton.)
        foreign = [n for n in graph.input_names if n not in INPUT_NAMES]
        missing = [n for n in OUTPUT_NAMES if n not in graph.output_names]
        if foreign or missing or not graph.input_names:
            raise EngineError(
                f"{getattr(graph, 'path', graph.name)}: not the network its metadata describes (inputs "
                f"{list(graph.input_names)}, outputs {list(graph.output_names)}; expected inputs among "
                f"{list(INPUT_NAMES)} and outputs {list(OUTPUT_NAMES)}); export the checkpoint again"
            )
        self.graph = graph
        self.metadata = metadata
        self.name = graph.name
        self.reason = reason

    def run(self, crops: np.ndarray, skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        crops, skeleton = check_inputs(crops, skeleton, self.metadata, crops_as_cut=self.graph.widens_crops)
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
        crops, skeleton = check_inputs(crops, skeleton, self.metadata, crops_as_cut=self.parts.widens_crops)
        (features,) = self.parts.run({INPUT_NAMES[0]: crops}, (PART_FEATURES,))
        logits, attention = self.head.run({PART_FEATURES: features, INPUT_NAMES[1]: skeleton}, OUTPUT_NAMES)
        return logits, attention
