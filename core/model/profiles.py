"""Network configuration and its presets (profiles).

Profiles (presets as functions, so a CLI choice maps to a dataclass):
    paper     224 px crops, full-width I3D, 20 frames, LSTM 512 (NTU; `paper_nucla`: LSTM 128, Kinect v1)
    lite      a CPU profile for live use on a laptop (smaller crops, thinner I3D, fewer frames)
    demo      the simulated-room demo (`python -m training demo`): trains on two CPU cores in about 35 minutes
    skeleton  skeleton-only: the graph pose stream alone (no crops), sized for 6 people on 2 CPU cores
    tiny      for tests

The pose stream is `pose_stream`: the paper's LSTM (every preset but `skeleton`, and every checkpoint
saved before the field existed) or the graph convolution network of core/model/graph.py.
Their cost: `python -m core.model` (core/model/cost.py).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.glimpse import PARTS
from core.skeleton import LAYOUTS, SkeletonLayout


class PoseInput(enum.Enum):
    """One input of the graph pose stream; each runs through a trunk of its own (late fusion)."""

    JOINTS = "joints"  # positions
    BONES = "bones"  # joint minus parent
    VELOCITY = "velocity"  # frame-to-frame motion of the positions


BODY_PARTS: tuple[str, ...] = PARTS  # the paper's K = 3 (left hand, right hand, full body), in crop order
FULL_IMAGE = "full_image"  # the "full image" ablation: one I3D on the whole colour frame


class Aggregation(enum.Enum):
    """How part features are combined (the paper's model and the ablations of Tables 1-2)."""

    ATTENTION = "attention"  # F = sum_k alpha_k g_k, alpha from the pose LSTM (the paper's model)
    SUM0 = "sum0"  # F = sum_k g_k after the last Inception block
    CONCAT0 = "concat0"  # F = [g_1, ..., g_K] after the last Inception block
    SUM1 = "sum1"  # sum before Mixed_5c, which is then shared
    SUM2 = "sum2"  # sum before MaxPool3d_5a + Mixed_5b + Mixed_5c, which are then shared
    SINGLE = "single"  # one part (or the full image) alone, classified by its own I3D logits
    POSE = "pose"  # no crops: the pose LSTM alone classifies (skeleton-only model)

    @property
    def shared_blocks(self) -> int:
        """r in sum_r: how many final Inception blocks run once on the summed features."""
        return {Aggregation.SUM1: 1, Aggregation.SUM2: 2}.get(self, 0)

    @property
    def uses_pose(self) -> bool:
        return self in (Aggregation.ATTENTION, Aggregation.POSE)


class PoseStream(enum.Enum):
    """What reads the skeleton: classifies it alone (aggregation "pose") and drives Eq. 2-3's attention."""

    LSTM = "lstm"  # the paper's stacked LSTM (core/model/pose.py)
    GCN = (
        "gcn"  # spatial-temporal graph convolutions, joints / bones / velocity streams (core/model/graph.py)
    )


@dataclass(frozen=True)
class NetworkConfig:
    """Everything that determines the network's structure (stored in checkpoints)."""

    num_classes: int
    parts: tuple[str, ...] = BODY_PARTS
    aggregation: Aggregation = Aggregation.ATTENTION
    # Part I3Ds: input (num_frames, crop_size, crop_size) per part, channels scaled by width.
    crop_size: int = 224
    num_frames: int = 20
    width: float = 1.0
    i3d_dropout: float = 0.5  # before every classifier on I3D features (the port's default)
    # Pose LSTM: input num_bodies * num_joints * 3 per frame.
    num_joints: int = 25
    num_bodies: int = 2
    lstm_hidden: int = 512
    lstm_layers: int = 3
    lstm_dropout: float = 0.5
    # Read the window in both directions and classify from the centre step (forward over the first half,
    # backward over the second) instead of the last step: what a continuous stream's window is labelled
    # by is its centre (core/timeline.py), which a forward LSTM has to carry through the window's second
    # half. The hidden states the attention head reads are then 2 * lstm_hidden wide.
    lstm_bidirectional: bool = False
    # Extra pose LSTM inputs computed inside the network (core/model/pose.py), so callers still pass
    # positions: frame-to-frame velocity times this weight (0 = none), positions centred per frame, bone
    # vectors (joint minus parent in the skeleton layout that has num_joints joints).
    pose_velocity: float = 0.0
    pose_centre_frames: bool = False
    pose_bones: bool = False
    # Width of W_h in Eq. 2; the paper does not give it, we use the LSTM's hidden size.
    attention_size: int = 512
    # The pose stream. LSTM: the fields above. GCN: one trunk per input (late fusion), blocks of these
    # widths over the layout of num_joints joints, temporal kernel in frames, dropout before each
    # stream's classifier. The GCN's defaults are the `skeleton` profile's (sized in its docstring).
    pose_stream: PoseStream = PoseStream.LSTM
    gcn_inputs: tuple[PoseInput, ...] = (PoseInput.JOINTS, PoseInput.BONES, PoseInput.VELOCITY)
    gcn_channels: tuple[int, ...] = (32, 32, 64)
    gcn_temporal_kernel: int = 5
    # Per block, the temporal convolution's dilation (frames between its taps); () = 1 everywhere. Three
    # blocks of kernel 5 see 13 frames undilated, (1, 2, 3) 25: a whole 20-frame window per output frame.
    gcn_temporal_dilations: tuple[int, ...] = ()
    gcn_dropout: float = 0.5
    # Pose-only networks (aggregation "pose"; the others read no pose logits and ignore it): classify
    # the window and its mirror image (left and right joints swapped, x negated) and average the two
    # class distributions. Only for classes that do not say which side (PKU-MMD's interactions, not
    # drink_left): a second, differently wrong opinion for the price of a second pass. Inference only:
    # the pose stage trains the pose stream itself (mirroring is an augmentation there). A field here,
    # not an ablation, so that a training config's overrides can set it before the ablation is applied.
    pose_mirror_average: bool = False
    # Pose-only networks: this many pose streams of the fields above, each window's class distributions
    # averaged over them (core/model/ensemble.py). Members trained apart (other seeds or sampling) make
    # different mistakes; `python -m training ensemble` joins trained checkpoints into one file.
    pose_members: int = 1
    # Attention networks: the weight w of the pose stream's own classification in the output, whose
    # class distribution is (1 - w) softmax(classifier(F)) + w softmax(pose classifier): late fusion.
    # 0 is the paper (the skeleton only places attention). Where the acting part is a few pixels of a
    # small crop (a kick in the demo's 32 px body crop), the skeleton still sees it. The pose
    # classifier then trains in the joint, fine-tuning and head stages too, each branch on its own
    # loss (training/stages.py, StageObjective).
    pose_fusion: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if self.num_classes < 1:
            problems.append(f"num_classes must be >= 1, got {self.num_classes}")
        if self.aggregation is Aggregation.POSE and self.parts:
            problems.append(f"a pose-only network has no parts, got {self.parts}")
        if self.aggregation is Aggregation.SINGLE and len(self.parts) != 1:
            problems.append(f"aggregation 'single' needs exactly one part, got {self.parts}")
        if self.aggregation not in (Aggregation.POSE, Aggregation.SINGLE) and len(self.parts) < 2:
            problems.append(f"aggregation {self.aggregation.value!r} needs >= 2 parts, got {self.parts}")
        if len(set(self.parts)) != len(self.parts):
            problems.append(f"parts repeat: {self.parts}")
        for name in (
            "crop_size",
            "num_frames",
            "num_joints",
            "num_bodies",
            "lstm_hidden",
            "lstm_layers",
            "attention_size",
            "pose_members",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width <= 0:
            problems.append(f"width must be > 0, got {self.width}")
        for name in ("i3d_dropout", "lstm_dropout", "gcn_dropout"):
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not self.pose_velocity >= 0:
            problems.append(f"pose_velocity (a weight) must be >= 0, got {self.pose_velocity}")
        if self.pose_bones and layout_with_joints(self.num_joints) is None:
            problems.append(f"pose_bones needs a skeleton layout of {self.num_joints} joints; there is none")
        if self.pose_stream is PoseStream.GCN:
            problems += self._gcn_problems()
        if not 0 <= self.pose_fusion < 1:
            problems.append(f"pose_fusion (a weight) must be in [0, 1), got {self.pose_fusion}")
        if self.pose_fusion and self.aggregation is not Aggregation.ATTENTION:
            problems.append(f"pose_fusion needs aggregation 'attention', got {self.aggregation.value!r}")
        if self.pose_members > 1 and self.aggregation is not Aggregation.POSE:
            problems.append("pose_members > 1 needs aggregation 'pose' (an ensemble does not drive "
                            f"attention), got {self.aggregation.value!r}")
        if self.pose_mirror_average and layout_with_joints(self.num_joints) is None:
            problems.append(f"pose_mirror_average needs a skeleton layout of {self.num_joints} joints; "
                            "there is none")
        if problems:
            raise ValueError("invalid NetworkConfig: " + "; ".join(problems))

    def _gcn_problems(self) -> list[str]:
        problems = []
        if layout_with_joints(self.num_joints) is None:
            problems.append(f"the GCN needs a skeleton layout of {self.num_joints} joints; there is none")
        if self.pose_velocity or self.pose_centre_frames or self.pose_bones:
            problems.append(
                "pose_velocity, pose_centre_frames and pose_bones are LSTM inputs; the GCN reads gcn_inputs"
            )
        if not self.gcn_inputs or len(set(self.gcn_inputs)) != len(self.gcn_inputs):
            problems.append(f"gcn_inputs must name distinct inputs, got {[i.value for i in self.gcn_inputs]}")
        if not self.gcn_channels or min(self.gcn_channels) < 1:
            problems.append(f"gcn_channels must be block widths >= 1, got {list(self.gcn_channels)}")
        if self.gcn_temporal_kernel < 1 or self.gcn_temporal_kernel % 2 == 0:
            problems.append(f"gcn_temporal_kernel must be odd and >= 1, got {self.gcn_temporal_kernel}")
        dilations = self.gcn_temporal_dilations
        if dilations and (len(dilations) != len(self.gcn_channels) or min(dilations) < 1):
            problems.append(f"gcn_temporal_dilations must give one dilation >= 1 per block of gcn_channels "
                            f"({len(self.gcn_channels)}), got {list(dilations)}")
        return problems

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (str, int, float, list), for checkpoints and logs."""
        d = dataclasses.asdict(self)
        d["parts"] = list(self.parts)
        d["aggregation"] = self.aggregation.value
        d["pose_stream"] = self.pose_stream.value
        d["gcn_inputs"] = [kind.value for kind in self.gcn_inputs]
        d["gcn_channels"] = list(self.gcn_channels)
        d["gcn_temporal_dilations"] = list(self.gcn_temporal_dilations)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "<config>") -> NetworkConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{source}: unknown network config fields {unknown}; expected {sorted(known)}")
        values = dict(d)
        # Plain fields checked by their type first: a string where a number belongs would otherwise be
        # said in Python's words ("'<' not supported between instances of 'str' and 'int'"), not the field's.
        types = {f.name: f.type for f in dataclasses.fields(cls)}  # as written: "int", "float | None"...
        for name, value in values.items():
            expected = SCALAR_TYPES.get(types[name])
            if expected is not None and not _is_a(value, expected[0]):
                raise ValueError(f"{source}: {name} must be {expected[1]}, got {value!r}")
        try:
            if "aggregation" in values:
                values["aggregation"] = Aggregation(values["aggregation"])
            if "parts" in values:
                values["parts"] = tuple(values["parts"])
            # Configs saved before the pose stream could be chosen lack these fields: the LSTM.
            if "pose_stream" in values:
                values["pose_stream"] = PoseStream(values["pose_stream"])
            if "gcn_inputs" in values:
                values["gcn_inputs"] = tuple(PoseInput(kind) for kind in values["gcn_inputs"])
            if "gcn_channels" in values:
                values["gcn_channels"] = tuple(values["gcn_channels"])
            if "gcn_temporal_dilations" in values:
                values["gcn_temporal_dilations"] = tuple(values["gcn_temporal_dilations"])
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: {error}") from error


SCALAR_TYPES = {"int": (int, "an integer"), "float": (float, "a number"), "bool": (bool, "true or false")}


def _is_a(value: Any, kind: type) -> bool:
    """Whether a config value is of a plain field's type (an integer is a number too; a bool is neither)."""
    if kind is bool or isinstance(value, bool):
        return isinstance(value, bool) and kind is bool
    return isinstance(value, int) if kind is int else isinstance(value, (int, float))


def layout_with_joints(num_joints: int) -> SkeletonLayout | None:
    """The sensor layout with this many joints (the network records joint counts, not layouts)."""
    return next((layout for layout in LAYOUTS if layout.num_joints == num_joints), None)


def paper(num_classes: int = 60) -> NetworkConfig:
    """The paper's model for NTU RGB+D: 224 px crops, full-width I3D, 20 frames, LSTM 512."""
    return NetworkConfig(num_classes=num_classes)


def paper_nucla(num_classes: int = 10) -> NetworkConfig:
    """The paper's model for N-UCLA: LSTM 128, Kinect v1 (20 joints), one person. A training run takes
    the number of bodies from `data.max_bodies` (2 unless set; 1 in training/configs/nucla_*.yaml)."""
    return NetworkConfig(
        num_classes=num_classes, num_joints=20, num_bodies=1, lstm_hidden=128, attention_size=128
    )


def lite(num_classes: int = 60) -> NetworkConfig:
    """CPU profile: 96 px crops, I3D at 3/8 width, 16 frames, LSTM 256 — 3.1 GMAC per window (paper: 105).

    Chosen by measurement: ONNX Runtime 1.32, 2 intra-op threads, one person's window (batch 1), on an
    otherwise idle 2-core machine: p50 55 ms (112 px at half width, 20 frames: 122 ms; 96 px at half
    width: 69 ms; 96 px at 1/4 width: 39 ms). The headroom under the 100 ms budget is for slower
    laptops and the rest of the live pipeline. What it trades: hands seen at 96 px, a 3/8-width I3D for
    which no ImageNet/Kinetics weights exist (trained from scratch or distilled), 16 frames per window.
    """
    return NetworkConfig(
        num_classes=num_classes, crop_size=96, num_frames=16, width=0.375, lstm_hidden=256, attention_size=256
    )


def demo(num_classes: int = 10) -> NetworkConfig:
    """The simulated-room demo: 32 px crops, I3D at 1/8 width, 10 frames, LSTM 64 (3 layers).

    Sized so that `python -m training demo` (simulated room streams, all four stages) trains on two
    shared CPU cores in about 35 minutes; 32 px are enough for the simulator's flat-shaded hands and
    held objects, 10 frames over its 2 s window (training.demo.DEMO_WINDOW_S) catch a wave's swings.
    One body: the simulated actions are all one-person, so a second-body input would never be trained
    and live would feed it whoever else is in the room.
    """
    return NetworkConfig(
        num_classes=num_classes,
        crop_size=32,
        num_frames=10,
        width=0.125,
        num_bodies=1,
        lstm_hidden=64,
        attention_size=64,
    )


def tiny(num_classes: int = 5) -> NetworkConfig:
    """Seconds-fast network for tests: 32 px crops, 1/8 width, 8 frames, LSTM 16."""
    return NetworkConfig(
        num_classes=num_classes, crop_size=32, num_frames=8, width=0.125, lstm_hidden=16, attention_size=16
    )


def skeleton(num_classes: int = 60) -> NetworkConfig:
    """Skeleton-only: the graph pose stream alone (joints, bones, velocity; blocks 32-32-64, temporal
    kernel 5) over Kinect v2 skeletons, 2 bodies, 20 frames — 0.16 M parameters.

    Sized by measurement (`python -m benchmarks.engines --profiles skeleton skeleton_lstm`): six
    people's windows in one ONNX Runtime call within 10 ms on two idle CPU cores, the budget live
    has for the skeleton-only decision. Train it with `--ablation pose` (another ablation puts part
    I3Ds back).
    """
    return NetworkConfig(
        num_classes=num_classes, parts=(), aggregation=Aggregation.POSE, pose_stream=PoseStream.GCN
    )


def skeleton_lstm(num_classes: int = 60) -> NetworkConfig:
    """Skeleton-only with the paper's pose stream: the 3-layer LSTM of 512 units alone (for comparison)."""
    return NetworkConfig(num_classes=num_classes, parts=(), aggregation=Aggregation.POSE)


PROFILES: dict[str, Callable[[int], NetworkConfig]] = {
    "paper": paper,
    "paper_nucla": paper_nucla,
    "lite": lite,
    "demo": demo,
    "skeleton": skeleton,
    "skeleton_lstm": skeleton_lstm,
    "tiny": tiny,
}


def single_part(config: NetworkConfig, part: str) -> NetworkConfig:
    """Ablation: one part's I3D alone (or `FULL_IMAGE`), classified by its own logits."""
    return dataclasses.replace(config, parts=(part,), aggregation=Aggregation.SINGLE)


def with_aggregation(config: NetworkConfig, aggregation: Aggregation) -> NetworkConfig:
    """Ablation: the same parts combined another way (sum0, concat0, sum1, sum2, attention)."""
    parts = config.parts if len(config.parts) >= 2 else BODY_PARTS
    return dataclasses.replace(config, parts=parts, aggregation=aggregation)


def pose_only(config: NetworkConfig) -> NetworkConfig:
    """The skeleton-only classifier (Algorithm 1 step 3, and the N-UCLA pose baseline)."""
    return dataclasses.replace(config, parts=(), aggregation=Aggregation.POSE)
