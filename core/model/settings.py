"""What a checkpoint records besides its weights: the preprocessing its inputs need and the decision
settings chosen for it (core/model/checkpoint.py stores them; an exported ONNX file carries them too).
Without PyTorch: the app reads them from a cached export and runs ONNX Runtime alone, never loading it
(about 200 MB and a second of its start)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.glimpse import PARTS, GlimpseConfig
from core.skeleton import layout_by_name
from core.window import WindowSpec

if TYPE_CHECKING:
    from core.model.profiles import NetworkConfig


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or that does not fit the network or data it describes."""


@dataclass(frozen=True)
class Preprocessing:
    """What the network's inputs must be made of — everything a live system needs besides the weights.

    crops: `glimpse.crop_size` square RGB crops of `parts`, in that order, values 0..255 as float32;
    the network itself maps pixels to x * pixel_scale + pixel_offset (I3D's [-1, 1]).
    skeleton: `num_bodies` bodies of the `layout` joint set, normalised by `skeleton_normalisation`
    (core.skeleton.normalize_window), zeros where a body is absent.
    both: one window of `window.duration_s` seconds resampled to `window.num_frames` frames.
    """

    window: WindowSpec = field(default_factory=WindowSpec)
    glimpse: GlimpseConfig = field(default_factory=GlimpseConfig)
    parts: tuple[str, ...] = PARTS
    layout: str = "kinect_v2"
    num_bodies: int = 2
    skeleton_normalisation: str = "normalize_window"  # one view transform per window, from body 0
    color_order: str = "RGB"
    pixel_scale: float = 1.0 / 127.5
    pixel_offset: float = -1.0

    @classmethod
    def matching(
        cls,
        config: NetworkConfig,
        *,
        layout: str = "kinect_v2",
        duration_s: float = 2.0,
        glimpse: GlimpseConfig | None = None,
    ) -> Preprocessing:
        """The preprocessing a network built from `config` needs (crop size, frames, parts, bodies)."""
        glimpse = dataclasses.replace(glimpse or GlimpseConfig(), crop_size=config.crop_size)
        return cls(
            window=WindowSpec(duration_s=duration_s, num_frames=config.num_frames),
            glimpse=glimpse,
            parts=config.parts,
            layout=layout,
            num_bodies=config.num_bodies,
        )

    def mismatches(self, config: NetworkConfig) -> list[str]:
        """How this preprocessing disagrees with what the network expects (empty when it fits)."""
        problems = []
        if self.window.num_frames != config.num_frames:
            problems.append(f"window has {self.window.num_frames} frames, the network {config.num_frames}")
        if config.parts and self.glimpse.crop_size != config.crop_size:
            problems.append(f"crops are {self.glimpse.crop_size} px, the network takes {config.crop_size}")
        if tuple(self.parts) != tuple(config.parts):
            problems.append(f"parts {self.parts} != the network's {config.parts}")
        if self.num_bodies != config.num_bodies:
            problems.append(f"{self.num_bodies} bodies, the network takes {config.num_bodies}")
        try:
            joints = layout_by_name(self.layout).num_joints
        except ValueError as error:
            problems.append(str(error))
        else:
            if joints != config.num_joints:
                problems.append(
                    f"layout {self.layout} has {joints} joints, the network takes {config.num_joints}"
                )
        # Recorded for whoever feeds the graph; the network itself always maps RGB 0..255 by x / 127.5 - 1
        # (PartAttentionNetwork.forward), so a record saying otherwise describes another network.
        defaults = Preprocessing()
        if (self.color_order, self.pixel_scale, self.pixel_offset) != (
                defaults.color_order, defaults.pixel_scale, defaults.pixel_offset):
            problems.append(f"pixels {self.color_order} x {self.pixel_scale:g} + {self.pixel_offset:g}; the "
                            f"network maps RGB x {defaults.pixel_scale:g} + {defaults.pixel_offset:g}")
        return problems

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["parts"] = list(self.parts)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "<preprocessing>") -> Preprocessing:
        try:
            values = dict(d)
            values["window"] = WindowSpec(**values["window"])
            values["glimpse"] = GlimpseConfig(**values["glimpse"])
            values["parts"] = tuple(values["parts"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{source}: invalid preprocessing record ({error!r}): {dict(d)}") from error


@dataclass(frozen=True)
class DecisionSettings:
    """How the app should turn this model's scores into decisions, where its command line does not say:
    the settings chosen for this model on its validation data (its checkpoints README says how). None
    leaves the app's own default. They belong to the model because they depend on it: a model whose
    scores flicker less needs less smoothing, and every bit of smoothing delays its decisions."""

    smoothing_s: float | None = None  # time constant of the score smoothing (live.worker.ScoreSmoother)
    threshold: float | None = None  # smoothed probability that makes an event or an alert
    # An event, once started at `threshold`, lasts while its action's smoothed probability stays at or
    # above this (hysteresis: a score wavering around the threshold is one event, not several; never
    # above the threshold in use). None: the threshold itself.
    end_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.smoothing_s is not None and not self.smoothing_s >= 0:
            raise ValueError(f"decision smoothing_s must be >= 0, got {self.smoothing_s}")
        for name in ("threshold", "end_threshold"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                raise ValueError(f"decision {name} must be in (0, 1], got {value}")

    @property
    def ending(self) -> str:
        """How events end, for a startup line or a report: ", events last down to E" where an end
        threshold below the threshold holds them, else nothing (they end at the threshold)."""
        if self.end_threshold is None or self.threshold is None or self.end_threshold >= self.threshold:
            return ""
        return f", events last down to {self.end_threshold:g}"

    @classmethod
    def given(cls, smoothing_s: float | None = None, threshold: float | None = None,
              end_threshold: float | None = None) -> DecisionSettings:
        """Settings a person gave at once (a command line): an end threshold above the threshold given
        with it is a contradiction, refused. Stored ones (a checkpoint, a run's results) may hold one,
        from before this was refused; `over` drops it where it is used."""
        if threshold is not None and end_threshold is not None and end_threshold > threshold:
            raise ValueError(f"end threshold {end_threshold:g} is above threshold {threshold:g}: an event "
                             "would end before it could start (the end threshold is the lower one)")
        return cls(smoothing_s, threshold, end_threshold)

    def over(self, fallback: DecisionSettings) -> DecisionSettings:
        """These settings where they are set, `fallback`'s elsewhere. An end threshold at or above the
        threshold in the result (a model's 0.3 under a given --threshold 0.25, or --end-threshold 0.6 over
        a threshold of 0.55) is dropped: events end where they start, and reports say so."""
        threshold = fallback.threshold if self.threshold is None else self.threshold
        end_threshold = fallback.end_threshold if self.end_threshold is None else self.end_threshold
        if end_threshold is not None and threshold is not None and end_threshold >= threshold:
            end_threshold = None
        return DecisionSettings(
            smoothing_s=fallback.smoothing_s if self.smoothing_s is None else self.smoothing_s,
            threshold=threshold,
            end_threshold=end_threshold,
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, *, source: str = "<decisions>") -> DecisionSettings:
        try:
            return cls(**dict(d or {}))
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{source}: invalid decisions record ({error}): {d}") from error
