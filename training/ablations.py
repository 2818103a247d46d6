"""From a TrainConfig to the network it trains: a profile, field overrides, and one ablation row.

Rows of the paper's Tables 1-2, one `--ablation` value each (a CLI choice mapped to a config change):

    none         sum + attention, the paper's model (Fig. 2)
    left_hand    the left hand's I3D alone          right_hand   the right hand's I3D alone
    full_body    the full body's I3D alone          full_image   one I3D on the whole colour frame
    sum0         plain sum of the three parts' features after the last Inception block
    concat0      concatenation of the three parts' features
    sum1, sum2   sum after 8 (7) Inception blocks, the last 1 (2) blocks shared
    pose         the pose LSTM alone, no RGB (skeleton-only baseline, e.g. the N-UCLA checkpoint)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.model.profiles import (
    FULL_IMAGE,
    PROFILES,
    Aggregation,
    NetworkConfig,
    pose_only,
    single_part,
    with_aggregation,
)
from core.skeleton import SkeletonLayout
from core.timeline import sided_classes
from core.wording import first_few
from training.config import ConfigError, TrainConfig

ABLATIONS: dict[str, Callable[[NetworkConfig], NetworkConfig]] = {
    "none": lambda c: with_aggregation(c, Aggregation.ATTENTION),
    "left_hand": lambda c: single_part(c, "left_hand"),
    "right_hand": lambda c: single_part(c, "right_hand"),
    "full_body": lambda c: single_part(c, "full_body"),
    "full_image": lambda c: single_part(c, FULL_IMAGE),
    "sum0": lambda c: with_aggregation(c, Aggregation.SUM0),
    "concat0": lambda c: with_aggregation(c, Aggregation.CONCAT0),
    "sum1": lambda c: with_aggregation(c, Aggregation.SUM1),
    "sum2": lambda c: with_aggregation(c, Aggregation.SUM2),
    "pose": pose_only,
}


def network_config(
    config: TrainConfig, num_classes: int, layout: SkeletonLayout, class_names: Sequence[str] = ()
) -> NetworkConfig:
    """The profile's NetworkConfig for this dataset (classes, joints, bodies), the config's overrides
    and window length applied, then the ablation. `class_names`, where given, are checked against
    settings that need classes of a kind."""
    model = config.model
    if model.profile not in PROFILES:
        raise ConfigError(
            f"model.profile: unknown profile {model.profile!r}; expected one of {sorted(PROFILES)}"
        )
    if model.ablation not in ABLATIONS:
        raise ConfigError(
            f"model.ablation: unknown ablation {model.ablation!r}; expected one of {sorted(ABLATIONS)}"
        )
    values = PROFILES[model.profile](num_classes).to_dict()
    values.update(num_classes=num_classes, num_joints=layout.num_joints, num_bodies=config.data.max_bodies)
    if config.window.num_frames:
        values["num_frames"] = config.window.num_frames
    unknown = sorted(set(model.overrides) - set(values))
    if unknown:
        raise ConfigError(
            f"model.overrides: unknown network fields {unknown}; expected some of {sorted(values)}"
        )
    values.update(model.overrides)
    if values.get("pose_mirror_average") and (sided := sided_classes(class_names)):
        # A window and its mirror image averaged: a left-hand drink scored half drink_left, half drink_right.
        raise ConfigError(f"model.overrides.pose_mirror_average: the classes {first_few(sided, 4)} say "
                          "which side acts, and a window's mirror image shows the other side's action: set "
                          "it false (--set model.overrides.pose_mirror_average=false)")
    try:
        base = NetworkConfig.from_dict(values, source="model.overrides")
        return ABLATIONS[model.ablation](base)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
