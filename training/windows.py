"""Windows of clips as the model sees them: the same sampler (core.window) as live inference.

    WindowDataset: clip --core.window sampler--> window
        skeleton  normalize_window -> augment (training) -> float32 (T, M, J, 3)
        crops     nearest cached crop frame per sample time -> uint8 (P, T, S, S, 3)

Training takes one random window per clip and epoch (random end time and jitter, as live inference
sees a window ending at any moment); evaluation takes `eval_windows` evenly spread windows per clip
and the caller averages their logits (the paper tests 5 per clip).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.data import Dataset

from core.skeleton import SkeletonLayout, normalize_window
from core.window import WindowSpec, evaluation_window_ends, random_window_end, window_indices
from training.data import Clip, ClipSource, DatasetError, fit_bodies


@dataclass(frozen=True)
class Augmentation:
    """Random changes to a normalised training window; every field 0 turns it off.

    Applied after `normalize_window`: the normalisation removes most of the camera's view, so these
    stand in for what it leaves — a shoulder axis a few degrees off, a smaller or taller person,
    joint jitter."""

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
    # performances differ this way (training/checkpoints/README.md). Drawn last; 0 draws nothing.
    swap_sides: float = 0.0

    def apply(
        self, skeleton: np.ndarray, rng: np.random.Generator, mirror_order: np.ndarray | None = None
    ) -> np.ndarray:
        """skeleton (T, M, J, 3) normalised; `mirror_order` (J,) maps each joint to its mirror image
        (see `mirror_permutation`), needed when `mirror` or `swap_sides` > 0."""
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
        if self.noise > 0:
            out = out + rng.normal(0, self.noise, size=out.shape).astype(np.float32)
        return np.where(present, out, 0).astype(np.float32)


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
        self._mirror_order = mirror_permutation(layout)
        self.part_index = part_index  # which cached crop tracks, in the network's order (None: all)
        self.seed = seed
        self.epoch = 0
        # Skeleton-only clips are small (N-UCLA: 1,020 clips, a few MB): keep them in memory instead of
        # re-reading a file per item. Clips with crops stay lazy (memory-mapped by their source).
        self._cache: list[Clip | None] = [None] * len(self.sources)
        if preload and not with_crops:
            self._cache = [source.load(False) for source in self.sources]

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.sources], dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

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
        if self.train:
            if self.augmentation.speed > 0:
                # A faster performance is the same clip on a compressed time axis: the window, defined in
                # seconds, then spans more of the action.
                factor = rng.uniform(1 - self.augmentation.speed, 1 + self.augmentation.speed)
                stretched = None if clip.crop_timestamps is None else clip.crop_timestamps * factor
                clip = replace(clip, timestamps=clip.timestamps * factor, crop_timestamps=stretched)
            windows = [
                self._window(clip, random_window_end(clip.timestamps, self.spec, rng), self.jitter, rng)
            ]
        else:
            ends = evaluation_window_ends(clip.timestamps, self.spec, self.eval_windows)
            windows = [self._window(clip, float(end), 0.0, rng) for end in ends]
        out: dict[str, torch.Tensor | int] = {
            "label": torch.tensor(clip.label, dtype=torch.int64),
            "clip": index,
        }
        for key in windows[0]:
            stacked = np.stack([w[key] for w in windows]) if not self.train else windows[0][key]
            out[key] = torch.from_numpy(np.ascontiguousarray(stacked))
        return out

    def _window(
        self, clip: Clip, end: float, jitter: float, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        jitter_seed = int(rng.integers(2**31))
        idx = window_indices(clip.timestamps, end, self.spec, jitter, np.random.default_rng(jitter_seed))
        joints = clip.joints[idx]
        states = clip.states[idx] if clip.states is not None else None
        skeleton = fit_bodies(normalize_window(joints, states, self.layout), self.num_bodies)
        if self.train:
            skeleton = self.augmentation.apply(skeleton, rng, self._mirror_order)
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
            window["crops"] = crops if self.part_index is None else crops[self.part_index]
        return window


def mirror_permutation(layout: SkeletonLayout) -> np.ndarray:
    """(J,) index of each joint's mirror image: ...Left <-> ...Right, the spine maps to itself."""
    names = list(layout.joint_names)
    order = []
    for name in names:
        if "Left" in name:
            order.append(names.index(name.replace("Left", "Right")))
        elif "Right" in name:
            order.append(names.index(name.replace("Right", "Left")))
        else:
            order.append(names.index(name))
    return np.array(order, dtype=np.int64)
