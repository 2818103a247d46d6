"""The network as one ONNX file: fixed window and crop size, dynamic batch (people), metadata inside.

PartAttentionNetwork --trace (pooled_part_features -> attend)--> ONNX
    inputs  crops (B, P, T, S, S, 3) RGB 0..255, skeleton (B, T, M, J, 3)
    outputs logits (B, C), attention (B, P), and for the attention network part_features (B, P, D)
bake_constants: the exporter's shape arithmetic on constants replaced by its value (static pads)
split_onnx:     cut at part_features into the I3Ds and the pose head (for a TensorRT that cannot
                take the LSTM)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from importlib import metadata as distributions
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.atomic import unfinished_path, write_then_rename
from core.engines.cache import mark_used
from core.engines.interface import BATCH_AXIS, INPUT_NAMES, OUTPUT_NAMES, PART_FEATURES, EngineError
from core.engines.metadata import EngineMetadata, file_sha256
from core.package_files import DISTRIBUTION

if TYPE_CHECKING:  # PyTorch is imported by the export itself: the app's start on a cached export lacks it
    from core.model.network import PartAttentionNetwork

ONNX_OPSET = 17
# ONNX Runtime matches PyTorch within these on real crops (tests/test_export.py, `python -m training export`).
LOGITS_TOLERANCE = 1e-3
ATTENTION_TOLERANCE = 1e-4


# The modules of core/ (beside core/model/) that core/model/ imports: an edit to one of them may change the
# graph; an edit elsewhere in core/ (privacy, the room, timelines) does not re-export. (`wording`, for
# core/model/'s messages, and `atomic`, for saving checkpoints, cannot change a graph: counted all the
# same, since a rule by what a module is for would be one more thing to get wrong, and an edit to it
# costs one export.)
NETWORK_IMPORTS = ("atomic", "glimpse", "skeleton", "window", "wording")
# This package's modules that make the graph: the export itself, the input and output names, the
# metadata it carries, the FP16 converter (whose graph TensorRT builds from).
EXPORTER_MODULES = ("export", "interface", "metadata", "mixed_precision")


@functools.cache
def exporter_fingerprint() -> str:
    """What an exported graph depends on besides the checkpoint's weights: the network's source code
    (core/model/ and the modules of core/ it imports: the skeleton layouts, the parts, the window), this
    exporter's, its input and output names', and the FP16 converter's, and the torch and onnx versions
    (16 hex digits). Engines
    name cached exports (and FP16 graphs and TensorRT plans) by it, so an update that changes `forward`
    or the export exports again instead of running the old graph (its metadata, which only describes the
    checkpoint, would not tell)."""
    import core.model

    # The installed versions, read without importing either (a second of a start that needs neither).
    versions = f"torch {distributions.version('torch')} onnx {distributions.version('onnx')}"
    digest = hashlib.sha256(f"{versions} opset {ONNX_OPSET}".encode())
    model = Path(core.model.__file__).parent
    imported = [model.parent / f"{name}.py" for name in NETWORK_IMPORTS]
    exporter = [Path(__file__).with_name(f"{name}.py") for name in EXPORTER_MODULES]
    for source in (*sorted(model.glob("*.py")), *imported, *exporter):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


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
    import torch

    from core.model.network import ExportGraph

    path = Path(path)
    network = network.eval()
    device = next(network.parameters()).device
    graph = ExportGraph(network).eval()
    crops, skeleton = example_inputs(metadata, people=2)
    outputs = (*OUTPUT_NAMES, PART_FEATURES) if graph.splittable else OUTPUT_NAMES
    dynamic_axes = {name: {0: BATCH_AXIS} for name in (*INPUT_NAMES, *outputs)}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = unfinished_path(path)
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
        model.producer_name = DISTRIBUTION  # core.model.checkpoint recognises our graphs by it
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
    except BaseException as error:  # Ctrl-C too: a full-size partial file would stay behind
        temporary.unlink(missing_ok=True)
        if isinstance(error, EngineError) or not isinstance(error, Exception):
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
        mark_used(parts_path, head_path)
        return parts_path, head_path
    model = onnx.load(str(onnx_path))
    if PART_FEATURES not in {o.name for o in model.graph.output}:
        raise EngineError(
            f"{onnx_path}: no '{PART_FEATURES}' output to split at (only the attention network has one; "
            "re-export with this version)"
        )
    inferred = onnx.shape_inference.infer_shapes(model)
    # onnx before 1.19 looks a cut's tensor up in value_info alone, where a graph output is not listed:
    # KeyError 'part_features' (pyproject allows onnx 1.15).
    inferred.graph.value_info.extend(o for o in inferred.graph.output if o.name == PART_FEATURES)
    extractor = Extractor(inferred)
    out_dir.mkdir(parents=True, exist_ok=True)
    for target, inputs, outputs in (
        (parts_path, [INPUT_NAMES[0]], [PART_FEATURES]),
        (head_path, [PART_FEATURES, INPUT_NAMES[1]], list(OUTPUT_NAMES)),
    ):
        piece = extractor.extract_model(inputs, outputs)
        piece.metadata_props.extend(model.metadata_props)
        piece.metadata_props.add(key="graph_piece", value=json.dumps(target.suffixes[-2].lstrip(".")))
        onnx.checker.check_model(piece, full_check=True)
        save_atomically(piece, target)
    return parts_path, head_path


def save_atomically(model: Any, path: Path) -> None:
    """An ONNX model (under protobuf's 2 GB, as all of ours are) written whole or not at all."""
    write_then_rename(path, lambda f: f.write(model.SerializeToString()))
