"""Export a checkpoint to ONNX and prove the file computes what the checkpoint does.

    python -m training export runs/ntu/best.pt [-o best.onnx] [--data ../shared/data] [--split] [--tensorrt]
    (or python -m training.export ...)

    checkpoint.pt --core.engines.export_onnx--> best.onnx   (metadata inside: classes, profile,
        |                                                     window, crops, normalisation, sha256)
        +--> ONNX checker
        +--> ONNX Runtime vs PyTorch on the same windows: real NTU crops (glimpse sensor on
             S001C001P001R001A001) when --data has them, random crops otherwise;
             logits within 1e-3, attention within 1e-4, else ExportMismatchError
        +--> --split: also the two pieces TensorRT uses when it cannot take the LSTM, checked the same way
        +--> --fp16: also the FP16 graph TensorRT builds from (I3Ds FP16, head FP32), checked against the
             FP32 file on the same windows: top-1 agreement >= 99%, max attention difference reported
        +--> --tensorrt: build the FP16 engine now (cached), and report how far it is from PyTorch

The export itself lives in core.engines (engines export checkpoints on the fly); this module is the
command around it, and the one place that cuts real windows from NTU for checking.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.camera import DEFAULT_CAMERA
from core.engines import (
    ATTENTION_TOLERANCE,
    LOGITS_TOLERANCE,
    MAX_PEOPLE,
    Backend,
    EngineError,
    EngineMetadata,
    Fp16Scope,
    GraphEngine,
    OnnxRuntimeGraph,
    SplitEngine,
    TorchEngine,
    default_cache_dir,
    example_inputs,
    export_onnx,
    open_engine,
    read_onnx_metadata,
    split_onnx,
    to_fp16,
)
from core.engines import selection as engine_selection
from core.glimpse import PARTS, crop_window, part_boxes
from core.model import load_checkpoint
from core.package_files import output_folder_beside
from core.skeleton import layout_by_name, normalize_window
from core.window import evaluation_window_ends, window_indices
from recordings.argument_types import CommandLineParser, any_path, integer_in, package_file, replaced_file
from recordings.atomic import rename_durably, why_not_writable
from recordings.clip import NTU_FPS, color_pixel_scale, other_shape
from recordings.ntu import read_skeleton
from recordings.ntu_video import RgbVideo
from training.datasets.nucla import NUCLA_FPS, read_nucla_sequence

NTU_CHECK_SAMPLE = "S001C001P001R001A001"  # the one NTU clip in shared/data with its RGB video
# An FP16 graph's hidden temporary file older than this is one a killed export left (a check takes
# seconds to minutes): removed by the next export of that graph.
LEFT_BY_A_KILLED_CHECK_S = 24 * 3600.0
TENSORRT_FP16_TOLERANCE = 5e-2  # FP16 engine vs FP32 PyTorch: a sanity bound, not a parity claim
FP16_TOP1_AGREEMENT = 0.99  # the FP16 graph must decide as the FP32 one does on (at least) this share


class ExportMismatchError(EngineError):
    """The exported graph does not compute what the checkpoint computes."""


@dataclass(frozen=True)
class ExportReport:
    onnx_path: Path
    metadata: EngineMetadata
    inputs: str  # what the check ran on
    people: int
    logits_error: float  # max |ONNX Runtime - PyTorch|
    attention_error: float
    split_paths: tuple[Path, Path] | None
    tensorrt_error: float | None  # max |TensorRT - PyTorch| over logits and attention, when built
    tensorrt_engine: str | None  # how it runs: the whole graph, or I3Ds on TensorRT + the LSTM split off
    seconds: float
    fp16: Fp16Parity | None = None
    replaced: str = ""  # what was at onnx_path before (replaced_export)

    def summary(self) -> str:
        m = self.metadata
        crops = f"crops {m.crop_size} px of {', '.join(m.parts)}" if m.parts else "skeleton only (no crops)"
        replaced = f", replacing {self.replaced}" if self.replaced else ""
        lines = [
            f"wrote {self.onnx_path} ({self.onnx_path.stat().st_size / 1e6:.1f} MB, {self.seconds:.1f} s"
            f"{replaced})",
            f"  {m.profile} profile, {len(m.class_names)} classes, {crops}, {m.window_frames} frames / "
            f"{m.window_seconds:g} s",
            f"  checkpoint sha256 {m.checkpoint_sha256}",
            f"  ONNX checker passed; ONNX Runtime vs PyTorch on {self.inputs} (batch {self.people}): "
            f"logits {self.logits_error:.2e} (<= {LOGITS_TOLERANCE:g}), "
            f"attention {self.attention_error:.2e} (<= {ATTENTION_TOLERANCE:g})",
        ]
        if self.split_paths:
            lines.append(f"  split for TensorRT: {self.split_paths[0].name}, {self.split_paths[1].name}")
        if self.fp16 is not None:
            lines.append(f"  {self.fp16.summary()}")
        if self.tensorrt_error is not None:
            lines.append(f"  TensorRT FP16 vs PyTorch: max difference {self.tensorrt_error:.2e}")
            lines.append(f"  TensorRT engine: {self.tensorrt_engine}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Fp16Parity:
    """An FP16 graph against its FP32 source on the same windows (ONNX Runtime, CPU)."""

    path: Path  # the FP16 graph
    scope: Fp16Scope  # what runs in FP16
    windows: int
    top1_agreement: float  # share of windows whose top class is the same
    logits_error: float  # max |FP16 - FP32|
    logits_scale: float  # max |FP32 logits|, for scale
    attention_error: float

    def summary(self) -> str:
        return (
            f"FP16 graph ({self.scope.value} in FP16) vs FP32 on {self.windows} windows: top-1 agreement "
            f"{self.top1_agreement:.1%} (>= {FP16_TOP1_AGREEMENT:.0%}), logits max difference "
            f"{self.logits_error:.2e} (largest logit {self.logits_scale:.2f}), attention max difference "
            f"{self.attention_error:.2e}"
        )


def fp16_parity(
    onnx_path: str | Path,
    crops: np.ndarray,
    skeleton: np.ndarray,
    *,
    scope: Fp16Scope = Fp16Scope.I3DS,
    out_path: str | Path | None = None,
    threads: int | None = None,
    batch: int = 4,
    min_top1_agreement: float = 0.0,
) -> Fp16Parity:
    """Convert `onnx_path` to FP16 (`to_fp16`, written to `out_path`, default beside it as
    .fp16-SCOPE.onnx) and compare both on ONNX Runtime's CPU provider, `batch` windows per call. The graph
    is put at `out_path` once compared, and only where its top-1 agreement is at least
    `min_top1_agreement`: an export stopped during the check leaves no unchecked FP16 graph under its
    name (killed, a hidden temporary file beside it).

    That provider has FP16 kernels for few operators and casts around the others, so values are rounded
    to FP16 wherever the graph stores FP16 (weights, every tensor between operators), while arithmetic
    inside an operator runs in FP32, much as FP16 convolutions on a GPU accumulate in FP32. It is the
    precision loss of the FP16 graph, not of a particular GPU's kernels."""
    import onnx

    onnx_path = Path(onnx_path)
    if out_path is None:
        out_path = onnx_path.with_name(f"{onnx_path.stem}.fp16-{scope.value}.onnx")
    out_path = Path(out_path)
    # Each export's own name (below); escaped: a "[" in the graph's name is no pattern.
    for left in out_path.parent.glob(f"{glob.escape('.' + out_path.name)}.*.checking"):
        with contextlib.suppress(OSError):  # gone meanwhile, or a share's refusal: a leftover, no more
            if time.time() - left.stat().st_mtime > LEFT_BY_A_KILLED_CHECK_S:
                left.unlink()
    # Named for this export alone: two exports of one graph at once (two rooms' apps) would write one file.
    checking = out_path.with_name(f".{out_path.name}.{os.getpid()}-{secrets.token_hex(4)}.checking")
    try:
        onnx.save(to_fp16(onnx.load(str(onnx_path)), scope), str(checking))
        reference = OnnxRuntimeGraph(onnx_path, threads=threads)
        half = OnnxRuntimeGraph(checking, threads=threads)
        want, got = [], []
        for start in range(0, len(skeleton), batch):
            feeds = {"crops": crops[start : start + batch], "skeleton": skeleton[start : start + batch]}
            want.append(reference.run(feeds, ("logits", "attention")))
            got.append(half.run(feeds, ("logits", "attention")))
        want_logits, want_attention = (np.concatenate(pieces) for pieces in zip(*want, strict=True))
        logits, attention = (np.concatenate(pieces) for pieces in zip(*got, strict=True))
        report = Fp16Parity(
            path=out_path,
            scope=scope,
            windows=len(skeleton),
            top1_agreement=float(np.mean(logits.argmax(1) == want_logits.argmax(1))),
            logits_error=_max_error(logits, want_logits),
            logits_scale=float(np.abs(want_logits).max()),
            attention_error=_max_error(attention, want_attention),
        )
        if report.top1_agreement >= min_top1_agreement:
            rename_durably(checking, out_path)
        return report
    finally:
        checking.unlink(missing_ok=True)


