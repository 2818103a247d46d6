"""Windows of clips as the model sees them: the same sampler (core.window) as live inference.

    WindowDataset: clip --core.window sampler--> window
        skeleton  normalize_window -> augment (training) -> float32 (T, M, J, 3)
        crops     nearest cached crop frame per sample time -> uint8 (P, T, S, S, 3)

Trimmed clips (NTU, N-UCLA: one action per clip), `WindowDataset`: training takes one random window
per clip and epoch (random end time and jitter, as live inference sees a window ending at any moment);
evaluation takes `eval_windows` evenly spread windows per clip and the caller averages their logits
(the paper tests 5 per clip).

Continuous sequences (PKU-MMD, simulated streams: actions with background between them),
`StreamWindowDataset`: windows end every `stride_s` along each sequence, as live decides every hop,
and each takes the label core.timeline gives it (the action covering at least `action_fraction` of
it, half by default, or an action too short for that at its centre, else no_action; at one half that is
the truth at the window's centre, which is what decisions are scored against). Background is most of a
stream (~70% of PKU-MMD), so each training epoch draws a class-balanced sample: the same number of
windows for every action class and `background_ratio` times as many no_action windows. Evaluation takes
every window, one per item. With `twins` (`consistency.weight` > 0), a training item also carries the
same person at the same moment filmed by another camera of the same performance ("twin_skeleton";
`camera_twins`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from core.skeleton import SkeletonLayout, normalize_window
from core.timeline import ACTION_FRACTION, NO_ACTION, Timeline, sided_classes
from core.window import MIN_COVERAGE, WindowSpec, evaluation_window_ends, random_window_end, window_indices
from core.wording import first_few
from training.config import WindowConfig
from training.data import Clip, ClipSource, DatasetError, Splits, fit_bodies

# Pairs of actions each of which, played backwards, is the other (class names of our datasets). Not
# donning / doffing: a jacket put on, played backwards, is not one taken off (arms leave the sleeves
# another way): training as if it were raised their swaps from view 2 to view 1 from 8 clips to 23.
REVERSED_ACTIONS = (
    ("sit down", "stand up"),  # N-UCLA
    ("sitting down", "standing up (from sitting position)"),  # NTU RGB+D
    ("sit_down", "stand_up"),  # the simulated room
)


def reversed_labels(class_names: Sequence[str]) -> np.ndarray:
    """(C,) int64: each class's reverse in `class_names` (REVERSED_ACTIONS), -1 where it has none."""
    index = {name: i for i, name in enumerate(class_names)}
    reverse = np.full(len(class_names), -1, dtype=np.int64)
    for a, b in REVERSED_ACTIONS:
        if a in index and b in index:
            reverse[index[a]], reverse[index[b]] = index[b], index[a]
    return reverse


