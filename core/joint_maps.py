"""Kinect v1 (20 joints) <-> Kinect v2 (25 joints) skeletons: a model trained on one sensor's layout
fed with the other's bodies.

    v2 body (..., 25, 3) --KINECT_V2_TO_V1--> v1 body (..., 20, 3)    live: a v1 model on a v2 sensor;
                                                                      training: v2 data, v1-layout model
    v1 body (..., 20, 3) --KINECT_V1_TO_V2--> v2 body (..., 25, 3)    the other way (approximate)

Each target joint is a weighted sum of source joints. Limbs and head keep their own joints (same
names, same positions: bone lengths unchanged). The spine is where the two trackers differ
(`python -m benchmarks.joint_maps`, N-UCLA v1 against PKU-MMD v2, in shoulder widths): v1's Spine
sits low, 0.21 above HipCenter, where v2's SpineMid is mid-torso, 1.01 above SpineBase; v1's
ShoulderCenter is 0.28 above the shoulders, between v2's SpineShoulder (0.19) and Neck (0.43).
Renaming SpineMid -> Spine and SpineShoulder -> ShoulderCenter gives the normalisation (origin Spine,
scale 1 / spine length, core/skeleton.py) a spine of 0.75 shoulder widths where v1's is 1.03: every
v2 body would look to a v1 model like a v1 body with limbs 1.4 times too long.

The v2 -> v1 spine below was chosen so that v2 bodies, normalised as v1, sit where v1 bodies do: the
median normalised position of each of the 20 joints is on average 0.18 spine lengths from v1's
(renaming alone: 0.86; SpineMid -> Spine with Neck -> ShoulderCenter: 0.43):

    HipCenter      <- SpineBase
    Spine          <- 1/4 SpineBase + 3/4 SpineMid
    ShoulderCenter <- 1/2 SpineShoulder + 1/2 Neck
    every other v1 joint <- the v2 joint of the same name

v1 -> v2 inverts that (v2 -> v1 -> v2 is not the identity, v1 -> v2 -> v1 is): SpineMid from
HipCenter and Spine; Neck a third of the way from ShoulderCenter to the head and SpineShoulder as far
below it; the joints v1 does not have (hand tips, thumbs) at the hand. Those guessed joints are
marked Inferred.

A target joint is present (and keeps the lowest tracking state of its sources) only where all of its
sources are; it is zero otherwise, as an absent joint is everywhere else.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from core.skeleton import INFERRED, KINECT_V1, KINECT_V2, NOT_TRACKED, TRACKED, SkeletonLayout


@dataclass(frozen=True)
class JointMap:
    """source layout -> target layout: target joint j = sum of weight * source joint over `sources[j]`."""

    source: SkeletonLayout
    target: SkeletonLayout
    sources: tuple[tuple[tuple[str, float], ...], ...]  # per target joint: (source joint name, weight)
    inferred: tuple[str, ...] = ()  # target joints that are guesses: at most Inferred

    def __post_init__(self) -> None:
        if len(self.sources) != self.target.num_joints:
            raise ValueError(f"{self.name}: {len(self.sources)} rows for {self.target.num_joints} joints")
        for j, row in enumerate(self.sources):
            if not row or abs(sum(w for _, w in row) - 1.0) > 1e-6:
                raise ValueError(f"{self.name}: the weights of {self.target.joint_names[j]} must sum to 1")
            for name, _ in row:
                self.source.index(name)  # ValueError for a joint the source does not have

    @property
    def name(self) -> str:
        return f"{self.source.name} -> {self.target.name}"

    @functools.cached_property
    def weights(self) -> np.ndarray:
        """(J_target, J_source) float32 matrix of the map (built once: live maps every person each hop)."""
        matrix = np.zeros((self.target.num_joints, self.source.num_joints), np.float32)
        for j, row in enumerate(self.sources):
            for name, weight in row:
                matrix[j, self.source.index(name)] += weight
        matrix.setflags(write=False)  # shared by every call
        return matrix

    @functools.cached_property
    def _guessed(self) -> np.ndarray:
        """(J_target,) which target joints the map can only estimate (their state is at best inferred)."""
        return np.array([n in self.inferred for n in self.target.joint_names])

    def apply(
        self, joints: np.ndarray, states: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """joints (..., J_source, 3), states (..., J_source) or None -> the same in the target layout."""
        joints = np.asarray(joints, dtype=np.float32)
        if joints.shape[-2:] != (self.source.num_joints, 3):
            raise ValueError(f"{self.name}: expected joints shaped (..., {self.source.num_joints}, 3), "
                             f"got {joints.shape}")
        weights = self.weights
        uses = weights != 0  # (Jt, Js)
        present = np.isfinite(joints).all(-1) & (np.abs(joints).sum(-1) > 0)
        if states is not None:
            present &= np.asarray(states) > NOT_TRACKED
        mapped = np.einsum("ts,...sc->...tc", weights, np.nan_to_num(joints)).astype(np.float32)
        # A target joint needs every source joint it is made of.
        complete = ~np.any(uses & ~present[..., None, :], axis=-1)  # (..., Jt)
        mapped[~complete] = 0.0
        if states is None:
            return mapped, None
        source_states = np.asarray(states, dtype=np.int8)
        lowest = np.where(uses, source_states[..., None, :], TRACKED).min(axis=-1).astype(np.int8)
        lowest = np.where(self._guessed, np.minimum(lowest, INFERRED), lowest).astype(np.int8)
        return mapped, np.where(complete, lowest, NOT_TRACKED).astype(np.int8)


def renamed(
    target: SkeletonLayout, **special: tuple[tuple[str, float], ...]
) -> tuple[tuple[tuple[str, float], ...], ...]:
    """`JointMap.sources` taking each target joint from the source joint of the same name, except the
    joints given as keywords (name=((source joint, weight), ...))."""
    return tuple(special.get(name, ((name, 1.0),)) for name in target.joint_names)


KINECT_V2_TO_V1 = JointMap(
    KINECT_V2,
    KINECT_V1,
    renamed(
        KINECT_V1,
        HipCenter=(("SpineBase", 1.0),),
        Spine=(("SpineBase", 0.25), ("SpineMid", 0.75)),
        ShoulderCenter=(("SpineShoulder", 0.5), ("Neck", 0.5)),
    ),
)

KINECT_V1_TO_V2 = JointMap(
    KINECT_V1,
    KINECT_V2,
    renamed(
        KINECT_V2,
        SpineBase=(("HipCenter", 1.0),),
        # Spine = 1/4 SpineBase + 3/4 SpineMid  =>  SpineMid = (4 Spine - HipCenter) / 3
        SpineMid=(("Spine", 4.0 / 3.0), ("HipCenter", -1.0 / 3.0)),
        # ShoulderCenter = (SpineShoulder + Neck) / 2, with Neck a third of the way up to the head
        SpineShoulder=(("ShoulderCenter", 4.0 / 3.0), ("Head", -1.0 / 3.0)),
        Neck=(("ShoulderCenter", 2.0 / 3.0), ("Head", 1.0 / 3.0)),
        HandTipLeft=(("HandLeft", 1.0),),
        ThumbLeft=(("HandLeft", 1.0),),
        HandTipRight=(("HandRight", 1.0),),
        ThumbRight=(("HandRight", 1.0),),
    ),
    inferred=("SpineMid", "SpineShoulder", "Neck", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight"),
)

JOINT_MAPS = (KINECT_V2_TO_V1, KINECT_V1_TO_V2)


def joint_map(source: SkeletonLayout, target: SkeletonLayout) -> JointMap | None:
    """The map from one layout to another; None when they are the same layout."""
    if source == target:
        return None
    for candidate in JOINT_MAPS:
        if candidate.source == source and candidate.target == target:
            return candidate
    raise ValueError(f"no joint map from {source.name} to {target.name}")