def ntu_windows(
    data_dir: str | Path, metadata: EngineMetadata, count: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """`count` real windows of NTU S001C001P001R001A001, as an engine takes them: crops float32
    (count, P, T, S, S, 3) cut by the glimpse sensor from the RGB video, skeletons float32
    (count, T, M, J, 3) normalised. Windows end at evenly spread times of the clip."""
    data_dir = Path(data_dir)
    skeleton_path = data_dir / "ntu" / "skeletons" / f"{NTU_CHECK_SAMPLE}.skeleton"
    video_path = data_dir / "ntu" / "rgb" / f"{NTU_CHECK_SAMPLE}_rgb.avi"
    for path in (skeleton_path, video_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the NTU check clip is not there (see shared/data/README.md)")
    prep = metadata.preprocessing
    layout = layout_by_name(prep.layout)
    if layout.num_joints != 25:
        raise ValueError(f"the NTU clip is Kinect v2 (25 joints); this network takes layout {prep.layout}")
    if tuple(metadata.parts) != PARTS:
        raise ValueError(
            f"real crops are cut for the body parts {PARTS}; this network takes {metadata.parts}"
        )
    arrays = read_skeleton(skeleton_path).arrays(max_bodies=prep.num_bodies)
    timestamps = np.arange(len(arrays.xyz)) / NTU_FPS
    ends = evaluation_window_ends(timestamps, prep.window, count=count)
    all_indices = [window_indices(timestamps, end, prep.window) for end in ends]
    with RgbVideo(video_path) as video:
        scale = color_pixel_scale(skeleton_path, None, video)  # a copy shared resized: its joints scaled
        if scale is None:
            raise ValueError(f"{other_shape(skeleton_path, None, video)}: crops would miss the people")
        camera = DEFAULT_CAMERA.scaled(video.width, video.height)
        wanted = sorted({int(i) for indices in all_indices for i in indices})
        frames = dict(zip(wanted, video.read_frames(wanted), strict=True))
    crops, skeletons = [], []
    for indices in all_indices:
        joints, states = arrays.xyz[indices], arrays.states[indices]
        boxes = part_boxes(
            joints[:, 0],
            states[:, 0],
            camera,
            layout,
            prep.glimpse,
            joints_color=arrays.color[indices, 0] * np.asarray(scale),
            timestamps=timestamps[indices],
        )
        crops.append(crop_window([frames[int(i)] for i in indices], boxes, prep.glimpse))
        skeletons.append(normalize_window(joints, states, layout))
    return np.stack(crops).astype(np.float32), np.stack(skeletons)


NTU_TWO_PERSON_SAMPLE = "S001C001P001R001A050"  # punching: the real clip with a second body


def skeleton_windows(
    data_dir: str | Path, metadata: EngineMetadata, count: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """`count` real windows for a skeleton-only network (no crops): NTU S001C001P001R001A050 (two bodies)
    for a Kinect v2 layout, the first N-UCLA sequence of views 1-2 for the Kinect v1 one."""
    data_dir = Path(data_dir)
    prep = metadata.preprocessing
    layout = layout_by_name(prep.layout)
    if layout.num_joints == 25:
        path = data_dir / "ntu" / "skeletons" / f"{NTU_TWO_PERSON_SAMPLE}.skeleton"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the NTU check clip is not there (see shared/data/README.md)")
        arrays = read_skeleton(path).arrays(max_bodies=prep.num_bodies)
        joints_all, states_all, fps = arrays.xyz, arrays.states, NTU_FPS
    else:
        folder = data_dir / "nucla" / "all_sqe"
        first = min(folder.glob("a*_s*_e*_v*.json"), default=None)
        if first is None:
            raise FileNotFoundError(f"{folder}: no N-UCLA sequences to check on (see shared/data/README.md)")
        _, joints = read_nucla_sequence(first)
        if joints.shape[1] != layout.num_joints:
            raise ValueError(
                f"no real recording here has the {layout.num_joints} joints of layout {prep.layout}"
            )
        joints_all = np.zeros((len(joints), prep.num_bodies, *joints.shape[1:]), dtype=np.float32)
        joints_all[:, 0] = joints
        states_all, fps = None, NUCLA_FPS
    timestamps = np.arange(len(joints_all)) / fps
    ends = evaluation_window_ends(timestamps, prep.window, count=count)
    skeletons = []
    for end in ends:
        indices = window_indices(timestamps, end, prep.window)
        states = None if states_all is None else states_all[indices]
        skeletons.append(normalize_window(joints_all[indices], states, layout))
    return np.zeros(metadata.crops_shape(count), dtype=np.float32), np.stack(skeletons)


def real_windows(data_dir: str | Path, metadata: EngineMetadata, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Real windows the network can take: NTU crops + skeletons, or skeletons alone."""
    if metadata.parts:
        return ntu_windows(data_dir, metadata, count)
    return skeleton_windows(data_dir, metadata, count)


def _max_error(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference; inf where either side has a NaN or inf (an FP16 overflow), which would
    otherwise pass every `error > tolerance` check."""
    if not a.size:
        return 0.0
    difference = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return float(difference.max()) if np.isfinite(difference).all() else float("inf")


def check_parity(
    reference: TorchEngine,
    engine: GraphEngine | SplitEngine,
    crops: np.ndarray,
    skeleton: np.ndarray,
    what: str,
) -> tuple[float, float]:
    """(logits error, attention error) of `engine` against PyTorch; ExportMismatchError past tolerance."""
    want_logits, want_attention = reference.run(crops, skeleton)
    logits, attention = engine.run(crops, skeleton)
    logits_error = _max_error(logits, want_logits)
    attention_error = _max_error(attention, want_attention)
    if logits_error > LOGITS_TOLERANCE or attention_error > ATTENTION_TOLERANCE:
        raise ExportMismatchError(
            f"{what}: {engine.name} differs from PyTorch by {logits_error:.2e} in the logits (allowed "
            f"{LOGITS_TOLERANCE:g}) and {attention_error:.2e} in the attention "
            f"(allowed {ATTENTION_TOLERANCE:g})"
        )
    return logits_error, attention_error


def export_checkpoint(
    checkpoint_path: str | Path,
    onnx_path: str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    people: int = 2,
    split: bool = False,
    tensorrt: bool = False,
    cache_dir: str | Path | None = None,
    fp16: bool = False,
    fp16_windows: int = 32,
) -> ExportReport:
    """Export `checkpoint_path` to `onnx_path` (default: beside it, .onnx; in runs/ for a model bundled with
    an installed copy) and check it (module docstring)."""
    started = time.perf_counter()
    checkpoint_path = Path(checkpoint_path)
    if checkpoint_path.suffix.lower() == ".onnx":
        raise ValueError(f"{checkpoint_path}: an ONNX file is already exported; export takes the PyTorch "
                         "checkpoint (.pt) it came from")
    onnx_path = Path(onnx_path) if onnx_path is not None \
        else output_folder_beside(checkpoint_path) / checkpoint_path.with_suffix(".onnx").name
    # Checked before anything is written: `-o model.pt` would replace the checkpoint with ONNX bytes.
    if onnx_path.is_dir():
        raise ValueError(f"-o {onnx_path}: a folder; give the ONNX file to write, e.g. "
                         f"{onnx_path / checkpoint_path.with_suffix('.onnx').name}")
    if onnx_path.suffix.lower() != ".onnx":
        raise ValueError(f"-o {onnx_path}: the file written is ONNX and its name must end in .onnx "
                         f"(nothing written)")
    # The default beside the checkpoint, in a checkout IT installed read-only: said before seconds to minutes
    # of exporting ("ONNX export failed (PermissionError...)").
    if (why_not := why_not_writable(onnx_path.absolute().parent)) is not None:
        raise ValueError(f"{onnx_path}: cannot be written ({why_not}); -o names another file (nothing "
                         "written)")
    # Written with onnx and checked through ONNX Runtime: a missing package said before anything is written.
    if (why_not := engine_selection.unavailable_reason(Backend.ONNXRUNTIME_CPU)) is not None:
        raise ValueError(f"{why_not} (nothing written)")
    if tensorrt and (why_not := engine_selection.unavailable_reason(Backend.TENSORRT)) is not None:
        raise ValueError(f"--tensorrt: {why_not} (nothing written; export without --tensorrt on this machine "
                         "and build the engine where TensorRT runs)")
    checkpoint = load_checkpoint(checkpoint_path)
    metadata = EngineMetadata.from_checkpoint(checkpoint, checkpoint.sha256)
    if split and not metadata.parts:
        raise ValueError(f"{checkpoint_path}: --split cuts the I3Ds (RGB parts) from the pose network and "
                         f"this model has none (skeleton only): export it without --split")
    if fp16 and not metadata.parts:
        # Its FP16 graph keeps the I3Ds in FP16 and the rest in FP32: without I3Ds there is nothing to
        # convert, and TensorRT builds the FP32 graph as it is.
        raise ValueError(f"{checkpoint_path}: --fp16 converts the I3Ds (RGB parts), and this model has none "
                         "(skeleton only): export it without --fp16")
    if data_dir is not None:  # before exporting: a data folder that cannot serve says so at once
        crops, skeleton = real_windows(data_dir, metadata, count=people)
        inputs = (f"real NTU windows of {NTU_CHECK_SAMPLE}" if metadata.parts
                  else "real skeleton windows")
    else:
        crops, skeleton = example_inputs(metadata, people)
        inputs = "random crops and skeletons" if metadata.parts else "random skeletons"
    replaced = replaced_export(onnx_path, metadata)
    # Written under a temporary name and put in place only once it computes what the checkpoint does:
    # a failed check leaves no ONNX file that could be deployed by mistake.
    checking = onnx_path.with_name(f".{onnx_path.name}.checking")
    try:
        export_onnx(checkpoint.model, metadata, checking)
        reference = TorchEngine(checkpoint.model, metadata)
        graph = GraphEngine(OnnxRuntimeGraph(checking), metadata)
        logits_error, attention_error = check_parity(reference, graph, crops, skeleton, str(onnx_path))
        rename_durably(checking, onnx_path)
    finally:
        checking.unlink(missing_ok=True)

    split_paths = None
    if split:
        split_paths = split_onnx(onnx_path, onnx_path.parent)
        pieces = SplitEngine(OnnxRuntimeGraph(split_paths[0]), OnnxRuntimeGraph(split_paths[1]), metadata)
        try:
            check_parity(reference, pieces, crops, skeleton, f"{split_paths[0]} + {split_paths[1]}")
        except ExportMismatchError:
            for piece in split_paths:
                piece.unlink(missing_ok=True)
            raise

    fp16_report = None
    if fp16:
        if data_dir is not None:
            many_crops, many_skeletons = real_windows(data_dir, metadata, count=fp16_windows)
        else:
            many_crops, many_skeletons = example_inputs(metadata, fp16_windows)
        fp16_report = fp16_parity(onnx_path, many_crops, many_skeletons,
                                  min_top1_agreement=FP16_TOP1_AGREEMENT)
        if fp16_report.top1_agreement < FP16_TOP1_AGREEMENT:  # not put in place; nor one of before left
            fp16_report.path.unlink(missing_ok=True)
            raise ExportMismatchError(f"{fp16_report.path}: {fp16_report.summary()}")

    tensorrt_error, tensorrt_engine = None, None
    if tensorrt:
        # As live opens it: the whole graph, or, where TensorRT cannot take the LSTM, the split engine.
        engine = open_engine(onnx_path, Backend.TENSORRT, cache_dir=cache_dir or default_cache_dir())
        tensorrt_engine = engine.reason
        want = reference.run(crops, skeleton)
        got = engine.run(crops, skeleton)
        tensorrt_error = max(_max_error(a, b) for a, b in zip(got, want, strict=True))
        if tensorrt_error > TENSORRT_FP16_TOLERANCE:
            raise ExportMismatchError(
                f"{onnx_path}: the TensorRT FP16 engine differs from PyTorch by {tensorrt_error:.2e} "
                f"(sanity bound {TENSORRT_FP16_TOLERANCE:g})"
            )
    return ExportReport(
        onnx_path=onnx_path,
        metadata=metadata,
        inputs=inputs,
        people=people,
        logits_error=logits_error,
        attention_error=attention_error,
        split_paths=split_paths,
        tensorrt_error=tensorrt_error,
        tensorrt_engine=tensorrt_engine,
        seconds=time.perf_counter() - started,
        fp16=fp16_report,
        replaced=replaced,
    )


def replaced_export(onnx_path: Path, metadata: EngineMetadata) -> str:
    """What writing `onnx_path` replaces, in words for the report ("" for nothing, or the export of the
    same weights): `-o` naming another model's export replaced it without a word. Replaced all the same
    (a retrained model is exported over its last export, its weights changed), but said."""
    if not onnx_path.exists():
        return ""
    try:
        before = read_onnx_metadata(onnx_path)
    except Exception:  # an ONNX file none of our exports wrote, or no ONNX at all: said as such
        return "a file that was no export of ours"
    if before.checkpoint_sha256 == metadata.checkpoint_sha256:
        return ""
    return (f"the export of other weights ({before.profile} profile, {len(before.class_names)} classes, "
            f"checkpoint sha256 {before.checkpoint_sha256[:12]}...)")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """The `export` command's arguments (training/__main__.py adds them to its subcommand)."""
    parser.add_argument("checkpoint", type=package_file, help="network checkpoint (.pt) to export")
    parser.add_argument(
        "-o", "--output", type=replaced_file,  # --out, as the other commands name it, is taken as its prefix
        help="ONNX file to write (default: checkpoint with .onnx)"
    )
    parser.add_argument(
        "--data",
        type=any_path,
        help="shared data folder (../shared/data): check on real NTU crops instead of random ones",
    )
    parser.add_argument("--people", type=integer_in(1, MAX_PEOPLE), default=2,
                        help="batch size (windows) of the check, as many as the people the app decides for "
                             "(default: 2)")
    parser.add_argument(
        "--split", action="store_true", help="also write the I3D / pose-head pieces for TensorRT"
    )
    parser.add_argument(
        "--fp16",
        action="store_true",
        help="also write the FP16 graph TensorRT builds from and check it against FP32 (top-1 agreement)",
    )
    parser.add_argument(
        "--tensorrt", action="store_true", help="also build (and cache) the TensorRT FP16 engine"
    )
    parser.add_argument("--cache-dir", type=any_path, help="TensorRT engine cache (default: ~/.cache/...)")


def run_export(args: argparse.Namespace) -> int:
    """Run the command for parsed `args`; exit status 0 on success, 1 on a failed check, 2 when the
    checkpoint, data or TensorRT is not usable."""
    try:
        report = export_checkpoint(
            args.checkpoint,
            args.output,
            data_dir=args.data,
            people=args.people,
            split=args.split,
            tensorrt=args.tensorrt,
            cache_dir=args.cache_dir,
            fp16=args.fp16,
        )
    except ExportMismatchError as error:
        print(f"export check failed: {error}", file=sys.stderr)
        return 1
    except (EngineError, FileNotFoundError, ValueError) as error:  # unreadable checkpoint, no TensorRT, ...
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    # (`or`: python -OO drops docstrings)
    parser = CommandLineParser(prog="python -m training export",
                               description=(__doc__ or "\n").splitlines()[0])
    add_export_arguments(parser)
    return run_export(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