@dataclass(frozen=True)
class Augmentation:
    """Random changes to a normalised training window; every field 0 turns it off.

    Applied after `normalize_window`: the normalisation removes most of the camera's view, so these
    stand in for what it leaves — a shoulder axis a few degrees off, a smaller or taller person,
    limbs another camera would have fitted a little differently, joint jitter."""

    rotate_deg: float = 0.0  # uniform rotation about the body's vertical (y) axis
    tilt_deg: float = 0.0  # uniform rotation about x and z
    scale: float = 0.0  # uniform scale in [1 - scale, 1 + scale]
    noise: float = 0.0  # Gaussian joint noise, in normalised units (spine lengths)
    mirror: float = 0.0  # probability of a left-right mirror (only where the classes do not say which hand)
    speed: float = 0.0  # the clip plays at a uniform speed factor in [1 - speed, 1 + speed] (people differ)
    # Each off-diagonal entry of a linear map uniform in [-shear, shear]: a skeleton seen from a camera
    # the normalisation could not fully undo (a side view's noisy shoulder axis, a tilted sensor), and
    # bodies of other proportions. Drawn after the rotations; 0 draws nothing (earlier runs unchanged).
    shear: float = 0.0
    # Probability of the Kinect's back-view error: a person the sensor sees from behind or the side is
    # tracked as if facing it, left and right joints swapped, so the normalised body is the side-swapped
    # one turned 180 degrees about the vertical. Between N-UCLA's views 1 and 2 a quarter of the
    # performances differ this way (training/checkpoints/README.md). Drawn last; 0 draws nothing. Unlike
    # `mirror`, allowed with classes that say which side: the person did act with that hand, the sensor
    # swapped the joints, and a model should learn what the sensor gives then.
    swap_sides: float = 0.0
    # Random turns of each bone about its parent joint, the skeleton another camera would have fitted to the
    # same pose: per window a scale uniform in [0, bone_turn_deg] degrees, the standard deviation of each
    # bone's rotation about each axis (`turn_bones`). Between two cameras filming one PKU-MMD performance
    # the normalised joints differ by 0.13 spine lengths at the spine and 0.5 at the hands and feet, half
    # of it steady over a 2 s window and the rest changing within a few frames, where `noise` is 0.01
    # and independent per frame (`python -m benchmarks.camera_error`). Drawn after the scale; 0 draws
    # nothing.
    bone_turn_deg: float = 0.0
    # Probability that a training window of an action with a reverse in REVERSED_ACTIONS plays backwards
    # and is labelled as that reverse: sitting down played backwards is standing up. Reversed windows
    # leave the direction of the motion as the only thing that tells the pair apart, even where some
    # clips' labels contradict it (N-UCLA view 2: trained there, the pair's swaps on view 1 went from
    # 6-23 a run to 0-1; training/checkpoints/README.md, session 27). Drawn after the window (by
    # `WindowDataset`, which knows the label); 0 draws nothing.
    time_reverse: float = 0.0
    # Probability that one limb (an arm from the elbow, or a leg from the knee) is hidden over a stretch of
    # a quarter to half of the window, as a body part the camera cannot see: another camera hides other
    # parts, and a network that has learned to do without any one of them depends less on how one
    # camera saw it. Drawn last, so the draws before it are unchanged; 0 draws nothing.
    drop_limb: float = 0.0
    # The part crops' own augmentation, as the I3D paper's [4], which the paper says it follows for the
    # parts: each part's crops show a random square of [1 - crop_zoom, 1] of their side at a random place,
    # resized back, one square for the whole window (a box placed a little off or larger, as another
    # skeleton fit or person size would place it). No flip: a mirrored crop shows the other hand, while
    # the skeleton still says which hand it is (as `mirror`). 0 draws nothing.
    crop_zoom: float = 0.0
    # Each part's crops times a brightness uniform in [1 - brightness, 1 + brightness] for the window:
    # rooms, and one room by day and by night, are lit differently. 0 draws nothing.
    brightness: float = 0.0

    def apply_crops(self, crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """crops (P, T, S, S, 3) uint8, one track per part; the same draw for every frame of a part."""
        if self.crop_zoom <= 0 and self.brightness <= 0:
            return crops
        size = crops.shape[2]
        out = np.empty_like(crops)
        for part, track in enumerate(crops):
            if self.crop_zoom > 0:
                side = max(1, round(size * rng.uniform(1 - self.crop_zoom, 1)))
                top, left = (int(rng.integers(0, size - side + 1)) for _ in range(2))
                square = track[:, top : top + side, left : left + side]
                track = np.stack([cv2.resize(np.ascontiguousarray(frame), (size, size),
                                             interpolation=cv2.INTER_LINEAR) for frame in square])
            if self.brightness > 0:
                gain = rng.uniform(1 - self.brightness, 1 + self.brightness)
                track = np.clip(np.rint(track * np.float32(gain)), 0, 255)  # rounded: a cast truncates
            out[part] = track
        return out

    def apply(
        self,
        skeleton: np.ndarray,
        rng: np.random.Generator,
        mirror_order: np.ndarray | None = None,
        layout: SkeletonLayout | None = None,
    ) -> np.ndarray:
        """skeleton (T, M, J, 3) normalised; `mirror_order` (J,) maps each joint to its mirror image
        (`SkeletonLayout.mirror_order`), needed when `mirror` or `swap_sides` > 0; `layout` the
        joints' layout, needed when `bone_turn_deg` > 0."""
        present = np.abs(skeleton).sum(-1, keepdims=True) > 0
        if self.mirror > 0 and mirror_order is not None and rng.uniform() < self.mirror:
            # After normalize_window x runs along the shoulders: negate it and swap left and right joints.
            skeleton = skeleton[:, :, mirror_order] * np.array([-1, 1, 1], dtype=np.float32)
            present = present[:, :, mirror_order]
        rotation = np.eye(3)
        if self.rotate_deg > 0:
            a = math.radians(rng.uniform(-self.rotate_deg, self.rotate_deg))
            rotation = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
        if self.tilt_deg > 0:
            b = math.radians(rng.uniform(-self.tilt_deg, self.tilt_deg))
            c = math.radians(rng.uniform(-self.tilt_deg, self.tilt_deg))
            rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
            rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
            rotation = rotation @ rx @ rz
        if self.shear > 0:
            sheared = np.eye(3) + rng.uniform(-self.shear, self.shear, size=(3, 3)) * (1 - np.eye(3))
            rotation = rotation @ sheared
        if self.swap_sides > 0 and mirror_order is not None and rng.uniform() < self.swap_sides:
            skeleton, present = skeleton[:, :, mirror_order], present[:, :, mirror_order]
            rotation = rotation @ np.diag([-1.0, 1.0, -1.0])  # turned 180 degrees about y, before the rest
        out = skeleton @ rotation.T.astype(np.float32)
        if self.scale > 0:
            out = out * np.float32(rng.uniform(1 - self.scale, 1 + self.scale))
        if self.bone_turn_deg > 0:
            if layout is None:
                raise ValueError("bone_turn_deg needs the skeleton's layout")
            # One amplitude per window, from none to the largest: clean windows keep being seen too.
            degrees = float(rng.uniform(0, self.bone_turn_deg))
            out = turn_bones(out, present[..., 0], layout, degrees, rng)
        if self.noise > 0:
            out = out + rng.normal(0, self.noise, size=out.shape).astype(np.float32)
        if self.drop_limb > 0 and rng.uniform() < self.drop_limb:
            if layout is None:
                raise ValueError("drop_limb needs the skeleton's layout")
            limb = _limbs(layout)[rng.integers(len(_limbs(layout)))]
            t = skeleton.shape[0]
            length = int(rng.integers(max(1, t // 4), max(1, t // 2) + 1))
            start = int(rng.integers(0, t - length + 1))
            present = present.copy()
            present[start : start + length, :, list(limb)] = False
        return np.where(present, out, 0).astype(np.float32)


@functools.cache
def _limbs(layout: SkeletonLayout) -> tuple[tuple[int, ...], ...]:
    """The joints of each arm from the elbow and each leg from the knee (`Augmentation.drop_limb`)."""
    def below(joint: int) -> tuple[int, ...]:
        children = [j for j, parent in enumerate(layout.parents) if parent == joint]
        return (joint,) + sum((below(child) for child in children), ())

    return tuple(below(layout.index(name)) for name in ("ElbowLeft", "ElbowRight", "KneeLeft", "KneeRight"))


def turn_bones(
    skeleton: np.ndarray,
    present: np.ndarray,
    layout: SkeletonLayout,
    degrees: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The window (T, M, J, 3) with every limb, head and hip bone turned about its parent joint by a small
    random rotation, the body rebuilt from the root outwards, so errors add up along each limb as a
    camera's do (a turned upper arm carries the forearm and hand with it) and bone lengths stay.

    The spine's bones (root to spine top) stay: the normalisation set the vertical axis along them, and
    between two cameras the spine joints differ least. Each bone's rotation vector is half a steady part
    and half one that changes smoothly over about five frames, each Gaussian per axis with standard
    deviation `degrees`. A bone with either end absent (`present` (T, M, J) False) is not turned."""
    t, m, j, _ = skeleton.shape
    amplitude = math.radians(degrees)
    steady = rng.normal(size=(1, m, j, 3))
    kernel = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    kernel /= np.sqrt((kernel**2).sum())  # unit variance after smoothing white noise
    white = rng.normal(size=(t + len(kernel) - 1, m, j, 3))
    moving = sum(w * white[i : i + t] for i, w in enumerate(kernel))
    angle_axis = amplitude * (steady + moving) / np.sqrt(2.0)  # (T, M, J, 3), one per bone (by its child)
    out = skeleton.astype(np.float64)
    for child, parent in _turned_bones(layout):
        both = (present[..., child] & present[..., parent])[..., None]
        bone = skeleton[:, :, child] - skeleton[:, :, parent]
        turned = out[:, :, parent] + _rotate(bone, angle_axis[:, :, child])
        out[:, :, child] = np.where(both, turned, skeleton[:, :, child])
    return out.astype(np.float32)


@functools.cache
def _turned_bones(layout: SkeletonLayout) -> tuple[tuple[int, int], ...]:
    """(child, parent) of every bone `turn_bones` turns, parents before their children (once per layout,
    not per window): all but the spine's, from the root to the spine top."""
    parents = layout.parents
    spine, joint = set(), layout.spine_top
    while joint >= 0:
        spine.add(joint)
        joint = parents[joint]

    def depth(joint: int) -> int:
        return 0 if parents[joint] < 0 else 1 + depth(parents[joint])

    children = sorted((j for j in range(layout.num_joints) if parents[j] >= 0 and j not in spine), key=depth)
    return tuple((child, parents[child]) for child in children)


def _rotate(vectors: np.ndarray, angle_axis: np.ndarray) -> np.ndarray:
    """Rodrigues' rotation of vectors (..., 3) by rotation vectors (..., 3) (axis times angle, radians)."""
    angle = np.linalg.norm(angle_axis, axis=-1, keepdims=True)
    axis = angle_axis / np.maximum(angle, 1e-12)
    cos, sin = np.cos(angle), np.sin(angle)
    return (vectors * cos + np.cross(axis, vectors) * sin
            + axis * (axis * vectors).sum(-1, keepdims=True) * (1 - cos))


def at_speed(clip: Clip, factor: float) -> Clip:
    """The clip with its time axis scaled by `factor` (skeleton and crop times alike)."""
    if factor == 1.0:
        return clip
    stretched = None if clip.crop_timestamps is None else clip.crop_timestamps * factor
    return replace(clip, timestamps=clip.timestamps * factor, crop_timestamps=stretched)


class WindowDataset(Dataset):
    """Windows of clips as the model sees them.

    Items are dicts: "skeleton" float32 (T, M, J, 3) normalised, "label" int64, "clip" int (index into
    `sources`), and "crops" uint8 (P, T, S, S, 3) when `with_crops`. Training items are one random
    window (different every epoch: call `set_epoch`); evaluation items carry the clip's `eval_windows`
    windows on a leading axis: skeleton (W, T, M, J, 3), crops (W, P, T, S, S, 3).
    """

    def __init__(
        self,
        sources: Sequence[ClipSource],
        spec: WindowSpec,
        layout: SkeletonLayout,
        num_bodies: int,
        *,
        train: bool,
        with_crops: bool = False,
        jitter: float = 0.0,
        augmentation: Augmentation | None = None,
        eval_windows: int = 5,
        part_index: list[int] | None = None,
        seed: int = 0,
        preload: bool = True,
        class_names: Sequence[str] = (),
    ) -> None:
        if len(sources) == 0:
            raise DatasetError("no clips to make windows from (empty split or dataset)")
        if (
            train
            and with_crops
            and augmentation is not None
            and max(augmentation.mirror, augmentation.swap_sides) > 0
        ):
            # A mirrored skeleton swaps left and right; the cached hand crops would no longer match it.
            raise DatasetError(
                "augment.mirror and augment.swap_sides work on skeleton-only stages (pose); set them to 0 "
                "with crops"
            )
        self.sources = list(sources)
        self.spec = spec
        self.layout = layout
        self.num_bodies = num_bodies
        self.train = train
        self.with_crops = with_crops
        self.jitter = jitter
        self.augmentation = augmentation if augmentation is not None else Augmentation()
        self.eval_windows = eval_windows
        self._mirror_order = np.array(layout.mirror_order)
        self._reversed_labels = reversed_labels(class_names)
        if self.augmentation.time_reverse > 0 and not (self._reversed_labels >= 0).any():
            # Without this the option would silently change nothing (other classes, or names not passed).
            raise DatasetError(
                f"augment.time_reverse: none of the classes {list(class_names)[:10]} has a reverse in "
                f"training.windows.REVERSED_ACTIONS {list(REVERSED_ACTIONS)}: set it to 0"
            )
        self.part_index = part_index  # which cached crop tracks, in the network's order (None: all)
        self.seed = seed
        # In shared memory: loader workers live from epoch to epoch (persistent_workers) with the copy of
        # this dataset they were started with, and read set_epoch's value here; an attribute changed the
        # main process's copy only, and with --workers N every epoch drew epoch 0's windows.
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        # Skeleton-only clips are small (N-UCLA: 1,020 clips, a few MB): keep them in memory instead of
        # re-reading a file per item. Clips with crops stay lazy (memory-mapped by their source).
        self._cache: list[Clip | None] = [None] * len(self.sources)
        if preload and not with_crops:
            self._cache = [source.load(False) for source in self.sources]

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.sources], dtype=np.int64)

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        self._epoch.fill_(epoch)

    def __len__(self) -> int:
        return len(self.sources)

    def clip(self, index: int) -> Clip:
        cached = self._cache[index]
        return cached if cached is not None else self.sources[index].load(self.with_crops)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        """Training: one random window. Evaluation: all `eval_windows` windows of the clip stacked on a
        leading axis (W, ...), so one item is one clip wherever it is computed (any worker, any rank)."""
        clip = self.clip(index)
        # One generator per (seed, epoch, clip): the same windows whatever the number of loader workers
        # or processes, so a resumed or distributed run sees what an uninterrupted one would.
        rng = np.random.default_rng([self.seed, self.epoch, index])
        label = clip.label
        if self.train:
            clip, _ = self._speed(clip, rng)
            window = self._window(clip, random_window_end(clip.timestamps, self.spec, rng), self.jitter, rng)
            if self._reversed(label, rng):
                # Time is the first axis of the skeleton (T, M, J, 3), the second of crops (P, T, S, S, 3).
                window = {key: np.flip(v, axis=1 if key == "crops" else 0) for key, v in window.items()}
                label = int(self._reversed_labels[label])
            windows = [window]
        else:
            ends = evaluation_window_ends(clip.timestamps, self.spec, self.eval_windows)
            windows = [self._window(clip, float(end), 0.0, rng) for end in ends]
        out: dict[str, torch.Tensor | int] = {
            "label": torch.tensor(label, dtype=torch.int64),
            "clip": index,
        }
        for key in windows[0]:
            stacked = np.stack([w[key] for w in windows]) if not self.train else windows[0][key]
            out[key] = torch.from_numpy(np.ascontiguousarray(stacked))
        return out

    def _reversed(self, label: int, rng: np.random.Generator) -> bool:
        """Whether this training window plays backwards (`Augmentation.time_reverse`); draws only for the
        classes that have a reverse, so runs without the option see the windows they always saw."""
        if self.augmentation.time_reverse <= 0 or self._reversed_labels[label] < 0:
            return False
        return bool(rng.uniform() < self.augmentation.time_reverse)

    def _speed(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, float]:
        """The clip at a random speed (training augmentation) and the factor its times were scaled by.

        A faster performance is the same clip on a compressed time axis: the window, defined in
        seconds, then spans more of the action."""
        if self.augmentation.speed <= 0:
            return clip, 1.0
        factor = float(rng.uniform(1 - self.augmentation.speed, 1 + self.augmentation.speed))
        return at_speed(clip, factor), factor

    def _window(
        self, clip: Clip, end: float, jitter: float, rng: np.random.Generator, augment: bool = True
    ) -> dict[str, np.ndarray]:
        jitter_seed = int(rng.integers(2**31))
        idx = window_indices(clip.timestamps, end, self.spec, jitter, np.random.default_rng(jitter_seed))
        joints = clip.joints[idx]
        states = clip.states[idx] if clip.states is not None else None
        skeleton = fit_bodies(normalize_window(joints, states, self.layout), self.num_bodies)
        if self.train and augment:
            skeleton = self.augmentation.apply(skeleton, rng, self._mirror_order, self.layout)
        window = {"skeleton": skeleton.astype(np.float32)}
        if self.with_crops:
            if clip.crops is None or clip.crop_timestamps is None:
                raise DatasetError(
                    f"clip {clip.name} has no part crops: "
                    "run `python -m training prepare` on its dataset first"
                )
            # Same sample times (same jitter draw) as the skeleton, so both streams show the same instants.
            crop_idx = window_indices(
                clip.crop_timestamps, end, self.spec, jitter, np.random.default_rng(jitter_seed)
            )
            crops = np.asarray(clip.crops[:, crop_idx])  # reads only these frames of a memmap
            crops = crops if self.part_index is None else crops[self.part_index]
            # Drawn after the skeleton's: runs without crop augmentation see the windows they always saw.
            window["crops"] = self.augmentation.apply_crops(crops, rng) if self.train and augment else crops
        return window


class StreamWindowDataset(WindowDataset):
    """Windows along continuous sequences, labelled by their timelines (see the module docstring).

    Items are dicts as `WindowDataset`'s; "clip" is the sequence's index. Training items are one window
    of the epoch's class-balanced draw (call `set_epoch`: the draw changes each epoch, its size does
    not); evaluation items are every window of every sequence, with a leading axis of one window
    (skeleton (1, T, M, J, 3)) so `training.evaluation.predict` treats them as clips.
    """

    def __init__(
        self,
        sources: Sequence[ClipSource],
        spec: WindowSpec,
        layout: SkeletonLayout,
        num_bodies: int,
        class_names: Sequence[str],
        *,
        train: bool,
        stride_s: float = 0.2,
        background_ratio: float = 1.0,
        min_coverage: float = MIN_COVERAGE,
        twins: bool = False,
        action_fraction: float = ACTION_FRACTION,
        **options,
    ) -> None:
        self.action_fraction = action_fraction  # before the labels are drawn, below
        super().__init__(sources, spec, layout, num_bodies, train=train, eval_windows=1, **options)
        if twins and self.with_crops:
            raise DatasetError("camera twins (consistency.weight) work on skeleton-only stages (pose)")
        if NO_ACTION not in class_names:
            raise DatasetError(f"continuous sequences need the class {NO_ACTION!r}, got {list(class_names)}")
        if stride_s <= 0 or background_ratio < 0:
            raise DatasetError(f"window stride must be > 0 and background ratio >= 0, got {stride_s}, "
                               f"{background_ratio}")
        self.class_names = list(class_names)
        self.stride_s = stride_s
        self.background_ratio = background_ratio
        # Every candidate window: (sequence, end time) with its class, on the stride grid from the first
        # instant live would decide (`min_coverage` of a window of history) to the sequence's end.
        clips, ends, labels = [], [], []
        for k in range(len(self.sources)):
            clip = self.clip(k)
            # Kept: every window of a sequence would read its whole skeleton file again (a third of the
            # time of a demo training step); the crops stay memory-mapped.
            self._cache[k] = clip
            if clip.timeline is None:
                raise DatasetError(f"sequence {clip.name} has no timeline: a trimmed clip, not a stream")
            first = clip.timestamps[0] + min_coverage * spec.duration_s
            grid = np.arange(first, clip.timestamps[-1] + 1e-9, stride_s)
            clips.append(np.full(len(grid), k))
            ends.append(grid)
            labels.append([self._label(clip, end) for end in grid])
        self.window_clips = np.concatenate(clips).astype(np.int64) if clips else np.zeros(0, np.int64)
        self.window_ends = np.concatenate(ends) if ends else np.zeros(0)
        self.window_labels = np.array([label for group in labels for label in group], dtype=np.int64)
        if len(self.window_ends) == 0:  # which sequences, and how long: a split of short clips is findable
            needed = min_coverage * spec.duration_s
            loaded = [c for c in self._cache if c is not None]  # all of them (the loop above kept each)
            lengths = [f"{c.name} {c.timestamps[-1] - c.timestamps[0]:.1f} s" for c in loaded]
            raise DatasetError(
                f"no {'training' if train else 'evaluation'} windows: each of the {len(lengths)} sequences "
                f"of this split is shorter than the {needed:.1f} s of history a {spec.duration_s:g} s "
                f"window needs ({first_few(lengths, 8) or 'none'}); record longer clips or move one into "
                "this split")
        self.background = self.class_names.index(NO_ACTION)
        counts = np.bincount(self.window_labels, minlength=len(self.class_names))
        actions = [c for c in range(len(self.class_names)) if c != self.background and counts[c] > 0]
        # One epoch: about every action window once, the rarer classes drawn again, background capped.
        self.per_class = int(np.ceil(counts[actions].mean())) if actions else int(counts[self.background])
        self._drawn_classes = actions + ([self.background] if counts[self.background] else [])
        self._plan, self._planned_epoch = self._draw(0), 0
        # Per sequence: (the other cameras' sources of its performance, time knots) where it has them.
        self._twins = camera_twins(self.sources, [self.clip(k) for k in range(len(self.sources))]) if twins \
            else None

    def _label(self, clip: Clip, end: float) -> int:
        name = clip.timeline.window_label(end - self.spec.duration_s, end, fraction=self.action_fraction)
        if name not in self.class_names:
            raise DatasetError(f"sequence {clip.name}: label {name!r} is not among the model's classes")
        return self.class_names.index(name)

    def _draw(self, epoch: int) -> np.ndarray:
        """Indices of this epoch's windows (a fixed count, so samplers can size themselves once)."""
        if not self.train:
            return np.arange(len(self.window_ends))
        rng = np.random.default_rng([self.seed, epoch, 7919])
        plan = []
        for c in self._drawn_classes:
            members = np.flatnonzero(self.window_labels == c)
            wanted = self.per_class
            if c == self.background:
                wanted = int(round(self.background_ratio * self.per_class))
            plan.append(rng.choice(members, size=wanted, replace=wanted > len(members)))
        return rng.permutation(np.concatenate(plan))

    def plan(self) -> np.ndarray:
        """This epoch's windows, drawn where the epoch is first asked for: a loader worker learns of a new
        epoch from the shared value set_epoch writes, and draws the same plan as the main process."""
        if self._planned_epoch != self.epoch:
            self._plan, self._planned_epoch = self._draw(self.epoch), self.epoch
        return self._plan

    @property
    def labels(self) -> np.ndarray:
        return self.window_labels[self.plan()]

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.plan()

    def __len__(self) -> int:
        return len(self.plan())

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        window = int(self.plan()[index])
        k, end = int(self.window_clips[window]), float(self.window_ends[window])
        clip = self.clip(k)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        label = int(self.window_labels[window])
        if self.train:
            # Anywhere within the grid step, as a live hop may fall; the label follows the exact window.
            end += float(rng.uniform(-0.5, 0.5)) * self.stride_s
            end = float(np.clip(end, clip.timestamps[0], clip.timestamps[-1]))
            label = self._label(clip, end)
            moment = end  # on the recording's own clock, which the other cameras' time maps use
            clip, factor = self._speed(clip, rng)
            end *= factor
        if self.train and self._twins is not None:
            arrays = self._window(clip, end, self.jitter, rng, augment=False)
            twin = self._twin_window(self._twins[k], moment, factor, arrays["skeleton"], rng)
            # One augmentation draw for both: what differs between the two is the camera, nothing else.
            augmentation_seed = int(rng.integers(2**31))
            for key, skeleton in (("skeleton", arrays["skeleton"]), ("twin_skeleton", twin)):
                arrays[key] = self.augmentation.apply(
                    skeleton, np.random.default_rng(augmentation_seed), self._mirror_order, self.layout
                )
        else:
            arrays = self._window(clip, end, self.jitter if self.train else 0.0, rng)
        out: dict[str, torch.Tensor | int] = {"label": torch.tensor(label, dtype=torch.int64), "clip": k}
        for key, value in arrays.items():
            out[key] = torch.from_numpy(np.ascontiguousarray(value if self.train else value[None]))
        return out

    def _twin_window(
        self,
        twins: list[CameraTwin],
        moment: float,
        factor: float,
        anchor: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The anchor's person at `moment` seen by one other camera (drawn at random), normalised and not
        augmented; the anchor itself where its performance has no other camera.

        Which body slot holds the same person differs between the files of one performance, so both
        slots are read and the one whose normalised pose is nearer the anchor's is taken (after the
        view normalisation the same person at the same moment differs only by the camera's errors)."""
        if not twins:
            return anchor
        twin = twins[int(rng.integers(len(twins)))]
        jitter_seed = int(rng.integers(2**31))
        best, best_distance = anchor, math.inf
        for k in twin.sources:
            clip = self.clip(k)
            end = float(np.clip(twin.map_time(moment), clip.timestamps[0], clip.timestamps[-1])) * factor
            clip = at_speed(clip, factor)
            window = self._window(clip, end, self.jitter, np.random.default_rng(jitter_seed), augment=False)
            distance = pose_distance(anchor, window["skeleton"])
            if distance < best_distance:
                best, best_distance = window["skeleton"], distance
        return best


@dataclass(frozen=True)
class CameraTwin:
    """Another camera's recording of a sequence's performance: its sources (both body orders) and the
    time map between the two recordings, piecewise linear through matching labelled instants."""

    sources: tuple[int, ...]
    knots_here: np.ndarray  # seconds in this recording, increasing
    knots_there: np.ndarray  # the same instants in the other one

    def map_time(self, t: float) -> float:
        """This recording's time `t` on the other's clock; outside the knots, the nearest knot's offset."""
        if t <= self.knots_here[0]:
            return float(t - self.knots_here[0] + self.knots_there[0])
        if t >= self.knots_here[-1]:
            return float(t - self.knots_here[-1] + self.knots_there[-1])
        return float(np.interp(t, self.knots_here, self.knots_there))


def time_knots(here: Timeline, there: Timeline) -> tuple[np.ndarray, np.ndarray] | None:
    """Matching instants of two recordings of one performance: each labelled interval's start and end
    in both. The cameras of a PKU-MMD performance were not started together (their first labelled
    starts differ by up to a second) and their labels were drawn per file; None where the two label
    sequences differ (they cannot be matched interval by interval) or the knots do not increase."""
    if [i.label for i in here.intervals] != [i.label for i in there.intervals] or not here.intervals:
        return None
    knots_here = np.array([t for i in here.intervals for t in (i.start, i.end)])
    knots_there = np.array([t for i in there.intervals for t in (i.start, i.end)])
    if np.any(np.diff(knots_here) <= 0) or np.any(np.diff(knots_there) <= 0):
        return None
    return knots_here, knots_there


def camera_twins(sources: Sequence[ClipSource], clips: Sequence[Clip]) -> list[list[CameraTwin]]:
    """For each sequence, the other cameras of its performance (`group["performance"]` and
    `group["view"]`, as PKU-MMD's sources carry), with their time maps."""
    if any("performance" not in s.group or "view" not in s.group for s in sources):
        raise DatasetError("camera twins need sequences that name their performance and camera "
                           "(PKU-MMD); this dataset's do not")
    by_camera: dict[tuple[int, int], list[int]] = {}
    for k, source in enumerate(sources):
        by_camera.setdefault((source.group["performance"], source.group["view"]), []).append(k)
    twins: list[list[CameraTwin]] = []
    for k, source in enumerate(sources):
        mine = []
        for (performance, view), others in by_camera.items():
            if performance != source.group["performance"] or view == source.group["view"]:
                continue
            knots = time_knots(clips[k].timeline, clips[others[0]].timeline)
            if knots is not None:
                mine.append(CameraTwin(tuple(others), *knots))
        twins.append(mine)
    return twins


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance between the first bodies of two normalised windows (T, M, J, 3), over the joints
    present in both; infinite where none is."""
    present = (np.abs(a[:, 0]).sum(-1) > 0) & (np.abs(b[:, 0]).sum(-1) > 0)
    if not present.any():
        return math.inf
    return float(np.linalg.norm(a[:, 0] - b[:, 0], axis=-1)[present].mean())


def window_datasets(
    splits: Splits,
    spec: WindowSpec,
    num_bodies: int,
    *,
    window: WindowConfig,
    augmentation: Augmentation,
    with_crops: bool,
    part_index: list[int] | None,
    seed: int,
    twins: bool = False,
) -> tuple[WindowDataset, WindowDataset]:
    """(training windows, validation windows) of a split: along continuous sequences when the dataset
    has them (`splits.continuous`), else the trimmed-clip windows. `twins`: training windows carry the
    same moment from another camera (continuous multi-camera datasets only)."""
    if augmentation.mirror > 0 and (sided := sided_classes(splits.class_names)):
        # A mirrored drink_left is a right-hand drink: trained under its label, the two sides look alike.
        raise DatasetError(f"augment.mirror: the classes {first_few(sided, 4)} say which side acts, and a "
                           f"mirrored window shows the other side's action under their label: set it to 0 "
                           f"(--set augment.mirror=0)")
    common = {"with_crops": with_crops, "part_index": part_index, "seed": seed}
    validation_sources = splits.validation or splits.train
    if splits.continuous:
        if augmentation.time_reverse > 0:
            # A window of a sequence holds the moments around an action too; played backwards it would
            # put the lead-in after the action, which no sequence shows.
            raise DatasetError("augment.time_reverse works on trimmed clips (N-UCLA, NTU RGB+D, a site's "
                               "clips); this dataset has continuous sequences: set it to 0")
        stream = {"stride_s": window.stride_s, "background_ratio": window.background_ratio,
                  "action_fraction": window.action_fraction}
        train = StreamWindowDataset(splits.train, spec, splits.layout, num_bodies, splits.class_names,
                                    train=True, jitter=window.jitter, augmentation=augmentation, **stream,
                                    twins=twins, **common)
        validation = StreamWindowDataset(validation_sources, spec, splits.layout, num_bodies,
                                         splits.class_names, train=False, **stream, **common)
        return train, validation
    if twins:
        raise DatasetError("consistency.weight needs continuous sequences filmed by several cameras at once "
                           "(PKU-MMD); this dataset has trimmed clips")
    train = WindowDataset(splits.train, spec, splits.layout, num_bodies, train=True, jitter=window.jitter,
                          augmentation=augmentation, class_names=splits.class_names, **common)
    validation = WindowDataset(validation_sources, spec, splits.layout, num_bodies, train=False,
                               eval_windows=window.eval_windows, **common)
    return train, validation
